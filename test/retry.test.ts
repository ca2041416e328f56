import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type RetryDecision, type RetryOptions, retry } from "../scripts/lib/retry.ts";

class Transient extends Error {}
class Fatal extends Error {}

/** A run of retry() with recorded sleeps and log lines; fn fails `failures` times with the errors given. */
async function run(
  failures: Error[],
  opts: Partial<RetryOptions> = {},
): Promise<{ result?: string; error?: unknown; calls: number[]; sleeps: number[]; logs: string[] }> {
  const calls: number[] = [];
  const sleeps: number[] = [];
  const logs: string[] = [];
  const options: RetryOptions = {
    attempts: 10,
    baseDelayMs: 1000,
    maxDelayMs: 15_000,
    maxTotalWaitMs: 1_000_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    log: (line) => logs.push(line),
    isRetryable: (err): RetryDecision => ({ retry: err instanceof Transient, reason: "HTTP 502" }),
    ...opts,
  };
  try {
    const result = await retry(
      "GitHub: do the thing",
      async (attempt) => {
        calls.push(attempt);
        const err = failures[attempt - 1];
        if (err) throw err;
        return `ok on ${attempt}`;
      },
      options,
    );
    return { result, calls, sleeps, logs };
  } catch (error) {
    return { error, calls, sleeps, logs };
  }
}

const transient = (n: number) => Array.from({ length: n }, () => new Transient("boom"));

describe("retry", () => {
  test("returns the first success without waiting or logging", async () => {
    const r = await run([]);
    assert.equal(r.result, "ok on 1");
    assert.deepEqual(r.sleeps, []);
    assert.deepEqual(r.logs, []);
  });

  test("passes the attempt number, counting from 1", async () => {
    const r = await run(transient(3));
    assert.deepEqual(r.calls, [1, 2, 3, 4]);
    assert.equal(r.result, "ok on 4");
  });

  for (const c of [
    {
      name: "backoff doubles (full jitter, random fixed at 0.5)",
      random: () => 0.5,
      maxDelayMs: 15_000,
      want: [500, 1000, 2000, 4000, 7500, 7500],
    },
    {
      name: "backoff is capped at maxDelayMs",
      random: () => 0.999,
      maxDelayMs: 3000,
      want: [999, 1998, 2997, 2997, 2997, 2997],
    },
    { name: "random 0 means no wait at all", random: () => 0, maxDelayMs: 15_000, want: [0, 0, 0, 0, 0, 0] },
  ]) {
    test(c.name, async () => {
      const r = await run(transient(6), { random: c.random, maxDelayMs: c.maxDelayMs });
      assert.equal(r.result, "ok on 7");
      assert.deepEqual(r.sleeps, c.want);
    });
  }

  test("logs one labelled line per retry", async () => {
    const r = await run(transient(2));
    assert.deepEqual(r.logs, [
      "GitHub: do the thing: HTTP 502, attempt 1/10, retrying in 0.5 s",
      "GitHub: do the thing: HTTP 502, attempt 2/10, retrying in 1.0 s",
    ]);
  });

  test("uses the error's first message line when the decision gives no reason", async () => {
    const r = await run([new Transient("socket hang up\nat somewhere")], {
      isRetryable: (err) => ({ retry: err instanceof Transient }),
    });
    assert.deepEqual(r.logs, ["GitHub: do the thing: socket hang up, attempt 1/10, retrying in 0.5 s"]);
  });

  test("a server-given delay wins over the backoff, even above maxDelayMs", async () => {
    const r = await run(transient(2), {
      maxDelayMs: 1000,
      isRetryable: () => ({ retry: true, afterMs: 20_000.2, reason: "HTTP 429" }),
    });
    assert.deepEqual(r.sleeps, [20_001, 20_001]);
    assert.match(r.logs[0] ?? "", /HTTP 429, attempt 1\/10, retrying in 20\.0 s$/);
  });

  test("a negative server-given delay waits 0", async () => {
    const r = await run(transient(1), { isRetryable: () => ({ retry: true, afterMs: -5 }) });
    assert.deepEqual(r.sleeps, [0]);
  });

  test("stops when the next wait would pass maxTotalWaitMs, and throws the last error", async () => {
    const failures = transient(6);
    // Waits 500 (total 500), 1000 (1500); the next, 2000, would make 3500 > 3000.
    const r = await run(failures, { maxTotalWaitMs: 3000 });
    assert.equal(r.error, failures[2]);
    assert.deepEqual(r.calls, [1, 2, 3]);
    assert.deepEqual(r.sleeps, [500, 1000]);
    assert.equal(r.logs.length, 3);
    assert.match(r.logs[2] ?? "", /attempt 3\/10, giving up: waiting 2\.0 s more would pass the 3\.0 s limit$/);
  });

  test("a total wait exactly at the bound is allowed", async () => {
    const r = await run(transient(2), { maxTotalWaitMs: 1500 });
    assert.equal(r.result, "ok on 3");
    assert.deepEqual(r.sleeps, [500, 1000]);
  });

  test("throws the last error when the attempts are spent", async () => {
    const failures = transient(5);
    const r = await run(failures, { attempts: 3 });
    assert.equal(r.error, failures[2]);
    assert.deepEqual(r.calls, [1, 2, 3]);
    assert.deepEqual(r.sleeps, [500, 1000]);
    assert.equal(r.logs.at(-1), "GitHub: do the thing: HTTP 502, attempt 3/3, giving up");
  });

  test("throws a non-retryable error at once", async () => {
    const fatal = new Fatal("HTTP 403");
    const r = await run([fatal]);
    assert.equal(r.error, fatal);
    assert.deepEqual(r.calls, [1]);
    assert.deepEqual(r.sleeps, []);
    assert.deepEqual(r.logs, []);
  });

  test("a non-retryable error after retries is thrown at once too", async () => {
    const fatal = new Fatal("HTTP 404");
    const r = await run([new Transient("x"), fatal]);
    assert.equal(r.error, fatal);
    assert.deepEqual(r.calls, [1, 2]);
    assert.deepEqual(r.sleeps, [500]);
  });

  test("attempts: 1 means no retry", async () => {
    const r = await run(transient(1), { attempts: 1 });
    assert.ok(r.error instanceof Transient);
    assert.deepEqual(r.sleeps, []);
  });

  for (const attempts of [0, -1, 1.5, Number.NaN]) {
    test(`rejects attempts ${attempts}`, async () => {
      const r = await run([], { attempts });
      assert.match(String(r.error), /attempts must be an integer >= 1/);
      assert.deepEqual(r.calls, []);
    });
  }
});
