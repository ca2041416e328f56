// Synthesize and apply, moving on to the next capacity alternative (machine type, zone or subnet; Spot before
// on-demand) when the cloud has no capacity, and removing what a failed candidate left before trying the next.
import { synthesizeStack } from "../../stacks/synth.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import { isCapacityError } from "../capacity.ts";
import type { RunContext, StartInputs } from "../settings/inputs.ts";
import { buildStackConfig } from "./synthesize.ts";
import { destroyStack } from "./teardown.ts";
import type { Terraform } from "../adapters/terraform.ts";

export interface ProvisionTarget {
  inputs: StartInputs;
  context: RunContext;
  label: string;
  workDir: string;
  /** TF_VAR_jit_config_N for every runner. */
  secretEnv: Record<string, string>;
}

export interface Provisioned {
  stackDir: string;
  /** The cloud config that got capacity. */
  config: unknown;
}

export class NoCapacityError extends Error {
  constructor(tried: string[], last: Error) {
    super(
      `No capacity for any candidate. Tried, in order: ${tried.join("; ")}. Add machine-type, zone or subnet ` +
        `candidates (comma-separated), allow on-demand (spot: false), or try again later. Last error: ${last.message}`,
    );
    this.name = "NoCapacityError";
  }
}

export async function synthesizeFor(target: ProvisionTarget, config: unknown) {
  const shared = buildStackConfig(target.inputs, target.context, target.label, config);
  await target.inputs.cloud.load();
  return synthesizeStack(target.inputs.cloud, shared, config, target.workDir);
}

export function describeCandidate(target: Pick<ProvisionTarget, "inputs">, config: unknown): string {
  const summary = target.inputs.cloud.summary(config);
  return `${summary.machineType} in ${summary.location}`;
}

/**
 * Applies the first candidate with capacity. `onStackDir` is told the directory before each apply, so the
 * caller always knows what to destroy and save if this throws half way.
 */
export async function provision(
  target: ProvisionTarget,
  deps: { terraform: Terraform; io: ActionIO },
  onStackDir: (stackDir: string) => void,
): Promise<Provisioned> {
  const { io, terraform } = deps;
  const candidates = target.inputs.cloud.alternatives(target.inputs.cloudConfig);
  const tried: string[] = [];
  for (const [index, config] of candidates.entries()) {
    const { stackDir } = await synthesizeFor(target, config);
    onStackDir(stackDir);
    const description = describeCandidate(target, config);
    tried.push(description);
    await io.group("terraform init", () => terraform.init(stackDir));
    try {
      await io.group(`terraform apply (${description})`, () => terraform.apply(stackDir, { secretEnv: target.secretEnv }));
      return { stackDir, config };
    } catch (error) {
      if (!isCapacityError(error)) throw error;
      // Nothing from a failed candidate may stay behind, or it would run (and bill) beside the next one.
      await destroyStack(stackDir, terraform, io);
      if (index === candidates.length - 1) throw new NoCapacityError(tried, error as Error);
      io.warning(`No capacity for ${description}; trying ${describeCandidate(target, candidates[index + 1])}.`);
    }
  }
  throw new Error("the cloud offered no candidate configuration");
}
