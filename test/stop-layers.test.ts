// stop() and teardown's safety logic with in-memory fakes (terraform, GitHub, the cloud's sweep) and a real encrypted
// state: fast enough for a mutation run, where start-stop.test.ts's real terraform takes seconds. Every expected
// value is worked out by hand from the code's rules, so that a one-line slip (a flipped condition, a dropped call,
// a wrong count) changes an assertion here.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Cloud } from "../stacks/cloud.ts";
import type { FoundMachine, StateStore } from "../stacks/cloud-cli.ts";
import type { CommandRunner } from "../stacks/cloud-command.ts";
import type { GitHubClient, RunJob, RunnerInfo } from "../scripts/adapters/github/types.ts";
import { writeEncryptedBundle } from "../scripts/adapters/state-bundle.ts";
import { type Terraform, TerraformError } from "../scripts/adapters/terraform.ts";
import type { StopInputs } from "../scripts/settings/inputs.ts";
import type { RunContext } from "../scripts/settings/run-context.ts";
import { type StopDeps, StopError, stop } from "../scripts/phases/stop.ts";
import {
  registeredUnderLabel,
  removeRunners,
  runnersOfStart,
  teardown,
  unionOfRunners,
} from "../scripts/phases/teardown.ts";
import { type RecordingIO, recordingIO } from "./kit/io.ts";
import { testCloud } from "./kit/test-cloud.ts";

const LABEL = "gpu-987654321-2-0a1b2c3d";
const RUN_ID = "987654321";
const PASSPHRASE = "state passphrase for tests";
const ARTIFACT = `gpu-runner-state-${LABEL}`;
const CREATED_AT = "2026-01-01T10:00:00.000Z";
/** Two JIT variables and one that is not: destroy must get a placeholder for exactly the first two. */
const STACK_JSON = JSON.stringify({
  variable: { jit_config_0: { sensitive: true }, jit_config_1: { sensitive: true }, region: { default: "x" } },
});
/** base64("destroy"), for each jit_config_* variable. */
const PLACEHOLDERS = { TF_VAR_jit_config_0: "ZGVzdHJveQ==", TF_VAR_jit_config_1: "ZGVzdHJveQ==" };
const TFSTATE = '{"user_data":"runner credentials in clear"}';
const STATE_RUNNERS = [
  { name: `${LABEL}-0`, id: 100 },
  { name: `${LABEL}-1`, id: 101 },
];
const ENV = { AWS_REGION: "us-east-1" };
const RUN: CommandRunner = async () => ({ exitCode: 0, stdout: "", stderr: "" });

const root = mkdtempSync(join(tmpdir(), "stop-layers-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const registered = (id: number, name: string): RunnerInfo => ({
  id,
  name,
  status: "offline",
  busy: false,
  labels: [LABEL],
});
const job = (name: string, runnerName: string): RunJob => ({
  id: 1,
  name,
  runnerName,
  status: "completed",
  conclusion: "success",
  runAttempt: 1,
  htmlUrl: undefined,
});

interface FakeGitHub {
  client: GitHubClient;
  deleted: number[];
  jobsAskedFor: string[];
  artifactsDeleted: [string, string][];
}

/** Only what stop and teardown call; a delete answers "deleted" unless `deletes` says otherwise. */
function fakeGitHub(
  o: {
    listed?: RunnerInfo[] | Error;
    deletes?: Record<number, "gone" | Error>;
    jobs?: RunJob[] | Error;
    artifacts?: number | Error;
  } = {},
): FakeGitHub {
  const fake: FakeGitHub = {
    deleted: [],
    jobsAskedFor: [],
    artifactsDeleted: [],
    client: undefined as unknown as GitHubClient,
  };
  fake.client = {
    listRunners: async () => {
      if (o.listed instanceof Error) throw o.listed;
      return o.listed ?? [];
    },
    deleteRunner: async (id: number) => {
      fake.deleted.push(id);
      const answer = o.deletes?.[id] ?? "deleted";
      if (answer instanceof Error) throw answer;
      return answer;
    },
    listRunJobs: async (runId: string) => {
      fake.jobsAskedFor.push(runId);
      if (o.jobs instanceof Error) throw o.jobs;
      return o.jobs ?? [];
    },
    deleteArtifactsNamed: async (runId: string, name: string) => {
      fake.artifactsDeleted.push([runId, name]);
      if (o.artifacts instanceof Error) throw o.artifacts;
      return o.artifacts ?? 1;
    },
  } as GitHubClient;
  return fake;
}

interface FakeTerraform extends Terraform {
  calls: string[];
  destroyEnv: (Record<string, string> | undefined)[];
  /** The terraform.tfstate in the directory when destroy ran: proof the decrypted state was unpacked there. */
  statesSeen: string[];
}

/** `output`: what terraform output answers (by default a machines map of the state's two machines). */
function fakeTerraform(o: { failDestroy?: Error; output?: Record<string, unknown> } = {}): FakeTerraform {
  const unexpected = async () => assert.fail("not a call of stop or teardown");
  const tf: FakeTerraform = {
    calls: [],
    destroyEnv: [],
    statesSeen: [],
    init: async (dir) => {
      tf.calls.push(`init ${dir}`);
    },
    output: async (dir) => {
      tf.calls.push(`output ${dir}`);
      return o.output ?? { machines: { [`${LABEL}-0`]: "i-0", [`${LABEL}-1`]: "i-1" } };
    },
    destroy: async (dir, opts) => {
      tf.calls.push(`destroy ${dir}`);
      tf.destroyEnv.push(opts?.secretEnv);
      if (existsSync(join(dir, "terraform.tfstate")))
        tf.statesSeen.push(readFileSync(join(dir, "terraform.tfstate"), "utf8"));
      if (o.failDestroy) throw o.failDestroy;
    },
    apply: unexpected,
    plan: unexpected,
    stateResourceCount: unexpected,
    interrupt: unexpected,
  };
  return tf;
}

interface FakeCloud {
  cloud: Cloud;
  finds: { filter: unknown; env: unknown; run: CommandRunner }[];
  deletes: { machines: FoundMachine[]; labels: string[] }[];
}

function fakeCloud(o: { found?: FoundMachine[]; fail?: Error } = {}): FakeCloud {
  const fake: FakeCloud = { finds: [], deletes: [], cloud: testCloud };
  fake.cloud = {
    ...testCloud,
    cli: {
      findMachines: async (filter, env, run) => {
        fake.finds.push({ filter, env, run });
        if (o.fail) throw o.fail;
        return o.found ?? [];
      },
      findLeftovers: async () => ({ leftovers: [], unchecked: [] }),
      deleteMachines: async (machines, starts) => {
        // Every start asked for is this repository's.
        assert.ok(starts.every((s) => s.repositoryId === "612345678"));
        fake.deletes.push({ machines, labels: starts.map((s) => s.label) });
        return machines.map((m) => `instance ${m.name}`);
      },
    },
  };
  return fake;
}

const MACHINE: FoundMachine = {
  id: "i-0",
  name: `${LABEL}-0`,
  label: LABEL,
  repositoryId: "612345678",
  state: "running",
  location: "us-east-1",
};

interface Case {
  context: RunContext;
  workDir: string;
  statePath: string;
  stackDir: string;
  io: RecordingIO;
}

function newCase(): Case {
  const dir = join(root, `case-${n++}`);
  const tempDir = join(dir, "temp");
  const context: RunContext = {
    repository: "octo-org/md-sim",
    repositoryId: "612345678",
    owner: "octo-org",
    repo: "md-sim",
    runId: RUN_ID,
    runAttempt: "2",
    apiUrl: "https://api.github.com",
    tempDir,
    eventName: "push",
    eventPath: "",
  };
  const workDir = join(dir, "work");
  // Where the download step puts the artifact: RUNNER_TEMP/gpu-runner-state/<id>/state.bin.
  return {
    context,
    workDir,
    statePath: join(tempDir, "gpu-runner-state", LABEL, "state.bin"),
    stackDir: join(workDir, "stacks", "gpu-runner"),
    io: recordingIO(),
  };
}

async function writeState(c: Case): Promise<void> {
  const files = { "cdk.tf.json": STACK_JSON, "terraform.tfstate": TFSTATE };
  const machine = { type: "g4dn.xlarge", location: "us-east-1", usdPerHour: 0.5 };
  await writeEncryptedBundle(
    c.statePath,
    { format: 1, cloud: "test", label: LABEL, createdAt: CREATED_AT, runners: STATE_RUNNERS, machine, files },
    PASSPHRASE,
  );
}

function inputs(cloud: FakeCloud, statePassphrase = PASSPHRASE): StopInputs {
  return {
    mode: "stop",
    stateId: LABEL,
    cloud: cloud.cloud,
    githubToken: "t",
    statePassphrase,
    stateStore: undefined,
    runnerScope: "repository",
  };
}

function deps(c: Case, github: FakeGitHub, terraform: FakeTerraform, extra: Partial<StopDeps> = {}): StopDeps {
  // 90 minutes after the start, for the summary's lifetime.
  return {
    github: github.client,
    terraform,
    io: c.io,
    workDir: c.workDir,
    env: ENV,
    run: RUN,
    now: () => Date.parse(CREATED_AT) + 90 * 60_000,
    ...extra,
  };
}

/** stop must reject with a StopError of exactly this message. */
async function assertStopFails(stopped: Promise<void>, message: string): Promise<void> {
  await assert.rejects(stopped, (error: unknown) => {
    assert.ok(error instanceof StopError, String(error));
    assert.deepEqual([error.name, error.message], ["StopError", message]);
    return true;
  });
}

function stackDirWithJson(): string {
  const dir = join(root, `stack-${n++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cdk.tf.json"), STACK_JSON);
  return dir;
}

const DESTROY_FAILED =
  "DESTROY FAILED: boom. Machines may still be running until their max-lifetime; run the stop job, which also looks for them by their gpu-runner-label tag.";

describe("teardown", () => {
  const runners = [
    { id: 1, name: "r-0" },
    { id: 2, name: "r-1" },
  ];

  it("a failed destroy still removes every runner, and the result says DESTROY FAILED", async () => {
    const io = recordingIO();
    const github = fakeGitHub();
    const result = await teardown({
      stackDir: stackDirWithJson(),
      runners,
      terraform: fakeTerraform({ failDestroy: new Error("boom") }),
      github: github.client,
      io,
    });
    assert.deepEqual(result, {
      ok: false,
      summary: `${DESTROY_FAILED}\nRunner r-0 removed from GitHub.\nRunner r-1 removed from GitHub.`,
      removedIds: [1, 2],
    });
    assert.deepEqual(github.deleted, [1, 2]);
    assert.deepEqual(io.warnings, [DESTROY_FAILED]);
  });

  it("destroys with a placeholder for each JIT variable, then removes the runners", async () => {
    const io = recordingIO();
    const stackDir = stackDirWithJson();
    const terraform = fakeTerraform();
    const result = await teardown({ stackDir, runners: [runners[0]!], terraform, github: fakeGitHub().client, io });
    assert.deepEqual(result, {
      ok: true,
      summary: "Machines destroyed.\nRunner r-0 removed from GitHub.",
      removedIds: [1],
    });
    assert.deepEqual(terraform.calls, [`destroy ${stackDir}`]);
    assert.deepEqual(terraform.destroyEnv, [PLACEHOLDERS]);
    assert.deepEqual(io.lines, ["::group::terraform destroy", "::endgroup::", "Runner r-0 removed from GitHub."]);
  });

  it("without a stack directory destroys nothing; a runner it cannot remove makes it fail", async () => {
    const terraform = fakeTerraform();
    const github = fakeGitHub({ deletes: { 1: "gone", 2: new Error("403 Forbidden") } });
    const result = await teardown({ runners, terraform, github: github.client, io: recordingIO() });
    assert.deepEqual(terraform.calls, []);
    assert.deepEqual(result, {
      ok: false,
      summary: "Runner r-0 was already gone.\nCould not remove runner r-1 (id 2) from GitHub: 403 Forbidden",
      removedIds: [1],
    });
  });
});

describe("removeRunners", () => {
  it("counts removed, already gone and failed apart, goes on after a failure, and lists only the unregistered ids", async () => {
    const io = recordingIO();
    const github = fakeGitHub({ deletes: { 2: "gone", 3: new Error("HTTP 500") } });
    const runners = ["a", "b", "c", "d"].map((name, i) => ({ id: i + 1, name }));
    const lines = [
      "Runner a removed from GitHub.",
      "Runner b was already gone.",
      "Could not remove runner c (id 3) from GitHub: HTTP 500",
      "Runner d removed from GitHub.",
    ];
    assert.deepEqual(await removeRunners(github.client, runners, io), {
      ok: false,
      lines,
      detail: "2 removed, 1 already gone, 1 could not be removed",
      removedIds: [1, 2, 4],
    });
    assert.deepEqual(github.deleted, [1, 2, 3, 4]);
    assert.deepEqual(io.lines, [lines[0], lines[1], lines[3]]);
    assert.deepEqual(io.warnings, [lines[2]]);
  });

  it("says nothing of failures when there were none, and 'none registered' for no runner", async () => {
    const github = fakeGitHub({ deletes: { 2: "gone" } });
    const both = [
      { id: 1, name: "a" },
      { id: 2, name: "b" },
    ];
    const removal = await removeRunners(github.client, both, recordingIO());
    assert.deepEqual([removal.ok, removal.detail, removal.removedIds], [true, "1 removed, 1 already gone", [1, 2]]);
    assert.deepEqual(await removeRunners(github.client, [], recordingIO()), {
      ok: true,
      lines: [],
      detail: "none registered",
      removedIds: [],
    });
  });
});

describe("the runners of a start", () => {
  const listed = [
    registered(1, "gpu-12-0"),
    registered(2, "gpu-123-1-0"),
    registered(3, "gpu-12"),
    registered(4, "x-gpu-12-0"),
    registered(5, "gpu-12-1"),
  ];

  it("registeredUnderLabel keeps only names that start with the label and a dash, as { id, name, busy }", async () => {
    // gpu-123-1-0 shares the label's first characters but belongs to another start.
    const busy = { ...registered(5, "gpu-12-1"), busy: true };
    assert.deepEqual(
      await registeredUnderLabel(fakeGitHub({ listed: [...listed.slice(0, 4), busy] }).client, "gpu-12"),
      [
        { id: 1, name: "gpu-12-0", busy: false },
        { id: 5, name: "gpu-12-1", busy: true },
      ],
    );
    await assert.rejects(registeredUnderLabel(fakeGitHub({ listed: new Error("502") }).client, "gpu-12"), /502/);
  });

  it("unionOfRunners keeps each id once, in first-seen order; runnersOfStart adds the listed ones to the known", async () => {
    const a = { id: 1, name: "gpu-12-0" };
    const b = { id: 5, name: "gpu-12-1" };
    const c = { id: 7, name: "gpu-12-2" };
    assert.deepEqual(unionOfRunners([a, b], [b, c], []), [a, b, c]);
    assert.deepEqual(unionOfRunners(), []);
    assert.deepEqual(await runnersOfStart(fakeGitHub({ listed }).client, "gpu-12", [c, a]), [c, a, b]);
  });
});

describe("stop, layer by layer", () => {
  it("with a good state: destroys with placeholders, removes the state's and the label's runners, then deletes the state", async () => {
    const c = newCase();
    await writeState(c);
    // 101 is still registered (idle); 555 is a registration under the label the state does not know; 777 is another start's.
    const github = fakeGitHub({
      listed: [registered(101, `${LABEL}-1`), registered(555, `${LABEL}-5`), registered(777, "gpu-1-1-ffffffff-0")],
      deletes: { 100: "gone" },
      jobs: [job("simulate", `${LABEL}-0`)],
    });
    const terraform = fakeTerraform();
    const cloud = fakeCloud();
    await stop(inputs(cloud), c.context, deps(c, github, terraform));

    assert.deepEqual(terraform.calls, [`init ${c.stackDir}`, `output ${c.stackDir}`, `destroy ${c.stackDir}`]);
    assert.deepEqual(terraform.destroyEnv, [PLACEHOLDERS]);
    assert.deepEqual(terraform.statesSeen, [TFSTATE]);
    assert.deepEqual(github.deleted, [100, 101, 555]);
    assert.deepEqual(github.jobsAskedFor, [RUN_ID]);
    // The sweep by label runs after a clean destroy too: it finds what the state does not name (here nothing).
    assert.deepEqual(
      cloud.finds.map((f) => f.filter),
      [{ repositoryId: "612345678", label: LABEL }],
    );
    assert.deepEqual(cloud.deletes, [{ machines: [], labels: [LABEL] }]);
    assert.deepEqual(github.artifactsDeleted, [[RUN_ID, ARTIFACT]]);
    assert.ok(!existsSync(c.statePath), "the state file goes once everything is clean");
    assert.ok(!existsSync(c.workDir), "the decrypted state is removed");
    assert.deepEqual(c.io.warnings, []);
    assert.ok(!c.io.lines.some((l) => l.startsWith("No state found")), "a state was found");
    assert.deepEqual(
      c.io.lines.filter((l) => l.startsWith("::group::")),
      ["::group::terraform init", "::group::terraform destroy", `::group::Look for machines labelled ${LABEL} (test)`],
    );
    assert.ok(c.io.lines.includes(`Deleted the state artifact of ${LABEL}.`), c.io.lines.join("\n"));
    assert.ok(
      c.io.lines.includes(
        "Cleanup:\n  machines (terraform)  done: destroyed (2 machine(s) in the state)\n  runners (GitHub)      done: 2 removed, 1 already gone\n  machines (by label)   done: none found",
      ),
      c.io.lines.join("\n"),
    );
    for (const line of [`${LABEL}-0 ran job "simulate" (success)`, `${LABEL}-1 took no job`, `${LABEL}-5 took no job`])
      assert.ok(c.io.lines.includes(line), line);
    const [summary] = c.io.summaries;
    assert.equal(c.io.summaries.length, 1);
    assert.ok(
      summary?.startsWith(
        `### GPU runners stopped: \`${LABEL}\`\n\n- ${LABEL}-0 ran job "simulate" (success)\n- ${LABEL}-1 took no job\n- ${LABEL}-5 took no job\n`,
      ),
      summary,
    );
    assert.ok(summary?.includes(`| ${LABEL}-1 | g4dn.xlarge | at most 90 min | at most $0.75 |`), summary);
    assert.ok(summary?.includes("2 machine(s) of g4dn.xlarge lived about 90 min (start to stop)."), summary);
  });

  it("a failed destroy: the runners are still removed, the sweep by label runs, the work directory goes, and stop fails", async () => {
    const c = newCase();
    await writeState(c);
    const github = fakeGitHub({ listed: [registered(101, `${LABEL}-1`)], jobs: [job("simulate", `${LABEL}-0`)] });
    const failDestroy = new TerraformError(
      "destroy",
      1,
      "Error: deleting instance i-0: UnauthorizedOperation\n\n  with aws_instance.runner-0",
    );
    const terraform = fakeTerraform({ failDestroy });
    const cloud = fakeCloud({ found: [MACHINE] });
    const destroyDetail = "terraform destroy failed with exit code 1: deleting instance i-0: UnauthorizedOperation";
    await assertStopFails(
      stop(inputs(cloud), c.context, deps(c, github, terraform)),
      `Stop did not finish cleanly:\nmachines (terraform): ${destroyDetail}`,
    );

    assert.deepEqual(terraform.statesSeen, [TFSTATE], "destroy ran in the unpacked state");
    assert.ok(!existsSync(c.workDir), "the decrypted state is removed after a failure too");
    assert.deepEqual(github.deleted, [100, 101]);
    assert.equal(cloud.finds.length, 1);
    assert.deepEqual(
      [cloud.finds[0]?.filter, cloud.finds[0]?.env, cloud.finds[0]?.run === RUN],
      [{ repositoryId: "612345678", label: LABEL }, ENV, true],
    );
    assert.deepEqual(cloud.deletes, [{ machines: [MACHINE], labels: [LABEL] }]);
    assert.deepEqual(github.artifactsDeleted, [], "the state stays for a re-run");
    assert.ok(existsSync(c.statePath), "the state stays for a re-run");
    assert.deepEqual(c.io.warnings, [`Could not destroy from the state: ${failDestroy.message}`]);
    assert.ok(c.io.lines.includes(`Deleted: instance ${LABEL}-0.`), c.io.lines.join("\n"));
    assert.deepEqual(c.io.summaries, [
      `### GPU runners not fully stopped: \`${LABEL}\`\n\n| Cleanup layer | Outcome |\n| --- | --- |\n` +
        `| machines (terraform) | FAILED: ${destroyDetail} |\n| runners (GitHub) | done: 2 removed, 0 already gone |\n| machines (by label) | done: deleted instance ${LABEL}-0 |\n\n` +
        `- ${LABEL}-0 ran job "simulate" (success)\n- ${LABEL}-1 took no job\n`,
    ]);
  });

  it("after a failed destroy the sweep is required: a sweep that cannot look fails the stop too", async () => {
    const c = newCase();
    await writeState(c);
    const cloud = fakeCloud({ fail: new Error("no credentials\nfor the CLI") });
    const stopped = stop(
      inputs(cloud),
      c.context,
      deps(c, fakeGitHub({ jobs: new Error("HTTP 403") }), fakeTerraform({ failDestroy: new Error("boom") })),
    );
    await assertStopFails(
      stopped,
      "Stop did not finish cleanly:\nmachines (terraform): boom\nmachines (by label): could not look: no credentials",
    );
    assert.ok(!existsSync(c.workDir), "the decrypted state is removed");
    assert.ok(
      c.io.summaries[0]?.endsWith("| machines (by label) | FAILED: could not look: no credentials |\n"),
      "no job list when the jobs could not be read",
    );
  });

  it("no state at all: the label's runners are removed, the sweep runs, and a sweep (or a job listing) that fails is only a warning", async () => {
    const c = newCase();
    // No artifact to delete (an earlier stop did), and a token without Actions: read.
    const listed = [registered(555, `${LABEL}-5`), registered(777, "gpu-1-1-ffffffff-0")];
    const github = fakeGitHub({ listed, jobs: new Error("HTTP 403\nbody"), artifacts: 0 });
    const terraform = fakeTerraform();
    const cloud = fakeCloud({ fail: new Error("the cloud's CLI is not configured\nmore") });
    await stop(inputs(cloud), c.context, deps(c, github, terraform));

    assert.deepEqual(terraform.calls, []);
    assert.deepEqual(github.deleted, [555]);
    assert.deepEqual(
      cloud.finds.map((f) => f.filter),
      [{ repositoryId: "612345678", label: LABEL }],
    );
    assert.ok(
      c.io.lines.includes(`No state found for ${LABEL}: it was never uploaded, or an earlier stop already removed it.`),
      c.io.lines.join("\n"),
    );
    assert.deepEqual(c.io.warnings, [
      "Could not list this run's jobs to check which job ran on each runner (HTTP 403; the token needs Actions: read).",
      "Could not look for this start's machines: the cloud's CLI is not configured\nmore",
    ]);
    assert.ok(
      c.io.lines.includes(
        "Cleanup:\n  runners (GitHub)     done: 1 removed, 0 already gone\n  machines (by label)  done: could not look: the cloud's CLI is not configured (no state: the start may have made nothing)",
      ),
      c.io.lines.join("\n"),
    );
    assert.deepEqual(github.artifactsDeleted, [[RUN_ID, ARTIFACT]]);
    assert.ok(!c.io.lines.some((l) => l.startsWith("Deleted the state artifact")), "none was there to delete");
    // Green, but the summary says what was not checked.
    assert.deepEqual(c.io.summaries, [
      `### GPU runners stopped: \`${LABEL}\`\n\n> [!WARNING]\n> Not checked: machines labelled ${LABEL}: could not look: ` +
        "the cloud's CLI is not configured (no state: the start may have made nothing). A scheduled mode: sweep (docs/sweep.md) finds them.\n\n" +
        "Nothing of this start was left to stop.\n",
    ]);
  });

  it("a state it cannot decrypt: the sweep is required, so one that cannot look fails the stop; one that can, ends it", async () => {
    const c = newCase();
    await writeState(c);
    const terraform = fakeTerraform();
    const failing = fakeGitHub();
    const blind = fakeCloud({ fail: new Error("the cloud's CLI is not configured") });
    await assertStopFails(
      stop(inputs(blind, "not the passphrase at all"), c.context, deps(c, failing, terraform)),
      "Stop did not finish cleanly:\nmachines (by label): could not look: the cloud's CLI is not configured",
    );
    assert.deepEqual(terraform.calls, []);
    assert.ok(
      c.io.lines.some((l) => l.startsWith(`The state of ${LABEL} cannot be used (`)),
      c.io.lines.join("\n"),
    );
    assert.deepEqual(
      blind.finds.map((f) => f.filter),
      [{ repositoryId: "612345678", label: LABEL }],
    );
    assert.deepEqual(failing.artifactsDeleted, []);
    assert.ok(existsSync(c.statePath), "the state stays for a re-run");

    // Found no machine: its label's leftovers (a security group, schedules) are still asked to go.
    const github = fakeGitHub();
    const seeing = fakeCloud();
    const io = recordingIO();
    await stop(inputs(seeing, "not the passphrase at all"), c.context, deps({ ...c, io }, github, terraform));
    assert.deepEqual(seeing.deletes, [{ machines: [], labels: [LABEL] }]);
    assert.ok(
      io.lines.includes("None found.") && io.lines.some((l) => l.endsWith("machines (by label)  done: none found")),
      io.lines.join("\n"),
    );
    assert.deepEqual(github.artifactsDeleted, [[RUN_ID, ARTIFACT]]);
    assert.ok(!existsSync(c.statePath), "the state file goes once everything is clean");
  });

  it("with a state store: the state comes from the cloud's bucket and is removed from there, not from the artifacts", async () => {
    const c = newCase();
    const calls: string[] = [];
    const stateStore: StateStore = {
      kind: "bucket",
      description: "bucket b",
      put: async () => assert.fail("stop never uploads"),
      get: async (id, file, run) => {
        calls.push(`get ${id} ${file} ${run === RUN}`);
        await writeState(c);
        return true;
      },
      remove: async (id, run) => {
        calls.push(`remove ${id} ${run === RUN}`);
      },
    };
    const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
    const terraform = fakeTerraform();
    await stop({ ...inputs(fakeCloud()), stateStore }, c.context, deps(c, github, terraform));
    assert.deepEqual(calls, [`get ${LABEL} ${c.statePath} true`, `remove ${LABEL} true`]);
    assert.deepEqual(terraform.statesSeen, [TFSTATE]);
    assert.deepEqual(github.artifactsDeleted, []);
    assert.ok(c.io.lines.includes(`Deleted the state of ${LABEL} from bucket b.`), c.io.lines.join("\n"));
    assert.ok(!existsSync(c.statePath), "the state file goes once everything is clean");
  });

  it("GitHub cannot list its runners: the state's runners are still removed, the machines destroyed, and stop fails", async () => {
    const c = newCase();
    await writeState(c);
    const github = fakeGitHub({ listed: new Error("GitHub said 502\n<html>") });
    const terraform = fakeTerraform();
    const cloud = fakeCloud();
    const runnersDetail = "2 removed, 0 already gone; could not check GitHub for other runners of this label";
    await assertStopFails(
      stop(inputs(cloud), c.context, deps(c, github, terraform)),
      `Stop did not finish cleanly:\nrunners (GitHub): ${runnersDetail}`,
    );

    assert.deepEqual(github.deleted, [100, 101]);
    assert.deepEqual(github.jobsAskedFor, [], "without the listing no verdict can be made");
    assert.equal(terraform.destroyEnv.length, 1);
    assert.equal(cloud.finds.length, 1, "the sweep by label runs whatever the other layers did");
    assert.deepEqual(c.io.warnings, [
      "Could not list the runners at GitHub (GitHub said 502); removing the 2 the state names.",
    ]);
    assert.deepEqual(github.artifactsDeleted, []);
    assert.ok(existsSync(c.statePath), "the state stays for a re-run");
    assert.ok(!existsSync(c.workDir), "the decrypted state is removed");
    assert.deepEqual(c.io.summaries, [
      `### GPU runners not fully stopped: \`${LABEL}\`\n\n| Cleanup layer | Outcome |\n| --- | --- |\n` +
        `| machines (terraform) | done: destroyed (2 machine(s) in the state) |\n| runners (GitHub) | FAILED: ${runnersDetail} |\n` +
        "| machines (by label) | done: none found |\n",
    ]);
  });

  it("a runner taken by a job of another run: everything is cleaned up, then stop fails saying so", async () => {
    const c = newCase();
    await writeState(c);
    // Both are gone (JIT runners deregister after their job); only -0 ran a job of this run.
    const github = fakeGitHub({ listed: [], deletes: { 100: "gone", 101: "gone" } });
    // The run's jobs and the artifact come from the repository-scoped client when there is one.
    const artifacts = fakeGitHub({ jobs: [job("simulate", `${LABEL}-0`)] });
    const stopped = stop(
      inputs(fakeCloud()),
      c.context,
      deps(c, github, fakeTerraform(), { artifacts: artifacts.client }),
    );
    await assert.rejects(stopped, (error: unknown) => {
      assert.ok(error instanceof StopError, String(error));
      assert.ok(
        error.message.startsWith(
          `jobs on the runners: ${LABEL}-1 was taken by a job outside this workflow run. Its machine ran code of another workflow run`,
        ),
        error.message,
      );
      return true;
    });
    assert.deepEqual(github.deleted, [100, 101]);
    assert.deepEqual([github.jobsAskedFor, artifacts.jobsAskedFor], [[], [RUN_ID]]);
    assert.deepEqual([github.artifactsDeleted, artifacts.artifactsDeleted], [[], [[RUN_ID, ARTIFACT]]]);
    assert.ok(!existsSync(c.statePath), "cleaned up: a re-run would find the same");
    assert.deepEqual(c.io.warnings, [`${LABEL}-1 was taken by a job outside this workflow run`]);
    assert.ok(c.io.lines.includes(`${LABEL}-0 ran job "simulate" (success)`), c.io.lines.join("\n"));
    assert.ok(c.io.summaries[0]?.startsWith(`### GPU runners stopped: \`${LABEL}\``), c.io.summaries[0]);
  });

  // A start that failed and cleaned up leaves a state without machines: terraform output then has no map (or, in a
  // stack of another version, something else); none of these is a machine, and the summary says nothing was left.
  for (const [what, output] of [
    ["no machines output", {}],
    ["a null machines output", { machines: null }],
    ["a machines output that is a string, not a map", { machines: "i-0" }],
  ] as const) {
    it(`counts no machine for ${what}`, async () => {
      const c = newCase();
      await writeState(c);
      // Both still registered, so both "took no job" and no alarm is raised.
      const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
      const terraform = fakeTerraform({ output });
      await stop(inputs(fakeCloud()), c.context, deps(c, github, terraform));
      assert.deepEqual(terraform.destroyEnv, [PLACEHOLDERS], "destroyed all the same");
      assert.ok(
        c.io.lines.includes(
          "Cleanup:\n  machines (terraform)  done: destroyed (0 machine(s) in the state)\n  runners (GitHub)      done: 2 removed, 0 already gone\n  machines (by label)   done: none found",
        ),
        c.io.lines.join("\n"),
      );
      assert.deepEqual(c.io.summaries, [
        `### GPU runners stopped: \`${LABEL}\`\n\n- ${LABEL}-0 took no job\n- ${LABEL}-1 took no job\n\nNothing of this start was left to stop.\n`,
      ]);
    });
  }

  it("no runner at all: the run's jobs are not asked for (there is nothing to check them against)", async () => {
    const c = newCase();
    const github = fakeGitHub({ jobs: [job("simulate", `${LABEL}-0`)] });
    await stop(inputs(fakeCloud()), c.context, deps(c, github, fakeTerraform()));
    assert.deepEqual(github.jobsAskedFor, []);
    assert.deepEqual(c.io.summaries, [
      `### GPU runners stopped: \`${LABEL}\`\n\nNothing of this start was left to stop.\n`,
    ]);
  });

  it("without deps.now it reads the clock (the summary's lifetime), rather than failing", async () => {
    const c = newCase();
    // No state: the summary has no lifetime in it, so nothing here depends on the time of day.
    await stop(inputs(fakeCloud()), c.context, deps(c, fakeGitHub(), fakeTerraform(), { now: undefined }));
    assert.deepEqual(c.io.summaries, [
      `### GPU runners stopped: \`${LABEL}\`\n\nNothing of this start was left to stop.\n`,
    ]);
  });

  it("a state artifact it cannot delete is a warning: it is encrypted and expires", async () => {
    const c = newCase();
    const github = fakeGitHub({ artifacts: new Error("HTTP 403: Resource not accessible by integration") });
    await stop(inputs(fakeCloud()), c.context, deps(c, github, fakeTerraform()));
    assert.deepEqual(github.artifactsDeleted, [[RUN_ID, ARTIFACT]]);
    assert.deepEqual(c.io.warnings, [
      "Could not delete the state artifact (HTTP 403: Resource not accessible by integration); it expires with its retention.",
    ]);
    assert.equal(c.io.summaries.length, 1, "and the stop goes on to its summary");
  });

  it("a stored state it cannot delete is a warning that says where it is left", async () => {
    const c = newCase();
    const stateStore: StateStore = {
      kind: "bucket",
      description: "bucket b",
      put: async () => assert.fail("stop never uploads"),
      get: async () => false,
      remove: async () => {
        throw new Error("AccessDenied");
      },
    };
    await stop({ ...inputs(fakeCloud()), stateStore }, c.context, deps(c, fakeGitHub(), fakeTerraform()));
    assert.deepEqual(c.io.warnings, [
      "Could not delete the state from bucket b (AccessDenied); it is encrypted, delete it by hand.",
    ]);
    assert.ok(!c.io.lines.some((l) => l.startsWith("Deleted the state")), c.io.lines.join("\n"));
    assert.equal(c.io.summaries.length, 1, "and the stop goes on to its summary");
  });

  it("every runner taken by another run's job is named in the error, one after the other", async () => {
    const c = newCase();
    await writeState(c);
    // Both gone and no job of this run ran on either.
    const github = fakeGitHub({ listed: [], deletes: { 100: "gone", 101: "gone" }, jobs: [] });
    await assertStopFails(
      stop(inputs(fakeCloud()), c.context, deps(c, github, fakeTerraform())),
      `jobs on the runners: ${LABEL}-0 was taken by a job outside this workflow run; ${LABEL}-1 was taken by a job outside this workflow run. ` +
        "Its machine ran code of another workflow run with this repository's secrets and cloud: find that run in the repository's Actions tab, " +
        "and check that no other workflow asks for this start's labels.",
    );
  });

  it("the sweep by label runs in a group that names the label and the cloud, and lists every machine it deleted", async () => {
    const c = newCase();
    await writeState(c);
    const second: FoundMachine = { ...MACHINE, id: "i-1", name: `${LABEL}-1` };
    const cloud = fakeCloud({ found: [MACHINE, second] });
    const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
    await assertStopFails(
      stop(inputs(cloud), c.context, deps(c, github, fakeTerraform({ failDestroy: new Error("boom") }))),
      "Stop did not finish cleanly:\nmachines (terraform): boom",
    );
    const group = c.io.lines.indexOf(`::group::Look for machines labelled ${LABEL} (test)`);
    assert.ok(group >= 0, c.io.lines.join("\n"));
    assert.deepEqual(c.io.lines.slice(group + 1, group + 3), [
      `Deleted: instance ${LABEL}-0, instance ${LABEL}-1.`,
      "::endgroup::",
    ]);
    assert.ok(
      c.io.summaries[0]?.includes(`| machines (by label) | done: deleted instance ${LABEL}-0, instance ${LABEL}-1 |`),
      c.io.summaries[0],
    );
  });

  it("a machine of the label that the state does not name is deleted by a stop whose destroy succeeded", async () => {
    const c = newCase();
    await writeState(c);
    // A create cut off after the cloud accepted it: the machine exists, terraform's state never recorded it.
    const unnamed: FoundMachine = { ...MACHINE, id: "i-2", name: `${LABEL}-2` };
    const cloud = fakeCloud({ found: [unnamed] });
    const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
    const terraform = fakeTerraform();
    await stop(inputs(cloud), c.context, deps(c, github, terraform));
    assert.deepEqual(terraform.destroyEnv, [PLACEHOLDERS], "the destroy ran and succeeded");
    assert.deepEqual(cloud.deletes, [{ machines: [unnamed], labels: [LABEL] }]);
    assert.deepEqual(c.io.warnings, [
      `Machines of this start that its state did not name (a create cut off mid-apply): ${LABEL}-2; deleted by label.`,
    ]);
    assert.ok(
      c.io.lines.some((l) => l.endsWith(`machines (by label)   done: deleted instance ${LABEL}-2`)),
      c.io.lines.join("\n"),
    );
    assert.ok(!existsSync(c.statePath), "all went well: the state goes");
  });

  it("after a clean destroy a sweep that cannot look is a warning, said in the summary, not a failure", async () => {
    const c = newCase();
    await writeState(c);
    const cloud = fakeCloud({ fail: new Error("AccessDenied: ec2:DescribeInstances\nmore") });
    const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
    await stop(inputs(cloud), c.context, deps(c, github, fakeTerraform()));
    assert.deepEqual(c.io.warnings, [
      "Could not look for this start's machines: AccessDenied: ec2:DescribeInstances\nmore",
    ]);
    const why =
      "could not look: AccessDenied: ec2:DescribeInstances (the state's machines were destroyed; one it does not name (a create cut off mid-apply) would be missed)";
    assert.ok(
      c.io.lines.some((l) => l.endsWith(`machines (by label)   done: ${why}`)),
      c.io.lines.join("\n"),
    );
    assert.ok(
      c.io.summaries[0]?.includes(
        `> [!WARNING]\n> Not checked: machines labelled ${LABEL}: ${why}. A scheduled mode: sweep (docs/sweep.md) finds them.\n`,
      ),
      c.io.summaries[0],
    );
  });

  it("a runner still registered and busy with no job of this run is another run's job running now: stop fails saying so", async () => {
    const c = newCase();
    await writeState(c);
    const github = fakeGitHub({
      listed: [registered(100, `${LABEL}-0`), { ...registered(101, `${LABEL}-1`), status: "online", busy: true }],
      jobs: [],
    });
    await assertStopFails(
      stop(inputs(fakeCloud()), c.context, deps(c, github, fakeTerraform())),
      `jobs on the runners: ${LABEL}-1 is busy with a job outside this workflow run. ` +
        "Its machine ran code of another workflow run with this repository's secrets and cloud: find that run in the repository's Actions tab, " +
        "and check that no other workflow asks for this start's labels.",
    );
    assert.deepEqual(github.deleted, [100, 101], "cleaned up first");
    assert.ok(c.io.lines.includes(`${LABEL}-0 took no job`), c.io.lines.join("\n"));
  });

  it("re-running a failed stop: the runners the first stop removed are 'removed earlier', not taken by another run", async () => {
    const c = newCase();
    await writeState(c);
    const jobs = [job("simulate", `${LABEL}-0`)];
    // The first stop: -0 ran this run's job and is gone; -1 never ran one and is still registered. Its destroy fails.
    const first = fakeGitHub({ listed: [registered(101, `${LABEL}-1`)], deletes: { 100: "gone" }, jobs });
    await assertStopFails(
      stop(inputs(fakeCloud()), c.context, deps(c, first, fakeTerraform({ failDestroy: new Error("boom") }))),
      "Stop did not finish cleanly:\nmachines (terraform): boom",
    );
    assert.deepEqual(first.deleted, [100, 101]);
    assert.ok(existsSync(c.statePath), "the state stays for a re-run");

    // The re-run of the failed job is a later attempt of the same run (the start's label says attempt 2). The state
    // still names both runners; GitHub lists neither; this run's jobs show none on -1.
    const again = fakeGitHub({ listed: [], deletes: { 100: "gone", 101: "gone" }, jobs });
    const io = recordingIO();
    await stop(inputs(fakeCloud()), { ...c.context, runAttempt: "3" }, deps({ ...c, io }, again, fakeTerraform()));
    const removed = `${LABEL}-1 took no job of this run and was already removed, by the stop of an earlier attempt (this stop is a re-run)`;
    assert.ok(io.lines.includes(removed), io.lines.join("\n"));
    assert.ok(!io.warnings.some((w) => w.includes("outside this workflow run")), io.warnings.join("\n"));
    assert.ok(io.summaries[0]?.includes(`- ${removed}\n`), io.summaries[0]);
    assert.ok(!existsSync(c.statePath), "the re-run finished the cleanup");

    // The same evidence in the start's own attempt is no re-run: there it means a job of another run took it.
    await writeState(c);
    const firstTime = fakeGitHub({ listed: [], deletes: { 100: "gone", 101: "gone" }, jobs });
    await assert.rejects(
      stop(inputs(fakeCloud()), c.context, deps({ ...c, io: recordingIO() }, firstTime, fakeTerraform())),
      new RegExp(`jobs on the runners: ${LABEL}-1 was taken by a job outside this workflow run\\.`),
    );
  });

  // firstLine: an error's first line without a trailing colon, and for terraform the first line that starts "Error: ".
  const oneLine: { name: string; destroy: Error; sweep: Error; message: string }[] = [
    {
      name: "terraform printed no Error: line; a colon inside a line stays",
      destroy: new TerraformError("destroy", 137, "Killed"),
      sweep: new Error("aws: no credentials found\nrun aws configure"),
      message:
        "Stop did not finish cleanly:\nmachines (terraform): terraform destroy failed with exit code 137\nmachines (by label): could not look: aws: no credentials found",
    },
    {
      name: "only a line that starts with Error: is terraform's error, not one that mentions it",
      destroy: new TerraformError(
        "destroy",
        1,
        "Warning: retrying after Error: throttled\nError: deleting instance i-0: UnauthorizedOperation",
      ),
      sweep: new Error("the cloud's CLI said:\nnothing useful"),
      message:
        "Stop did not finish cleanly:\nmachines (terraform): terraform destroy failed with exit code 1: deleting instance i-0: UnauthorizedOperation\n" +
        "machines (by label): could not look: the cloud's CLI said",
    },
  ];
  for (const c of oneLine) {
    it(`puts each failure in one line: ${c.name}`, async () => {
      const k = newCase();
      await writeState(k);
      const github = fakeGitHub({ listed: [registered(100, `${LABEL}-0`), registered(101, `${LABEL}-1`)] });
      await assertStopFails(
        stop(
          inputs(fakeCloud({ fail: c.sweep })),
          k.context,
          deps(k, github, fakeTerraform({ failDestroy: c.destroy })),
        ),
        c.message,
      );
    });
  }
});
