// The one synthesis path, from validated inputs to Terraform JSON: the stack's shared config (names, ownership,
// boot settings), the chosen cloud's stack, cdktf's synth. Start (each capacity candidate), `npm run
// review` and the cdktf app behind `npx cdktf synth|plan` all come through here, so they show the same stack.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { App } from "cdktf";
import { renderBootScript } from "../../stacks/boot-script.ts";
import type { MachinePlan } from "../../stacks/cloud.ts";
import { InputError } from "../../stacks/input-reader.ts";
import type { MachineStack, RunnerSlot, SharedStackConfig } from "../../stacks/runner-stack.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { runnerName } from "../settings/label.ts";
import type { RunContext } from "../settings/run-context.ts";

/** The id of the one stack: its directory is <outdir>/stacks/<STACK_ID>. */
export const STACK_ID = "gpu-runner";

/** How long the boot script waits for the NVIDIA driver to answer before calling the machine unhealthy. */
const GPU_WAIT_SECONDS = 300;

export interface SynthesisTarget {
  inputs: StartInputs;
  context: Pick<RunContext, "repository" | "repositoryId" | "runId" | "runAttempt">;
  label: string;
  /** The clock (epoch milliseconds), for caps set as a point in time; Date.now by default, fixed in tests. */
  now?: () => number;
}

export interface Synthesized {
  /** The directory Terraform runs in: holds cdk.tf.json (and, with the artifact backend, the state). */
  stackDir: string;
  stackJsonPath: string;
}

/**
 * Synthesizes `plan` (the inputs' own plan, or a capacity alternative of it) into `outdir`; without an outdir,
 * where the cdktf CLI asks for it (CDKTF_OUTDIR). Loads the cloud's provider bindings first.
 */
export async function synthesize(
  target: SynthesisTarget,
  plan: MachinePlan = target.inputs.plan,
  outdir?: string,
): Promise<Synthesized> {
  await plan.cloud.terraform.load();
  return synthesizeLoaded(target, plan, outdir);
}

/** The same, synchronous as cdktf is, for a cloud whose bindings are already loaded (`await cloud.terraform.load()`). */
export function synthesizeLoaded(
  target: SynthesisTarget,
  plan: MachinePlan = target.inputs.plan,
  outdir?: string,
): Synthesized {
  const shared = buildStackConfig(target, plan);
  const app = new App(outdir === undefined ? {} : { outdir });
  const stack = plan.createStack(app, STACK_ID, shared);
  assertUserDataFits(shared, stack, plan);
  app.synth();
  const stackDir = join(app.outdir, "stacks", STACK_ID);
  return { stackDir, stackJsonPath: join(stackDir, "cdk.tf.json") };
}

export function buildStackConfig(
  { inputs, context, label, now }: SynthesisTarget,
  plan: MachinePlan = inputs.plan,
): SharedStackConfig {
  const runners: RunnerSlot[] = Array.from({ length: inputs.count }, (_, index) => ({
    index,
    name: runnerName(label, index),
  }));
  return {
    label,
    runners,
    ownership: {
      repository: context.repository,
      repositoryId: context.repositoryId,
      runId: context.runId,
      runAttempt: context.runAttempt,
    },
    userTags: inputs.tags,
    boot: {
      runnerUser: inputs.runnerUser,
      runnerSudo: inputs.runnerSudo,
      runnerPreinstalled: inputs.runnerPreinstalled,
      maxLifetimeMinutes: inputs.maxLifetimeMinutes,
      idleTimeoutMinutes: inputs.idleTimeoutMinutes,
      expectedGpus: expectedGpus(inputs, plan),
      expectedGpusFromInput: inputs.expectedGpus !== undefined,
      gpuWaitSeconds: GPU_WAIT_SECONDS,
      preRunnerScript: inputs.preRunnerScript,
    },
    synthesizedAt: new Date(now?.() ?? Date.now()),
  };
}

/**
 * A just-in-time config is about 4 KiB of base64 that compresses badly; a random placeholder of that size measures the
 * worst case, so a boot script that would not fit is refused before any runner is registered rather than by the
 * cloud's API half way through a start.
 */
const JIT_CONFIG_PLACEHOLDER = randomBytes(3072).toString("base64");

function assertUserDataFits(shared: SharedStackConfig, stack: MachineStack, plan: MachinePlan): void {
  // The stack's own values, so what a cloud adds to the boot script (a command that ends the machine through its API) counts too.
  const bytes = Math.max(
    0,
    ...[...stack.bootValuesByRunner.values()].map((values) =>
      plan.cloud.terraform.userDataBytes(
        renderBootScript({ values, terraformValues: { GR_JIT_CONFIG: JIT_CONFIG_PLACEHOLDER } }),
      ),
    ),
  );
  const limit = plan.cloud.terraform.userDataLimitBytes;
  if (bytes > limit) {
    throw new InputError(
      "pre-runner-script",
      `${Buffer.byteLength(shared.boot.preRunnerScript, "utf8")} bytes`,
      `a script short enough for the machine's boot script to fit the cloud's user-data limit (with a runner's config it comes to ` +
        `${bytes} of the ${limit} bytes ${plan.cloud.name} accepts): have the script download the rest`,
    );
  }
}

/**
 * The count known before anything exists: the user's number wins; else the accelerator input's or the catalog's
 * count; else 0, which turns the gate off. Where the cloud describes the machine type at apply, that description
 * replaces this number in the stack (see gpuCheck).
 */
export function expectedGpus(
  inputs: Pick<StartInputs, "expectedGpus" | "plan">,
  plan: MachinePlan = inputs.plan,
): number {
  return inputs.expectedGpus ?? plan.gpus().count ?? 0;
}

/** What the GPU gate checks and where the count comes from, in words: never silently off. */
export function gpuCheck(inputs: Pick<StartInputs, "expectedGpus" | "plan">, plan: MachinePlan = inputs.plan): string {
  if (inputs.expectedGpus === 0) return "no check (expected-gpus: 0)";
  if (inputs.expectedGpus !== undefined) return `${inputs.expectedGpus} per machine (expected-gpus)`;
  const { count, source, atApply } = plan.gpus();
  if (atApply) {
    if (count === undefined) return `as many as ${atApply} lists at apply (${source}; none listed: no check)`;
    return `${count ? `${count} per machine` : "none expected"} (${source}; at apply, ${atApply} decides)`;
  }
  return count ? `${count} per machine (${source})` : `no check: ${source} (set expected-gpus to check)`;
}
