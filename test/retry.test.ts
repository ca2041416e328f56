// The GitHub client's retry policy (scripts/adapters/github/retry.ts) on its own: which failures are sent again, how
// long each wait is, what is logged, and the spacing of writes. Every wait is recorded by the injected sleep; the
// clock, where one is read, is a number the test moves.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GitHubApiError } from "../scripts/adapters/github/errors.ts";
import {
  DEFAULT_RETRY,
  decide,
  isWrite,
  type PolicyDeps,
  type RequestPolicy,
  retrySettings,
  sendWithRetries,
  UNNAMED_LIMIT_WAIT_MS,
  writeTurns,
} from "../scripts/adapters/github/retry.ts";
import type { RetrySettings } from "../scripts/adapters/github/types.ts";

function apiError(
  status: number,
  init: { method?: string; path?: string; text?: string; rateLimited?: boolean; retryAfterMs?: number } = {},
) {
  const method = init.method ?? "GET";
  const path = init.path ?? "/repos/o/r/actions/runners/7";
  const what = status === 0 ? "no response" : `HTTP ${status}${init.text ? ` ${init.text}` : ""}`;
  return new GitHubApiError(`GitHub API ${method} ${path} failed: ${what}`, {
    status,
    method,
    path,
    rateLimited: init.rateLimited,
    retryAfterMs: init.retryAfterMs,
  });
}

const rateLimit = (status: number, retryAfterMs?: number, text = "API rate limit exceeded", method = "GET") =>
  apiError(status, { method, text, rateLimited: true, retryAfterMs });

interface Run {
  result?: string;
  error?: unknown;
  sends: number;
  sleeps: number[];
  logs: string[];
  /** Every send and every beforeResend, in order. */
  events: string[];
}

/** sendWithRetries over a send that fails with failures[n] on its n-th attempt (0-based), then answers. */
async function run(
  failures: unknown[],
  options: {
    method?: string;
    policy?: RequestPolicy;
    settings?: RetrySettings;
    random?: () => number;
    guardFails?: Error;
  } = {},
): Promise<Run> {
  const r: Run = { sends: 0, sleeps: [], logs: [], events: [] };
  const policy: RequestPolicy = { ...options.policy };
  if (options.guardFails !== undefined || policy.beforeResend) {
    const fails = options.guardFails;
    policy.beforeResend = async () => {
      r.events.push("check");
      if (fails) throw fails;
    };
  }
  const deps: PolicyDeps = {
    settings: retrySettings(options.settings),
    sleep: async (ms) => {
      r.sleeps.push(ms);
    },
    random: options.random ?? (() => 0.5),
    log: (line) => r.logs.push(line),
  };
  const send = async () => {
    const err = failures[r.sends++];
    r.events.push("send");
    if (err) throw err;
    return `answered on ${r.sends}`;
  };
  try {
    r.result = await sendWithRetries(options.method ?? "GET", send, policy, deps);
  } catch (err) {
    r.error = err;
  }
  return r;
}

const guarded: RequestPolicy = { beforeResend: async () => {} };
const fives = (n: number) => Array.from({ length: n }, () => apiError(502));

describe("decide: what is sent again", () => {
  const cases: {
    name: string;
    err: GitHubApiError;
    method: string;
    guarded?: boolean;
    unclearBefore?: boolean;
    retry: boolean;
    unclear?: boolean;
    afterMs?: number;
    reason?: string;
  }[] = [
    { name: "GET after a 502", err: apiError(502), method: "GET", retry: true, unclear: true, reason: "HTTP 502" },
    {
      name: "DELETE after no response",
      err: apiError(0, { method: "DELETE" }),
      method: "DELETE",
      retry: true,
      unclear: true,
      reason: "no response",
    },
    { name: "PUT after a 503", err: apiError(503, { method: "PUT" }), method: "PUT", retry: true, unclear: true },
    { name: "HEAD after a 500, method in lower case", err: apiError(500), method: "head", retry: true, unclear: true },
    {
      name: "a POST after a 502 is not: it may have taken effect",
      err: apiError(502, { method: "POST" }),
      method: "POST",
      retry: false,
    },
    { name: "a POST after no response is not", err: apiError(0, { method: "POST" }), method: "POST", retry: false },
    { name: "a PATCH after a 502 is not", err: apiError(502, { method: "PATCH" }), method: "PATCH", retry: false },
    {
      name: "a POST with a beforeResend after a 502 is",
      err: apiError(502, { method: "POST" }),
      method: "POST",
      guarded: true,
      retry: true,
      unclear: true,
    },
    {
      name: "a 5xx's retry-after is kept",
      err: apiError(503, { retryAfterMs: 0 }),
      method: "GET",
      retry: true,
      afterMs: 0,
    },
    {
      name: "a GET answered 404 is not (only the caller may read it as gone)",
      err: apiError(404),
      method: "GET",
      retry: false,
    },
    { name: "a DELETE answered 404 is not", err: apiError(404, { method: "DELETE" }), method: "DELETE", retry: false },
    {
      name: "a guarded POST answered 404 after an unclear failure is not",
      err: apiError(404, { method: "POST" }),
      method: "POST",
      guarded: true,
      unclearBefore: true,
      retry: false,
    },
    { name: "a GET answered 410 is not", err: apiError(410), method: "GET", retry: false },
    { name: "a GET answered 400 is not", err: apiError(400), method: "GET", retry: false },
    { name: "a GET answered 401 is not", err: apiError(401), method: "GET", retry: false },
    { name: "a GET answered a plain 403 is not", err: apiError(403), method: "GET", retry: false },
    { name: "a GET answered 422 is not", err: apiError(422), method: "GET", retry: false },
    {
      name: "a guarded POST answered 409 after an unclear failure is",
      err: apiError(409, { method: "POST" }),
      method: "POST",
      guarded: true,
      unclearBefore: true,
      retry: true,
      unclear: true,
    },
    {
      name: "a guarded POST answered 409 first is not: the name is someone else's",
      err: apiError(409, { method: "POST" }),
      method: "POST",
      guarded: true,
      retry: false,
    },
    {
      name: "an unguarded GET answered 409 after an unclear failure is not",
      err: apiError(409),
      method: "GET",
      unclearBefore: true,
      retry: false,
    },
    {
      name: "a 429 with retry-after waits what it asks",
      err: rateLimit(429, 7000),
      method: "GET",
      retry: true,
      unclear: false,
      afterMs: 7000,
      reason: "rate limited",
    },
    {
      name: "a POST refused by a secondary limit is: it did nothing",
      err: rateLimit(403, 3000, "You have exceeded a secondary rate limit", "POST"),
      method: "POST",
      retry: true,
      unclear: false,
      afterMs: 3000,
      reason: "secondary rate limit",
    },
    {
      name: "a rate limit that names no wait waits a minute",
      err: rateLimit(403, undefined, "You have exceeded a secondary rate limit"),
      method: "GET",
      retry: true,
      afterMs: UNNAMED_LIMIT_WAIT_MS,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = decide(c.err, c.method, c.guarded ?? false, c.unclearBefore ?? false);
      assert.equal(d.retry, c.retry);
      if (c.unclear !== undefined) assert.equal(d.unclear, c.unclear);
      if ("afterMs" in c) assert.equal(d.afterMs, c.afterMs);
      else if (c.retry) assert.equal(d.afterMs, undefined, "no wait named: the backoff");
      if (c.reason !== undefined) assert.equal(d.reason, c.reason);
    });
  }
});

describe("sendWithRetries: waits and log lines", () => {
  test("returns the first answer without waiting or logging", async () => {
    const r = await run([]);
    assert.equal(r.result, "answered on 1");
    assert.deepEqual([r.sleeps, r.logs], [[], []]);
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
    {
      name: "the dice decide: random 0 means no wait at all",
      random: () => 0,
      maxDelayMs: 15_000,
      want: [0, 0, 0, 0, 0, 0],
    },
  ]) {
    test(c.name, async () => {
      const r = await run(fives(6), {
        random: c.random,
        settings: { attempts: 10, maxDelayMs: c.maxDelayMs, maxTotalWaitMs: 1_000_000 },
      });
      assert.equal(r.result, "answered on 7");
      assert.deepEqual(r.sleeps, c.want);
    });
  }

  test("one line per failed attempt, labelled with the call", async () => {
    const r = await run([apiError(502), apiError(0)]);
    assert.deepEqual(r.logs, [
      "GitHub API GET /repos/o/r/actions/runners/7: HTTP 502, attempt 1/5, retrying in 0.5 s",
      "GitHub API GET /repos/o/r/actions/runners/7: no response, attempt 2/5, retrying in 1.0 s",
    ]);
  });

  test("a request's own label names it instead", async () => {
    const r = await run(fives(1), { policy: { label: "GitHub: do the thing" } });
    assert.deepEqual(r.logs, ["GitHub: do the thing: HTTP 502, attempt 1/5, retrying in 0.5 s"]);
  });

  test("GitHub's wait wins over the backoff, even above maxDelayMs, rounded up", async () => {
    const r = await run([rateLimit(429, 20_000.2), apiError(503, { retryAfterMs: 4000 })], {
      settings: { maxDelayMs: 1000 },
    });
    assert.deepEqual(r.sleeps, [20_001, 4000]);
    assert.match(r.logs[0] ?? "", /rate limited, attempt 1\/5, retrying in 20\.0 s$/);
  });

  test("a negative wait from GitHub waits 0", async () => {
    const r = await run([rateLimit(429, -5)]);
    assert.deepEqual(r.sleeps, [0]);
  });

  test("stops when the next wait would pass maxTotalWaitMs, and throws the last error", async () => {
    const failures = fives(6);
    // Waits 500 (total 500), 1000 (1500); the next, 2000, would make 3500 > 3000.
    const r = await run(failures, { settings: { maxTotalWaitMs: 3000 } });
    assert.equal(r.error, failures[2]);
    assert.equal(r.sends, 3);
    assert.deepEqual(r.sleeps, [500, 1000]);
    assert.match(
      r.logs.at(-1) ?? "",
      /: HTTP 502, attempt 3\/5, giving up: waiting 2\.0 s more would pass the 3\.0 s limit$/,
    );
  });

  test("a total wait exactly at the bound is allowed", async () => {
    const r = await run(fives(2), { settings: { maxTotalWaitMs: 1500 } });
    assert.equal(r.result, "answered on 3");
    assert.deepEqual(r.sleeps, [500, 1000]);
  });

  test("rate limits and 5xx share one count of attempts", async () => {
    const failures = [apiError(502), rateLimit(429, 1000), apiError(503)];
    const r = await run(failures, { settings: { attempts: 3 } });
    assert.equal(r.error, failures[2]);
    assert.deepEqual(r.sleeps, [500, 1000]);
    assert.match(r.logs.at(-1) ?? "", /: HTTP 503, attempt 3\/3, giving up$/);
  });

  test("a failure not to retry is thrown at once, after earlier retries too", async () => {
    const gone = apiError(404);
    const r = await run([apiError(502), gone]);
    assert.equal(r.error, gone);
    assert.equal(r.sends, 2);
    assert.deepEqual(r.sleeps, [500]);
    assert.equal(r.logs.length, 1, "no line for the answer that is not retried");
  });

  test("an error that is not GitHub's answer (a check of the client's own) is thrown at once", async () => {
    const own = new Error("the next-page link leaves the API URL");
    const r = await run([own]);
    assert.equal(r.error, own);
    assert.deepEqual([r.sends, r.sleeps], [1, []]);
  });

  test("a POST is sent once whatever the 5xx", async () => {
    const r = await run([apiError(502, { method: "POST" })], { method: "POST" });
    assert.equal(r.sends, 1);
    assert.deepEqual([r.sleeps, r.logs], [[], []]);
  });

  test("attempts: 1 means no retry", async () => {
    const r = await run(fives(1), { settings: { attempts: 1 } });
    assert.ok(r.error instanceof GitHubApiError);
    assert.deepEqual(r.sleeps, []);
    assert.match(r.logs[0] ?? "", /attempt 1\/1, giving up$/);
  });

  for (const attempts of [0, -1, 1.5, Number.NaN]) {
    test(`retry settings refuse attempts ${attempts}`, () => {
      assert.throws(() => retrySettings({ attempts }), /attempts must be an integer >= 1/);
    });
  }

  test("settings left undefined keep their defaults", () => {
    assert.deepEqual(retrySettings({ attempts: 2, baseDelayMs: undefined }), { ...DEFAULT_RETRY, attempts: 2 });
  });
});

describe("sendWithRetries: a request made safe to send again", () => {
  test("beforeResend runs after the wait, before each re-send after an unclear failure", async () => {
    const r = await run([apiError(502, { method: "POST" }), apiError(0, { method: "POST" })], {
      method: "POST",
      policy: guarded,
    });
    assert.equal(r.result, "answered on 3");
    assert.deepEqual(r.events, ["send", "check", "send", "check", "send"]);
  });

  test("a rate limit is re-sent without the check: GitHub refused it", async () => {
    const r = await run([rateLimit(429, 1000, "You have exceeded a secondary rate limit", "POST")], {
      method: "POST",
      policy: guarded,
    });
    assert.deepEqual(r.events, ["send", "send"]);
  });

  test("a 409 after an unclear failure is checked and re-sent", async () => {
    const r = await run([apiError(502, { method: "POST" }), apiError(409, { method: "POST" })], {
      method: "POST",
      policy: guarded,
    });
    assert.deepEqual(r.events, ["send", "check", "send", "check", "send"]);
    assert.match(r.logs[1] ?? "", /HTTP 409 \(perhaps the failed attempt's doing\), attempt 2\/5, retrying in 1\.0 s$/);
  });

  test("when beforeResend fails, its error ends the call and nothing more is sent", async () => {
    const checkFailed = new Error("listing failed");
    const r = await run(fives(3), { method: "POST", guardFails: checkFailed });
    assert.equal(r.error, checkFailed);
    assert.deepEqual(r.events, ["send", "check"]);
  });
});

describe("writes: a second apart", () => {
  for (const [method, write] of [
    ["GET", false],
    ["HEAD", false],
    ["OPTIONS", false],
    ["get", false],
    ["POST", true],
    ["PUT", true],
    ["PATCH", true],
    ["DELETE", true],
  ] as const) {
    test(`${method} is ${write ? "" : "not "}a write`, () => {
      assert.equal(isWrite(method), write);
    });
  }

  /** Turns on a clock that moves only when the test or the sleep moves it. */
  function turns() {
    const t = { clock: 10_000, sleeps: [] as number[], turn: () => Promise.resolve() };
    t.turn = writeTurns(
      () => t.clock,
      async (ms) => {
        t.sleeps.push(ms);
        t.clock += ms;
      },
    );
    return t;
  }

  test("the first write goes at once; the next waits what is left of the second", async () => {
    const t = turns();
    await t.turn();
    t.clock += 400;
    await t.turn();
    assert.deepEqual(t.sleeps, [600]);
    t.clock += 1000;
    await t.turn();
    assert.deepEqual(t.sleeps, [600], "a second has passed: no wait");
  });

  test("concurrent writes take turns, each a second after the one before", async () => {
    const t = turns();
    const started: number[] = [];
    await Promise.all([1, 2, 3].map(() => t.turn().then(() => started.push(t.clock))));
    assert.deepEqual(t.sleeps, [1000, 1000]);
    assert.deepEqual(started, [10_000, 11_000, 12_000]);
  });
});
