import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import nock from "nock";
import { createGitHubClient, GitHubApiError, type GitHubClientOptions, type RunnerScope } from "../scripts/adapters/github.ts";

const API = "https://api.github.com";
const TOKEN = "test-token-not-real";
// Base64 of a harmless phrase: shaped like a config, useless as one.
const CONFIG = "ZmFrZS1qaXQtY29uZmlnLWZvci10ZXN0cy1vbmx5";
const REPO: RunnerScope = { kind: "repository", owner: "octo", repo: "gpu" };
const ORG: RunnerScope = { kind: "organization", org: "acme" };
const RUNNERS = "/repos/octo/gpu/actions/runners";
const JIT = `${RUNNERS}/generate-jitconfig`;

/** Every log line of every test, checked for secrets after each one. */
let allLogs: string[] = [];

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
    log: (line) => {
      logs.push(line);
      allLogs.push(line);
    },
    onSecret: (value) => secrets.push(value),
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
        authorization: `Bearer ${TOKEN}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "content-type": "application/json",
        "user-agent": "ephemeral-gpu-runner",
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

  test("sends a given work folder, runner group and user agent", async () => {
    let sent: unknown;
    nock(API, { reqheaders: { "user-agent": "my-action/1.0" } })
      .post(JIT, (body) => {
        sent = body;
        return true;
      })
      .reply(201, jitReply(7, "r"));
    const { client, secrets } = setup({ userAgent: "my-action/1.0" });
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
    assert.match(err.message, /unexpected body: no encoded_jit_config/);
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

  test("a success body that is not JSON is not quoted", async () => {
    nock(API).post(JIT).reply(201, `{"encoded_jit_config":"${CONFIG}"`);
    const { client } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.match(err.message, /with a body that is not JSON$/);
    assert.ok(!err.message.includes(CONFIG));
  });
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
  for (const c of [
    {
      name: "organization JIT config",
      mock: (s: nock.Scope) => s.post(`${org}/generate-jitconfig`).reply(201, jitReply(5, "r")),
      call: (c: ReturnType<typeof setup>["client"]) => c.createJitConfig(jitRequest).then((j) => j.runnerId),
      want: 5,
    },
    {
      name: "organization get runner",
      mock: (s: nock.Scope) => s.get(`${org}/5`).reply(200, runner(5, "r")),
      call: (c: ReturnType<typeof setup>["client"]) => c.getRunner(5).then((r) => r?.id),
      want: 5,
    },
    {
      name: "organization list runners",
      mock: (s: nock.Scope) =>
        s
          .get(org)
          .query({ per_page: "100" })
          .reply(200, { total_count: 1, runners: [runner(5, "r")] }),
      call: (c: ReturnType<typeof setup>["client"]) => c.listRunners().then((rs) => rs.length),
      want: 1,
    },
    {
      name: "organization delete runner",
      mock: (s: nock.Scope) => s.delete(`${org}/5`).reply(204),
      call: (c: ReturnType<typeof setup>["client"]) => c.deleteRunner(5),
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
    { name: "an API URL with credentials", opts: { apiUrl: "https://user:pw@x.example/api" }, want: /must not hold a user name/ },
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
    nock(API).get(`${RUNNERS}/7`).reply(404, { message: "Not Found" });
    const { client, sleeps } = setup();
    assert.equal(await client.getRunner(7), undefined);
    assert.deepEqual(sleeps, []);
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
        {
          Link: `<${page2}>; rel="next", <${page2}>; rel="last"`,
        },
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
    const runners = await client.listRunners();
    assert.deepEqual(
      runners.map((r) => [r.id, r.name, r.status]),
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
        {
          Link: `<${ghe}/api/v3/organizations/4/actions/runners?per_page=100&page=2>; rel="next"`,
        },
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

  test("an empty list", async () => {
    nock(API).get(RUNNERS).query({ per_page: "100" }).reply(200, { total_count: 0, runners: [] });
    const { client } = setup();
    assert.deepEqual(await client.listRunners(), []);
  });

  for (const c of [
    {
      name: "another host",
      link: "https://evil.example/repos/octo/gpu/actions/runners?page=2",
      want: /leaves the API URL/,
    },
    { name: "the same URL again", link: `${API}${RUNNERS}?per_page=100`, want: /pagination does not end/ },
  ]) {
    test(`does not follow a next link to ${c.name}`, async () => {
      nock(API)
        .get(RUNNERS)
        .query({ per_page: "100" })
        .reply(200, { total_count: 1, runners: [runner(1, "a")] }, { Link: `<${c.link}>; rel="next"` });
      const { client } = setup();
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
    nock(API).delete(`${RUNNERS}/9`).reply(422, { message: 'Bad request - Runner "r" is still running a job"' });
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
});

describe("retries", () => {
  test("5xx then success: waits with backoff, one log line per retry", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(502, "<html>Bad Gateway</html>")
      .get(`${RUNNERS}/7`)
      .reply(503, { message: "Service Unavailable" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [500, 1000]);
    assert.deepEqual(logs, [
      "GitHub: get runner 7: HTTP 502, attempt 1/5, retrying in 0.5 s",
      "GitHub: get runner 7: HTTP 503, attempt 2/5, retrying in 1.0 s",
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
    assert.deepEqual(logs, ["GitHub: list runners: no response, attempt 1/5, retrying in 0.5 s"]);
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
      const { client, sleeps, logs } = setup({ apiUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 100 });
      assert.equal((await client.getRunner(7))?.name, "r");
      assert.equal(requests, 2);
      assert.deepEqual(sleeps, [500]);
      assert.deepEqual(logs, ["GitHub: get runner 7: no response, attempt 1/5, retrying in 0.5 s"]);
    } finally {
      nock.disableNetConnect();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("429 with retry-after waits exactly that long", async () => {
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(429, { message: "Too Many Requests" }, { "retry-after": "7" })
      .get(`${RUNNERS}/7`)
      .reply(200, runner(7, "r"));
    const { client, sleeps, logs } = setup();
    assert.equal((await client.getRunner(7))?.id, 7);
    assert.deepEqual(sleeps, [7000]);
    assert.deepEqual(logs, ["GitHub: get runner 7: HTTP 429 (rate limited), attempt 1/5, retrying in 7.0 s"]);
  });

  const NOW = 1_700_000_000_000;
  const cases: { name: string; headers: Record<string, string>; message: string; want: number[] }[] = [
    {
      name: "403 secondary rate limit by message: backoff",
      headers: {},
      message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      want: [500],
    },
    { name: "403 with retry-after", headers: { "retry-after": "3" }, message: "slow down", want: [3000] },
    {
      name: "403 with x-ratelimit-remaining 0 waits until x-ratelimit-reset",
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 12) },
      message: "API rate limit exceeded",
      want: [12_000],
    },
    {
      name: "retry-after wins over x-ratelimit-reset",
      headers: { "retry-after": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 30) },
      message: "API rate limit exceeded",
      want: [2000],
    },
    {
      name: "a reset already past waits 0",
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 - 5) },
      message: "API rate limit exceeded",
      want: [0],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      nock(API).delete(`${RUNNERS}/7`).reply(403, { message: c.message }, c.headers).delete(`${RUNNERS}/7`).reply(204);
      const { client, sleeps, logs } = setup({ now: () => NOW });
      assert.equal(await client.deleteRunner(7), "deleted");
      assert.deepEqual(sleeps, c.want);
      assert.equal(logs.length, 1);
      assert.match(logs[0] ?? "", /^GitHub: delete runner 7: HTTP 403 \(rate limited\), attempt 1\/5, retrying in/);
    });
  }

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
    assert.equal(err.message, `GitHub API GET ${RUNNERS}/7 failed: HTTP 500 Server Error [request id ABCD:1234]`);
    assert.deepEqual(sleeps, [500, 1000, 2000, 4000]);
    assert.equal(logs.length, 5);
    assert.equal(logs[4], "GitHub: get runner 7: HTTP 500, attempt 5/5, giving up");
  });

  test("retry settings can be changed", async () => {
    nock(API).get(`${RUNNERS}/7`).times(2).reply(500);
    const { client, sleeps } = setup({ retry: { attempts: 2, baseDelayMs: 100 } });
    assert.equal((await rejection(client.getRunner(7))).status, 500);
    assert.deepEqual(sleeps, [50]);
  });

  test("the total wait stays within maxTotalWaitMs (default 60 s)", async () => {
    nock(API).get(`${RUNNERS}/7`).times(2).reply(429, {}, { "retry-after": "45" });
    const { client, sleeps, logs } = setup();
    const err = await rejection(client.getRunner(7));
    assert.equal(err.status, 429);
    assert.equal(err.rateLimited, true);
    // 45 s once; another 45 s would make 90 s.
    assert.deepEqual(sleeps, [45_000]);
    assert.match(logs.at(-1) ?? "", /giving up: waiting 45\.0 s more would pass the 60\.0 s limit$/);
  });

  test("a primary rate limit reset an hour away is not waited for", async () => {
    const now = 1_700_000_000_000;
    nock(API)
      .get(`${RUNNERS}/7`)
      .reply(
        403,
        { message: "API rate limit exceeded for installation ID 1." },
        {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(now / 1000 + 3600),
        },
      );
    const { client, sleeps } = setup({ now: () => now });
    const err = await rejection(client.getRunner(7));
    assert.equal(err.status, 403);
    assert.equal(err.retryAfterMs, 3_600_000);
    assert.match(err.message, /API rate limit exceeded for installation ID 1\. \(rate limited\)$/);
    assert.ok(!/Administration/.test(err.message), "a rate limit is not a permission problem");
    assert.deepEqual(sleeps, []);
  });

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

  for (const status of [400, 404, 409, 422]) {
    test(`no retry on ${status}`, async () => {
      nock(API).post(JIT).reply(status, { message: "no" });
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

  test("a lost connection is checked the same way", async () => {
    nock(API).post(JIT).replyWithError({ code: "ECONNRESET", message: "socket hang up" });
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
  });

  test("409 after a 502 (the listing lagged): checks again, deletes, retries", async () => {
    nock(API).post(JIT).reply(502);
    list().reply(200, { total_count: 0, runners: [] });
    nock(API).post(JIT).reply(409, { message: "Already exists - A runner with the name gpu-123-1 already exists." });
    list().reply(200, { total_count: 1, runners: [runner(41, "gpu-123-1", "offline")] });
    nock(API).delete(`${RUNNERS}/41`).reply(204);
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [500, 1000]);
  });

  test("429 created nothing: retried without a check", async () => {
    nock(API).post(JIT).reply(429, { message: "Too Many Requests" }, { "retry-after": "1" });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [1000]);
  });

  test("403 secondary rate limit: retried without a check", async () => {
    nock(API).post(JIT).reply(403, { message: "You have exceeded a secondary rate limit" });
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    const { client, sleeps } = setup();
    assert.equal((await client.createJitConfig(jitRequest)).runnerId, 42);
    assert.deepEqual(sleeps, [500]);
  });

  test("when the check itself fails, no second POST is made", async () => {
    nock(API).post(JIT).reply(502);
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

  test("502 every time: gives up after the attempts, with the POST's status", async () => {
    for (let i = 0; i < 4; i++) {
      nock(API).post(JIT).reply(502);
      list().reply(200, { total_count: 0, runners: [] });
    }
    nock(API).post(JIT).reply(502);
    const { client, sleeps } = setup();
    const err = await rejection(client.createJitConfig(jitRequest));
    assert.equal(err.status, 502);
    assert.equal(err.method, "POST");
    assert.deepEqual(sleeps, [500, 1000, 2000, 4000]);
  });
});

describe("secrets", () => {
  test("error messages and log lines never hold the token or a config", async () => {
    // A misbehaving proxy echoing the credentials back: the client must still not print them.
    nock(API).post(JIT).reply(201, jitReply(42, "gpu-123-1"));
    nock(API)
      .get(`${RUNNERS}/42`)
      .times(5)
      .reply(500, { message: `upstream said Bearer ${TOKEN} and ${CONFIG}` });
    const { client, logs } = setup();
    await client.createJitConfig(jitRequest);
    const err = await rejection(client.getRunner(42));
    assert.ok(!err.message.includes(TOKEN));
    assert.ok(!err.message.includes(CONFIG));
    assert.match(err.message, /upstream said Bearer \*\*\* and \*\*\*/);
    assert.ok(logs.length > 0);
    for (const line of logs) {
      assert.ok(!line.includes(TOKEN) && !line.includes(CONFIG), line);
    }
  });

  test("a network error message does not hold the token", async () => {
    nock(API)
      .get(`${RUNNERS}/1`)
      .times(5)
      .replyWithError({ code: "ECONNREFUSED", message: `refused ${TOKEN}` });
    const { client } = setup();
    const err = await rejection(client.getRunner(1));
    assert.equal(err.status, 0);
    assert.ok(!err.message.includes(TOKEN), err.message);
  });
});

describe("deleteArtifactsNamed", () => {
  const artifacts = "/repos/octo/gpu/actions/runs/123/artifacts";

  test("lists the run's artifacts of that name and deletes each", async () => {
    nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .get(artifacts)
      .query({ name: "gpu-runner-state", per_page: "100" })
      .reply(200, {
        total_count: 2,
        artifacts: [
          { id: 11, name: "gpu-runner-state" },
          { id: 12, name: "gpu-runner-state" },
          { id: 13, name: "something-else" },
        ],
      })
      .delete("/repos/octo/gpu/actions/artifacts/11")
      .reply(204)
      .delete("/repos/octo/gpu/actions/artifacts/12")
      .reply(204);
    const { client } = setup();
    assert.equal(await client.deleteArtifactsNamed("123", "gpu-runner-state"), 2);
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

  test("403 names the Actions permission", async () => {
    nock(API)
      .get(artifacts)
      .query({ name: "x", per_page: "100" })
      .reply(403, { message: "Resource not accessible by integration" });
    const { client } = setup();
    assert.match((await rejection(client.deleteArtifactsNamed("123", "x"))).message, /needs Actions: write/);
  });

  for (const c of [
    { name: "organization scope", scope: ORG, runId: "123", want: /needs repository scope/ },
    { name: "a run id that is not a number", scope: REPO, runId: "12/../3", want: /not a positive integer/ },
  ]) {
    test(`refuses ${c.name}`, async () => {
      const { client } = setup({ scope: c.scope });
      await assert.rejects(client.deleteArtifactsNamed(c.runId, "x"), c.want);
    });
  }
});

describe("runnerGroupIdByName", () => {
  test("finds the organization's group by exact name across pages", async () => {
    const { client } = setup({ scope: ORG });
    nock(API)
      .get("/orgs/acme/actions/runner-groups")
      .query({ per_page: "100" })
      .reply(200, { total_count: 2, runner_groups: [{ id: 1, name: "Default" }] }, { link: `<${API}/orgs/acme/actions/runner-groups?per_page=100&page=2>; rel="next"` })
      .get("/orgs/acme/actions/runner-groups")
      .query({ per_page: "100", page: "2" })
      .reply(200, { total_count: 2, runner_groups: [{ id: 42, name: "GPU pool" }] });
    assert.equal(await client.runnerGroupIdByName("GPU pool"), 42);
  });

  test("is undefined for a group that does not exist (names are exact)", async () => {
    const { client } = setup({ scope: ORG });
    nock(API).get("/orgs/acme/actions/runner-groups").query(true).reply(200, { total_count: 1, runner_groups: [{ id: 42, name: "GPU pool" }] });
    assert.equal(await client.runnerGroupIdByName("gpu pool"), undefined);
  });

  test("refuses repository scope", async () => {
    const { client } = setup();
    await assert.rejects(client.runnerGroupIdByName("GPU pool"), /need organization scope/);
  });
});
