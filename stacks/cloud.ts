// What a cloud provides to be selectable by the `cloud` input. A new cloud is one folder, stacks/<name>/, whose
// index.ts exports `defineCloud<ItsConfig>({...})`, plus one line in clouds.ts: everything true of that cloud alone
// is in that folder, split by concern as this interface is grouped (inputs, catalog, terraform, cli, state store),
// and nothing else in the action names it. The rules every cloud shares are written once beside this file: the
// order of capacity alternatives (capacity.ts), the outside lifetime cap (lifetime-cap.ts), the tag limits
// (tag-rules.ts), the lazy provider bindings (provider-bindings.ts).
//
// The cloud's own configuration type C never leaves its folder: defineCloud binds each parsed configuration into a
// MachinePlan whose methods the action calls, so no `unknown` config crosses this seam.
import type { Construct } from "constructs";
import { type CapacityChoices, capacityOrder } from "./capacity.ts";
import type { CloudCli, StateStoreDefinition } from "./cloud-cli.ts";
import type { CommandRunner } from "./cloud-command.ts";
import type { InputReader } from "./input-reader.ts";
import type { PreflightFinding, PreflightRequest } from "./preflight.ts";
import type { MachineStack, SharedStackConfig } from "./runner-stack.ts";
import { checkTagsFit, type TagRules } from "./tag-rules.ts";

export interface MachineSummary {
  machineType: string;
  location: string;
  /** The image, as the user or the cloud's default names it (an id, a family, a parameter resolved at apply). */
  image: string;
  /**
   * What the user should know before anything exists, such as a safety net this configuration lacks: start logs
   * each as a warning and the review lists them. None when absent.
   */
  caveats?: string[];
  /** On Spot capacity: its price moves, so the on-demand list price is shown as the upper bound. */
  spot?: boolean;
}

/** How many GPUs the GPU gate expects on each machine (when expected-gpus is not set), and who says so. */
export interface GpuCount {
  /** Known before anything exists: from the accelerator input or the cloud's catalog; undefined when neither knows. */
  count: number | undefined;
  /** Where `count` comes from, for the review and the job summary, e.g. "accelerator t4:2". */
  source: string;
  /**
   * Set when the stack reads the count from the cloud's own description of the machine type at apply (see
   * RunnerStack.gpuCountAtApply), which then wins over `count`: what it reads, e.g. "<cloud>'s description of <machine type>".
   */
  atApply?: string;
}

/** The cloud's inputs (inputs.ts): which it reads, how, and what it refuses before anything exists. */
export interface CloudInputs<C> {
  /** Inputs that only this cloud reads; the other clouds ignore them. */
  names: readonly string[];
  /** Example input values (input name -> value) that synthesize without any cloud account. */
  example: Readonly<Record<string, string>>;
  /** Reads and validates this cloud's inputs (errors name the input). The tags are checked against `tags` first. */
  parse(read: InputReader): C;
  /** How many tags a resource may carry, and the prefixes the cloud reserves. */
  tags: TagRules;
  /** Accounts this cloud's images already have (their default admin users): never the runner's user. */
  imageAccounts?: readonly string[];
}

/** The cloud's machines (catalog.ts): what a configuration carries and costs, and what to try when there is no capacity. */
export interface CloudCatalog<C> {
  /** The GPUs a machine of this config carries, as far as known offline; the GPU gate expects that many. */
  gpus(config: C): GpuCount;
  summary(config: C): MachineSummary;
  /**
   * The on-demand list price of one machine, from the cloud's dated price table (for Spot, the upper bound of what
   * it may cost); undefined when the table has no price for it.
   */
  hourlyPriceUsd(config: C): number | undefined;
  /** When that price table was taken, e.g. "2025-06". */
  pricesAsOf: string;
  /** The user's candidate machine types and places, and Spot: capacity.ts orders them into the alternatives. */
  capacity(config: C): CapacityChoices<C, unknown>;
}

/** The cloud's stack and what Terraform needs for it (stack.ts). */
export interface CloudTerraform<C> {
  /** Loads the cloud's provider bindings; awaited before createStack. */
  load(): Promise<void>;
  /** The npm packages of provider bindings this cloud's stack imports: the install keeps these and prunes the rest. */
  providerPackages: readonly string[];
  createStack(scope: Construct, id: string, shared: SharedStackConfig, config: C): MachineStack;
  /** Apply errors that mean "no capacity here, now": only these move on to the next alternative. */
  capacityErrors: readonly RegExp[];
  /** What to check when Terraform fails: this cloud's credentials step and the permissions it needs. */
  credentialsHint: string;
  /**
   * Apply errors with one known fix (a missing account-wide role, a disk smaller than its image): the first whose
   * pattern matches the failure is what to check next, instead of the credentials hint. None are capacity errors.
   */
  applyErrorHints?: readonly { pattern: RegExp; hint: string }[];
  /** The most bytes of boot script the cloud accepts as user-data / startup-script metadata. */
  userDataLimitBytes: number;
  /** The bytes the cloud counts against that limit for a boot script (compressed where the stack compresses it). */
  userDataBytes(script: string): number;
}

/** Everything one cloud knows, typed by its own configuration C: one member per file of its folder. */
export interface CloudDefinition<C> {
  /** The value of the `cloud` input. */
  name: string;
  /**
   * The environment variables this cloud's provider and CLI read (credentials, region, project): beside a few
   * common ones (PATH, HOME, proxies), the only ones terraform and the CLI are given. The step's secrets are not.
   */
  environment: readonly RegExp[];
  inputs: CloudInputs<C>;
  catalog: CloudCatalog<C>;
  terraform: CloudTerraform<C>;
  cli: CloudCli<C>;
  /** The cloud's bucket for the encrypted state, as an alternative to the workflow artifact; none when absent. */
  stateStore?: StateStoreDefinition;
}

/** A cloud as the action sees it, whatever its configuration type: the same groups, less what needs a configuration. */
export interface Cloud {
  readonly name: string;
  readonly environment: readonly RegExp[];
  readonly inputs: Omit<CloudInputs<never>, "parse">;
  readonly catalog: Pick<CloudCatalog<never>, "pricesAsOf">;
  readonly terraform: Omit<CloudTerraform<never>, "createStack">;
  readonly cli: Omit<CloudCli<never>, "bootConsole" | "preflight">;
  readonly stateStore?: StateStoreDefinition;
  /** Parses this cloud's inputs into the machines a start would make. */
  configure(read: InputReader): MachinePlan;
}

/** One parsed configuration of a cloud, bound to it: what a start makes, where, at what price. */
export interface MachinePlan {
  readonly cloud: Cloud;
  summary(): MachineSummary;
  gpus(): GpuCount;
  hourlyPriceUsd(): number | undefined;
  /** This plan first, then the capacity alternatives (each with no further alternatives). */
  alternatives(): MachinePlan[];
  /** Synchronous, as cdktf is: `await cloud.terraform.load()` first. */
  createStack(scope: Construct, id: string, shared: SharedStackConfig): MachineStack;
  bootConsole(machine: { name: string; id: string }, run: CommandRunner): Promise<string>;
  /** The cloud's answers to whether this plan (this candidate alone) can be started: see CloudCli.preflight. */
  preflight(request: PreflightRequest, run: CommandRunner): Promise<PreflightFinding[]>;
}

/** A cloud as its own folder (and its tests) see it: typed by its configuration. */
export interface DefinedCloud<C> extends Cloud {
  /** Binds a configuration given directly (tests build theirs without inputs). */
  plan(config: C): MachinePlan;
  /** The configuration behind one of this cloud's plans; undefined for another cloud's plan. */
  configOf(plan: MachinePlan): C | undefined;
}

export function defineCloud<C>(definition: CloudDefinition<C>): DefinedCloud<C> {
  const { inputs, catalog, terraform, cli } = definition;
  const configs = new WeakMap<MachinePlan, C>();
  const plan = (config: C): MachinePlan => {
    const bound: MachinePlan = {
      cloud,
      summary: () => catalog.summary(config),
      gpus: () => catalog.gpus(config),
      hourlyPriceUsd: () => catalog.hourlyPriceUsd(config),
      alternatives: () => capacityOrder(catalog.capacity(config)).map(plan),
      createStack: (scope, id, shared) => terraform.createStack(scope, id, shared, config),
      bootConsole: (machine, run) => cli.bootConsole(config, machine, run),
      preflight: (request, run) => cli.preflight(config, request, run),
    };
    configs.set(bound, config);
    return bound;
  };
  const cloud: DefinedCloud<C> = {
    name: definition.name,
    environment: definition.environment,
    inputs: { names: inputs.names, example: inputs.example, tags: inputs.tags, imageAccounts: inputs.imageAccounts },
    catalog: { pricesAsOf: catalog.pricesAsOf },
    terraform: {
      load: () => terraform.load(),
      providerPackages: terraform.providerPackages,
      capacityErrors: terraform.capacityErrors,
      credentialsHint: terraform.credentialsHint,
      applyErrorHints: terraform.applyErrorHints,
      userDataLimitBytes: terraform.userDataLimitBytes,
      userDataBytes: (script) => terraform.userDataBytes(script),
    },
    cli: {
      findMachines: (filter, env, run) => cli.findMachines(filter, env, run),
      findLeftovers: (filter, env, run) => cli.findLeftovers(filter, env, run),
      deleteMachines: (machines, starts, env, run) => cli.deleteMachines(machines, starts, env, run),
    },
    stateStore: definition.stateStore,
    configure(read) {
      checkTagsFit(read, definition.name, inputs.tags, read.stringMap("tags", "a JSON object of string tags"));
      return plan(inputs.parse(read));
    },
    plan,
    configOf: (bound) => configs.get(bound),
  };
  return cloud;
}
