// The non-secret values the boot script reads (its GR_* header). The JIT config is added by the stack as a
// Terraform expression, never here.
import { RUNNER_RELEASE } from "../scripts/lib/constants.ts";

export interface BootSettings {
  runnerUser: string;
  runnerSudo: boolean;
  maxLifetimeMinutes: number;
  idleTimeoutMinutes: number;
  /** 0 disables the GPU gate. */
  expectedGpus: number;
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
    GR_MAX_LIFETIME_MINUTES: String(settings.maxLifetimeMinutes),
    GR_IDLE_TIMEOUT_MINUTES: String(settings.idleTimeoutMinutes),
    GR_EXPECTED_GPUS: String(settings.expectedGpus),
    GR_GPU_WAIT_SECONDS: String(settings.gpuWaitSeconds),
    GR_PRE_RUNNER_SCRIPT_B64: Buffer.from(settings.preRunnerScript, "utf8").toString("base64"),
  };
}
