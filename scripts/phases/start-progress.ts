// The record one start keeps of what exists so far (StartProgress), what it is given (StartDeps) and how it fails
// (StartError): shared by start.ts, which grows the record phase by phase, and start-undo.ts, which reads it to
// undo and save.
import type { MachinePlan } from "../../stacks/cloud.ts";
import type { ActionIO, Clock } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient, JitConfig } from "../adapters/github/types.ts";
import type { Terraform } from "../adapters/terraform.ts";
import type { StartTimes } from "./timeline.ts";

export interface StartDeps {
  github: GitHubClient;
  terraform: Terraform;
  io: ActionIO;
  clock: Clock;
  /** Scratch directory for the synthesized stack; removed before returning (it may hold state in clear). */
  workDir: string;
  label?: () => string;
  /** How often to ask GitHub whether the runners are online; POLL_INTERVAL_MS when not given (the end-to-end tests shorten it). */
  pollIntervalMs?: number;
  /** How long to wait for them; runner-timeout's minutes when not given (the end-to-end tests shorten it). */
  runnerTimeoutMs?: number;
  /**
   * Registers what to do when the job is cancelled (SIGINT/SIGTERM from the runner); returns the unregister
   * function. Start then creates nothing more, interrupts terraform and saves its state at once, so the upload step
   * (if: always()) can hand it to the stop job even if this process is killed before its own cleanup ends.
   */
  onCancel?: (handler: () => void) => () => void;
  /** Runs the cloud's CLI (a machine's console, the state store). */
  run: CommandRunner;
  /** What happened before this script, for the timeline: when the action began, whether its install was cached. */
  setup?: { actionStarted?: number; installCacheHit?: boolean };
}

export interface StartedRunner {
  name: string;
  id: number;
  machineId: string;
}

export class StartError extends Error {
  constructor(message: string, options?: ErrorOptions & { cancelled?: boolean }) {
    super(message, options);
    this.name = "StartError";
    this.cancelled = options?.cancelled ?? false;
  }

  /** The job was cancelled: nothing to explain, the stop job cleans up. */
  readonly cancelled: boolean;
}

/** What exists so far: grown by each phase, read by undo and save. */
export interface StartProgress {
  readonly label: string;
  /** The stack directory of the candidate being (or last) applied; holds the state with the artifact backend. */
  stackDir: string;
  /** The candidate that got capacity (the inputs' own plan until then). */
  plan: MachinePlan;
  registered: JitConfig[];
  /** When the machines began to be created (apply started): the stop summary counts their lifetime from here. */
  machinesSince?: string;
  runners: StartedRunner[];
  /** The job was cancelled: what exists is left to the stop job (there is no time to destroy it). */
  cancelled?: boolean;
  /** When each phase ended, for the timeline in the job summary. */
  times: StartTimes;
  /** What the stack resolved at apply: the GPU count the boot script checks, and the image the machines boot. */
  resolved?: { gpusPerMachine?: number; image?: string };
}
