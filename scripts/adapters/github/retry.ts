// The GitHub client's one retry policy: every request (every page of a listing) goes through sendWithRetries, from
// the request hook that transport.ts installs. Its own file so that what is retried, how long is waited and what is
// logged is decided in one place:
// - only what is safe to send again: an idempotent method (GET, HEAD, OPTIONS, PUT, DELETE) after a 5xx or a lost
//   answer; a POST only when its caller brings a beforeResend that undoes what the failed attempt may have done
//   (createJitConfig); any method after a rate limit, which GitHub refused and so did nothing;
// - a 404 is never retried (only the caller may read it as "gone"), nor any other 4xx but a rate limit;
// - GitHub's wait is honoured (retry-after, else the rate-limit reset); otherwise a full-jitter exponential backoff;
// - attempts and the total wait are bounded, so GitHub asking for an hour is a clear error, not a hung job;
// - one labelled log line per failed attempt; every wait goes through the injected sleep, so tests never wait.
// Octokit's plugin-retry and plugin-throttling are not used: their waits run on Bottleneck timers that cannot be
// injected, plugin-retry re-sends a POST like a GET and ignores retry-after, and throttling knows only rate limits.

import { GitHubApiError, isSecondaryLimit, seconds } from "./errors.ts";
import type { RetrySettings } from "./types.ts";

export const DEFAULT_RETRY: Required<RetrySettings> = {
  attempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15_000,
  maxTotalWaitMs: 60_000,
};

/** A rate limit that names no wait: GitHub advises at least a minute. */
export const UNNAMED_LIMIT_WAIT_MS = 60_000;

/** GitHub asks for a second between writes, to stay clear of its secondary rate limits. */
export const WRITE_GAP_MS = 1000;

/** Methods whose repeat has the effect of one call (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** Methods that change nothing: the others are writes, spaced WRITE_GAP_MS apart. */
const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** What a request may tell the policy beyond its method (passed as Octokit's options.request.policy). */
export interface RequestPolicy {
  /** Names the call in log lines; "GitHub API METHOD path" when absent. */
  label?: string;
  /**
   * Makes a request that is not idempotent safe to send again after an unclear failure (a 5xx, no answer, or a 409
   * after one of those): runs before each such re-send and must undo what the failed attempt may have done. When it
   * throws, the call ends with its error: better no result than a second effect nobody can account for.
   */
  beforeResend?: () => Promise<void>;
}

export interface Decision {
  retry: boolean;
  /** The failed attempt may have taken effect: no answer, a 5xx, or a conflict after one of those. */
  unclear: boolean;
  /** The wait GitHub asked for; the backoff is used when absent. */
  afterMs?: number;
  /** Short words for the log line, e.g. "HTTP 502". */
  reason: string;
}

export interface PolicyDeps {
  settings: Required<RetrySettings>;
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1): the backoff's dice. */
  random: () => number;
  log: (line: string) => void;
}

/** The defaults with what was given over them; attempts checked, as a loop bound must be. */
export function retrySettings(given: RetrySettings = {}): Required<RetrySettings> {
  const settings = {
    ...DEFAULT_RETRY,
    ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  };
  if (!Number.isInteger(settings.attempts) || settings.attempts < 1) {
    throw new Error(`GitHub client: retry attempts must be an integer >= 1, got ${settings.attempts}`);
  }
  return settings;
}

/**
 * Whether one failed attempt may be sent again. guarded: the request brings a beforeResend; unclearBefore: an
 * earlier attempt of it failed unclearly.
 */
export function decide(err: GitHubApiError, method: string, guarded: boolean, unclearBefore: boolean): Decision {
  if (err.rateLimited) {
    const reason = isSecondaryLimit(err.message) ? "secondary rate limit" : "rate limited";
    return { retry: true, unclear: false, afterMs: err.retryAfterMs ?? UNNAMED_LIMIT_WAIT_MS, reason };
  }
  if (err.status === 0 || err.status >= 500) {
    const reason = err.status === 0 ? "no response" : `HTTP ${err.status}`;
    return { retry: IDEMPOTENT.has(method.toUpperCase()) || guarded, unclear: true, afterMs: err.retryAfterMs, reason };
  }
  // The failed attempt may have made what the conflict is about (a runner of that name): its guard clears it first.
  if (err.status === 409 && guarded && unclearBefore)
    return { retry: true, unclear: true, reason: "HTTP 409 (perhaps the failed attempt's doing)" };
  // Everything else is GitHub's answer, a 404 included: "gone" is for the caller to read, never a reason to ask again.
  return { retry: false, unclear: false, reason: `HTTP ${err.status}` };
}

/**
 * Sends until an answer comes, the failure is not to be retried, the attempts are spent or the next wait would pass
 * maxTotalWaitMs; then the last GitHubApiError is thrown as it is. An error that is not a GitHubApiError (one of
 * the client's own checks) is thrown at once.
 */
export async function sendWithRetries<T>(
  method: string,
  send: () => Promise<T>,
  request: RequestPolicy,
  deps: PolicyDeps,
): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs, maxTotalWaitMs } = deps.settings;
  let waitedMs = 0;
  let unclearBefore = false;
  for (let attempt = 1; ; attempt++) {
    let err: GitHubApiError;
    try {
      return await send();
    } catch (e) {
      if (!(e instanceof GitHubApiError)) throw e;
      err = e;
    }
    const decision = decide(err, method, request.beforeResend !== undefined, unclearBefore);
    if (!decision.retry) throw err;
    unclearBefore ||= decision.unclear;
    const line = `${request.label ?? `GitHub API ${err.method} ${err.path}`}: ${decision.reason}, attempt ${attempt}/${attempts}`;
    if (attempt >= attempts) {
      deps.log(`${line}, giving up`);
      throw err;
    }
    const waitMs =
      decision.afterMs !== undefined && Number.isFinite(decision.afterMs)
        ? Math.max(0, Math.ceil(decision.afterMs))
        : backoffMs(attempt, baseDelayMs, maxDelayMs, deps.random);
    if (waitedMs + waitMs > maxTotalWaitMs) {
      deps.log(`${line}, giving up: waiting ${seconds(waitMs)} more would pass the ${seconds(maxTotalWaitMs)} limit`);
      throw err;
    }
    deps.log(`${line}, retrying in ${seconds(waitMs)}`);
    waitedMs += waitMs;
    await deps.sleep(waitMs);
    if (decision.unclear && request.beforeResend) await request.beforeResend();
  }
}

/** Full jitter (a uniform draw below the capped exponential), so that many clients failing together spread out. */
export function backoffMs(failedAttempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (failedAttempt - 1));
  return Math.floor(random() * ceiling);
}

export function isWrite(method: string): boolean {
  return !READS.has(method.toUpperCase());
}

/**
 * Turns for writes, WRITE_GAP_MS apart from one start to the next, concurrent writes included; each wait goes
 * through the injected sleep and is read from the injected clock.
 */
export function writeTurns(now: () => number, sleep: (ms: number) => Promise<void>): () => Promise<void> {
  let last: number | undefined;
  let queue: Promise<void> = Promise.resolve();
  return () => {
    const turn = queue.then(async () => {
      const waitMs = last === undefined ? 0 : last + WRITE_GAP_MS - now();
      if (waitMs > 0) await sleep(waitMs);
      last = now();
    });
    queue = turn.catch(() => {});
    return turn;
  };
}
