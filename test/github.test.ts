import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import { inspect } from "node:util";
import nock from "nock";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import { GitHubApiError } from "../scripts/adapters/github/errors.ts";
import type { GitHubClientOptions, RunnerScope } from "../scripts/adapters/github/types.ts";

const API = "https://api.github.com";
const TOKEN = "test-token-not-real";
// Base64 of a harmless phrase: shaped like a config, useless as one.
const CONFIG = "ZmFrZS1qaXQtY29uZmlnLWZvci10ZXN0cy1vbmx5";
const REPO: RunnerScope = { kind: "repository", owner: "octo", repo: "gpu" };
const ORG: RunnerScope = { kind: "organization", org: "acme" };
const RUNNERS = "/repos/octo/gpu/actions/runners";
const JIT = `${RUNNERS}/generate-jitconfig`;
const NOW = 1_700_000_000_000;

/** Every log line of every test, checked for secrets after each one. */
let allLogs: string[] = [];

/**
 * A client whose every wait is recorded instead of made (sleep), with fixed dice (random 0.5: each backoff is half
 * its ceiling) and a fixed clock. The second between writes is off unless a test turns it on.
 */
function setup(overrides: Partial<GitHubClientOptions> = {}) {
  const logs: string[] = [];
  const sleeps: number[] = [];
  const secrets: string[] = [];
  const client = createGitHubClient({
    token: TOKEN,
    apiUrl: API,
    scope: REPO,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    now: () => NOW,
    log: (line) => {
      logs.push(line);
      allLogs.push(line);
    },
    onSecret: (value) => secrets.push(value),
    spaceWrites: false,
    ...overrides,
  });
  return { client, logs, sleeps, secrets };
}

function runner(id: number, name: string, status = "online", busy = false) {
  return {
    id,
    name,
    os: "linux",
    status,
    busy,
    labels: [
      { id: 1, name: "self-hosted", type: "read-only" },
      { id: 2, name: "gpu-123", type: "custom" },
    ],
  };
}

function jitReply(id: number, name: string) {
  return { runner: runner(id, name, "offline"), encoded_jit_config: CONFIG };
}

const jitRequest = { name: "gpu-123-1", labels: ["gpu-123"], runnerGroupId: 1 };

async function rejection(promise: Promise<unknown>): Promise<GitHubApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GitHubApiError, `expected a GitHubApiError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

/**
 * The per-attempt timeout where one request hangs and a later one must be answered in time: the hanging one costs this
 * long, and a loaded machine answering the other from 127.0.0.1 stays far inside it.
 */
const ANSWERED_IN_TIME_MS = 2_000;

/**
 * Runs a call and records every timer it set that would really wait (over 10 ms): the injected sleep must be the only
 * wait, so a retry that waits on its own shows here whatever the machine's speed.
 */
async function realWaits<T>(fn: () => Promise<T>): Promise<{ value: T; waits: number[] }> {
  const original = globalThis.setTimeout;
  const waits: number[] = [];
  globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if ((ms ?? 0) > 10) waits.push(ms ?? 0);
    return original(callback, ms, ...args);
  }) as typeof setTimeout;
  try {
    return { value: await fn(), waits };
  } finally {
    globalThis.setTimeout = original;
  }
}

before(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  try {
    assert.deepEqual(nock.pendingMocks(), [], "every expected request was made");
    assert.ok(nock.isDone());
    for (const line of allLogs) {
      assert.ok(!line.includes(TOKEN), `log line holds the token: ${line}`);
      assert.ok(!line.includes(CONFIG), `log line holds the JIT config: ${line}`);
    }
  } finally {
    nock.cleanAll();
    allLogs = [];
  }
});

after(() => {
  nock.enableNetConnect();
});

describe("createJitConfig", () => {
  test("sends the exact body and headers, masks the config before returning it", async () => {
    let sent: unknown;
    nock(API, {
      reqheaders: {
        authorization: `token ${TOKEN}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "content-type": "application/json; charset=utf-8",
        "user-agent": /^ephemeral-gpu-runner octokit-core\.js\//,
      },
    })
      .post(JIT, (body) => {
        sent = body;
        return true;
      })
      .reply(201, jitReply(42, "gpu-123-1"));
    const events: string[] = [];
    const { client, logs } = setup({ onSecret: (value) => events.push(`secret ${value}`) });

    const jit = await client.createJitConfig(jitRequest);
    events.push("returned");

    assert.deepEqual(sent, { name: "gpu-123-1", runner_group_id: 1, labels: ["gpu-123"], work_folder: "_work" });
    assert.deepEqual(jit, { runnerId: 42, runnerName: "gpu-123-1", encodedJitConfig: CONFIG });
    assert.deepEqual(events, [`secret ${CONFIG}`, "returned"]);
    assert.deepEqual(logs, []);
  });

  test("sends a given work folder and runner group", async () => {
    let sent: unknown;
    nock(API)
      .post(JIT, (body) => {
        sent = body;
        return true;
      })
      .reply(201, jitReply(7, "r"));
    const { client, secrets } = setup();
    await client.createJitConfig({ name: "r", labels: ["a", "b"], runnerGroupId: 3, workFolder: "work" });
    assert.deepEqual(sent, { name: "r", runner_group_id: 3, labels: ["a", "b"], work_folder: "work" });
    assert.deepEqual(secrets, [CONFIG]);
  });

  test("a 201 without a config is an error that names no body", async () => {
    nock(API)
      .post(JIT)
      .reply(201, { runner: runner(1, "r") });
    const { client, secrets } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.match(err.message, /unexpected body: no encoded_jit_config$/);
    assert.deepEqual(secrets, []);
  });

  test("a config without a runner is still masked before the error", async () => {
    nock(API).post(JIT).reply(201, { encoded_jit_config: CONFIG });
    const { client, secrets } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.match(err.message, /no runner id or name/);
    assert.ok(!err.message.includes(CONFIG));
    assert.deepEqual(secrets, [CONFIG]);
  });

  for (const c of [
    { name: "cut short", headers: { "content-type": "application/json" } as Record<string, string> },
    { name: "without a content type", headers: {} },
  ]) {
    test(`a success body that is not JSON (${c.name}) is not quoted`, async () => {
      nock(API).post(JIT).reply(201, `{"encoded_jit_config":"${CONFIG}"`, c.headers);
      const { client } = setup();
      const err = await rejection(client.createJitConfig(jitRequest));
      assert.equal(err.message, `GitHub API POST ${JIT} returned an unexpected body: a body that is not JSON`);
    });
  }
});

describe("base URL and scope", () => {
  for (const apiUrl of [
    "https://ghe.example.com/api/v3",
    "https://ghe.example.com/api/v3/",
    "https://ghe.example.com/api/v3//",
  ]) {
    test(`GHES ${apiUrl} keeps the /api/v3 path`, async () => {
      nock("https://ghe.example.com").get("/api/v3/repos/octo/gpu/actions/runners/7").reply(200, runner(7, "r"));
      nock("https://ghe.example.com")
        .post("/api/v3/repos/octo/gpu/actions/runners/generate-jitconfig")
        .reply(201, jitReply(8, "s"));
      const { client } = setup({ apiUrl });
      assert.equal((await client.getRunner(7))?.name, "r");
      assert.equal((await client.createJitConfig(jitRequest)).runnerId, 8);
    });
  }

  test("GHES error messages show the path below the API URL", async () => {
    nock("https://ghe.example.com").get("/api/v3/repos/octo/gpu/actions/runners/7").reply(422, { message: "nope" });
    const { client } = setup({ apiUrl: "https://ghe.example.com/api/v3" });
    const err = await rejection(client.getRunner(7));
    assert.equal(err.path, "/repos/octo/gpu/actions/runners/7");
    assert.equal(err.message, "GitHub API GET /repos/octo/gpu/actions/runners/7 failed: HTTP 422 nope");
  });

  const org = "/orgs/acme/actions/runners";
  type Client = ReturnType<typeof setup>["client"];
  for (const c of [
    {
      name: "organization JIT config",
      mock: (s: nock.Scope) => s.post(`${org}/generate-jitconfig`).reply(201, jitReply(5, "r")),
      call: (c: Client) => c.createJitConfig(jitRequest).then((j) => j.runnerId),
      want: 5,
    },
    {
      name: "organization get runner",
      mock: (s: nock.Scope) => s.get(`${org}/5`).reply(200, runner(5, "r")),
      call: (c: Client) => c.getRunner(5).then((r) => r?.id),
      want: 5,
    },
    {
      name: "organization list runners",
      mock: (s: nock.Scope) =>
        s
          .get(org)
          .query({ per_page: "100" })
          .reply(200, { total_count: 1, runners: [runner(5, "r")] }),
      call: (c: Client) => c.listRunners().then((rs) => rs.length),
      want: 1,
    },
    {
      name: "organization delete runner",
      mock: (s: nock.Scope) => s.delete(`${org}/5`).reply(204),
      call: (c: Client) => c.deleteRunner(5),
      want: "deleted",
    },
  ]) {
    test(c.name, async () => {
      c.mock(nock(API));
      const { client } = setup({ scope: ORG });
      assert.equal(await c.call(client), c.want);
    });
  }

  test("owner and repo are URL-encoded into the path", async () => {
    nock(API).get("/repos/my%20org/r%2Fx/actions/runners/1").reply(200, runner(1, "r"));
    const { client } = setup({ scope: { kind: "repository", owner: "my org", repo: "r/x" } });
    assert.equal((await client.getRunner(1))?.id, 1);
  });

  for (const c of [
    { name: "an empty token", opts: { token: " " }, want: /github-token is empty/ },
    { name: "an API URL that is not a URL", opts: { apiUrl: "api.github.com" }, want: /is not a URL/ },
    {
      name: "an API URL with credentials",
      opts: { apiUrl: "https://user:pw@x.example/api" },
      want: /must not hold a user name/,
    },
    { name: "an API URL with a query", opts: { apiUrl: "https://x.example/api?a=1" }, want: /without query/ },
    {
      name: "a repository scope without repo",
      opts: { scope: { kind: "repository", owner: "o", repo: "" } as RunnerScope },
      want: /owner and a repo/,
    },
  ]) {
    test(`refuses ${c.name}`, () => {
      assert.throws(() => setup(c.opts), c.want);
    });
  }

  test("the credentials of a refused API URL are not echoed", () => {
    assert.throws(
      () => setup({ apiUrl: "https://user:s3cret@x.example/api" }),
      (err: Error) => !err.message.includes("s3cret"),
    );
  });
});

describe("getRunner", () => {
  for (const c of [
    {
      name: "online and busy",
      reply: runner(7, "gpu-7", "online", true),
      want: { id: 7, name: "gpu-7", status: "online", busy: true, labels: ["self-hosted", "gpu-123"] },
    },
    {
      name: "offline",
      reply: runner(7, "gpu-7", "offline"),
      want: { id: 7, name: "gpu-7", status: "offline", busy: false, labels: ["self-hosted", "gpu-123"] },
    },
  ]) {
    test(c.name, async () => {
      nock(API).get(`${RUNNERS}/7`).reply(200, c.reply);
      const { client } = setup();
      assert.deepEqual(await client.getRunner(7), c.want);
    });
  }

  test("404 means gone: undefined, no retry", async () => {
    nock(API).get(`${RUNNERS}/7`).once().reply(404, { message: "Not Found" });
    const { client, sleeps, logs } = setup();
    assert.equal(await client.getRunner(7), undefined);
    assert.deepEqual(sleeps, []);
    assert.deepEqual(logs, []);
  });

  test("an answer that is not a runner is an error", async () => {
    nock(API).get(`${RUNNERS}/7`).reply(200, { id: "7" });
    const { client } = setup();
    assert.match((await rejection(client.getRunner(7))).message, /unexpected body: not a runner$/);
  });

  test("refuses an id that is not a positive integer, without a request", async () => {
    const { client } = setup();
    await assert.rejects(client.getRunner(0), /not a positive integer/);
    await assert.rejects(client.getRunner(1.5), /not a positive integer/);
  });
});

describe("listRunners", () => {
  test("follows the Link header across two pages", async () => {
    const page2 = `${API}/repositories/99/actions/runners?per_page=100&page=2`;
    nock(API)
      .get(RUNNERS)
      .query({ per_page: "100" })
      .reply(
        200,
        { total_count: 3, runners: [runner(1, "a"), runner(2, "b")] },
        { Link: `<${page2}>; rel="next", <${page2}>; rel="last"` },
      )
      .get("/repositories/99/actions/runners")
      .query({ per_page: "100", page: "2" })
      .reply(
        200,
        { total_count: 3, runners: [runner(3, "c", "offline")] },
        {
          Link: `<${API}/repositories/99/actions/runners?per_page=100&page=1>; rel="prev", <${API}/repositories/99/actions/runners?per_page=100&page=1>; rel="first"`,
        },
      );
    const { client } = setup();
    assert.deepEqual(
      (await client.listRunners()).map((r) => [r.id, r.name, r.status]),
      [
        [1, "a", "online"],
        [2, "b", "online"],
        [3, "c", "offline"],
      ],
    );
  });

  test("follows GHES links under /api/v3", async () => {
    const ghe = "https://ghe.example.com";
    nock(ghe)
      .get("/api/v3/orgs/acme/actions/runners")
      .query({ per_page: "100" })
      .reply(
        200,
        { total_count: 2, runners: [runner(1, "a")] },
        { Link: `<${ghe}/api/v3/organizations/4/actions/runners?per_page=100&page=2>; rel="next"` },
      )
      .get("/api/v3/organizations/4/actions/runners")
      .query({ per_page: "100", page: "2" })
      .reply(200, { total_count: 2, runners: [runner(2, "b")] });
    const { client } = setup({ apiUrl: `${ghe}/api/v3`, scope: ORG });
    assert.deepEqual(
      (await client.listRunners()).map((r) => r.id),
      [1, 2],
    );
  });

  test("a page that fails is retried on its own; the pages before are kept", async () => {
    const page2 = `${API}${RUNNERS}?per_page=100&page=2`;
    nock(API)
      .get(RUNNERS)
      .query({ per_page: "100" })
      .reply(200, { total_count: 2, runners: [runner(1, "a")] }, { Link: `<${page2}>; rel="next"` })
      .get(RUNNERS)
      .query({ per_page: "100", page: "2" })
      .reply(502)
      .get(RUNNERS)
      .query({ per_page: "100", page: "2" })
      .reply(200, { total_count: 2, runners: [runner(2, "b")] });
    const { client, sleeps, logs } = setup();
    assert.deepEqual(
      (await client.listRunners()).map((r) => r.id),
      [1, 2],
    );
    assert.deepEqual(sleeps, [500]);
    assert.deepEqual(logs, [`GitHub API GET ${RUNNERS}?per_page=100&page=2: HTTP 502, attempt 1/5, retrying in 0.5 s`]);
  });

  test("an empty list", async () => {
    nock(API).get(RUNNERS).query({ per_page: "100" }).reply(200, { total_count: 0, runners: [] });
    const { client } = setup();
    assert.deepEqual(await client.listRunners(), []);
  });

  test("an answer without a runners array is an error", async () => {
    nock(API).get(RUNNERS).query({ per_page: "100" }).reply(200, { message: "?" });
    const { client } = setup();
    assert.match((await rejection(client.listRunners())).message, /unexpected body: no runners array$/);
  });

  for (const c of [
    {
      name: "another host",
      link: "https://evil.example/repos/octo/gpu/actions/runners?page=2",
      want: /leaves the API URL \(https:\/\/evil\.example\)/,
    },
    {
      name: "a path outside the API URL",
      link: "https://ghe.example.com/other/runners?page=2",
      want: /leaves the API URL/,
      apiUrl: "https://ghe.example.com/api/v3",
    },
    { name: "the same URL again", link: `${API}${RUNNERS}?per_page=100`, want: /pagination does not end/ },
  ]) {
    test(`does not follow a next link to ${c.name}`, async () => {
      const host = c.apiUrl ? "https://ghe.example.com" : API;
      const path = c.apiUrl ? `/api/v3${RUNNERS}` : RUNNERS;
      // Only the first page is mocked, and other hosts are refused: a followed link would fail otherwise.
      nock(host)
        .get(path)
        .query({ per_page: "100" })
        .reply(200, { total_count: 1, runners: [runner(1, "a")] }, { Link: `<${c.link}>; rel="next"` });
      const { client } = setup(c.apiUrl ? { apiUrl: c.apiUrl } : {});
      await assert.rejects(client.listRunners(), c.want);
    });
  }
});

describe("deleteRunner", () => {
  for (const c of [
    { name: "204 means deleted", status: 204, want: "deleted" },
    { name: "404 means gone", status: 404, want: "gone" },
  ]) {
    test(c.name, async () => {
      nock(API).delete(`${RUNNERS}/9`).reply(c.status);
      const { client } = setup();
      assert.equal(await client.deleteRunner(9), c.want);
    });
  }

  test("a 422 (runner busy) is an error, not retried", async () => {
    nock(API).delete(`${RUNNERS}/9`).once().reply(422, { message: 'Bad request - Runner "r" is still running a job"' });
    const { client, sleeps } = setup();
    const err = await rejection(client.deleteRunner(9));
    assert.equal(err.status, 422);
    assert.deepEqual(sleeps, []);
  });

  test("a 502 whose first attempt did delete ends as gone", async () => {
    nock(API).delete(`${RUNNERS}/9`).reply(502).delete(`${RUNNERS}/9`).reply(404, { message: "Not Found" });
    const { client, sleeps } = setup();
    assert.equal(await client.deleteRunner(9), "gone");
    assert.deepEqual(sleeps, [500]);
  });

  test("writes are spaced a second apart by default, on the injected clock; reads are not", async () => {
    // The clock moves only when the client sleeps: the spacing read from it is the client's doing, not the machine's.
    let clock = NOW;
    const at: string[] = [];
    const sent = (what: string) => () => at.push(`${what} at +${clock - NOW}`) && "";
    nock(API)
      .delete(`${RUNNERS}/1`)
      .reply(204, sent("DELETE 1"))
      .delete(`${RUNNERS}/2`)
      .reply(204, sent("DELETE 2"))
      .get(`${RUNNERS}/3`)
      .reply(200, () => at.push(`GET at +${clock - NOW}`) && runner(3, "r"));
    const { client, sleeps } = setup({
      spaceWrites: undefined,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    // One after the other: each reply is recorded before the next request starts (turns of concurrent writes:
    // test/retry.test.ts).
    assert.equal(await client.deleteRunner(1), "deleted");
    assert.equal(await client.deleteRunner(2), "deleted");
    assert.equal((await client.getRunner(3))?.id, 3);
    assert.deepEqual(at, ["DELETE 1 at +0", "DELETE 2 at +1000", "GET at +1000"]);
    assert.deepEqual(sleeps, [1000]);
  });
});

describe("retries of idempotent calls (waits through the injected sleep)", () => {
  test("5xx then success: waits with backoff, one log line per retry, no real wait", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(502, "<html>Bad Gateway</html>")
      .get(`${RUNNERS}/7`)
      .reply(503, { message: "Service Unavailable" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps, logs } = setup({ retry: { baseDelayMs: 4000 } });
    const { value, waits } = await realWaits(() => client.getRunner(7));
    assert.equal(value?.id, 7);
    assert.deepEqual(sleeps, [2000, 4000]);
    assert.deepEqual(waits, [], "no wait outside the injected sleep");
    assert.deepEqual(logs, [
      `GitHub API GET ${RUNNERS}/7: HTTP 502, attempt 1/5, retrying in 2.0 s`,
      `GitHub API GET ${RUNNERS}/7: HTTP 503, attempt 2/5, retrying in 4.0 s`,
    ]);
  });

  test("a network error is retried", async () => {
    nock(API)
      .get(RUNNERS)
      .query({ per_page: "100" })
      .replyWithError({ code: "ECONNRESET", message: "socket hang up" })
      .get(RUNNERS)
      .query({ per_page: "100" })
      .reply(200, { total_count: 0, runners: [] });
    const { client, sleeps, logs } = setup();
    assert.deepEqual(await client.listRunners(), []);
    assert.deepEqual(sleeps, [500]);
    assert.deepEqual(logs, [`GitHub API GET ${RUNNERS}?per_page=100: no response, attempt 1/5, retrying in 0.5 s`]);
  });

  test("a request that hangs past the timeout is abandoned and retried", async () => {
    // nock's delay() does not honour the abort signal, so a real local server plays the hung GitHub.
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      if (requests === 1) return; // never answer
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(runner(7, "r")));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    nock.enableNetConnect("127.0.0.1");
    try {
      const { port } = server.address() as AddressInfo;
      const { client, sleeps, logs } = setup({
        apiUrl: `http://127.0.0.1:${port}`,
        requestTimeoutMs: ANSWERED_IN_TIME_MS,
      });
      assert.equal((await client.getRunner(7))?.name, "r");
      assert.equal(requests, 2);
      assert.deepEqual(sleeps, [500]);
      assert.deepEqual(logs, [`GitHub API GET ${RUNNERS}/7: no response, attempt 1/5, retrying in 0.5 s`]);
    } finally {
      nock.disableNetConnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a request that hangs every time ends as status 0, naming the timeout", async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    nock.enableNetConnect("127.0.0.1");
    try {
      const { port } = server.address() as AddressInfo;
      const { client, sleeps } = setup({
        apiUrl: `http://127.0.0.1:${port}`,
        requestTimeoutMs: 50,
        retry: { attempts: 2 },
      });
      const err = await rejection(client.getRunner(7));
      assert.equal(err.status, 0);
      assert.equal(err.message, `GitHub API GET ${RUNNERS}/7 failed: no response within 0.05 s`);
      assert.deepEqual(sleeps, [500]);
    } finally {
      nock.disableNetConnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("attempts exhausted: the last GitHubApiError, with its status", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .times(5)
      .reply(500, { message: "Server Error" }, { "x-github-request-id": "ABCD:1234" });
    const { client, sleeps, logs } = setup();
    const err = await rejection(client.getRunner(7));
    assert.equal(err.status, 500);
    assert.equal(err.method, "GET");
    assert.equal(err.path, `${RUNNERS}/7`);
    assert.equal(err.requestId, "ABCD:1234");
    assert.equal(err.rateLimited, false);
    assert.equal(err.message, `GitHub API GET ${RUNNERS}/7 failed: HTTP 500 Server Error [request id ABCD:1234]`);
    assert.deepEqual(sleeps, [500, 1000, 2000, 4000]);
    assert.equal(logs.length, 5);
    assert.equal(logs[3], `GitHub API GET ${RUNNERS}/7: HTTP 500, attempt 4/5, retrying in 4.0 s`);
    assert.equal(logs[4], `GitHub API GET ${RUNNERS}/7: HTTP 500, attempt 5/5, giving up`);
  });

  test("retry settings can be changed", async () => {
    nock(API).get(`${RUNNERS}/7`).times(2).reply(500);
    const { client, sleeps } = setup({ retry: { attempts: 2, baseDelayMs: 100 } });
    assert.equal((await rejection(client.getRunner(7))).status, 500);
    assert.deepEqual(sleeps, [50]);
  });

  test("each backoff is capped at maxDelayMs", async () => {
    nock(API).get(`${RUNNERS}/7`).times(4).reply(503).get(`${RUNNERS}/7`).reply(200, runner(7, "r"));
    const { client, sleeps } = setup({ retry: { maxDelayMs: 1500 }, random: () => 0.999 });
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [999, 1498, 1498, 1498]);
  });

  for (const status of [400, 401, 403, 409, 410, 422]) {
    test(`a GET answered ${status} is not retried`, async () => {
      nock(API).get(`${RUNNERS}/7`).once().reply(status, { message: "no" });
      const { client, sleeps, logs } = setup();
      assert.equal((await rejection(client.getRunner(7))).status, status);
      assert.deepEqual(sleeps, []);
      assert.deepEqual(logs, []);
    });
  }
});

describe("rate limits (waits through the injected sleep)", () => {
  const cases: { name: string; status: number; headers: Record<string, string>; message: string; want: number }[] = [
    {
      name: "403 secondary rate limit naming no wait: GitHub's advice, a minute",
      status: 403,
      headers: {},
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      want: 60_000,
    },
    {
      name: "403 secondary rate limit with retry-after",
      status: 403,
      headers: { "retry-after": "3" },
      message: "You have exceeded a secondary rate limit",
      want: 3000,
    },
    {
      name: "429 secondary rate limit with retry-after",
      status: 429,
      headers: { "retry-after": "7" },
      message: "You have exceeded a secondary rate limit",
      want: 7000,
    },
    {
      name: "retry-after as an HTTP date, on the injected clock",
      status: 429,
      headers: { "retry-after": new Date(NOW + 9000).toUTCString() },
      message: "You have exceeded a secondary rate limit",
      want: 9000,
    },
    {
      name: "403 with x-ratelimit-remaining 0 waits until x-ratelimit-reset, on the injected clock",
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 12) },
      message: "API rate limit exceeded",
      want: 12_000,
    },
    {
      name: "429 primary rate limit with retry-after: retry-after wins over x-ratelimit-reset",
      status: 429,
      headers: { "retry-after": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 30) },
      message: "API rate limit exceeded",
      want: 2000,
    },
    {
      name: "a reset already past waits 0",
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 - 5) },
      message: "API rate limit exceeded",
      want: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      nock(API)
        .delete(`${RUNNERS}/7`)
        .reply(c.status, { message: c.message }, c.headers)
        .delete(`${RUNNERS}/7`)
        .reply(204);
      const { client, sleeps, logs } = setup();
      const { value, waits } = await realWaits(() => client.deleteRunner(7));
      assert.equal(value, "deleted");
      assert.deepEqual(sleeps, [c.want]);
      assert.deepEqual(waits, [], "no wait outside the injected sleep");
      const kind = /secondary/.test(c.message) ? "secondary rate limit" : "rate limited";
      assert.deepEqual(logs, [
        `GitHub API DELETE ${RUNNERS}/7: ${kind}, attempt 1/5, retrying in ${(c.want / 1000).toFixed(1)} s`,
      ]);
    });
  }

  test("the total wait stays within maxTotalWaitMs (default 60 s)", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .times(2)
      .reply(429, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "45" });
    const { client, sleeps, logs } = setup();
    const err = await rejection(client.getRunner(7));
    assert.equal(err.status, 429);
    assert.equal(err.rateLimited, true);
    assert.equal(err.retryAfterMs, 45_000);
    // 45 s once; another 45 s would make 90 s.
    assert.deepEqual(sleeps, [45_000]);
    assert.equal(
      logs.at(-1),
      `GitHub API GET ${RUNNERS}/7: secondary rate limit, attempt 2/5, giving up: waiting 45.0 s more would pass the 60.0 s limit`,
    );
  });

  test("the retries of a rate limit are bounded by attempts", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .times(3)
      .reply(403, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "1" });
    const { client, sleeps, logs } = setup({ retry: { attempts: 3 } });
    assert.equal((await rejection(client.getRunner(7))).status, 403);
    assert.deepEqual(sleeps, [1000, 1000]);
    assert.equal(logs.at(-1), `GitHub API GET ${RUNNERS}/7: secondary rate limit, attempt 3/3, giving up`);
  });

  test("a primary rate limit reset an hour away is not waited for: a clear error at once", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .once()
      .reply(
        403,
        { message: "API rate limit exceeded for installation ID 1." },
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 3600) },
      );
    const { client, sleeps, logs } = setup();
    const err = await rejection(client.getRunner(7));
    assert.equal(err.status, 403);
    assert.equal(err.rateLimited, true);
    assert.equal(err.retryAfterMs, 3_600_000);
    assert.equal(
      err.message,
      `GitHub API GET ${RUNNERS}/7 failed: HTTP 403 API rate limit exceeded for installation ID 1. (rate limited; GitHub asked for a wait of 3600.0 s)`,
    );
    assert.ok(!/Administration/.test(err.message), "a rate limit is not a permission problem");
    assert.deepEqual(sleeps, []);
    assert.deepEqual(logs, [
      `GitHub API GET ${RUNNERS}/7: rate limited, attempt 1/5, giving up: waiting 3600.0 s more would pass the 60.0 s limit`,
    ]);
  });

  test("a 429 is a rate limit whatever its message: retried after its retry-after", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(429, { message: "Too Many Requests" }, { "retry-after": "7" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [7000]);
    assert.deepEqual(logs, [`GitHub API GET ${RUNNERS}/7: rate limited, attempt 1/5, retrying in 7.0 s`]);
  });

  test("a 5xx's retry-after is honoured instead of the backoff", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(503, { message: "Service Unavailable" }, { "retry-after": "4" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps } = setup();
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [4000]);
  });

  test("a plain 403 with a rate-limit header left is a permission error, not a rate limit", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .once()
      .reply(403, { message: "Resource not accessible by integration" }, { "x-ratelimit-remaining": "4999" });
    const { client, sleeps } = setup();
    const err = await rejection(client.getRunner(7));
    assert.equal(err.rateLimited, false);
    assert.match(err.message, /Administration: write/);
    assert.deepEqual(sleeps, []);
  });

  test("a 5xx and a rate limit on one request: each waited for once", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(502)
      .get(`${RUNNERS}/7`)
      .reply(429, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "3" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [500, 3000]);
    assert.equal(logs.length, 2);
  });
});

describe("permission hints and other 4xx", () => {
  for (const c of [
    {
      name: "repository 403 names Administration: write",
      scope: REPO,
      status: 403,
      path: JIT,
      message: `GitHub API POST ${JIT} failed: HTTP 403 Resource not accessible by personal access token. The github-token needs repository Administration: write (fine-grained PAT or GitHub App).`,
    },
    {
      name: "organization 401 names Self-hosted runners: write",
      scope: ORG,
      status: 401,
      path: "/orgs/acme/actions/runners/generate-jitconfig",
      message:
        "GitHub API POST /orgs/acme/actions/runners/generate-jitconfig failed: HTTP 401 Bad credentials. The github-token needs organization Self-hosted runners: write (fine-grained PAT or GitHub App).",
    },
  ]) {
    test(`no retry on plain ${c.status}: ${c.name}`, async () => {
      nock(API)
        .post(c.path)
        .once()
        .reply(c.status, {
          message: c.status === 403 ? "Resource not accessible by personal access token" : "Bad credentials",
        });
      const { client, sleeps, logs } = setup({ scope: c.scope });
      const err = await rejection(client.createJitConfig(jitRequest));
      assert.equal(err.status, c.status);
      assert.equal(err.rateLimited, false);
      assert.equal(err.message, c.message);
      assert.deepEqual(sleeps, []);
      assert.deepEqual(logs, []);
    });
  }

  test("a 404 on the JIT POST says the token may not see the repository", async () => {
    nock(API).post(JIT).once().reply(404, { message: "Not Found" });
    const { client } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(
      err.message,
      `GitHub API POST ${JIT} failed: HTTP 404 Not Found (GitHub also answers 404 when the github-token cannot see the repository or organization)`,
    );
  });

  for (const status of [400, 404, 409, 422]) {
    test(`no retry of the JIT POST on ${status}`, async () => {
      nock(API).post(JIT).once().reply(status, { message: "no" });
      const { client, sleeps } = setup();
      assert.equal((await rejection(client.createJitConfig(jitRequest))).status, status);
      assert.deepEqual(sleeps, []);
    });
  }
});

describe("createJitConfig retries (not idempotent)", () => {
  const list = () => nock(API).get(RUNNERS).query({ per_page: "100" });

  test("502 after the runner WAS registered: deletes it, then retries", async () => {
    nock(API).post(JIT).reply(502);
    list().reply(200, { total_count: 2, runners: [runner(3, "other"), runner(41, "gpu-123-1", "offline")] });
    nock(API).delete(`${RUNNERS}/41`).reply(204);
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps, logs, secrets } = setup();
    const jit = await client.createJitConfig(jitRequest);
    assert.deepEqual(jit, { runnerId: 42, runnerName: "gpu-123-1", encodedJitConfig: CONFIG });
    assert.deepEqual(secrets, [CONFIG]);
    assert.deepEqual(sleeps, [500]);
    assert.deepEqual(logs, [
      "GitHub: generate JIT config for runner gpu-123-1: HTTP 502, attempt 1/5, retrying in 0.5 s",
      "GitHub: generate JIT config for runner gpu-123-1: the failed attempt registered runner 41, whose config was lost; deleting it",
    ]);
  });

  test("502 when no runner was registered: retries without deleting", async () => {
    nock(API).post(JIT).reply(502);
    list().reply(200, { total_count: 1, runners: [runner(3, "gpu-123-10")] });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, logs } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(logs, [
      "GitHub: generate JIT config for runner gpu-123-1: HTTP 502, attempt 1/5, retrying in 0.5 s",
      "GitHub: generate JIT config for runner gpu-123-1: the failed attempt registered no runner of that name",
    ]);
  });

  test("a 5xx with retry-after 0 is retried at once", async () => {
    nock(API).post(JIT).reply(503, { message: "Service Unavailable" }, { "retry-after": "0" });
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [0]);
  });

  test("a lost connection is checked the same way", async () => {
    nock(API).post(JIT).replyWithError({ code: "ECONNRESET", message: "socket hang up" });
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, logs } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.equal(
      logs[0],
      "GitHub: generate JIT config for runner gpu-123-1: no response, attempt 1/5, retrying in 0.5 s",
    );
  });

  test("a timeout is checked the same way", async () => {
    let posts = 0;
    const server = createServer((req, res) => {
      if (req.method === "POST" && ++posts === 1) return; // never answer
      const body = req.method === "POST" ? jitReply(42, "gpu-123-1") : { total_count: 0, runners: [] };
      res
        .writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" })
        .end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // nock lets no POST with a body through to a real server (its fetch interceptor fails it), so it steps aside.
    nock.restore();
    try {
      const { port } = server.address() as AddressInfo;
      const { client, logs } = setup({ apiUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: ANSWERED_IN_TIME_MS });
      assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
      assert.equal(posts, 2);
      assert.deepEqual(logs, [
        "GitHub: generate JIT config for runner gpu-123-1: no response, attempt 1/5, retrying in 0.5 s",
        "GitHub: generate JIT config for runner gpu-123-1: the failed attempt registered no runner of that name",
      ]);
    } finally {
      nock.activate();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("409 after a 502 (the listing lagged): checks again, deletes, retries", async () => {
    nock(API).post(JIT).reply(502);
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(409, { message: "Already exists - A runner with the name gpu-123-1 already exists." });
    list().reply(200, { total_count: 1, runners: [runner(41, "gpu-123-1", "offline")] });
    nock(API).delete(`${RUNNERS}/41`).reply(204);
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [500, 1000]);
    assert.match(
      logs[2] ?? "",
      /^GitHub: generate JIT config for runner gpu-123-1: HTTP 409 \(perhaps the failed attempt's doing\), attempt 2\/5, retrying in 1\.0 s$/,
    );
  });

  test("409 without an unclear failure before it: the name is someone else's, no check, no retry", async () => {
    nock(API).post(JIT).once().reply(409, { message: "Already exists" });
    const { client, sleeps, logs } = setup();
    assert.equal((await rejection(client.createJitConfig(jitRequest))).status, 409);
    assert.deepEqual(sleeps, []);
    assert.deepEqual(logs, []);
  });

  test("429 created nothing: retried without a check", async () => {
    nock(API).post(JIT).reply(429, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "1" });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [1000]);
    assert.deepEqual(logs, [
      "GitHub: generate JIT config for runner gpu-123-1: secondary rate limit, attempt 1/5, retrying in 1.0 s",
    ]);
  });

  test("403 primary rate limit: retried without a check", async () => {
    nock(API)
      .post(JIT)
      .reply(
        403,
        { message: "API rate limit exceeded" },
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 5) },
      );
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [5000]);
  });

  test("a rate limit that outlasts the policy's bounds ends the call: no check, no further POST", async () => {
    nock(API)
      .post(JIT)
      .times(2)
      .reply(403, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "40" });
    const { client, sleeps } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.rateLimited, true);
    assert.deepEqual(sleeps, [40_000]);
  });

  test("when the check itself fails, no second POST is made", async () => {
    nock(API).post(JIT).once().reply(502);
    list().reply(403, { message: "Resource not accessible by integration" });
    const { client, logs } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.status, 403);
    assert.equal(err.method, "GET");
    assert.match(err.message, /Administration: write/);
    assert.equal(
      logs.at(-1),
      "GitHub: generate JIT config for runner gpu-123-1: could not check whether the failed attempt registered a runner; not retrying",
    );
  });

  test("when the check's listing keeps failing with 5xx (itself retryable), no second POST is made", async () => {
    nock(API).post(JIT).once().reply(502);
    list().times(2).reply(502, { message: "Server Error" });
    const { client, logs } = setup({ retry: { attempts: 2 } });
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.deepEqual([err.status, err.method, err.path], [502, "GET", `${RUNNERS}?per_page=100`]);
    assert.match(logs.at(-1) ?? "", /could not check whether the failed attempt registered a runner; not retrying$/);
  });

  test("when deleting the half-made runner fails, no second POST is made", async () => {
    nock(API).post(JIT).once().reply(502);
    list().reply(200, { total_count: 1, runners: [runner(41, "gpu-123-1", "offline")] });
    nock(API).delete(`${RUNNERS}/41`).once().reply(422, { message: "Runner busy" });
    const { client, logs } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.status, 422);
    assert.equal(err.method, "DELETE");
    assert.match(logs.at(-1) ?? "", /could not check whether the failed attempt registered a runner; not retrying$/);
  });

  test("the check's listing is itself retried on a 5xx (it is a GET)", async () => {
    nock(API).post(JIT).reply(502);
    list().reply(503);
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [500, 500]);
  });

  test("502 every time: gives up after the attempts, with the POST's status", async () => {
    for (let i = 0; i < 4; i++) {
      nock(API).post(JIT).reply(502);
      list().reply(200, { total_count: 0, runners: [] });
    }
    nock(API).post(JIT).reply(502);
    const { client, sleeps, logs } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.status, 502);
    assert.equal(err.method, "POST");
    assert.deepEqual(sleeps, [500, 1000, 2000, 4000]);
    assert.equal(logs.at(-1), "GitHub: generate JIT config for runner gpu-123-1: HTTP 502, attempt 5/5, giving up");
  });
});

describe("secrets", () => {
  test("error messages and log lines never hold the token or a config", async () => {
    // A misbehaving proxy echoing the credentials back: the client must still not print them.
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    nock(API)
      .get(`${RUNNERS}/42`)
      .times(5)
      .reply(500, { message: `upstream said token ${TOKEN} and ${CONFIG}` });
    const { client, logs } = setup();
    await client.createJitConfig(jitRequest);
    const err = await rejection(client.getRunner(42));
    assert.equal(err.message, `GitHub API GET ${RUNNERS}/42 failed: HTTP 500 upstream said token *** and ***`);
    assert.ok(logs.length > 0);
    for (const line of logs) assert.ok(!line.includes(TOKEN) && !line.includes(CONFIG), line);
  });

  test("the error carries nothing of Octokit's: no request headers, no response, no cause", async () => {
    nock(API).post(JIT).once().reply(403, { message: "Resource not accessible by integration" });
    const { client } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.cause, undefined);
    const everything = inspect(err, { depth: 10, showHidden: true });
    assert.ok(!everything.includes(TOKEN), everything);
    assert.ok(!/authorization/i.test(everything), everything);
  });

  test("a network error message does not hold the token", async () => {
    // Failing as undici's fetch does (TypeError "fetch failed" with the socket's error as cause), here naming the
    // token: nock's replyWithError does not reach Octokit in that shape.
    const fetched = globalThis.fetch;
    let calls = 0;
    globalThis.fetch = async () => {
      calls++;
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error(`connect ECONNREFUSED, sent ${TOKEN}`), { code: "ECONNREFUSED" }),
      });
    };
    try {
      const { client, logs } = setup();
      const err = await rejection(client.getRunner(1));
      assert.equal(calls, 5);
      assert.equal(err.status, 0);
      assert.equal(err.message, `GitHub API GET ${RUNNERS}/1 failed: no response (connect ECONNREFUSED, sent ***)`);
      assert.equal(logs.length, 5);
    } finally {
      globalThis.fetch = fetched;
    }
  });

  test("a real refused connection names its cause", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    nock.enableNetConnect("127.0.0.1");
    try {
      const { client } = setup({ apiUrl: `http://127.0.0.1:${port}`, retry: { attempts: 1 } });
      const err = await rejection(client.getRunner(1));
      assert.equal(
        err.message,
        `GitHub API GET ${RUNNERS}/1 failed: no response (connect ECONNREFUSED 127.0.0.1:${port})`,
      );
    } finally {
      nock.disableNetConnect();
    }
  });

  test("Octokit's own warnings reach the log redacted", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"), { deprecation: "true", sunset: `never, said ${TOKEN}` });
    const { client, logs } = setup();
    await client.getRunner(7);
    assert.equal(logs.length, 1);
    assert.match(logs[0] ?? "", /is deprecated\. It is scheduled to be removed on never, said \*\*\*/);
  });
});

describe("deleteArtifactsNamed", () => {
  const artifacts = "/repos/octo/gpu/actions/runs/123/artifacts";

  test("lists the run's artifacts of that name and deletes each, exact names only", async () => {
    nock(API, { reqheaders: { authorization: `token ${TOKEN}` } })
      .get(artifacts)
      .query({ name: "gpu-runner-state", per_page: "100" })
      .reply(200, {
        total_count: 3,
        artifacts: [
          { id: 11, name: "gpu-runner-state" },
          { id: 12, name: "gpu-runner-state" },
          { id: 13, name: "gpu-runner-state-other" },
        ],
      })
      .delete("/repos/octo/gpu/actions/artifacts/11")
      .reply(204)
      .delete("/repos/octo/gpu/actions/artifacts/12")
      .reply(204);
    const { client } = setup();
    assert.equal(await client.deleteArtifactsNamed("123", "gpu-runner-state"), 2);
  });

  test("follows the pages of the listing", async () => {
    nock(API)
      .get(artifacts)
      .query({ name: "x", per_page: "100" })
      .reply(
        200,
        { total_count: 2, artifacts: [{ id: 11, name: "x" }] },
        { link: `<${API}${artifacts}?name=x&per_page=100&page=2>; rel="next"` },
      )
      .get(artifacts)
      .query({ name: "x", per_page: "100", page: "2" })
      .reply(200, { total_count: 2, artifacts: [{ id: 12, name: "x" }] })
      .delete("/repos/octo/gpu/actions/artifacts/11")
      .reply(204)
      .delete("/repos/octo/gpu/actions/artifacts/12")
      .reply(204);
    const { client } = setup();
    assert.equal(await client.deleteArtifactsNamed("123", "x"), 2);
  });

  test("none of that name: 0, nothing deleted", async () => {
    nock(API).get(artifacts).query({ name: "x", per_page: "100" }).reply(200, { total_count: 0, artifacts: [] });
    const { client } = setup();
    assert.equal(await client.deleteArtifactsNamed("123", "x"), 0);
  });

  test("one already gone is not counted", async () => {
    nock(API)
      .get(artifacts)
      .query({ name: "x", per_page: "100" })
      .reply(200, {
        total_count: 2,
        artifacts: [
          { id: 11, name: "x" },
          { id: 12, name: "x" },
        ],
      })
      .delete("/repos/octo/gpu/actions/artifacts/11")
      .reply(404, { message: "Not Found" })
      .delete("/repos/octo/gpu/actions/artifacts/12")
      .reply(204);
    const { client } = setup();
    assert.equal(await client.deleteArtifactsNamed("123", "x"), 1);
  });

  test("a 404 on the listing is an error, not an empty list", async () => {
    nock(API).get(artifacts).query({ name: "x", per_page: "100" }).reply(404, { message: "Not Found" });
    const { client } = setup();
    assert.equal((await rejection(client.deleteArtifactsNamed("123", "x"))).status, 404);
  });

  for (const c of [
    { name: "listing", mock: (s: nock.Scope) => s.get(artifacts).query({ name: "x", per_page: "100" }) },
    {
      name: "deletion",
      mock: (s: nock.Scope) =>
        s
          .get(artifacts)
          .query({ name: "x", per_page: "100" })
          .reply(200, { total_count: 1, artifacts: [{ id: 11, name: "x" }] })
          .delete("/repos/octo/gpu/actions/artifacts/11"),
    },
  ]) {
    test(`403 on the ${c.name} names the Actions permission`, async () => {
      c.mock(nock(API)).reply(403, { message: "Resource not accessible by integration" });
      const { client } = setup();
      const err = await rejection(client.deleteArtifactsNamed("123", "x"));
      assert.match(
        err.message,
        /HTTP 403 Resource not accessible by integration\. The github-token needs Actions: write on the repository/,
      );
    });
  }

  for (const c of [
    { name: "organization scope", scope: ORG, runId: "123", artifact: "x", want: /needs repository scope/ },
    {
      name: "a run id that is not a number",
      scope: REPO,
      runId: "12/../3",
      artifact: "x",
      want: /not a positive integer/,
    },
    { name: "an empty name", scope: REPO, runId: "123", artifact: "", want: /artifact name is empty/ },
  ]) {
    test(`refuses ${c.name}`, async () => {
      const { client } = setup({ scope: c.scope });
      await assert.rejects(client.deleteArtifactsNamed(c.runId, c.artifact), c.want);
    });
  }
});

describe("runnerGroupIdByName", () => {
  test("finds the organization's group by exact name across pages", async () => {
    const { client } = setup({ scope: ORG });
    nock(API)
      .get("/orgs/acme/actions/runner-groups")
      .query({ per_page: "100" })
      .reply(
        200,
        { total_count: 2, runner_groups: [{ id: 1, name: "Default" }] },
        { link: `<${API}/orgs/acme/actions/runner-groups?per_page=100&page=2>; rel="next"` },
      )
      .get("/orgs/acme/actions/runner-groups")
      .query({ per_page: "100", page: "2" })
      .reply(200, { total_count: 2, runner_groups: [{ id: 42, name: "GPU pool" }] });
    assert.equal(await client.runnerGroupIdByName("GPU pool"), 42);
  });

  test("is undefined for a group that does not exist (names are exact)", async () => {
    const { client } = setup({ scope: ORG });
    nock(API)
      .get("/orgs/acme/actions/runner-groups")
      .query(true)
      .reply(200, { total_count: 1, runner_groups: [{ id: 42, name: "GPU pool" }] });
    assert.equal(await client.runnerGroupIdByName("gpu pool"), undefined);
  });

  test("403 names the organization's Self-hosted runners permission", async () => {
    const { client } = setup({ scope: ORG });
    nock(API).get("/orgs/acme/actions/runner-groups").query(true).reply(403, { message: "Must have admin rights" });
    assert.match(
      (await rejection(client.runnerGroupIdByName("GPU pool"))).message,
      /needs organization Self-hosted runners: write/,
    );
  });

  test("refuses repository scope", async () => {
    const { client } = setup();
    await assert.rejects(client.runnerGroupIdByName("GPU pool"), /need organization scope/);
  });
});
