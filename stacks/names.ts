// Names shared by action.yml, the action, the clouds and the tests: one place, so a rename cannot drift. At the
// bottom floor (stacks/), so every floor above can import it.

/**
 * The one environment variable that carries the inputs: action.yml's main step sets it to `${{ toJSON(inputs) }}`
 * (composite steps get no INPUT_* variables). It holds the secret inputs, so no child process may see it.
 */
export const INPUTS_VARIABLE = "GPU_RUNNER_INPUTS";

/** Tag (or label) keys that mark what one start owns: every resource carries them, so a sweep finds it. */
export const OWNERSHIP_KEYS = {
  managedBy: "gpu-runner-managed-by",
  /** owner/repo, for people reading the cloud's console: never what a sweep or stop decides by (see repositoryId). */
  repository: "gpu-runner-repository",
  /**
   * The repository's numeric id (GITHUB_REPOSITORY_ID): what sweep and stop find and judge by. A name can be
   * renamed, reused, or folded by a cloud's label rules into another repository's value ("md.sim" and "md_sim"
   * both becoming "md_sim", names cut at 63 characters); a number cannot.
   */
  repositoryId: "gpu-runner-repository-id",
  runId: "gpu-runner-run-id",
  runAttempt: "gpu-runner-run-attempt",
  label: "gpu-runner-label",
  /** The max-lifetime (minutes) the machines were started with: a sweep deletes one that outlived it. */
  maxLifetime: "gpu-runner-max-lifetime",
} as const;

export const MANAGED_BY_VALUE = "ephemeral-gpu-runner";

/** How every start's label (its state id, settings/label.ts) begins: a cloud lists what takes no tags by it. */
export const LABEL_PREFIX = "gpu-";

/** Prefix of the terraform variables that carry one JIT config each: never in cdk.tf.json, only via TF_VAR_. */
export const JIT_VARIABLE_PREFIX = "jit_config_";

/** Prefix of every line the boot script prints, so the action can pick the machine's side out of a console log. */
export const BOOT_LOG_PREFIX = "gpu-runner:";

/** Prefix of the boot script's milestone lines, `gpu-runner-time: <epoch seconds> <milestone>`, for the timeline. */
export const BOOT_TIME_PREFIX = "gpu-runner-time:";
