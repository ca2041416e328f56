// Synthesize and apply, moving on to the next capacity alternative (machine type, zone or subnet; Spot before
// on-demand) when the cloud has no capacity, and removing what a failed candidate left before trying the next.
import type { MachinePlan } from "../../stacks/cloud.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { Terraform } from "../adapters/terraform.ts";
import { type SynthesisTarget, synthesize } from "./synthesize.ts";
import { destroyStack } from "./teardown.ts";

export interface ProvisionTarget extends SynthesisTarget {
  workDir: string;
  /** TF_VAR_jit_config_N for every runner. */
  secretEnv: Record<string, string>;
}

export interface Provisioned {
  stackDir: string;
  /** The candidate that got capacity. */
  plan: MachinePlan;
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

/** Only the cloud's own "no capacity" answers are worth another candidate: anything else would fail the same way. */
export function isCapacityError(plan: MachinePlan, error: unknown): boolean {
  const text =
    error instanceof Error ? `${error.message}\n${(error as { stderrTail?: string }).stderrTail ?? ""}` : String(error);
  return plan.cloud.terraform.capacityErrors.some((pattern) => pattern.test(text));
}

export function describeCandidate(plan: MachinePlan): string {
  const summary = plan.summary();
  return `${summary.machineType} in ${summary.location}`;
}

/**
 * Applies the first candidate with capacity. `onStackDir` is told the directory before each apply, so the
 * caller always knows what to destroy and save if this throws half way. Once `signal` fires (the job was
 * cancelled) no apply begins: it throws the signal's reason instead.
 */
export async function provision(
  target: ProvisionTarget,
  deps: { terraform: Terraform; io: ActionIO; signal?: AbortSignal },
  onStackDir: (stackDir: string) => void,
): Promise<Provisioned> {
  const { io, terraform, signal } = deps;
  const candidates = target.inputs.plan.alternatives();
  const tried: string[] = [];
  for (const [index, plan] of candidates.entries()) {
    signal?.throwIfAborted();
    const { stackDir } = await synthesize(target, plan, target.workDir);
    onStackDir(stackDir);
    const description = describeCandidate(plan);
    tried.push(description);
    await io.group("terraform init", () => terraform.init(stackDir));
    try {
      await io.group(`terraform apply (${description})`, () => {
        // Checked in the same turn of the event loop as terraform starts (a signal's handler runs between turns):
        // no cancel slips in between.
        signal?.throwIfAborted();
        return terraform.apply(stackDir, { secretEnv: target.secretEnv });
      });
      return { stackDir, plan };
    } catch (error) {
      if (!isCapacityError(plan, error)) throw error;
      // Nothing from a failed candidate may stay behind, or it would run (and bill) beside the next one.
      await destroyStack(stackDir, terraform, io);
      const next = candidates[index + 1];
      if (next === undefined) throw new NoCapacityError(tried, error as Error);
      io.warning(`No capacity for ${description}; trying ${describeCandidate(next)}.`);
    }
  }
  throw new Error("the cloud offered no candidate configuration");
}
