// From validated inputs to what a stack is made of. Shared by the action (start) and the cdktf app (review), so
// both synthesize the same infrastructure from the same inputs.
import type { RunnerSlot, SharedStackConfig, StateBackendConfig } from "../../stacks/runner-stack.ts";
import type { RunContext, StartInputs, StateBackendInput } from "../settings/inputs.ts";
import { runnerName } from "../settings/label.ts";

/** How long the boot script waits for the NVIDIA driver to answer before calling the machine unhealthy. */
const GPU_WAIT_SECONDS = 300;

/** `cloudConfig`: the capacity candidate being tried (its machine type decides how many GPUs to expect). */
export function buildStackConfig(inputs: StartInputs, context: RunContext, label: string, cloudConfig: unknown = inputs.cloudConfig): SharedStackConfig {
  const runners: RunnerSlot[] = Array.from({ length: inputs.count }, (_, index) => ({ index, name: runnerName(label, index) }));
  return {
    label,
    runners,
    ownership: { repository: context.repository, runId: context.runId, runAttempt: context.runAttempt },
    userTags: inputs.tags,
    boot: {
      runnerUser: inputs.runnerUser,
      runnerSudo: inputs.runnerSudo,
      maxLifetimeMinutes: inputs.maxLifetimeMinutes,
      idleTimeoutMinutes: inputs.idleTimeoutMinutes,
      expectedGpus: expectedGpus(inputs, cloudConfig),
      gpuWaitSeconds: GPU_WAIT_SECONDS,
      preRunnerScript: inputs.preRunnerScript,
    },
    backend: stateBackend(inputs.stateBackend, label),
  };
}

/** The user's number wins; else the machine type's known GPU count; else 0, which turns the gate off. */
export function expectedGpus(inputs: StartInputs, cloudConfig: unknown = inputs.cloudConfig): number {
  return inputs.expectedGpus ?? inputs.cloud.gpusPerMachine(cloudConfig) ?? 0;
}

export function stateBackend(input: StateBackendInput, stateId: string): StateBackendConfig {
  switch (input.kind) {
    case "artifact":
      return { kind: "artifact" };
    case "s3":
      return { kind: "s3", bucket: input.bucket, key: `${input.prefix}/${stateId}.tfstate`, region: input.region, encrypt: true, useLockfile: true };
    case "gcs":
      return { kind: "gcs", bucket: input.bucket, prefix: `${input.prefix}/${stateId}` };
  }
}
