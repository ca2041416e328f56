// Names shared by action.yml, the scripts, the stacks and the tests. One place, so a rename cannot drift.

/** Prefix of the environment variables that action.yml maps each input to (composite steps get no INPUT_*). */
export const INPUT_ENV_PREFIX = "GPU_RUNNER_";

/** The environment variable that carries an input, e.g. "machine-type" -> "GPU_RUNNER_MACHINE_TYPE". */
export function inputEnvName(input: string): string {
  return INPUT_ENV_PREFIX + input.toUpperCase().replace(/-/g, "_");
}

export const OUTPUTS = {
  label: "label",
  runners: "runners",
  stateId: "state-id",
} as const;

/**
 * The pinned GitHub Actions runner release the boot script installs. Checksums are those GitHub publishes on the
 * release page; the boot script refuses a download that does not match.
 */
export const RUNNER_RELEASE = {
  version: "2.329.0",
  sha256: {
    x64: "194f1e1e4bd02f80b7e9633fc546084d8d4e19f3928a324d512ea53430102e1d",
    arm64: "56768348b3d643a6a29d4ad71e9bdae0dc0ef1eb01afe0f7a8ee097b039bfaaf",
  },
  downloadBase: "https://github.com/actions/runner/releases/download",
} as const;

/** Tag keys (AWS) / label keys (GCP, after normalisation) that mark what one start owns. */
export const OWNERSHIP_KEYS = {
  managedBy: "gpu-runner-managed-by",
  repository: "gpu-runner-repository",
  runId: "gpu-runner-run-id",
  runAttempt: "gpu-runner-run-attempt",
  label: "gpu-runner-label",
} as const;

export const MANAGED_BY_VALUE = "ephemeral-gpu-runner";

/** Prefix of the terraform variables that carry one JIT config each: never in cdk.tf.json, only via TF_VAR_. */
export const JIT_VARIABLE_PREFIX = "jit_config_";

/** Prefix of every line the boot script prints, so the action can pick the machine's side out of a console log. */
export const BOOT_LOG_PREFIX = "gpu-runner:";

/** Where the encrypted state lives on the GitHub runner, per state id: `${RUNNER_TEMP}/gpu-runner-state/<id>/`. */
export const STATE_DIR_NAME = "gpu-runner-state";
export const STATE_FILE_NAME = "state.bin";
/** The workflow artifact that carries one start's encrypted state: this prefix plus the state id. */
export const STATE_ARTIFACT_PREFIX = "gpu-runner-state-";
