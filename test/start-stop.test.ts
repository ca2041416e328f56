// start and stop orchestration against the real terraform binary (machines are terraform_data resources of the
// test cloud) and a mocked GitHub (nock): the happy path, capacity fallback, failures at each stage, and what is
// left afterwards (nothing, except the encrypted state).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import nock from "nock";
import type { Clock } from "../scripts/adapters/action-io.ts";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import type { RunnerScope } from "../scripts/adapters/github/types.ts";
import { parseInputs, type StartInputs, type StopInputs } from "../scripts/settings/inputs.ts";
import { readRunContext, type RunContext } from "../scripts/settings/run-context.ts";
import { ForkRefusedError } from "../scripts/phases/fork-guard.ts";
import { start, StartError } from "../scripts/phases/start.ts";
import { readEncryptedBundle, writeEncryptedBundle } from "../scripts/adapters/state-bundle.ts";
import { stateFilePath } from "../scripts/settings/state-location.ts";
import { stop } from "../scripts/phases/stop.ts";
import { commandRunner } from "../scripts/adapters/command.ts";
import { createTerraform } from "../scripts/adapters/terraform.ts";
import { AWS_START, FAKE_TOKEN, inputEnv } from "./kit/env.ts";
import { type RecordingIO, recordingIO } from "./kit/io.ts";
import { markerOf, type TestCloudConfig, testCloud } from "./kit/test-cloud.ts";

const API = "https://api.github.com";
const RUNNERS = "/repos/octo-org/md-sim/actions/runners";
const LABEL = "gpu-987654321-2-0a1b2c3d";
const PASSPHRASE = "state passphrase for tests";
/** Two JIT configs as GitHub would send them: opaque base64. */
const JIT = [
  Buffer.from("jit-config-of-runner-zero ".repeat(40)).toString("base64"),
  Buffer.from("jit-config-of-runner-one ".repeat(40)).toString("base64"),
];

const root = mkdtempSync(join(tmpdir(), "start-stop-"));
const pluginCache = join(root, "plugin-cache");
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

interface Fixture {
  io: RecordingIO;
  context: RunContext;
  markerDir: string;
  workDir: string;
  inputs: StartInputs;
  config: TestCloudConfig;
}

/** The triggering event the fork guard reads: a push to this repository unless a test says otherwise. */
const PUSH = { name: "push", payload: { repository: { full_name: "octo-org/md-sim" }, ref: "refs/heads/main" } };

function fixture(
  config: Partial<TestCloudConfig> = {},
  inputOverrides: Record<string, string> = {},
  event: { name: string; payload: object } = PUSH,
): Fixture {
  const dir = join(root, `case-${n++}`);
  const markerDir = join(dir, "markers");
  mkdirSync(markerDir, { recursive: true });
  const eventPath = join(dir, "event.json");
  writeFileSync(eventPath, JSON.stringify(event.payload));
  const env = inputEnv(
    { ...AWS_START, count: "2", "state-passphrase": PASSPHRASE, ...inputOverrides },
    { RUNNER_TEMP: join(dir, "runner-temp"), GITHUB_EVENT_NAME: event.name, GITHUB_EVENT_PATH: eventPath },
  );
  const parsed = parseInputs(env) as StartInputs;
  const cloudConfig: TestCloudConfig = {
    markerDir,
    machineType: "a",
    fallbackMachineTypes: [],
    noCapacity: [],
    broken: [],
    consoles: {},
    ...config,
  };
  return {
    io: recordingIO(),
    context: readRunContext(env, dir),
    markerDir,
    workDir: join(dir, "work"),
    inputs: { ...parsed, cloud: testCloud, plan: testCloud.plan(cloudConfig) },
    config: cloudConfig,
  };
}

function stopInputs(): StopInputs {
  return {
    ...(parseInputs(
      inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-passphrase": PASSPHRASE, "state-id": LABEL }),
    ) as StopInputs),
    cloud: testCloud,
  };
}

/** A clock whose sleeps pass at once, so runner-timeout can run out instantly. */
function instantClock(): Clock {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

function deps(f: Fixture, extra: { onCancel?: (handler: () => void) => () => void; scope?: RunnerScope } = {}) {
  const github = createGitHubClient({
    token: FAKE_TOKEN,
    apiUrl: API,
    scope: extra.scope ?? { kind: "repository", owner: "octo-org", repo: "md-sim" },
    onSecret: (value) => f.io.setSecret(value),
    log: (line) => f.io.info(line),
    sleep: async () => {},
    spaceWrites: false,
  });
  const terraform = createTerraform({ pluginCacheDir: pluginCache, log: (line) => f.io.info(line) });
  const run = commandRunner(process.env, []);
  return {
    github,
    terraform,
    io: f.io,
    clock: instantClock(),
    workDir: f.workDir,
    label: () => LABEL,
    pollIntervalMs: 5000,
    run,
    ...extra,
  };
}

function runnerBody(id: number, status: string) {
  return {
    id,
    name: `${LABEL}-${id - 100}`,
    os: "Linux",
    status,
    busy: false,
    labels: [{ id: 1, name: LABEL, type: "custom" }],
  };
}

function mockRegistration(count = 2): void {
  for (let i = 0; i < count; i++) {
    nock(API)
      .post(`${RUNNERS}/generate-jitconfig`, (body) => body.name === `${LABEL}-${i}` && body.labels[0] === LABEL)
      .reply(201, { runner: runnerBody(100 + i, "offline"), encoded_jit_config: JIT[i] });
  }
}

/** One poll of start's wait: one listing of the runners, as GitHub answers it (`times` polls alike). */
function mockPoll(runners: ReturnType<typeof runnerBody>[], times = 1, path = RUNNERS): void {
  nock(API).get(`${path}?per_page=100`).times(times).reply(200, { total_count: runners.length, runners });
}

/** Start's cleanup lists the runners to find half-made registrations under its label. */
function mockList(ids: number[], extra: { id: number; name: string }[] = []): void {
  nock(API)
    .get(`${RUNNERS}?per_page=100`)
    .reply(200, {
      total_count: ids.length + extra.length,
      runners: [
        ...ids.map((id) => runnerBody(id, "offline")),
        ...extra.map((r) => ({ ...runnerBody(r.id, "offline"), name: r.name })),
      ],
    });
}

function mockDeletes(ids: number[]): void {
  for (const id of ids) nock(API).delete(`${RUNNERS}/${id}`).reply(204);
}

const sha256 = (text: string) => createHash("sha256").update(`GR_JIT_CONFIG='${text}'\n`).digest("hex");

/** Everything under a directory, as text, to look for secrets in clear. */
function allText(dir: string): string {
  if (!existsSync(dir)) return "";
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), "latin1"))
    .join("\n");
}

function assertNoSecretInClear(f: Fixture): void {
  const text = [
    allText(join(f.context.tempDir)),
    f.io.lines.join("\n"),
    f.io.warnings.join("\n"),
    JSON.stringify(f.io.outputs),
  ].join("\n");
  for (const secret of [...JIT, FAKE_TOKEN, PASSPHRASE])
    assert.ok(!text.includes(secret), "a secret is in clear in a file, a log line or an output");
}

describe("start and stop, real terraform, mocked GitHub", () => {
  before(() => nock.disableNetConnect());
  after(() => nock.enableNetConnect());
  beforeEach(() => nock.cleanAll());
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    assert.deepEqual(pending, [], "every expected GitHub call was made");
  });

  it("the GPU count read at apply reaches each boot script and the job summary, with the image as resolved", async () => {
    // Machine 0's console has its boot script's GPU facts; machine 1's cannot be read (a getter that throws, as the
    // cloud's CLI would: not enumerable, so the configuration still serializes).
    const consoles: Record<string, string> = {
      [`${LABEL}-0`]:
        "[ 40.1] cloud-init[912]: gpu-runner: gpu-facts: count=3 driver=580.159.04 cuda=13.0 model=NVIDIA H100 80GB HBM3\n",
    };
    Object.defineProperty(consoles, `${LABEL}-1`, {
      get: () => {
        throw new Error("AccessDenied: not authorized to get the console output\nsecond line");
      },
    });
    const f = fixture({ gpusAtApply: 3, resolvedImage: "test-image-20261201", consoles });
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    const runners = await start(f.inputs, f.context, deps(f));
    // Terraform evaluated the expression into each machine's boot script: a number, inside the quotes.
    for (const i of [0, 1])
      assert.equal(
        readFileSync(`${markerOf(f.config, `${LABEL}-${i}`)}.gpus`, "utf8").trim(),
        "export GR_EXPECTED_GPUS='3'",
      );
    const started = f.io.summaries.join("\n");
    for (const r of runners) assert.ok(started.includes(`| ${r.name} | ${r.machineId} | a | 3 | test-zone |`), started);
    // The unreadable console: said in one line, the start goes on, and the summary says why its facts are missing.
    const failure = `could not read the console of ${LABEL}-1: AccessDenied: not authorized to get the console output; the machine's own lines are missing here`;
    assert.ok(f.io.warnings.includes(failure), f.io.warnings.join("\n"));
    assert.ok(started.includes(`| ${LABEL}-0 | 3 | NVIDIA H100 80GB HBM3 | 580.159.04 | 13.0 |`), started);
    assert.ok(started.includes(`| ${LABEL}-1 | unknown: ${failure} |  |  |  |`), started);
    // The timeline reads the last runner's console: its milestones, or this same reason.
    assert.ok(
      started.includes(`Machine phases: the last runner online, ${LABEL}-0.`) ||
        started.includes(`Machine phases: unknown: ${failure}.`),
      started,
    );
    assert.equal(f.io.warnings.filter((w) => w === failure).length, 1, "one line per machine, said once");
    assert.ok(
      started.includes(
        "GPU check: as many as the test cloud's description lists at apply (a is not in the test cloud's catalog; none listed: no check).",
      ),
      started,
    );
    assert.ok(started.includes("Image: test-image-20261201, from test-image."), started);

    mockList([100, 101]);
    mockDeletes([100, 101]);
    const stopIO = recordingIO();
    await stop(stopInputs(), f.context, { ...deps({ ...f, io: stopIO }), env: {} });
    assert.deepEqual(readdirSync(f.markerDir), [], "every machine destroyed");
  });

  it("a pull request from a fork is refused before anything exists; with allow-forks: true the same start goes on", async () => {
    const fork = {
      name: "pull_request",
      payload: { pull_request: { head: { repo: { full_name: "someone/md-sim" } } } },
    };
    const refused = fixture({}, {}, fork);
    // No GitHub call is mocked: one would fail the start with another error, and afterEach finds none pending.
    await assert.rejects(start(refused.inputs, refused.context, deps(refused)), ForkRefusedError);
    assert.deepEqual(readdirSync(refused.markerDir), [], "no machine");
    assert.deepEqual(refused.io.outputs, {}, "not even a label: nothing was started");

    const allowed = fixture({}, { "allow-forks": "true" }, fork);
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    await start(allowed.inputs, allowed.context, deps(allowed));
    assert.equal(readdirSync(allowed.markerDir).filter((m) => !m.includes(".")).length, 2, "both machines made");
    mockList([100, 101]);
    mockDeletes([100, 101]);
    await stop(stopInputs(), allowed.context, { ...deps({ ...allowed, io: recordingIO() }), env: {} });
    assert.deepEqual(readdirSync(allowed.markerDir), [], "every machine destroyed");
  });

  it("starts two runners, then stop removes everything, and a second stop finds nothing to do", async () => {
    const f = fixture();
    mockRegistration();
    mockPoll([runnerBody(100, "offline"), runnerBody(101, "online")]);
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    const runners = await start(f.inputs, f.context, deps(f));

    assert.deepEqual(
      runners.map((r) => [r.name, r.id]),
      [
        [`${LABEL}-0`, 100],
        [`${LABEL}-1`, 101],
      ],
    );
    assert.ok(
      runners.every((r) => /^[0-9a-f-]{36}$/.test(r.machineId)),
      "machine ids come from terraform's output",
    );
    assert.equal(f.io.outputs.label, LABEL);
    assert.equal(f.io.outputs["state-id"], LABEL);
    assert.deepEqual(JSON.parse(f.io.outputs.runners ?? "[]"), runners);
    // Each machine received its own JIT config, inside its user-data; each was masked when it arrived.
    for (const [i, jit] of JIT.entries()) {
      assert.equal(readFileSync(`${markerOf(f.config, `${LABEL}-${i}`)}.jit`, "utf8").trim(), sha256(jit));
      assert.ok(f.io.secrets.includes(jit));
    }
    // Only the encrypted state is left, and it holds the applied state.
    assert.ok(!existsSync(f.workDir), "the plaintext work directory is removed");
    const bundle = await readEncryptedBundle(stateFilePath(f.context, LABEL), PASSPHRASE);
    assert.ok(bundle?.files["terraform.tfstate"]?.includes("terraform_data"));
    assert.deepEqual(bundle?.runners, [
      { name: `${LABEL}-0`, id: 100 },
      { name: `${LABEL}-1`, id: 101 },
    ]);
    assertNoSecretInClear(f);
    const started = f.io.summaries.join("\n");
    assert.match(
      started,
      new RegExp(
        `\\| ${LABEL}-0 \\| [0-9a-f-]{36} \\| a \\| not checked \\| test-zone \\| ${LABEL} \\| 360 min \\| \\$1\\.50 \\|`,
      ),
    );
    assert.match(
      started,
      /Estimated cost: \$3\.00 per hour for 2 machine\(s\), at most \$18 if they ran to the lifetime cap/,
    );
    assert.ok(
      started.includes(
        "Worst case, checked before anything was created: $18.00 = $1.5 per hour (a in test-zone) x 2 machine(s) x 6 h max-lifetime; max-cost not set.",
      ),
      started,
    );
    // No GPU check (the test cloud lists no GPU for "a"): no GPU facts table, and only the last machine's console read.
    assert.ok(!started.includes("| Runner | GPUs | Model | Driver | CUDA |"), started);

    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, { total_count: 1, runners: [runnerBody(101, "online")] });
    mockDeletes([100, 101]);
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/artifacts")
      .query({ name: `gpu-runner-state-${LABEL}`, per_page: "100" })
      .reply(200, { total_count: 1, artifacts: [{ id: 77, name: `gpu-runner-state-${LABEL}` }] });
    nock(API).delete("/repos/octo-org/md-sim/actions/artifacts/77").reply(204);
    const stopIO = recordingIO();
    await stop(stopInputs(), f.context, { ...deps({ ...f, io: stopIO }), env: {} });
    assert.deepEqual(readdirSync(f.markerDir), [], "every machine destroyed");
    assert.ok(!existsSync(stateFilePath(f.context, LABEL)), "the state file is removed");
    assert.match(
      stopIO.summaries.join("\n"),
      /2 machine\(s\) of a lived about \d+ min \(start to stop\)\.\nEstimated total cost of the run: \$0\.00 \(2 x \$1\.50 per hour/,
    );

    nock(API).get(`${RUNNERS}?per_page=100`).reply(200, { total_count: 0, runners: [] });
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/artifacts")
      .query({ name: `gpu-runner-state-${LABEL}`, per_page: "100" })
      .reply(200, { total_count: 0, artifacts: [] });
    const again = recordingIO();
    await stop(stopInputs(), f.context, { ...deps({ ...f, io: again }), env: {} });
    assert.ok(again.lines.some((l) => l.startsWith(`No state found for ${LABEL}`)));
  });

  it("moves to the next machine type when the cloud has no capacity, leaving nothing of the failed one", async () => {
    const f = fixture({ machineType: "a", fallbackMachineTypes: ["b"], noCapacity: ["a"] });
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    await start(f.inputs, f.context, deps(f));
    assert.ok(f.io.warnings.includes("No capacity for a in test-zone; trying b in test-zone."));
    const config = f.config;
    assert.deepEqual(
      [0, 1].map((i) => readFileSync(markerOf(config, `${LABEL}-${i}`), "utf8")),
      ["b", "b"],
    );
    assert.equal(f.io.lines.filter((l) => l.startsWith("::group::terraform apply")).length, 2);
  });

  it("fails listing every candidate when none has capacity, after removing machines and runners", async () => {
    const f = fixture({ machineType: "a", fallbackMachineTypes: ["b"], noCapacity: ["a", "b"] });
    mockRegistration();
    // A registration whose answer was lost: GitHub has it under the label's prefix, start never got its config.
    mockList(
      [100, 101],
      [
        { id: 555, name: `${LABEL}-1` },
        { id: 777, name: "gpu-1-1-ffffffff-0" },
      ],
    );
    mockDeletes([100, 101, 555]);
    await assert.rejects(start(f.inputs, f.context, deps(f)), (error: unknown) => {
      assert.ok(error instanceof StartError);
      assert.match(error.message, /No capacity for any candidate\. Tried, in order: a in test-zone; b in test-zone\./);
      assert.match(error.message, /Runner gpu-987654321-2-0a1b2c3d-0 removed from GitHub\./);
      return true;
    });
    assert.deepEqual(
      f.io.warnings.filter((w) => w.startsWith("Could not")),
      [],
    );
    assert.deepEqual(readdirSync(f.markerDir), []);
    assertNoSecretInClear(f);
  });

  it("does not retry an error that is not about capacity", async () => {
    const f = fixture({ machineType: "a", fallbackMachineTypes: ["b"], broken: ["a"] });
    mockRegistration();
    mockList([100, 101]);
    mockDeletes([100, 101]);
    await assert.rejects(start(f.inputs, f.context, deps(f)), /UnauthorizedOperation/);
    assert.equal(f.io.lines.filter((l) => l.startsWith("::group::terraform apply")).length, 1);
    assertNoSecretInClear(f);
  });

  it("shows the boot lines of a runner that never came online, then destroys it and removes the runners", async () => {
    const consoles = {
      [`${LABEL}-1`]: `[  5.1] cloud-init: start\n[  6.0] gpu-runner: booting\n[ 61.2] gpu-runner: powering off: GPU check failed: found 0 GPUs, expected 1\n`,
    };
    const f = fixture({ consoles }, { "runner-timeout": "1" });
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "offline")], 13);
    mockList([100, 101]);
    mockDeletes([100, 101]);
    await assert.rejects(
      start(f.inputs, f.context, deps(f)),
      /gpu-987654321-2-0a1b2c3d-1 did not come online within 60 s/,
    );
    const shown = f.io.lines.slice(f.io.lines.indexOf(`::group::Boot lines of ${LABEL}-1`));
    assert.deepEqual(shown.slice(1, 3), [
      "gpu-runner: booting",
      "gpu-runner: powering off: GPU check failed: found 0 GPUs, expected 1",
    ]);
    assert.ok(!f.io.lines.includes(`::group::Boot lines of ${LABEL}-0`), "only the offline runner's console is read");
    assert.deepEqual(readdirSync(f.markerDir), []);
    // The state is still uploaded (now empty of resources), so a stop job finds nothing left to do.
    const bundle = await readEncryptedBundle(stateFilePath(f.context, LABEL), PASSPHRASE);
    assert.ok(bundle);
  });

  it("stop with a state it cannot decrypt looks for the machines by label, and fails if it cannot", async () => {
    const f = fixture();
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    await start(f.inputs, f.context, deps(f));
    const wrongKey = { ...stopInputs(), statePassphrase: "not the passphrase" };

    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, { total_count: 2, runners: [runnerBody(100, "online"), runnerBody(101, "online")] });
    mockDeletes([100, 101]);
    const failing = recordingIO();
    await assert.rejects(
      stop(wrongKey, f.context, { ...deps({ ...f, io: failing }), env: { TEST_SWEEP: "fail" } }),
      /machines \(by label\): could not look: the cloud.s CLI is not configured/,
    );
    assert.ok(failing.lines.some((l) => l.includes("cannot be used (the state could not be decrypted")));

    nock(API).get(`${RUNNERS}?per_page=100`).reply(200, { total_count: 0, runners: [] });
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/artifacts")
      .query(true)
      .reply(200, { total_count: 0, artifacts: [] });
    const sweeping = recordingIO();
    await stop(wrongKey, f.context, { ...deps({ ...f, io: sweeping }), env: { TEST_SWEEP: "found" } });
    assert.ok(sweeping.lines.includes(`Deleted: instance ${LABEL}-0.`));
    // A stop that swept successfully is done: the unusable state file goes too. (The test cloud's sweep only
    // reports; its marker files go with the temporary directory.)
    assert.ok(!existsSync(stateFilePath(f.context, LABEL)));
  });

  it("a 5xx storm on GitHub's runner listing during stop: machines destroyed, the state's runners removed, stop fails saying so", async () => {
    const f = fixture();
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    await start(f.inputs, f.context, deps(f));
    assert.equal(readdirSync(f.markerDir).length, 6, "two machines (a marker, a digest and the GPU count each)");

    nock(API).get(`${RUNNERS}?per_page=100`).times(20).reply(502, { message: "Server Error" });
    mockDeletes([100, 101]);
    const io = recordingIO();
    await assert.rejects(
      stop(stopInputs(), f.context, { ...deps({ ...f, io }), env: {} }),
      /runners \(GitHub\): 2 removed, 0 already gone; could not check GitHub for other runners/,
    );
    nock.cleanAll(); // the storm's unused replies
    assert.deepEqual(readdirSync(f.markerDir), [], "every machine destroyed, although GitHub could not list");
    assert.ok(existsSync(stateFilePath(f.context, LABEL)), "the state stays for a re-run");
    assert.match(
      io.summaries.join("\n"),
      /\| machines \(terraform\) \| done: destroyed \(2 machine\(s\) in the state\) \|/,
    );
  });

  it("terraform init failing during stop: the runners are removed and the machines swept by label; each layer reported", async () => {
    const f = fixture();
    mockRegistration();
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")]);
    await start(f.inputs, f.context, deps(f));
    // A lock file terraform cannot read: init fails before anything can be destroyed.
    const path = stateFilePath(f.context, LABEL);
    const bundle = (await readEncryptedBundle(path, PASSPHRASE))!;
    await writeEncryptedBundle(
      path,
      { ...bundle, files: { ...bundle.files, ".terraform.lock.hcl": 'provider "x" {{{' } },
      PASSPHRASE,
    );

    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, { total_count: 2, runners: [runnerBody(100, "online"), runnerBody(101, "online")] });
    mockDeletes([100, 101]);
    const io = recordingIO();
    const stopped = stop(stopInputs(), f.context, { ...deps({ ...f, io }), env: { TEST_SWEEP: "found" } });
    await assert.rejects(
      stopped,
      /machines \(terraform\): terraform init failed with exit code 1: failed to read dependency lock file/,
    );
    assert.ok(io.lines.includes(`Deleted: instance ${LABEL}-0.`), "the sweep by label ran");
    const table = io.summaries.join("\n");
    assert.match(table, /\| machines \(terraform\) \| FAILED: terraform init failed/);
    assert.match(table, /\| runners \(GitHub\) \| done: 2 removed, 0 already gone \|/);
    assert.match(table, new RegExp(`\\| machines \\(by label\\) \\| done: deleted instance ${LABEL}-0 \\|`));
  });

  it("registers organization runners in a runner group found by name", async () => {
    const f = fixture({}, { "runner-scope": "organization", "runner-group": "GPU pool" });
    const ORG_RUNNERS = "/orgs/octo-org/actions/runners";
    nock(API)
      .get("/orgs/octo-org/actions/runner-groups")
      .query(true)
      .reply(200, {
        total_count: 2,
        runner_groups: [
          { id: 1, name: "Default" },
          { id: 42, name: "GPU pool" },
        ],
      });
    for (let i = 0; i < 2; i++) {
      nock(API)
        .post(
          `${ORG_RUNNERS}/generate-jitconfig`,
          (body) => body.runner_group_id === 42 && body.name === `${LABEL}-${i}`,
        )
        .reply(201, { runner: runnerBody(100 + i, "offline"), encoded_jit_config: JIT[i] });
    }
    mockPoll([runnerBody(100, "online"), runnerBody(101, "online")], 1, ORG_RUNNERS);
    const runners = await start(f.inputs, f.context, deps(f, { scope: { kind: "organization", org: "octo-org" } }));
    assert.equal(runners.length, 2);
  });

  it("refuses an unknown runner group before registering or creating anything", async () => {
    const f = fixture({}, { "runner-scope": "organization", "runner-group": "No such pool" });
    nock(API)
      .get("/orgs/octo-org/actions/runner-groups")
      .query(true)
      .reply(200, { total_count: 1, runner_groups: [{ id: 1, name: "Default" }] });
    nock(API).get("/orgs/octo-org/actions/runners?per_page=100").reply(200, { total_count: 0, runners: [] });
    await assert.rejects(
      start(f.inputs, f.context, deps(f, { scope: { kind: "organization", org: "octo-org" } })),
      /runner-group 'No such pool' does not exist/,
    );
    assert.deepEqual(readdirSync(f.markerDir), []);
  });

  it("what the cloud adds to the boot script counts toward its user-data limit: refused before registering anything", async () => {
    // Under the test cloud's 128 KiB alone; over it with the cloud's own value.
    const f = fixture(
      { bootExtra: { GR_END_COMMAND_B64: "A".repeat(127 * 1024) } },
      { "pre-runner-script": "echo warm-up" },
    );
    await assert.rejects(
      start(f.inputs, f.context, deps(f)),
      /Input 'pre-runner-script'.*of the 131072 bytes test accepts/s,
    );
    assert.deepEqual(readdirSync(f.markerDir), []);
  });

  it("dry-run prints what would be created and Terraform's plan, and creates nothing", async () => {
    const f = fixture({}, { "dry-run": "true" });
    const runners = await start(f.inputs, f.context, deps(f));
    assert.deepEqual(runners, []);
    assert.ok(
      f.io.lines.some((l) => /^ {2}machines +2 x a$/.test(l)),
      "the review table is printed",
    );
    assert.ok(f.io.lines.some((l) => /estimated cost +\$3\.00 per hour for 2 machine\(s\)/.test(l)));
    assert.ok(
      f.io.lines.some((l) =>
        /^ {2}worst case +\$18\.00 = \$1\.5 per hour \(a in test-zone\) x 2 machine\(s\) x 6 h max-lifetime; max-cost not set$/.test(
          l,
        ),
      ),
      f.io.lines.join("\n"),
    );
    assert.ok(f.io.lines.includes("Plan: 2 to add, 0 to change, 0 to destroy."), "terraform plan ran");
    assert.match(f.io.summaries.join(""), /### dry-run: what this start would create/);
    assert.deepEqual(readdirSync(f.markerDir), [], "no machine was created");
    assert.ok(!existsSync(f.workDir));
    // No GitHub call was mocked: nock would have refused any (disableNetConnect), failing the start.
  });

  it("a caveat of the plan is a warning before anything exists, and a row of the review", async () => {
    const caveat = "nothing outside the machine enforces max-lifetime here";
    const f = fixture({ caveats: [caveat] }, { "dry-run": "true" });
    await start(f.inputs, f.context, deps(f));
    assert.deepEqual(f.io.warnings, [caveat]);
    assert.ok(
      f.io.lines.some((l) => new RegExp(`^ {2}caveat +${caveat}$`).test(l)),
      "the review lists it",
    );
    assert.deepEqual(readdirSync(f.markerDir), [], "no machine was created");
  });

  /** The cancel handler start registers, and whether it is still registered; `fire` calls it as a signal would. */
  function cancelHook() {
    const hook: { fire: () => void; registered: boolean; onCancel: (handler: () => void) => () => void } = {
      fire: () => assert.fail("no handler registered"),
      registered: false,
      onCancel: (handler: () => void) => {
        hook.fire = handler;
        hook.registered = true;
        return () => {
          hook.registered = false;
        };
      },
    };
    return hook;
  }

  it("cancelled while a registration is in flight: no further runner, no apply; the saved state names the runner", async () => {
    const f = fixture();
    const hook = cancelHook();
    let registrations = 0;
    nock(API)
      .post(`${RUNNERS}/generate-jitconfig`)
      .reply(201, () => {
        registrations++;
        // The job is cancelled while GitHub is answering the first registration.
        hook.fire();
        return { runner: runnerBody(100, "offline"), encoded_jit_config: JIT[0] };
      });
    // A second registration, were one sent, would be answered (and counted), not refused.
    nock(API)
      .post(`${RUNNERS}/generate-jitconfig`)
      .optionally()
      .reply(201, () => {
        registrations++;
        return { runner: runnerBody(101, "offline"), encoded_jit_config: JIT[1] };
      });
    await assert.rejects(start(f.inputs, f.context, deps(f, { onCancel: hook.onCancel })), (error: unknown) => {
      assert.ok(error instanceof StartError && error.cancelled, String(error));
      assert.match(error.message, /^Start cancelled: no machine was being made yet; the stop job/);
      return true;
    });
    nock.cleanAll();
    assert.equal(registrations, 1, "no runner registered after the cancel");
    assert.ok(!f.io.lines.some((l) => l.startsWith("::group::terraform")), "no terraform init or apply began");
    assert.deepEqual(readdirSync(f.markerDir), [], "no machine");
    assert.ok(f.io.warnings.some((w) => w.startsWith("Cancelled: stopping terraform and saving the state")));
    assert.equal(hook.registered, false, "the handler is removed when start ends");
    const bundle = await readEncryptedBundle(stateFilePath(f.context, LABEL), PASSPHRASE);
    assert.deepEqual(
      bundle?.runners,
      [{ name: `${LABEL}-0`, id: 100 }],
      "the runner whose answer came after the cancel",
    );
    assert.ok(!existsSync(f.workDir), "the plaintext work directory is removed");
    assertNoSecretInClear(f);

    // The stop job removes it, through the state.
    mockList([100]);
    mockDeletes([100]);
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/jobs")
      .query(true)
      .optionally()
      .reply(200, { total_count: 0, jobs: [] });
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/artifacts")
      .query(true)
      .optionally()
      .reply(200, { total_count: 0, artifacts: [] });
    await stop(stopInputs(), f.context, { ...deps({ ...f, io: recordingIO() }), env: {} });
  });

  it("cancelled while waiting for the runners: stops at that poll, keeps the machines for the stop job, saves them in the state", async () => {
    const f = fixture();
    const hook = cancelHook();
    mockRegistration();
    let polls = 0;
    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .times(20)
      .optionally()
      .reply(200, () => {
        polls++;
        if (polls === 1) hook.fire();
        return { total_count: 2, runners: [runnerBody(100, "offline"), runnerBody(101, "offline")] };
      });
    await assert.rejects(start(f.inputs, f.context, deps(f, { onCancel: hook.onCancel })), (error: unknown) => {
      assert.ok(error instanceof StartError && error.cancelled, String(error));
      assert.match(error.message, /^Start cancelled: terraform was stopped and recorded what it had made/);
      return true;
    });
    nock.cleanAll();
    assert.equal(polls, 1, "no poll after the cancel");
    assert.equal(readdirSync(f.markerDir).filter((m) => !m.includes(".")).length, 2, "both machines are left to stop");
    const bundle = await readEncryptedBundle(stateFilePath(f.context, LABEL), PASSPHRASE);
    assert.deepEqual(
      bundle?.runners.map((r) => r.id),
      [100, 101],
    );
    assert.equal((bundle?.files["terraform.tfstate"]?.match(/"type": "terraform_data"/g) ?? []).length, 2);

    mockList([100, 101]);
    mockDeletes([100, 101]);
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/jobs")
      .query(true)
      .optionally()
      .reply(200, { total_count: 0, jobs: [] });
    nock(API)
      .get("/repos/octo-org/md-sim/actions/runs/987654321/artifacts")
      .query(true)
      .optionally()
      .reply(200, { total_count: 0, artifacts: [] });
    await stop(stopInputs(), f.context, { ...deps({ ...f, io: recordingIO() }), env: {} });
    assert.deepEqual(readdirSync(f.markerDir), [], "the stop destroyed them through the saved state");
  });
});
