// Polls GitHub until every new runner is online, bounded by runner-timeout.
import type { ActionIO, Clock } from "../adapters/action-io.ts";
import type { GitHubClient } from "../adapters/github/types.ts";

export interface RegisteredRunner {
  id: number;
  name: string;
}

export class RunnersNotOnlineError extends Error {
  constructor(
    readonly offline: RegisteredRunner[],
    timeoutMs: number,
  ) {
    super(
      `${offline.map((r) => r.name).join(", ")} did not come online within ${Math.round(timeoutMs / 1000)} s ` +
        "(runner-timeout). The machine may still be booting (raise runner-timeout), its image may lack what the boot " +
        "script needs, the GPU check may have failed, or it cannot reach GitHub (public-ip, NAT, proxy).",
    );
    this.name = "RunnersNotOnlineError";
  }
}

/**
 * How often start asks GitHub whether the runners are online: each poll is one listing for all of them (see
 * waitForRunnersOnline), so once a second keeps to GitHub's advice of one request a second whatever `count` is.
 */
export const POLL_INTERVAL_MS = 1000;

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
}

/**
 * One listing of the scope's runners per poll, for all of this start's runners at once: however many there are, the
 * start asks GitHub at most once a second (GitHub's advice for automation), and sees a runner online within about a
 * poll interval. A runner counts as up when GitHub says it is online or busy. One that is gone after it was
 * registered has already run its one job and deregistered, which only an online runner can do.
 */
export async function waitForRunnersOnline(
  github: GitHubClient,
  runners: RegisteredRunner[],
  opts: WaitOptions,
  deps: { io: ActionIO; clock: Clock },
): Promise<Map<number, number>> {
  const started = deps.clock.now();
  const waiting = new Map(runners.map((r) => [r.id, r]));
  /** Runner id -> when it was seen up (epoch ms), for the start's timeline. */
  const seen = new Map<number, number>();
  for (;;) {
    const listed = new Map((await github.listRunners()).map((r) => [r.id, r]));
    for (const runner of [...waiting.values()]) {
      const info = listed.get(runner.id);
      if (info === undefined) {
        deps.io.info(`${runner.name} is no longer registered: it already ran its job.`);
        waiting.delete(runner.id);
        seen.set(runner.id, Date.now());
      } else if (info.status === "online" || info.busy) {
        waiting.delete(runner.id);
        seen.set(runner.id, Date.now());
      }
    }
    const elapsed = deps.clock.now() - started;
    deps.io.info(
      `Runners online ${runners.length - waiting.size}/${runners.length} (${seconds(elapsed)} of ${seconds(opts.timeoutMs)})`,
    );
    if (waiting.size === 0) return seen;
    // A listing of more than one page is more than one request: wait a second per page, to stay at one a second.
    const interval = Math.max(opts.intervalMs, 1000 * Math.ceil(listed.size / RUNNERS_PER_PAGE));
    if (elapsed + interval > opts.timeoutMs) throw new RunnersNotOnlineError([...waiting.values()], opts.timeoutMs);
    await deps.clock.sleep(interval);
  }
}

/** What one page of GitHub's runner listing holds (the client asks for 100 per page). */
const RUNNERS_PER_PAGE = 100;

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
