// The GitHub stand-in (test/kit/local-github/server.ts) against the action's real client (scripts/adapters/github/) and
// GitHub's OpenAPI description; the runner release stand-in's run.sh against the stand-in. What the end-to-end tests
// rely on is checked here, fast: a stand-in that drifted from GitHub would make them prove nothing.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import type { GitHubApiError } from "../scripts/adapters/github/errors.ts";
import type { GitHubClient } from "../scripts/adapters/github/types.ts";
import { gitHubOpenApi } from "./kit/local-github/openapi.ts";
import { releasePath, runScript, testRelease } from "./kit/local-github/runner-release.ts";
import {
  asRunner,
  type LocalGitHub,
  startLocalGitHub,
  TEST_REPOSITORY,
  TEST_TOKEN,
} from "./kit/local-github/server.ts";

const [OWNER, REPO] = TEST_REPOSITORY.split("/") as [string, string];

function client(server: LocalGitHub, options: { token?: string; sleeps?: number[] } = {}): GitHubClient {
  return createGitHubClient({
    token: options.token ?? TEST_TOKEN,
    apiUrl: server.url,
    scope: { kind: "repository", owner: OWNER, repo: REPO },
    log: () => {},
    // The client's retries wait for real otherwise; the waits asked for are recorded instead.
    sleep: async (ms) => {
      options.sleeps?.push(ms);
    },
    // Writes are spaced a second apart through the injected sleep: off here, where the sleeps are recorded only.
    spaceWrites: false,
  });
}

function decodeConfig(encoded: string): {
  runner: Record<string, string>;
  credentials: { data: Record<string, string> };
  files: string[];
} {
  const files = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as Record<string, string>;
  const part = (name: string) => JSON.parse(Buffer.from(files[name] ?? "", "base64").toString("utf8"));
  return { runner: part(".runner"), credentials: part(".credentials"), files: Object.keys(files) };
}

describe("the GitHub stand-in, through the action's client", () => {
  let server: LocalGitHub;
  before(async () => {
    server = await startLocalGitHub({ release: await testRelease(), maxPerPage: 2 });
  });
  after(async () => {
    await server.close();
  });

  it("registers a JIT runner: an opaque 1-3 KB base64 config holding its id, name, the service URL and a credential", async () => {
    const jit = await client(server).createJitConfig({
      name: "gpu-1-1-00000001-0",
      labels: ["gpu-1-1-00000001"],
      runnerGroupId: 1,
    });
    assert.match(jit.encodedJitConfig, /^[A-Za-z0-9+/]+=*$/);
    assert.ok(
      jit.encodedJitConfig.length >= 1024 && jit.encodedJitConfig.length <= 3072,
      `${jit.encodedJitConfig.length} characters`,
    );
    const config = decodeConfig(jit.encodedJitConfig);
    assert.deepEqual(config.files, [".runner", ".credentials", ".credentials_rsaparams"]);
    assert.equal(config.runner.agentId, String(jit.runnerId));
    assert.equal(config.runner.agentName, "gpu-1-1-00000001-0");
    assert.equal(config.runner.serverUrl, `${server.url}/`);
    const record = server.runner(jit.runnerId);
    assert.equal(config.credentials.data.clientId, record?.credential);
    assert.equal(record?.encodedJitConfig, jit.encodedJitConfig);
    // Exactly the labels it was registered with: a just-in-time runner gets no default ones (self-hosted, OS, arch).
    assert.deepEqual(await client(server).getRunner(jit.runnerId), {
      id: jit.runnerId,
      name: "gpu-1-1-00000001-0",
      status: "offline",
      busy: false,
      labels: ["gpu-1-1-00000001"],
    });
  });

  it("refuses a second runner of the same name (409) and a runner group that does not exist (404)", async () => {
    const gh = client(server);
    await gh.createJitConfig({ name: "gpu-1-1-00000002-0", labels: ["x"], runnerGroupId: 1 });
    await assert.rejects(
      gh.createJitConfig({ name: "gpu-1-1-00000002-0", labels: ["x"], runnerGroupId: 1 }),
      (e: GitHubApiError) => e.status === 409,
    );
    await assert.rejects(
      gh.createJitConfig({ name: "gpu-1-1-00000002-1", labels: ["x"], runnerGroupId: 7 }),
      (e: GitHubApiError) => e.status === 404,
    );
  });

  it("shows a runner online once it reports with its own credential, and busy while it runs a job", async () => {
    const gh = client(server);
    const jit = await gh.createJitConfig({
      name: "gpu-1-1-00000003-0",
      labels: ["gpu-1-1-00000003"],
      runnerGroupId: 1,
    });
    const runner = server.runner(jit.runnerId)!;
    assert.equal((await asRunner(server, runner, "online", "not-the-credential")).status, 401);
    assert.equal((await gh.getRunner(jit.runnerId))?.status, "offline");
    assert.equal((await asRunner(server, runner, "online")).status, 200);
    assert.equal((await gh.getRunner(jit.runnerId))?.status, "online");
    assert.ok(
      runner.seenOnlineAt !== undefined && runner.onlineAt !== undefined && runner.seenOnlineAt >= runner.onlineAt,
    );
    assert.deepEqual((await asRunner(server, runner, "job")).body, { name: null }, "no job queued for its label yet");
    server.queueJob("some-other-label");
    assert.deepEqual(
      (await asRunner(server, runner, "job")).body,
      { name: null },
      "a job for another label is not its",
    );
    server.queueJob("gpu-1-1-00000003", { name: "pytest", seconds: 0.1 });
    assert.deepEqual((await asRunner(server, runner, "job")).body, {
      name: "pytest",
      seconds: 0.1,
      result: "Succeeded",
    });
    assert.equal((await gh.getRunner(jit.runnerId))?.busy, true);
    assert.equal((await asRunner(server, runner, "done")).status, 200);
    assert.equal(await gh.getRunner(jit.runnerId), undefined, "a JIT runner deregisters after its job");
    assert.equal(runner.removedBy, "job-done");
    assert.equal((await asRunner(server, runner, "job")).status, 404);
  });

  it("lists every runner across pages (per_page, Link rel=next), and filters by name", async () => {
    const gh = client(server);
    for (let i = 0; i < 5; i++)
      await gh.createJitConfig({ name: `gpu-1-1-00000004-${i}`, labels: ["p"], runnerGroupId: 1 });
    const before = server.requests.length;
    const listed = await gh.listRunners();
    assert.deepEqual(listed.map((r) => r.name).sort(), server.runners.map((r) => r.name).sort());
    const pages = server.requests.slice(before).filter((r) => r.url.includes("/actions/runners?"));
    assert.equal(pages.length, Math.ceil(server.runners.length / 2), "two per page, as the stand-in was told");
    const res = await fetch(`${server.url}/repos/${TEST_REPOSITORY}/actions/runners?name=gpu-1-1-00000004-3`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, "user-agent": "test" },
    });
    const body = (await res.json()) as { total_count: number; runners: { name: string }[] };
    assert.deepEqual([body.total_count, body.runners.map((r) => r.name)], [1, ["gpu-1-1-00000004-3"]]);
  });

  it("deletes a runner (204), then answers 404, which the client calls gone", async () => {
    const gh = client(server);
    const jit = await gh.createJitConfig({ name: "gpu-1-1-00000005-0", labels: ["d"], runnerGroupId: 1 });
    assert.equal(await gh.deleteRunner(jit.runnerId), "deleted");
    assert.equal(await gh.deleteRunner(jit.runnerId), "gone");
    assert.equal(server.runner(jit.runnerId)?.removedBy, "api");
  });

  it("lists a run's artifacts by name and deletes them", async () => {
    const deleted: number[] = [];
    server.onArtifactDeleted = (a) => deleted.push(a.id);
    const keep = server.addArtifact("77", "other", 10, `sha256:${"1".repeat(64)}`);
    const a = server.addArtifact("77", "gpu-runner-state-x", 100, `sha256:${"2".repeat(64)}`);
    const b = server.addArtifact("78", "gpu-runner-state-x", 100, `sha256:${"3".repeat(64)}`);
    assert.equal(await client(server).deleteArtifactsNamed("77", "gpu-runner-state-x"), 1);
    assert.deepEqual(deleted, [a.id]);
    assert.deepEqual(server.artifacts.map((x) => x.id).sort(), [keep.id, b.id].sort());
    assert.equal(await client(server).deleteArtifactsNamed("77", "gpu-runner-state-x"), 0);
  });

  it("answers 401 to a wrong token and 403 without a User-Agent, with GitHub's error body", async () => {
    await assert.rejects(
      client(server, { token: "local-test-token-wrong" }).listRunners(),
      (e: GitHubApiError) => e.status === 401 && /Administration: write/.test(e.message),
    );
    const res = await fetch(`${server.url}/repos/${TEST_REPOSITORY}/actions/runners`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, "user-agent": "" },
    });
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { message: string }).message, /User-Agent/);
  });

  it("fault knobs: the next N requests of a path answer 5xx, and 429 with retry-after, then it recovers", async () => {
    const sleeps: number[] = [];
    const gh = client(server, { sleeps });
    const jit = await gh.createJitConfig({ name: "gpu-1-1-00000006-0", labels: ["f"], runnerGroupId: 1 });
    server.failNext(new RegExp(`/runners/${jit.runnerId}$`), 2, 503);
    assert.equal((await gh.getRunner(jit.runnerId))?.id, jit.runnerId);
    assert.equal(sleeps.length, 2, "two retries");
    server.rateLimitNext(/\/actions\/runners\?/, 1, 3);
    await gh.listRunners();
    assert.equal(sleeps[2], 3000, "the client waited what retry-after asked");
    const statuses = server.requests.filter((r) => r.status >= 429).map((r) => r.status);
    assert.deepEqual(statuses.slice(-3), [503, 503, 429]);
  });

  it("a failed JIT POST (5xx) is retried only after the client checked no runner of that name was registered", async () => {
    const gh = client(server, { sleeps: [] });
    server.failNext(/generate-jitconfig$/, 1, 502);
    const before = server.requests.length;
    const jit = await gh.createJitConfig({ name: "gpu-1-1-00000007-0", labels: ["r"], runnerGroupId: 1 });
    assert.equal(server.runners.filter((r) => r.name === "gpu-1-1-00000007-0").length, 1);
    assert.equal(server.runner(jit.runnerId)?.name, "gpu-1-1-00000007-0");
    // The check lists every page of runners (two per page here) between the failed POST and the retry.
    const seen = server.requests.slice(before).map((r) => `${r.method} ${r.status}`);
    assert.deepEqual([seen[0], [...new Set(seen.slice(1, -1))], seen.at(-1)], ["POST 502", ["GET 200"], "POST 201"]);
  });

  it("dropOnline: the runner's reports are accepted and ignored; it never shows online", async () => {
    server.dropOnline(/-9$/);
    const gh = client(server);
    const jit = await gh.createJitConfig({ name: "gpu-1-1-00000008-9", labels: ["n"], runnerGroupId: 1 });
    const runner = server.runner(jit.runnerId)!;
    assert.equal((await asRunner(server, runner, "online")).status, 200);
    assert.equal((await gh.getRunner(jit.runnerId))?.status, "offline");
  });

  it("serves the runner release with the sha256 it announces, for both architectures, and 404 for others", async () => {
    const release = await testRelease();
    for (const arch of ["x64", "arm64"] as const) {
      const res = await fetch(`${server.releaseUrl}${releasePath(release.version, arch)}`);
      assert.equal(res.status, 200);
      assert.equal(
        createHash("sha256")
          .update(Buffer.from(await res.arrayBuffer()))
          .digest("hex"),
        release.sha256,
      );
    }
    assert.equal((await fetch(`${server.releaseUrl}${releasePath("2.300.0", "x64")}`)).status, 404);
  });

  it("every exchange above fits GitHub's OpenAPI description", () => {
    assert.deepEqual(server.violations, []);
  });
});

describe("the OpenAPI check catches what departs from GitHub's description", () => {
  const openApi = gitHubOpenApi();
  const runner = { id: 5, name: "r", os: "linux", status: "online", busy: false, labels: [{ name: "self-hosted" }] };
  const NOT_FOUND = JSON.stringify({ message: "Not Found" });
  const cases: { name: string; exchange: Parameters<typeof openApi.check>[0]; expect: RegExp | null }[] = [
    {
      name: "a fitting JIT request and answer",
      exchange: {
        method: "POST",
        url: "/repos/o/r/actions/runners/generate-jitconfig",
        requestBody: JSON.stringify({ name: "n", runner_group_id: 1, labels: ["a"], work_folder: "_work" }),
        status: 201,
        responseBody: JSON.stringify({ runner, encoded_jit_config: "abc" }),
      },
      expect: null,
    },
    {
      name: "an undocumented path",
      exchange: { method: "GET", url: "/repos/o/r/actions/runnerz", status: 200, responseBody: "{}" },
      expect: /path not documented/,
    },
    {
      name: "an undocumented method",
      exchange: { method: "PATCH", url: "/repos/o/r/actions/runners/5", status: 200, responseBody: "{}" },
      expect: /method not documented/,
    },
    {
      name: "a JIT request without labels",
      exchange: {
        method: "POST",
        url: "/repos/o/r/actions/runners/generate-jitconfig",
        requestBody: JSON.stringify({ name: "n", runner_group_id: 1 }),
        status: 201,
        responseBody: JSON.stringify({ runner, encoded_jit_config: "abc" }),
      },
      expect: /request: required property labels missing/,
    },
    {
      name: "a JIT request with a string group id",
      exchange: {
        method: "POST",
        url: "/repos/o/r/actions/runners/generate-jitconfig",
        requestBody: JSON.stringify({ name: "n", runner_group_id: "1", labels: ["a"] }),
        status: 201,
        responseBody: JSON.stringify({ runner, encoded_jit_config: "abc" }),
      },
      expect: /request\.runner_group_id: string "1" where integer is expected/,
    },
    {
      name: "a JIT request with no label at all",
      exchange: {
        method: "POST",
        url: "/repos/o/r/actions/runners/generate-jitconfig",
        requestBody: JSON.stringify({ name: "n", runner_group_id: 1, labels: [] }),
        status: 201,
        responseBody: JSON.stringify({ runner, encoded_jit_config: "abc" }),
      },
      expect: /request\.labels: must NOT have fewer than 1 items/,
    },
    {
      name: "a JIT answer without the config",
      exchange: {
        method: "POST",
        url: "/repos/o/r/actions/runners/generate-jitconfig",
        requestBody: JSON.stringify({ name: "n", runner_group_id: 1, labels: ["a"] }),
        status: 201,
        responseBody: JSON.stringify({ runner }),
      },
      expect: /response: required property encoded_jit_config missing/,
    },
    {
      name: "a runner whose busy is a string",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runners/5",
        status: 200,
        responseBody: JSON.stringify({ ...runner, busy: "no" }),
      },
      expect: /response\.busy: string "no" where boolean is expected/,
    },
    {
      name: "a label of a type the enum does not know",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runners/5",
        status: 200,
        responseBody: JSON.stringify({ ...runner, labels: [{ name: "x", type: "magic" }] }),
      },
      expect: /response\.labels\[0\]\.type: "magic" is not one of/,
    },
    {
      name: "a non-numeric runner id",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runners/abc",
        status: 404,
        responseBody: JSON.stringify({ message: "Not Found" }),
      },
      expect: /path parameter runner_id: "abc" is not a number/,
    },
    {
      name: "an undocumented query parameter",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runners?perpage=5",
        status: 200,
        responseBody: JSON.stringify({ total_count: 0, runners: [] }),
      },
      expect: /query parameter perpage is not documented/,
    },
    {
      name: "an undocumented success status",
      exchange: { method: "DELETE", url: "/repos/o/r/actions/runners/5", status: 200, responseBody: "" },
      expect: /status 200 not documented/,
    },
    {
      name: "an error without GitHub's error body",
      exchange: { method: "GET", url: "/repos/o/r/actions/runners/5", status: 500, responseBody: "oops" },
      expect: /without GitHub's \{"message"/,
    },
    {
      name: "an artifact whose created_at is null (nullable: fits)",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runs/1/artifacts?name=x&per_page=100",
        status: 200,
        responseBody: JSON.stringify({
          total_count: 1,
          artifacts: [
            {
              id: 1,
              node_id: "n",
              name: "x",
              size_in_bytes: 1,
              url: "u",
              archive_download_url: "a",
              expired: false,
              created_at: null,
              expires_at: null,
              updated_at: null,
            },
          ],
        }),
      },
      expect: null,
    },
    {
      name: "an artifact without its size",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runs/1/artifacts",
        status: 200,
        responseBody: JSON.stringify({
          total_count: 1,
          artifacts: [
            {
              id: 1,
              node_id: "n",
              name: "x",
              url: "u",
              archive_download_url: "a",
              expired: false,
              created_at: null,
              expires_at: null,
              updated_at: null,
            },
          ],
        }),
      },
      expect: /artifacts\[0\]: required property size_in_bytes missing/,
    },
    {
      name: "an artifact whose created_at is not a date-time",
      exchange: {
        method: "GET",
        url: "/repos/o/r/actions/runs/1/artifacts",
        status: 200,
        responseBody: JSON.stringify({
          total_count: 1,
          artifacts: [
            {
              id: 1,
              node_id: "n",
              name: "x",
              size_in_bytes: 1,
              url: "u",
              archive_download_url: "a",
              expired: false,
              created_at: "yesterday",
              expires_at: null,
              updated_at: null,
            },
          ],
        }),
      },
      expect: /artifacts\[0\]\.created_at: must match format "date-time"/,
    },
    // GitHub's description writes `nullable` beside oneOf (no type, which ajv requires) and beside enums that leave
    // null out; GitHub's answers carry null there.
    {
      name: "an issue update with null milestone and state_reason (fits)",
      exchange: {
        method: "PATCH",
        url: "/repos/o/r/issues/1",
        requestBody: JSON.stringify({ title: 5, milestone: null, state_reason: null }),
        status: 404,
        responseBody: NOT_FOUND,
      },
      expect: null,
    },
    {
      name: "an issue update whose milestone is neither string, integer nor null",
      exchange: {
        method: "PATCH",
        url: "/repos/o/r/issues/1",
        requestBody: JSON.stringify({ milestone: true }),
        status: 404,
        responseBody: NOT_FOUND,
      },
      expect: /request\.milestone: boolean true where string is expected/,
    },
    {
      name: "an issue update with a state_reason outside the enum",
      exchange: {
        method: "PATCH",
        url: "/repos/o/r/issues/1",
        requestBody: JSON.stringify({ state_reason: "bogus" }),
        status: 404,
        responseBody: NOT_FOUND,
      },
      expect: /request\.state_reason: "bogus" is not one of/,
    },
    // oneOf is read as anyOf: {} fits both of these object alternatives, which strict oneOf would refuse.
    {
      name: "a body that fits two overlapping oneOf alternatives (fits)",
      exchange: {
        method: "PUT",
        url: "/repos/o/r/issues/1/labels",
        requestBody: "{}",
        status: 404,
        responseBody: NOT_FOUND,
      },
      expect: null,
    },
    {
      name: "a body that fits no oneOf alternative",
      exchange: {
        method: "PUT",
        url: "/repos/o/r/issues/1/labels",
        requestBody: JSON.stringify({ labels: [5] }),
        status: 404,
        responseBody: NOT_FOUND,
      },
      expect: /request\.labels\[0\]: integer 5 where string is expected/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = openApi.check(c.exchange);
      if (c.expect === null) assert.deepEqual(problems, []);
      else
        assert.ok(
          problems.some((p) => c.expect!.test(p)),
          problems.join("\n") || "no problem found",
        );
    });
  }
});

describe("the runner release stand-in's run.sh", () => {
  let server: LocalGitHub;
  let dir: string;
  before(async () => {
    server = await startLocalGitHub({ release: await testRelease() });
    dir = await mkdtemp(join(tmpdir(), "runner-release-test-"));
    execFileSync("tar", ["-xzf", "-", "-C", dir], { input: (await testRelease()).tarball });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function runSh(env: Record<string, string>): { done: Promise<{ code: number | null; out: string }>; pid: number } {
    const child = spawn("bash", ["./run.sh"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const done = new Promise<{ code: number | null; out: string }>((resolve) =>
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      }),
    );
    return { done, pid: child.pid ?? 0 };
  }

  it("holds what the boot script checks for an installed runner", () => {
    assert.deepEqual(readdirSync(dir).sort(), ["bin", "config.sh", "run.sh"]);
    assert.ok(readFileSync(join(dir, "bin", "Runner.Listener"), "utf8").startsWith("#!"));
  });

  it("is shellcheck-clean", { skip: !hasShellcheck() && "shellcheck not installed" }, async () => {
    const file = join(dir, "run.sh.check");
    await writeFile(file, runScript("2.329.0"));
    execFileSync("shellcheck", ["--shell=bash", file]);
  });

  it("reads its config from the environment only, connects, takes one job, reports it done and exits 0", async () => {
    const jit = await client(server).createJitConfig({
      name: "gpu-2-1-00000001-0",
      labels: ["gpu-2-1-00000001"],
      runnerGroupId: 1,
    });
    const runner = server.runner(jit.runnerId)!;
    const run = runSh({ ACTIONS_RUNNER_INPUT_JITCONFIG: jit.encodedJitConfig });
    await server.waitFor("the runner online", () => runner.status === "online");
    // While it polls for a job, neither the config nor its credential is in any process's argv.
    const argv = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8");
        } catch {
          return "";
        }
      });
    assert.ok(
      !argv.some((a) => a.includes(runner.credential) || a.includes(jit.encodedJitConfig)),
      "a secret in some argv",
    );
    server.queueJob("gpu-1-1-elsewhere");
    server.queueJob("gpu-2-1-00000001", { name: "pytest -m gpu", seconds: 0.2 });
    const { code, out } = await run.done;
    assert.equal(code, 0, out);
    assert.match(out, /Listening for Jobs/);
    assert.match(out, /Running job: pytest -m gpu\n/);
    assert.match(out, /Job pytest -m gpu completed with result: Succeeded/);
    assert.ok(!out.includes(runner.credential) && !out.includes(jit.encodedJitConfig));
    assert.equal(runner.removedBy, "job-done");
    assert.equal(server.jobs.find((j) => j.label === "gpu-1-1-elsewhere")?.runnerId, undefined);
  });

  it("exits when GitHub removes it while it waits for a job, as the real runner does", async () => {
    const gh = client(server);
    const jit = await gh.createJitConfig({
      name: "gpu-2-1-00000002-0",
      labels: ["gpu-2-1-00000002"],
      runnerGroupId: 1,
    });
    const run = runSh({ ACTIONS_RUNNER_INPUT_JITCONFIG: jit.encodedJitConfig });
    await server.waitFor("the runner online", () => server.runner(jit.runnerId)?.status === "online");
    await gh.deleteRunner(jit.runnerId);
    const { code, out } = await run.done;
    assert.equal(code, 1);
    assert.match(out, /was removed from the service/);
  });

  it("refuses to start without a config, or with one that is not a JIT config", async () => {
    assert.equal((await runSh({}).done).code, 2);
    const bad = await runSh({ ACTIONS_RUNNER_INPUT_JITCONFIG: Buffer.from("{}").toString("base64") }).done;
    assert.equal(bad.code, 2);
    assert.match(bad.out, /not valid|incomplete/);
  });
});

function hasShellcheck(): boolean {
  try {
    execFileSync("shellcheck", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
