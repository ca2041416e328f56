// Faults through the whole path, without a cloud: the action driven through action.yml, real terraform on the
// `local` machine kind, the real boot script as each machine, and the GitHub stand-in with its fault knobs (see
// test/e2e.test.ts for the plain path). Two starts side by side in one run, a 5xx storm on registration, an apply
// that fails half way, a machine that dies after coming online, a start cancelled mid-apply and one cancelled while
// registering, a lost state artifact and a state that cannot be decrypted. After each: no process of its machines or runners, nothing registered at the
// stand-in, no machine directory, and no secret readable in clear in any output, file or artifact byte.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { stringify } from "yaml";
import { readEncryptedBundle, type StateBundle } from "../scripts/adapters/state-bundle.ts";
import { ownerLabel } from "../scripts/settings/label.ts";
import { RUN_CONTEXT_ENV } from "./kit/env.ts";
import {
  ACTION_ROOT,
  type ActionDefinition,
  type ActionRunResult,
  assertNoSecretsAndConformance,
  assertNothingLeft,
  assertStartGone,
  explain,
  groupMembers,
  type LocalWorld,
  processesMatching,
  runAction,
  runners,
  step,
  waitFor,
  worldsClosedAfterwards,
} from "./kit/action-harness.ts";
import { HUNG_MS, PARALLEL, TEST_HUNG_MS } from "./kit/patience.ts";

const world = worldsClosedAfterwards();

/** The registrations of one start at the stand-in, removed ones included. */
function issuedFor(w: LocalWorld, stateId: string) {
  return w.server.issued.filter((r) => r.name.startsWith(`${stateId}-`));
}

/** The state a start uploaded, decrypted with `passphrase` (the token by default). */
async function uploadedState(w: LocalWorld, stateId: string, passphrase = w.token): Promise<StateBundle | undefined> {
  const file = w.stateArtifactFile(stateId);
  assert.ok(file, `no state artifact for ${stateId}`);
  return readEncryptedBundle(file, passphrase);
}

/** Whether a start got as far as terraform apply (whether a machine may have been created). */
function appliedAnything(run: ActionRunResult): boolean {
  return /terraform apply/.test(step(run, "main").stdout);
}

/** terraform's line once the first machine's launch (test/kit/local-cloud/launch.sh) has returned: the apply goes on. */
const FIRST_MACHINE_LAUNCHED = /^terraform_data\.runner-0: Creation complete/;

// GitHub gives a cancelled step 7.5 s after SIGINT, then 2.5 s after SIGTERM. Here the interrupt's grace is the kit's
// "hung" bound: the test proves that the start handles the interrupt and ends by itself (only SIGINT was sent), not
// how fast a loaded machine encrypts and saves the state.
const INTERRUPT_GRACE_MS = HUNG_MS;
const TERMINATE_GRACE_MS = 2500;

describe("the harness cancels a run as GitHub cancels a job", () => {
  // A step whose bash runs a command that reports the signals it gets; later steps show which `if:` still run.
  const action: ActionDefinition = {
    runs: {
      using: "composite",
      steps: [
        {
          id: "long",
          shell: "bash",
          run: `node -e 'for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => console.log("command got " + s)); console.log("ready"); setInterval(() => {}, 1000)'`,
        },
        { id: "plain", shell: "bash", run: "echo plain" },
        { id: "on-success", if: "success()", shell: "bash", run: "echo success" },
        { id: "on-failure", if: "failure()", shell: "bash", run: "echo failure" },
        { id: "on-cancelled", if: "cancelled()", shell: "bash", run: "echo cancelled" },
        { id: "on-always", if: "always() && steps.long.outcome == 'cancelled'", shell: "bash", run: "echo always" },
      ],
    },
  };

  for (const signal of ["entry-process", "process-group"] as const) {
    it(`signals the ${signal === "entry-process" ? "step's entry process (GitHub's way)" : "step's process group"}, escalates, then runs only always()/cancelled() steps`, async () => {
      const w = await world({ openApi: false });
      const file = join(w.root, "cancel-action.yml");
      await writeFile(file, stringify(action));
      const result = await runAction({
        actionPath: ACTION_ROOT,
        actionFile: file,
        inputs: {},
        runnerTemp: join(w.root, "cancel-job"),
        env: { PATH: process.env.PATH ?? "", HOME: w.home },
        github: { repository: w.repository, runId: w.runId, runAttempt: "1", apiUrl: w.server.url, token: w.token },
        artifacts: w.artifacts,
        cancel: { when: (line) => line === "ready", signal, interruptGraceMs: 300, terminateGraceMs: 300 },
      });
      assert.equal(result.cancelled, true);
      assert.equal(result.failed, false, "a cancelled run is not a failed one");
      const long = step(result, "long");
      assert.deepEqual([long.outcome, long.conclusion], ["cancelled", "cancelled"]);
      assert.deepEqual(
        long.signals?.map((s) => `${s.signal} to ${s.to}`),
        [`SIGINT to ${signal}`, `SIGTERM to ${signal}`, "SIGKILL to process-group"],
        "bash defers SIGINT while its command runs, so the escalation goes all the way",
      );
      const got = long.stdout.split("\n").filter((l) => l.startsWith("command got "));
      // GitHub signals bash only: a command that bash does not exec hears nothing before it is killed.
      assert.deepEqual(got, signal === "entry-process" ? [] : ["command got SIGINT", "command got SIGTERM"]);
      assert.deepEqual(
        result.stepResults.map((s) => `${s.id}: ${s.ran ? s.outcome : "skipped"}`),
        [
          "long: cancelled",
          "plain: skipped",
          "on-success: skipped",
          "on-failure: skipped",
          "on-cancelled: success",
          "on-always: success",
        ],
      );
      assert.ok(long.pid);
      // Killed processes leave /proc once the kernel has run them to their end (a moment on a loaded machine); one
      // that outlived the kill never does.
      const group = long.pid;
      await waitFor("every process of the cancelled step to be gone", () => groupMembers(group).length === 0);
      await waitFor(
        "the cancelled job's command to be gone",
        () => processesMatching([join(w.root, "cancel-job")]).length === 0,
      );
    });
  }
});

// Two scenarios at a time: each has its own world (server, scratch directory, machines), and on two cores the
// file takes half the time.
describe("fault injection end to end on the local machine kind", {
  timeout: TEST_HUNG_MS,
  concurrency: PARALLEL,
}, () => {
  it("two starts side by side in one run (two matrix jobs): separate labels, state and runners; stop A leaves B running", async () => {
    const w = await world();
    const [a, b] = await Promise.all([w.start({ count: "1" }), w.start({ count: "2" })]);
    assert.equal(a.failed, false, explain(a));
    assert.equal(b.failed, false, explain(b));
    const idA = a.outputs["state-id"] ?? "";
    const idB = b.outputs["state-id"] ?? "";
    assert.notEqual(a.outputs.label, b.outputs.label, "each start has its own label");
    assert.notEqual(idA, idB, "each start has its own state id");
    const runnersA = runners(a);
    const runnersB = runners(b);
    assert.deepEqual(
      runnersA.map((r) => r.name),
      [`${idA}-0`],
    );
    assert.deepEqual(
      runnersB.map((r) => r.name),
      [`${idB}-0`, `${idB}-1`],
    );
    for (const runner of [...runnersA, ...runnersB]) {
      assert.equal(w.server.runner(runner.id)?.status, "online", `${runner.name} online`);
      assert.ok(w.machineProcesses(runner.name).length > 0, `${runner.name}'s machine runs`);
    }
    const ownerId = RUN_CONTEXT_ENV.GITHUB_REPOSITORY_ID;
    assert.deepEqual(
      w.server.runner(runnersA[0]!.id)?.labels,
      [idA, ownerLabel(idA, ownerId)],
      "A's runner carries only A's label (and A's owner label)",
    );
    assert.ok(
      runnersB.every((r) => w.server.runner(r.id)?.labels.join() === [idB, ownerLabel(idB, ownerId)].join()),
      "B's runners carry only B's label (and B's owner label)",
    );
    assert.equal((await uploadedState(w, idA))?.runners.length, 1);
    assert.equal((await uploadedState(w, idB))?.runners.length, 2);

    const stopA = await w.stop(idA);
    assert.equal(stopA.failed, false, explain(stopA));
    assertStartGone(w, idA);
    // B is untouched: its machines run, its runners are registered and online, its state is still there.
    for (const runner of runnersB) {
      assert.ok(existsSync(join(w.machines, runner.name)), `${runner.name}'s machine directory`);
      assert.ok(w.machineProcesses(runner.name).length > 0, `${runner.name}'s machine still runs`);
      const record = w.server.runner(runner.id);
      assert.deepEqual(
        [record?.status, record?.removedAt],
        ["online", undefined],
        `${runner.name} still registered and online`,
      );
    }
    assert.ok(w.stateArtifactFile(idB), "B's state artifact is still there");
    assert.equal(
      w.server.requests.filter((r) => r.method === "DELETE" && runnersB.some((x) => r.url.endsWith(`/runners/${x.id}`)))
        .length,
      0,
      "stop A asked to delete none of B's runners",
    );

    const stopB = await w.stop(idB);
    assert.equal(stopB.failed, false, explain(stopB));
    assertStartGone(w, idB);
    assertNothingLeft(w, idA);
    assertNothingLeft(w, idB);
    assertNoSecretsAndConformance(w);
  });

  it("a 5xx storm on JIT registration longer than the client's retries: start fails clearly, nothing is created", async () => {
    const w = await world();
    // More failures than the client's 5 attempts; retry-after 0 keeps the storm short in time, not in count.
    w.server.failNext(/\/actions\/runners\/generate-jitconfig$/, 8, 503, "POST", { retryAfterSeconds: 0 });
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, true, "start must fail");
    const stateId = start.outputs["state-id"] ?? "";
    const main = step(start, "main");
    assert.match(main.errors.join("\n"), /Start failed: GitHub API POST \S+\/generate-jitconfig failed: HTTP 503/);
    assert.match(main.stdout, /attempt 5\/5, giving up/);
    assert.equal(
      w.server.requests.filter((r) => r.method === "POST" && r.url.endsWith("/generate-jitconfig")).length,
      5,
    );
    assert.equal(appliedAnything(start), false, "no terraform apply: no machine was created");
    assert.deepEqual(w.machineDirs(), []);
    assert.deepEqual(issuedFor(w, stateId), [], "no runner was ever registered");
    // The state still goes up (if: always()), saying nothing was made; a stop after it finds nothing to do.
    assert.equal(step(start, /Upload the encrypted state/).outcome, "success");
    assert.deepEqual((await uploadedState(w, stateId))?.runners, []);
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("a shorter 5xx storm whose answers were lost after registering: start rides through and deletes each half-made runner", async () => {
    const w = await world();
    // GitHub registered the runner, then the answer was lost: twice, fewer than the client's 5 attempts.
    w.server.failNext(/\/actions\/runners\/generate-jitconfig$/, 2, 502, "POST", {
      handled: true,
      retryAfterSeconds: 0,
    });
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    const issued = issuedFor(w, stateId);
    const lost = issued.filter((r) => r.replyLost);
    assert.equal(lost.length, 2, "two registrations lost their answer");
    for (const runner of lost)
      assert.equal(runner.removedBy, "api", `the half-made ${runner.name} (id ${runner.id}) was deleted`);
    assert.equal(
      step(start, "main").stdout.match(/the failed attempt registered runner \d+, whose config was lost; deleting it/g)
        ?.length,
      2,
    );
    assert.deepEqual(
      w.server.runners.filter((r) => r.name.startsWith(`${stateId}-`)).map((r) => [r.name, r.status]),
      [
        [`${stateId}-0`, "online"],
        [`${stateId}-1`, "online"],
      ],
      "exactly one live registration per runner",
    );
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  describe("a storm of lost answers longer than the client's retries", () => {
    let w: LocalWorld;
    let start: ActionRunResult;
    let stateId = "";
    let leftByStart: string[] = [];
    before(async () => {
      w = await world();
      w.server.failNext(/\/actions\/runners\/generate-jitconfig$/, 8, 502, "POST", {
        handled: true,
        retryAfterSeconds: 0,
      });
      start = await w.start({ count: "1" });
      stateId = start.outputs["state-id"] ?? "";
      leftByStart = w.server.runners
        .filter((r) => r.name.startsWith(`${stateId}-`))
        .map((r) => `${r.name} (id ${r.id})`);
    });

    it("start's own cleanup leaves no runner registered", () => {
      assert.equal(start.failed, true);
      assert.deepEqual(leftByStart, [], "runners left registered by the failed start");
    });

    it("start fails clearly without creating a machine, and the stop job deregisters what the lost answers left", async () => {
      assert.equal(start.failed, true, "start must fail");
      assert.match(step(start, "main").errors.join("\n"), /generate-jitconfig failed: HTTP 502/);
      assert.equal(appliedAnything(start), false);
      assert.deepEqual(w.machineDirs(), []);
      const stop = await w.stop(stateId);
      assert.equal(stop.failed, false, explain(stop));
      assertNothingLeft(w, stateId);
      assert.ok(
        issuedFor(w, stateId).every((r) => r.removedBy === "api"),
        "every registration was deleted through the API",
      );
      assertNoSecretsAndConformance(w);
    });
  });

  it("terraform apply fails half way (the second machine's launch fails): start undoes the first too; stop has nothing to do", async () => {
    const w = await world({ launchFaults: { fail: "-1$" } });
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, true, "start must fail");
    const stateId = start.outputs["state-id"] ?? "";
    const main = step(start, "main");
    assert.match(main.errors.join("\n"), /Start failed: terraform apply failed/);
    assert.match(main.stdout + main.stderr, /injected fault/);
    // The first machine was launched by the same apply (its provisioner's output is hidden: sensitive), then
    // destroyed by start's cleanup.
    assert.match(main.stdout, /terraform_data\.runner-0: Creation complete/);
    assert.match(main.stdout, new RegExp(`local machine in \\S+/${stateId}-0 stopped`));
    assert.match(main.stdout, /Machines destroyed\./);
    assert.deepEqual(w.machineDirs(), [], "no machine directory after the failed start");
    assert.deepEqual(w.machineProcesses(`${stateId}-`), [], "no machine process after the failed start");
    const issued = issuedFor(w, stateId);
    assert.equal(issued.length, 2);
    assert.ok(
      issued.every((r) => r.removedBy === "api"),
      "both runners were deleted by start's cleanup",
    );
    // The state was uploaded all the same; it names no runner, since start's cleanup removed both (a stop must not
    // take a runner that is gone without a job for one that another run's job took).
    assert.equal(step(start, /Upload the encrypted state/).outcome, "success");
    assert.deepEqual((await uploadedState(w, stateId))?.runners, []);

    const deletesBefore = w.server.requests.filter(
      (r) => r.method === "DELETE" && r.status === 204 && r.url.includes("/runners/"),
    ).length;
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    const stopMain = step(stop, "main").stdout;
    assert.match(stopMain, /runners \(GitHub\) +done: none registered/);
    assert.doesNotMatch(stopMain, /was taken by a job outside/);
    assert.doesNotMatch(stopMain, /local machine in .* stopped/, "stop found no machine to stop");
    assert.equal(
      w.server.requests.filter((r) => r.method === "DELETE" && r.status === 204 && r.url.includes("/runners/")).length,
      deletesBefore,
      "stop deleted no runner: nothing was left to delete",
    );
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("a machine dies right after coming online: its runner stays registered, offline; the other takes the job; stop removes all", async () => {
    const w = await world();
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    const [dead, alive] = runners(start);
    assert.ok(dead && alive);
    assert.ok((await w.crashMachine(dead.name)) > 0, "the dead machine had processes to kill");
    assert.deepEqual(w.machineProcesses(dead.name), [], "nothing of the dead machine runs");
    assert.ok(existsSync(join(w.machines, dead.name)), "a dead machine still exists until it is deleted");
    assert.equal(existsSync(join(w.machines, dead.name, "powered-off")), false, "it died: it did not power off");
    const deadRecord = w.server.runner(dead.id);
    assert.deepEqual([deadRecord?.status, deadRecord?.removedAt], ["offline", undefined], "registered, offline");

    // The workflow's GPU job: only the live runner can take it.
    const job = w.server.queueJob(stateId, { name: "gpu-tests", seconds: 0.2 });
    await w.server.waitFor("the job to be done", () => job.doneAt !== undefined);
    assert.equal(job.runnerId, alive.id, "the job ran on the live runner");
    await waitFor("the live machine to power off", () => w.machineProcesses(alive.name).length === 0);
    assert.deepEqual(
      [w.server.runner(dead.id)?.status, w.server.runner(dead.id)?.removedAt],
      ["offline", undefined],
      "the dead runner is still registered",
    );

    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    const stopMain = step(stop, "main").stdout;
    assert.match(stopMain, /machines \(terraform\) +done: destroyed/);
    assert.match(stopMain, new RegExp(`Runner ${dead.name} removed from GitHub\\.`));
    assert.match(stopMain, new RegExp(`Runner ${alive.name} was already gone\\.`));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  describe("a start cancelled mid-apply as GitHub cancels a job (SIGINT to the step's entry process, SIGTERM, then kill)", () => {
    let w: LocalWorld;
    let start: ActionRunResult;
    let stateId = "";
    before(async () => {
      // The second machine's launch hangs, so the apply is still running when the job is cancelled.
      w = await world({ launchFaults: { slow: "-1$", slowSeconds: 30 } });
      start = await w.start(
        { count: "2" },
        {
          cancel: {
            when: (line) => FIRST_MACHINE_LAUNCHED.test(line),
            interruptGraceMs: INTERRUPT_GRACE_MS,
            terminateGraceMs: TERMINATE_GRACE_MS,
          },
        },
      );
      stateId = start.outputs["state-id"] ?? "";
    });

    it("the cancel handler stops terraform, saves the state, and the upload step hands it to the stop job", async () => {
      const main = step(start, "main");
      assert.match(main.stdout, /Cancelled: stopping terraform and saving the state/);
      assert.match(main.stdout, /Interrupt received/, "terraform was told, as Ctrl-C tells it");
      assert.match(
        main.stdout,
        /Start cancelled: terraform was stopped and recorded what it had made; the stop job destroys it/,
      );
      assert.equal(step(start, /Upload the encrypted state/).outcome, "success");
      assert.deepEqual((await uploadedState(w, stateId))?.runners.map((r) => r.name).sort(), [
        `${stateId}-0`,
        `${stateId}-1`,
      ]);
    });

    it("the run is cancelled, the step's processes are killed, always() steps run; a stop then leaves nothing", async () => {
      assert.equal(start.cancelled, true);
      assert.match(stateId, /^gpu-/, "the state id was output before the cancel");
      const main = step(start, "main");
      assert.equal(main.outcome, "cancelled");
      assert.deepEqual(
        main.signals?.map((s) => s.signal),
        ["SIGINT"],
        "the start stopped terraform and ended by itself on the interrupt",
      );
      // The scratch directory held terraform's state (runner credentials) in clear: none is left on the runner.
      assert.equal(step(start, /Remove the plaintext work directories/).outcome, "success");
      assert.deepEqual(
        readdirSync(w.runnerTemps.at(-1)!).filter((name) => name.startsWith("gpu-runner-work-")),
        [],
      );
      assert.equal(
        step(start, /Upload the encrypted state/).ran,
        true,
        "the upload step runs on cancel (if: always())",
      );
      assert.ok(main.pid);
      // GitHub kills the cancelled step's process group; a killed process leaves /proc only once the kernel has run
      // it to its end, which a loaded machine may take a moment to do. One that outlives the kill never leaves.
      const group = main.pid;
      await waitFor(
        "the cancelled step's processes (bash, node, terraform) to be gone",
        () => groupMembers(group).length === 0,
      );
      // What the cancelled start left: the first machine (its own session, as a VM is no child of the runner).
      assert.ok(w.machineProcesses(`${stateId}-0`).length > 0, "the machine launched before the cancel still runs");
      assert.equal(issuedFor(w, stateId).length, 2, "both runners were registered before the apply");

      const stop = await w.stop(stateId);
      assert.equal(stop.failed, false, explain(stop));
      const stopMain = step(stop, "main").stdout;
      // Through the state the cancel handler saved (terraform had recorded the first machine), not the label.
      assert.doesNotMatch(stopMain, /No state found|cannot be used/);
      assert.match(stopMain, new RegExp(`local machine in \\S+/${stateId}-0 stopped`));
      assert.match(stopMain, /machines \(terraform\) +done: destroyed/);
      assertNothingLeft(w, stateId);
      assertNoSecretsAndConformance(w);
    });
  });

  it("a start cancelled while registering (GitHub asked it to wait): no runner registered after the cancel, no apply; it ends by itself", async () => {
    const w = await world();
    // The first registration is refused with a rate limit that asks for 30 s: the job is cancelled during that wait.
    w.server.rateLimitNext(/\/actions\/runners\/generate-jitconfig$/, 1, 30, "POST");
    const start = await w.start(
      { count: "2" },
      {
        cancel: {
          when: (line) =>
            /generate JIT config for runner \S+-0: (secondary )?rate limit(ed)?, attempt 1\/\d+, retrying/.test(line),
          interruptGraceMs: INTERRUPT_GRACE_MS,
          terminateGraceMs: TERMINATE_GRACE_MS,
        },
      },
    );
    const stateId = start.outputs["state-id"] ?? "";
    assert.equal(start.cancelled, true);
    const main = step(start, "main");
    assert.equal(main.outcome, "cancelled");
    assert.deepEqual(
      main.signals?.map((s) => s.signal),
      ["SIGINT"],
      "the start ended by itself on the interrupt",
    );
    assert.match(main.stdout, /Cancelled: stopping terraform and saving the state/);
    assert.match(main.stdout, /Start cancelled: no machine was being made yet/);
    assert.equal(
      w.server.requests.filter((r) => r.method === "POST" && r.url.endsWith("/generate-jitconfig")).length,
      1,
      "the registration GitHub refused was not sent again after the cancel, nor the next one",
    );
    assert.deepEqual(issuedFor(w, stateId), [], "no runner was registered");
    assert.equal(appliedAnything(start), false, "no terraform apply");
    assert.deepEqual(w.machineDirs(), []);
    assert.equal(step(start, /Upload the encrypted state/).outcome, "success");
    assert.deepEqual((await uploadedState(w, stateId))?.runners, []);
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("the state artifact is gone before stop: stop looks for the machines by label and deletes the runners by name", async () => {
    const w = await world();
    const start = await w.start({ count: "1" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    const [runner] = runners(start);
    assert.ok(runner);
    assert.equal(w.deleteStateArtifact(stateId), 1);
    assert.equal(w.stateArtifactFile(stateId), undefined);

    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assert.deepEqual(
      [step(stop, /Download the state/).outcome, step(stop, /Download the state/).conclusion],
      ["failure", "success"],
    );
    const stopMain = step(stop, "main").stdout;
    assert.match(stopMain, new RegExp(`No state found for ${stateId}`));
    assert.match(stopMain, new RegExp(`Look for machines labelled ${stateId} \\(local\\)`));
    assert.match(stopMain, new RegExp(`Deleted: local machine ${runner.name}\\.`));
    assert.match(stopMain, new RegExp(`Runner ${runner.name} removed from GitHub\\.`));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("stop with another state-passphrase than start: the state cannot be used; stop falls back to the label and succeeds", async () => {
    const w = await world();
    const startPassphrase = "local-test-passphrase-start-0123456789";
    const start = await w.start({ count: "1", "state-passphrase": startPassphrase });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    const [runner] = runners(start);
    assert.ok(runner);
    assert.equal(
      (await uploadedState(w, stateId, startPassphrase))?.label,
      stateId,
      "the state decrypts with start's passphrase",
    );

    const stop = await w.stop(stateId, { "state-passphrase": "local-test-passphrase-stop-9876543210" });
    // scripts/phases/stop.ts: without a readable state the sweep by label is what makes sure nothing is left; when it
    // works, stop succeeds (and deletes the useless artifact); only a failed sweep fails the stop.
    assert.equal(stop.failed, false, explain(stop));
    assert.equal(step(stop, /Download the state/).outcome, "success", "the artifact was there");
    const stopMain = step(stop, "main").stdout;
    assert.match(stopMain, new RegExp(`The state of ${stateId} cannot be used \\(`));
    assert.match(stopMain, new RegExp(`Look for machines labelled ${stateId} \\(local\\)`));
    assert.match(stopMain, new RegExp(`Deleted: local machine ${runner.name}\\.`));
    assert.match(stopMain, new RegExp(`Runner ${runner.name} removed from GitHub\\.`));
    assert.match(stopMain, new RegExp(`Deleted the state artifact of ${stateId}`));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });
});
