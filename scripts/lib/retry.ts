// A small retry helper: full-jitter exponential backoff, a server-given delay when there is one, a bound on the total
// time spent waiting, and one labelled log line per retry. The clock (sleep) and the dice (random) are injected so
// that callers' tests run instantly and deterministically.

/** What the caller's classifier says about one failure. */
export interface RetryDecision {
  /** Whether another attempt may be made. */
  retry: boolean;
  /** A delay the server asked for (Retry-After, rate-limit reset): used instead of the backoff when present. */
  afterMs?: number;
  /** Short words for the log line, e.g. "HTTP 502"; the error's first message line when absent. */
  reason?: string;
}

export interface RetryOptions {
  /** Attempts in all, the first one included (>= 1). */
  attempts: number;
  /** Upper bound of the first backoff; each further one doubles, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The sum of all waits stays within this: a retry whose wait would pass it is not made. */
  maxTotalWaitMs: number;
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1); Math.random when absent. */
  random?: () => number;
  log: (line: string) => void;
  isRetryable: (err: unknown) => RetryDecision;
}

/**
 * Runs fn(attempt) (attempt counts from 1) until it resolves, the error is not retryable, the attempts are spent
 * or the next wait would pass maxTotalWaitMs; then the last error is thrown as it is.
 */
export async function retry<T>(label: string, fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  if (!Number.isInteger(opts.attempts) || opts.attempts < 1) {
    throw new Error(`${label}: retry attempts must be an integer >= 1, got ${opts.attempts}`);
  }
  const random = opts.random ?? Math.random;
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const decision = opts.isRetryable(err);
      if (!decision.retry) throw err;
      const reason = decision.reason ?? describe(err);
      const of = `attempt ${attempt}/${opts.attempts}`;
      if (attempt >= opts.attempts) {
        opts.log(`${label}: ${reason}, ${of}, giving up`);
        throw err;
      }
      const waitMs =
        decision.afterMs !== undefined && Number.isFinite(decision.afterMs)
          ? Math.max(0, Math.ceil(decision.afterMs))
          : backoffMs(attempt, opts.baseDelayMs, opts.maxDelayMs, random);
      if (waitedMs + waitMs > opts.maxTotalWaitMs) {
        opts.log(
          `${label}: ${reason}, ${of}, giving up: waiting ${seconds(waitMs)} more would pass the ${seconds(opts.maxTotalWaitMs)} limit`,
        );
        throw err;
      }
      opts.log(`${label}: ${reason}, ${of}, retrying in ${seconds(waitMs)}`);
      waitedMs += waitMs;
      await opts.sleep(waitMs);
    }
  }
}

/** Full jitter (a uniform draw below the capped exponential), so that many clients failing together spread out. */
export function backoffMs(failedAttempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (failedAttempt - 1));
  return Math.floor(random() * ceiling);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n", 1)[0] ?? text;
}
