// End to end without a cloud: the action driven through action.yml (test/kit/local-github/action-runner.ts), its
// scripts for real, real terraform on the `local` machine kind, the real boot script (stacks/boot/runner.sh) as each
// machine, the runner release stand-in as the runner, and a GitHub stand-in on 127.0.0.1 checked against GitHub's
// OpenAPI description. Each scenario ends by looking for leftovers (processes, machine directories, registered
// runners, state, artifacts) and for any secret readable in clear (step output, files, artifact bytes).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { STATE_ID_PATTERN } from "../scripts/settings/inputs.ts";
import { ownerLabel } from "../scripts/settings/label.ts";
import { RUN_CONTEXT_ENV } from "./kit/env.ts";
import { cloudNames } from "../stacks/clouds.ts";
import { INPUTS_VARIABLE } from "../stacks/names.ts";
import { readEncryptedBundle } from "../scripts/adapters/state-bundle.ts";
import {
  assertNoSecretsAndConformance,
  assertNothingLeft,
  explain,
  type LocalWorld,
  runners,
  stateFile,
  step,
  waitFor,
  worldsClosedAfterwards,
} from "./kit/action-harness.ts";

/**
 * A runner that never comes online makes start wait runner-timeout, at least 1 minute as an input: the test
 * shortens it through GPU_RUNNER_TEST_RUNNER_TIMEOUT_MS (read by scripts/main.ts, not an input).
 */
const SHORT_TIMEOUT_MS = 5000;

const world = worldsClosedAfterwards();

/** Machine processes whose environment holds the token, the inputs or terraform's JIT variables (none would on a real VM). */
function inheritedSecrets(w: LocalWorld): string[] {
  const found: string[] = [];
  for (const p of w.processes()) {
    let env = "";
    try {
      env = readFileSync(`/proc/${p.pid}/environ`, "utf8");
    } catch {
      continue;
    }
    const names = env
      .split("\0")
      .map((e) => e.slice(0, e.indexOf("=")))
      .filter((n) => n.startsWith("TF_VAR_jit_config_") || n === INPUTS_VARIABLE);
    if (names.length > 0 || env.includes(w.token))
      found.push(`${p.command.slice(0, 60)}: ${names.join(", ") || "the token"}`);
  }
  return found;
}

describe("end to end on the local machine kind", () => {
  it("start 2 runners, both come online, each takes a job and powers off; stop leaves nothing; a second stop too", async () => {
    const w = await world();
    // One flaky status poll (retried by the client) on the way.
    w.server.failNext(/\/actions\/runners\/\d+$/, 1, 502, "GET");
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, false, explain(start));

    const stateId = start.outputs["state-id"] ?? "";
    assert.match(stateId, STATE_ID_PATTERN);
    assert.equal(start.outputs.label, stateId);
    const started = runners(start);
    assert.equal(started.length, 2);
    for (const [index, runner] of started.entries()) {
      const record = w.server.runner(runner.id);
      assert.equal(record?.name, runner.name, "an id the server issued, under the name it issued");
      assert.equal(runner.name, `${stateId}-${index}`);
      assert.ok(runner.machineId, "a machine id from terraform's output");
      assert.ok(record?.onlineAt, `${runner.name} reported online`);
      assert.ok(record?.seenOnlineAt, `start saw ${runner.name} online`);
      // Its start's label, and the owner label a sweep proves it is this repository's by (settings/label.ts).
      assert.deepEqual(record?.labels, [stateId, ownerLabel(stateId, RUN_CONTEXT_ENV.GITHUB_REPOSITORY_ID)]);
    }
    assert.match(step(start, "main").stdout, /2 runner\(s\) online with label/);
    // Where the minutes went: every phase timed, the machine's from its boot script's milestones.
    const timeline = start.summary.slice(start.summary.indexOf("#### Where the time went"));
    for (const phase of [
      "Setting up the action",
      "Checking inputs and synthesizing the stack",
      "Registering the runners at GitHub",
      "terraform init and apply",
      "Machine boot",
      "Runner download and setup",
      "GPU check",
      "Runner start, until GitHub shows it online",
      "Total",
    ]) {
      assert.match(
        timeline,
        new RegExp(`\\| ${phase.replace(/[()]/g, "\\$&")}[^|]*\\| \\d+(\\.\\d)? (s|min) \\|`),
        phase,
      );
    }
    assert.match(timeline, new RegExp(`Machine phases: the last runner online, ${stateId}-[01]\\.`));
    assert.equal(w.machineDirs().length, 2);
    assert.ok(w.processes().length > 0, "the machines run");
    // A cloud VM inherits nothing of Terraform's environment (the token, every runner's TF_VAR_jit_config_N).
    assert.deepEqual(inheritedSecrets(w), [], "a machine's processes inherited a secret from terraform's environment");

    // The state went up as an artifact, encrypted with the token (the default passphrase), and decrypts with it.
    const artifactFile = w.stateArtifactFile(stateId);
    assert.ok(artifactFile, "the state artifact was uploaded");
    const bundle = await readEncryptedBundle(artifactFile, w.token);
    assert.equal(bundle?.label, stateId);
    assert.deepEqual(bundle?.runners.map((r) => r.id).sort(), started.map((r) => r.id).sort());
    await assert.rejects(readEncryptedBundle(artifactFile, "local-test-wrong-passphrase"));

    // The GPU job of the workflow: queued for the label, each runner takes one by itself, then its machine powers off.
    w.server.queueJob(stateId, { name: "gpu-tests (1)", seconds: 0.2 });
    w.server.queueJob(stateId, { name: "gpu-tests (2)", seconds: 0.2 });
    await w.server.waitFor("both jobs done", () => w.server.jobs.every((j) => j.doneAt !== undefined));
    assert.deepEqual(
      w.server.jobs.map((j) => j.runnerId).sort(),
      started.map((r) => r.id).sort(),
      "one job per runner",
    );
    await waitFor("both machines powered off", () => w.machineDirs().every((d) => existsSync(join(d, "powered-off"))));
    for (const dir of w.machineDirs()) {
      assert.equal(readFileSync(join(dir, "powered-off"), "utf8").trim(), "runner exited (exit code 0)");
      // The stand-ins made no user and scheduled no real shutdown: they recorded what the boot script asked.
      assert.equal(readFileSync(join(dir, "users"), "utf8"), "runner\n");
      assert.match(readFileSync(join(dir, "shutdown-scheduled"), "utf8"), /^\+\d+\n$/);
      assert.match(readFileSync(join(dir, "console.log"), "utf8"), /gpu-runner: job taken: gpu-tests \(\d\)/);
    }
    await waitFor("the machines' processes to end", () => w.processes().length === 0);
    assert.equal(w.server.runners.length, 0, "JIT runners deregister after their job");

    // The stop job: a rate-limited listing on the way (429 + retry-after, waited for).
    w.server.rateLimitNext(/\/actions\/runners\?/, 1, 1);
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assert.equal(step(stop, /Download the state/).outcome, "success");
    assert.match(step(stop, "main").stdout, /machines \(terraform\) +done: destroyed/);
    assert.match(step(stop, "main").stdout, /Deleted the state artifact/);
    assertNothingLeft(w, stateId);

    const again = await w.stop(stateId);
    assert.equal(again.failed, false, explain(again));
    assert.deepEqual(
      [step(again, /Download the state/).outcome, step(again, /Download the state/).conclusion],
      ["failure", "success"],
    );
    assert.match(step(again, "main").stdout, /No state found for/);
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("a runner that never comes online: start fails at runner-timeout and undoes everything; stop then finds nothing", async () => {
    const w = await world({ runnerTimeoutMs: SHORT_TIMEOUT_MS });
    w.server.dropOnline(/-1$/);
    const start = await w.start({ count: "2", "runner-timeout": "1" });
    assert.equal(start.failed, true, "start must fail");
    const stateId = start.outputs["state-id"] ?? "";
    const main = step(start, "main");
    assert.match(main.errors.join("\n"), new RegExp(`${stateId}-1 did not come online`));
    assert.match(main.stdout, /Machines destroyed\./);
    assert.deepEqual(world_processes(w), [], "processes left after the failed start");
    assert.deepEqual(w.machineDirs(), [], "destroy ran: no machine directory");
    assert.deepEqual(
      w.server.runners.map((r) => r.name),
      [],
      "no runner left registered",
    );
    // The state is uploaded even so (if: always()); a stop after it succeeds and finds nothing to destroy.
    assert.equal(step(start, /Upload the encrypted state/).outcome, "success");
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("without the test kit's hook, the action refuses cloud: local like any unknown cloud, before anything exists", async () => {
    const w = await world();
    const start = await w.start({ count: "1" }, { env: { NODE_OPTIONS: "" } });
    assert.equal(start.failed, true);
    assert.ok(
      start.errors.some((e) => e.includes(`Input 'cloud': got "local"; expected one of ${cloudNames().join(", ")}.`)),
      `errors: ${start.errors.join(" | ")}`,
    );
    assert.equal(w.server.issued.length, 0, "no runner registered");
    assert.equal(w.machineDirs().length, 0, "no machine");
  });

  for (const [input, value] of [
    ["mode", " start"],
    ["mode", "start\n"],
    ["cloud", "local "],
    ["cloud", "LOCAL"],
    ["cloud", ""],
    ["state-backend", "artifact\n"],
  ] as const) {
    it(`refuses ${input}: ${JSON.stringify(value)} before installing or creating anything`, async () => {
      const w = await world();
      const start = await w.run({ mode: "start", cloud: "local", "github-token": w.token, [input]: value });
      assert.equal(start.failed, true);
      assert.equal(step(start, /Check mode, cloud and state-backend/).outcome, "failure");
      assert.ok(
        start.errors.some((e) => e.includes(`Input '${input}': got ${JSON.stringify(value)}`)),
        start.errors.join(" | "),
      );
      for (const later of [/Install the action/, "main", /Upload the encrypted state/])
        assert.equal(step(start, later).ran, false, String(later));
      assert.equal(w.server.issued.length, 0, "no runner registered");
    });
  }

  it("stop says which job ran on each runner, and fails when a job of another workflow run took one", async () => {
    const w = await world();
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    const [mine, stolen] = runners(start);
    assert.ok(mine && stolen);
    // One job of this run; one of another run that asks for the same label (shared by mistake, or guessed).
    w.server.queueJob(stateId, { name: "gpu-tests" });
    await w.server.waitFor("the first job taken", () => w.server.jobs[0]?.doneAt !== undefined);
    w.server.queueJob(stateId, { name: "someone else's job", runId: "424242" });
    await w.server.waitFor("the second job taken", () => w.server.jobs[1]?.doneAt !== undefined);
    const by = (name: string) => w.server.jobs.find((j) => j.name === name)?.runnerId;
    const took = new Map([
      [by("gpu-tests"), "gpu-tests"],
      [by("someone else's job"), "someone else's job"],
    ]);

    const stop = await w.stop(stateId);
    assert.equal(stop.failed, true, "a runner taken outside this run fails the stop");
    const out = step(stop, "main").stdout;
    const ranOurs = [mine, stolen].find((r) => took.get(r.id) === "gpu-tests")!;
    const ranTheirs = [mine, stolen].find((r) => took.get(r.id) === "someone else's job")!;
    assert.match(out, new RegExp(`${ranOurs.name} ran job "gpu-tests" \\(success\\)`));
    assert.match(out, new RegExp(`${ranTheirs.name} was taken by a job outside this workflow run`));
    assert.ok(
      stop.errors.some((e) =>
        e.includes(`jobs on the runners: ${ranTheirs.name} was taken by a job outside this workflow run`),
      ),
      stop.errors.join(" | "),
    );
    assert.match(stop.summary, new RegExp(`- ${ranTheirs.name} was taken by a job outside this workflow run`));
    // Everything was cleaned up all the same.
    assertNothingLeft(w, stateId);
  });

  it("mode: sweep deletes what a run that is over left (a stopped machine, a running one, its runner), nothing of a run in progress", async () => {
    const w = await world();
    const start = await w.start({ count: "2" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    // One runner takes a job and its machine powers off: a stopped machine, as a cloud that keeps it would list it.
    w.server.queueJob(stateId, { name: "gpu-tests" });
    await w.server.waitFor("the job done", () => w.server.jobs[0]?.doneAt !== undefined);
    await waitFor("a machine powered off", () => w.machineDirs().some((d) => existsSync(join(d, "powered-off"))));
    const stopped = w
      .machineDirs()
      .find((d) => existsSync(join(d, "powered-off")))!
      .split("/")
      .pop()!;
    const running = w
      .machineDirs()
      .find((d) => !existsSync(join(d, "powered-off")))!
      .split("/")
      .pop()!;

    // While the run is in progress: the stopped machine would go, the running one and its runner stay. Dry-run first.
    const dry = await w.run({ mode: "sweep", cloud: "local", "github-token": w.token, "dry-run": "true" });
    assert.equal(dry.failed, false, explain(dry));
    assert.match(
      dry.summary,
      new RegExp(`\\| ${stopped} \\| stopped \\| .* \\| would delete: stopped: powered off but not deleted`),
    );
    assert.match(
      dry.summary,
      new RegExp(`\\| ${running} \\| running \\| .* \\| kept: its workflow run is in progress \\|`),
    );
    assert.match(dry.summary, new RegExp(`\\| ${running} \\| online \\| kept: its workflow run is in progress \\|`));
    assert.equal(w.machineDirs().length, 2, "a dry-run deletes nothing");
    assert.equal(step(dry, /Check terraform/).ran, false, "a sweep needs no terraform");

    // The run ends without its stop job (cancelled, say): the sweep removes everything it left.
    w.server.completeRun(w.runId);
    const sweep = await w.run({ mode: "sweep", cloud: "local", "github-token": w.token });
    assert.equal(sweep.failed, false, explain(sweep));
    assert.match(sweep.summary, new RegExp(`\\| ${stopped} \\| stopped \\| .* \\| deleted: stopped`));
    assert.match(
      sweep.summary,
      new RegExp(`\\| ${running} \\| running \\| .* \\| deleted: its workflow run is over \\|`),
    );
    assert.match(
      sweep.summary,
      new RegExp(`\\| ${running} \\| online \\| deleted: its workflow run is over; its machine is deleted now \\|`),
    );
    assert.deepEqual(w.machineDirs(), []);
    await waitFor("the machines' processes to end", () => w.processes().length === 0);
    assert.equal(w.server.runners.length, 0, "no runner left registered");
    assertNoSecretsAndConformance(w);
  });

  it("runner-preinstalled on an image with the runner baked in: no download, the timeline shows the setup it saved", async () => {
    const w = await world({ bakedRunner: true });
    const start = await w.start({ count: "1", "runner-preinstalled": "true" });
    assert.equal(start.failed, false, explain(start));
    const stateId = start.outputs["state-id"] ?? "";
    assert.deepEqual(
      w.server.requests.filter((r) => r.route === "release"),
      [],
      "no runner download",
    );
    const console = readFileSync(join(w.machineDirs()[0]!, "console.log"), "utf8");
    assert.match(console, /gpu-runner: runner \S+ preinstalled in \S+ \(the pinned \S+ or later\): download skipped/);
    assert.match(start.summary, /\| Runner download and setup \| \d+\.\d s \|/);
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assertNothingLeft(w, stateId);
  });

  it("stop with a state id nothing was started under succeeds and says there is nothing to do", async () => {
    const w = await world();
    const stateId = "gpu-123456789-1-0a1b2c3d";
    const stop = await w.stop(stateId);
    assert.equal(stop.failed, false, explain(stop));
    assert.equal(
      step(stop, /Download the state/).conclusion,
      "success",
      "the missing artifact is absorbed (continue-on-error)",
    );
    assert.match(step(stop, "main").stdout, /No state found for gpu-123456789-1-0a1b2c3d/);
    assert.equal(w.server.requests.filter((r) => r.method === "DELETE").length, 0, "nothing to delete");
    assert.equal(existsSync(stateFile(w, stateId)), false);
    assertNothingLeft(w, stateId);
    assertNoSecretsAndConformance(w);
  });

  it("npm run demo shows both job summaries: on the screen, or in the file --summary-file names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "demo-summary-"));
    try {
      const demo = fileURLToPath(new URL("../scripts/dev/demo.ts", import.meta.url));
      const run = (...args: string[]) =>
        spawnSync(process.execPath, ["--import", "tsx", demo, ...args], {
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1" },
          timeout: 120_000,
        });
      const shown = run();
      assert.equal(shown.status, 0, shown.stdout + shown.stderr);
      const screen = shown.stdout.slice(shown.stdout.indexOf("5. The job summaries"));
      assert.match(screen, /^ {4}### GPU runners started: `gpu-/m);
      assert.match(screen, /^ {4}\| Runner \| Machine id \| Machine \|/m);
      assert.match(screen, /^ {4}### GPU runners stopped: `gpu-/m);
      assert.match(screen, /^ {4}Estimated total cost of the run: /m);

      const file = join(dir, "summary.md");
      const written = run(`--summary-file=${file}`);
      assert.equal(written.status, 0, written.stdout + written.stderr);
      assert.ok(written.stdout.includes(`written to ${file}`), written.stdout);
      const text = readFileSync(file, "utf8");
      assert.ok(text.indexOf("### GPU runners started") < text.indexOf("### GPU runners stopped"), text);
      assert.ok(!written.stdout.includes("### GPU runners started"), "not on the screen as well");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the local machine kind's stand-ins (test/kit/local-cloud/bin)", () => {
  const bin = fileURLToPath(new URL("./kit/local-cloud/bin/", import.meta.url));
  const run = (command: string, args: string[], env: Record<string, string>) =>
    spawnSync(join(bin, command), args, { env: { PATH: `${bin}:${process.env.PATH}`, ...env }, encoding: "utf8" });

  it("refuse to act outside a local machine: no machine directory, or a session that is not the machine's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stand-ins-"));
    try {
      assert.equal(run("local-machine-dir", [], {}).status, 1);
      assert.equal(run("useradd", ["runner"], {}).status, 1);
      // A directory whose pid file names another session: poweroff must not end its own. (In a session of its own,
      // so that a broken check could only end itself, never the test runner.)
      await writeFile(join(dir, "pid"), "1\n");
      const off = spawnSync("setsid", [join(bin, "poweroff")], {
        env: { PATH: `${bin}:${process.env.PATH}`, GR_MACHINE_DIR: dir },
        encoding: "utf8",
      });
      assert.equal(off.status, 1);
      assert.match(off.stderr, /not the machine's/);
      assert.equal(existsSync(join(dir, "powered-off")), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stand for users without creating any: useradd records, id/chown/runuser accept only recorded users", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stand-ins-"));
    try {
      const env = { GR_MACHINE_DIR: dir };
      assert.equal(run("id", ["-u", "runner"], env).status, 1);
      assert.equal(run("chown", ["-R", "--", "runner:", dir], env).status, 1);
      assert.equal(
        run("useradd", ["--create-home", "--user-group", "--shell", "/bin/bash", "--", "runner"], env).status,
        0,
      );
      assert.equal(run("useradd", ["runner"], env).status, 9, "already exists");
      assert.equal(
        run("id", ["-u", "runner"], env).stdout.trim(),
        execFileSync("id", ["-u"], { encoding: "utf8" }).trim(),
      );
      assert.equal(run("chown", ["-R", "--", "runner:", dir], env).status, 0);
      const as = run("runuser", ["-u", "runner", "--", "bash", "-c", 'echo "$USER $HOME"'], env);
      assert.equal(as.stdout.trim(), `runner ${join(dir, "home", "runner")}`);
      assert.equal(run("runuser", ["-u", "nobody-here", "--", "true"], env).status, 1);
      assert.equal(run("sudo", ["-n", "-u", "root", "--", "echo", "as me"], env).stdout, "as me\n");
      assert.equal(run("shutdown", ["-P", "+5"], env).status, 0);
      assert.equal(readFileSync(join(dir, "shutdown-scheduled"), "utf8"), "+5\n");
      assert.equal(run("systemctl", ["restart", "x"], env).status, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function world_processes(w: LocalWorld) {
  return w.processes().map((p) => `${p.pid} (${p.why}): ${p.command}`);
}
