// The non-secret values the boot script reads (its GR_* header). The JIT config is added by the stack as a
// Terraform expression, never here.

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

export interface BootSettings {
  runnerUser: string;
  runnerSudo: boolean;
  /** The image has the runner in its install directory (baked); used when it is the pinned release or later. */
  runnerPreinstalled: boolean;
  maxLifetimeMinutes: number;
  idleTimeoutMinutes: number;
  /** 0 disables the GPU gate. */
  expectedGpus: number;
  /**
   * The expected-gpus input set the count: it is final. Otherwise the stack reads it from the cloud's own description
   * of the machine type at apply where the cloud offers one (RunnerStack.gpuCountAtApply), and expectedGpus is the
   * offline fallback.
   */
  expectedGpusFromInput?: boolean;
  gpuWaitSeconds: number;
  /** The user's script run as root before the runner; "" for none. */
  preRunnerScript: string;
}

export function bootValues(settings: BootSettings, runnerName: string): Record<string, string> {
  return {
    GR_RUNNER_NAME: runnerName,
    GR_RUNNER_VERSION: RUNNER_RELEASE.version,
    GR_RUNNER_SHA256_X64: RUNNER_RELEASE.sha256.x64,
    GR_RUNNER_SHA256_ARM64: RUNNER_RELEASE.sha256.arm64,
    GR_RUNNER_DOWNLOAD_BASE: RUNNER_RELEASE.downloadBase,
    GR_RUNNER_USER: settings.runnerUser,
    GR_RUNNER_SUDO: String(settings.runnerSudo),
    GR_RUNNER_PREINSTALLED: String(settings.runnerPreinstalled),
    GR_MAX_LIFETIME_MINUTES: String(settings.maxLifetimeMinutes),
    GR_IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
    GR_EXPECTED_GPUS: String(settings.expectedGpus),
    GR_GPU_WAIT_SECONDS: String(settings.gpuWaitSeconds),
    GR_PRE_RUNNER_SCRIPT_B64: Buffer.from(settings.preRunnerScript, "utf8").toString("base64"),
  };
}
