// The shared part of every cloud's stack: one machine per runner, each with its own sensitive JIT variable, the
// same ownership tags, the same outputs and the same state backend. A cloud subclass only says how to make a
// machine (and its provider); everything a reviewer must trust is here once.
import { LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { JIT_VARIABLE_PREFIX, MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "./names.ts";
import { type BootSettings, bootValues } from "./boot-values.ts";
import { renderBootScriptForTerraform } from "./boot-script.ts";

export interface RunnerSlot {
  /** Position of the runner in this start; names its JIT variable (jit_config_<index>). */
  index: number;
  /** The runner's name at GitHub, also the machine's name. */
  name: string;
}

export interface Ownership {
  repository: string;
  /** The repository's numeric id (RunContext.repositoryId): the ownership tag sweep and stop decide by. */
  repositoryId: string;
  runId: string;
  runAttempt: string;
}

export interface SharedStackConfig {
  /** The label shared by this start's runners (what `runs-on:` names); unique per start. */
  label: string;
  runners: RunnerSlot[];
  ownership: Ownership;
  /** The user's extra tags; they can never override the ownership tags. */
  userTags: Record<string, string>;
  boot: BootSettings;
  /** When the stack was synthesized: a cloud whose cap outside the machine is a point in time counts from here. */
  synthesizedAt: Date;
}

/** What createMachine made: the machine's id, and the image it boots as the cloud resolved it (both tokens). */
export interface MachineMade {
  id: string;
  image: string;
}

/**
 * Every tag a start's resources carry: the user's, then the ownership tags, which the user's can never override. The
 * preflight sends the same in its dry runs, so that tag-conditioned policies are judged as at apply.
 */
export function stackTags(
  shared: Pick<SharedStackConfig, "ownership" | "label" | "userTags" | "boot">,
): Record<string, string> {
  const { ownership, label, userTags } = shared;
  return {
    ...userTags,
    [OWNERSHIP_KEYS.managedBy]: MANAGED_BY_VALUE,
    [OWNERSHIP_KEYS.repository]: ownership.repository,
    [OWNERSHIP_KEYS.repositoryId]: ownership.repositoryId,
    [OWNERSHIP_KEYS.runId]: ownership.runId,
    [OWNERSHIP_KEYS.runAttempt]: ownership.runAttempt,
    [OWNERSHIP_KEYS.label]: label,
    [OWNERSHIP_KEYS.maxLifetime]: String(shared.boot.maxLifetimeMinutes),
  };
}

/** Characters of a base64 JIT config: the only ones Terraform will accept into the boot script's quotes. */
const JIT_CONFIG_PATTERN = "^[A-Za-z0-9+/=]+$";

/** What every cloud's stack shows its synthesizer: each runner's boot script values, the cloud's overrides included. */
export interface MachineStack extends TerraformStack {
  /** Runner name -> the values its boot script is rendered with (the JIT config aside, which Terraform fills in). */
  readonly bootValuesByRunner: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export abstract class RunnerStack<C> extends TerraformStack implements MachineStack {
  readonly bootValuesByRunner = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    scope: Construct,
    id: string,
    readonly shared: SharedStackConfig,
    cloud: C,
  ) {
    super(scope, id);
    // Local state in the stack directory, always: it holds every machine's user-data (runner credential included)
    // in clear, so it leaves the job only inside the encrypted bundle (artifact or the cloud's state store).
    new LocalBackend(this, { path: "terraform.tfstate" });
    const resolved = this.configureProvider(cloud);
    // The GPU gate's count: the user's number, else the cloud's own description of the machine type, read at apply
    // (a number, so it is safe inside the boot script's quotes), else the offline count.
    const gpuCount = shared.boot.expectedGpusFromInput ? undefined : this.gpuCountAtApply(resolved);
    const machines: Record<string, string> = {};
    let image: string | undefined;
    for (const runner of shared.runners) {
      const values = { ...bootValues(shared.boot, runner.name), ...this.bootOverrides(resolved, runner) };
      this.bootValuesByRunner.set(runner.name, { ...values });
      if (gpuCount !== undefined) delete values.GR_EXPECTED_GPUS;
      const userData = renderBootScriptForTerraform({
        values,
        terraformValues: {
          GR_JIT_CONFIG: jitVariable(this, runner).stringValue,
          ...(gpuCount === undefined ? {} : { GR_EXPECTED_GPUS: gpuCount }),
        },
      });
      const made = this.createMachine(runner, userData, resolved);
      machines[runner.name] = typeof made === "string" ? made : made.id;
      if (typeof made !== "string") image ??= made.image;
    }
    new TerraformOutput(this, "machines", {
      description: "Runner name -> the cloud's id of its machine",
      value: machines,
    });
    new TerraformOutput(this, "expected_gpus", {
      description: "GPUs the boot script checks for before its runner takes a job (0: no check)",
      value: gpuCount ?? shared.boot.expectedGpus,
    });
    if (image !== undefined)
      new TerraformOutput(this, "image", {
        description: "The image the machines boot, as the cloud resolved it",
        value: image,
      });
  }

  /** Ownership tags every resource carries, so a sweeper can find what one start made without its state. */
  ownershipTags(): Record<string, string> {
    return stackTags(this.shared);
  }

  /**
   * Declares the cloud's provider and any pieces the machines share, once per stack. Returns the config the
   * machines are made from, completed with what this step created (e.g. a security group's id). It runs inside
   * the base constructor, so subclasses keep no state in fields.
   */
  protected abstract configureProvider(cloud: C): C;

  /** Boot script values this kind of machine sets differently (a command that ends the machine, scratch paths). */
  protected bootOverrides(_cloud: C, _runner: RunnerSlot): Record<string, string> {
    return {};
  }

  /**
   * A Terraform expression for the GPUs one machine carries, read from the cloud's own description of the machine
   * type at apply (the machine type the cloud's API describes); undefined where the cloud has none. It must
   * evaluate to a whole number: it is spliced into the boot script's header.
   */
  protected gpuCountAtApply(_cloud: C): string | undefined {
    return undefined;
  }

  /** Creates one runner's machine with `userData` as its boot script; returns the machine's id (a token), or the id and the image it boots. */
  protected abstract createMachine(runner: RunnerSlot, userData: string, cloud: C): string | MachineMade;
}

/**
 * The JIT config is the runner's credential: it reaches Terraform only through TF_VAR_ in the environment, never
 * cdk.tf.json or argv. Terraform still writes user-data to state, which is why the state is encrypted.
 */
function jitVariable(stack: TerraformStack, runner: RunnerSlot): TerraformVariable {
  const name = `${JIT_VARIABLE_PREFIX}${runner.index}`;
  return new TerraformVariable(stack, name, {
    type: "string",
    sensitive: true,
    nullable: false,
    description: `Just-in-time runner config of ${runner.name}`,
    validation: [
      {
        condition: `\${can(regex("${JIT_CONFIG_PATTERN}", var.${name}))}`,
        errorMessage: `${name} must be a base64 JIT runner config.`,
      },
    ],
  });
}
