// Runs the real boot script (stacks/boot/runner.sh) in a scratch "machine" (test/kit/boot-sandbox.ts): rendered
// as production renders it, started as cloud-init starts it, with stand-ins for power-off, user management, runuser,
// uname and nvidia-smi (which replays real captures from test/fixtures/nvidia-smi), and a runner tarball built here
// and served from 127.0.0.1. GR_TIME_UNIT_SECONDS=1 makes the scripts' minutes seconds (one test runs the production
// unit). No verdict here depends on how long a boot took: a deadline is checked against the script's own record (the
// deadline file, the power-off stand-in's clock), and a time bound only says "hung" (test/kit/patience.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { BOOT_LOG_PREFIX, BOOT_TIME_PREFIX } from "../stacks/names.ts";
import { RUNNER_RELEASE } from "../stacks/boot-values.ts";
import {
  BODY_PATH,
  type BootSandbox,
  type Capture,
  hostCaptures,
  isAlive,
  killGroup,
  type RunResult,
  readCapture,
  type SandboxOptions,
  sha256,
  waitFor,
  sandboxesOfThisFile,
} from "./kit/boot-sandbox.ts";
import { PARALLEL } from "./kit/patience.ts";
import { gpuFacts } from "../scripts/phases/boot-lines.ts";
import { renderBootScript } from "../stacks/boot-script.ts";

const { server, create } = sandboxesOfThisFile();

async function boot(
  options: Omit<SandboxOptions, "server"> = {},
): Promise<{ sandbox: BootSandbox; result: RunResult }> {
  const sandbox = await create({ ...options });
  const result = await sandbox.run();
  return { sandbox, result };
}

/** The one "powering off:" line: its reason. Also checks that it is the only one, and the last line. */
function powerOffReason(result: RunResult): string {
  const lines = result.lines.filter((l) => l.startsWith(`${BOOT_LOG_PREFIX} powering off: `));
  assert.equal(lines.length, 1, `exactly one power-off line in:\n${result.stdout}`);
  assert.equal(result.lines.at(-1), lines[0], `the power-off line is the last:\n${result.stdout}`);
  return lines[0]!.slice(`${BOOT_LOG_PREFIX} powering off: `.length);
}

/** The machine was powered off exactly once, and the script then stopped by itself. */
function assertPoweredOff(sandbox: BootSandbox, result: RunResult): void {
  assert.equal(
    result.code,
    0,
    `the boot script exits after asking for the power-off:\n${result.stdout}${result.stderr}`,
  );
  const requests = sandbox.calls("power").filter((c) => /^(poweroff|shutdown -h now|systemctl)/.test(c));
  assert.deepEqual(requests, ["poweroff"], "one poweroff call");
}

function assertNoRunner(sandbox: BootSandbox, result: RunResult): void {
  assert.equal(sandbox.runnerRecord(), undefined, "the runner never ran");
  assert.deepEqual(sandbox.calls("runuser"), [], "nothing ran as the runner user");
  assert.ok(!result.stdout.includes("runner started"), result.stdout);
}

/** The scrub's one log line, parsed: the copies removed (gzip-compressed and base64-encoded ones marked), what it could
 * not check. */
function scrubReport(result: RunResult): {
  removed: string[];
  gzip: string[];
  base64: string[];
  unchecked: string[];
  line: string;
} {
  const lines = result.lines.filter((l) => l.startsWith(`${BOOT_LOG_PREFIX} user-data: `));
  assert.equal(lines.length, 1, result.stdout);
  const line = lines[0]!;
  const m =
    /^gpu-runner: user-data: removed (\d+) on-disk cop\(ies\) holding the runner credential \((\d+) gzip-compressed, (\d+) base64-encoded\)(?:: (.*?))?; could not check: (.*?)(?:; could not remove: .*)?$/.exec(
      line,
    );
  assert.ok(m, line);
  const listed = m[4] ? m[4].split(", ") : [];
  const mark = / \((gzip|base64)\)$/;
  const removed = listed.map((entry) => entry.replace(mark, ""));
  const marked = (kind: string) =>
    listed.filter((entry) => entry.endsWith(` (${kind})`)).map((entry) => entry.replace(mark, ""));
  const [gzip, base64] = [marked("gzip"), marked("base64")];
  assert.equal(Number(m[1]), removed.length, line);
  assert.equal(Number(m[2]), gzip.length, line);
  assert.equal(Number(m[3]), base64.length, line);
  return { removed, gzip, base64, unchecked: m[5] === "none" ? [] : m[5]!.split(", "), line };
}

function has(result: RunResult, text: string): boolean {
  return result.lines.includes(`${BOOT_LOG_PREFIX} ${text}`);
}

/** A capture with each output row's CSV fields changed by `edit` (the real output's ", " separators are kept). */
function editRows(capture: Capture, edit: (fields: string[], row: number) => string[][] | string[]): Capture {
  const output = capture.output.flatMap((line, row) => {
    const edited = edit(line.split(", "), row);
    return (Array.isArray(edited[0]) ? (edited as string[][]) : [edited as string[]]).map((f) => f.join(", "));
  });
  return { ...capture, output };
}

const QUERY = "nvidia-smi-query.txt";
const LIST = "nvidia-smi-L.txt";
const ECC_FIELD = 7;
const MEMORY_FIELD = 4;

/** H100 captures with the query's rows edited: the derived failure variants. */
function h100With(edit: (fields: string[], row: number) => string[][] | string[]): Record<string, Capture> {
  const captures = hostCaptures("h100");
  return { ...captures, [QUERY]: editRows(captures[QUERY]!, edit) };
}

function setField(fields: string[], index: number, value: string): string[] {
  const copy = [...fields];
  copy[index] = value;
  return copy;
}

function twoH100s(): Record<string, Capture> {
  const captures = h100With((fields) => [
    fields,
    ["1", fields[1]!, "GPU-00000000-0000-0000-0000-000000000001", ...fields.slice(3, 8), "00000000:00:07.0"],
  ]);
  const list = captures[LIST]!;
  captures[LIST] = {
    ...list,
    output: [...list.output, "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000001)"],
  };
  return captures;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("boot script: a healthy machine runs one job, then powers off", { concurrency: PARALLEL }, () => {
  it("H100, x64: the runner runs as the non-root user with the JIT config in its environment only", async () => {
    const bootedAfter = Date.now() / 1000;
    const { sandbox, result } = await boot();
    const endedBefore = Date.now() / 1000;
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");

    // Every line carries the prefix (a log line's, or a milestone's with its time), reaches the console too, and the
    // story is told in order.
    for (const line of result.lines)
      assert.ok(
        line.startsWith(`${BOOT_LOG_PREFIX} `) || line.startsWith(`${BOOT_TIME_PREFIX} `),
        `unprefixed line: ${line}`,
      );
    const milestones = result.lines.filter((l) => l.startsWith(BOOT_TIME_PREFIX)).map((l) => l.split(" ")[2]);
    assert.deepEqual(milestones, [
      "boot-script-started",
      "runner-installed",
      "gpu-checked",
      "pre-runner-done",
      "runner-started",
    ]);
    const times = result.lines.filter((l) => l.startsWith(BOOT_TIME_PREFIX)).map((l) => Number(l.split(" ")[1]));
    // Epoch seconds of this boot: each between the boot's start and its end, in order.
    const within = (t: number) => t >= Math.floor(bootedAfter) && t <= endedBefore;
    assert.ok(
      times.every((t, i) => within(t) && (i === 0 || t >= times[i - 1]!)),
      `milestone times in [${bootedAfter}, ${endedBefore}], in order: ${times}`,
    );
    assert.equal(result.stderr, "");
    assert.equal(readFileSync(sandbox.console, "utf8"), result.stdout, "the console got every line");
    const story = [
      "booting",
      "lifetime armed: powering off after 60 minute(s) whatever happens",
      "user created: runner",
      "passwordless sudo: granted to runner",
      `runner ${RUNNER_RELEASE.version} installed in ${sandbox.installDir} (sha256 verified)`,
      "GPU check passed: 1 GPU(s): NVIDIA H100 80GB HBM3 (81559 MiB)",
      "job taken: gpu-tests",
      "job done: runner exited with code 0",
    ].map((text) => result.lines.indexOf(`${BOOT_LOG_PREFIX} ${text}`));
    assert.ok(
      story.every((index, i) => index >= 0 && (i === 0 || index > story[i - 1]!)),
      `story out of order:\n${result.stdout}`,
    );
    assert.ok(
      result.lines.some((l) => /^gpu-runner: runner started as runner \(pid \d+\)$/.test(l)),
      result.stdout,
    );
    assert.ok(
      has(
        result,
        "GPU 0: NVIDIA H100 80GB HBM3, 81559 MiB (0 used), 44 C, driver 580.159.04, bus 00000000:00:06.0, uncorrected ECC errors: 0",
      ),
    );
    // What the action's job summary shows of this machine: its one gpu-facts line, from the real captures (the CUDA
    // version from the plain report's header), on the console where the action reads it.
    const h100 = { count: 1, driver: "580.159.04", cuda: "13.0", model: "NVIDIA H100 80GB HBM3" };
    assert.deepEqual(gpuFacts(result.stdout), h100);
    assert.deepEqual(gpuFacts(readFileSync(sandbox.console, "utf8")), h100);

    // The lifetime backstop: shutdown scheduled 2 minutes past the cap (60 s here: ceil(60/60) + 2).
    assert.equal(sandbox.calls("power")[0], "shutdown -P +3");

    // The user, its sudo drop-in, the install owned by it.
    assert.deepEqual(sandbox.calls("useradd"), ["--create-home --user-group --shell /bin/bash -- runner"]);
    const sudoers = join(sandbox.root, "etc", "sudoers.d", "90-gpu-runner");
    assert.equal(readFileSync(sudoers, "utf8"), "runner ALL=(ALL) NOPASSWD:ALL\n");
    assert.equal(statSync(sudoers).mode & 0o777, 0o440);
    assert.deepEqual(sandbox.calls("chown"), [`-R -- runner: ${sandbox.installDir}`]);
    assert.equal(readFileSync(join(sandbox.installDir, ".gpu-runner-version"), "utf8"), `${RUNNER_RELEASE.version}\n`);
    assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [sandbox.tarballPath("x64")]);

    // The runner: as the user, from its directory, the config in its environment and in no argv, nothing else.
    assert.deepEqual(sandbox.calls("runuser"), ["-u runner -- ./run.sh"]);
    const runner = sandbox.runnerRecord();
    assert.ok(runner, "the runner ran");
    assert.equal(runner.arch, "x64");
    assert.equal(runner.user, "runner");
    assert.notEqual(runner.euid, "0", "the script under test never runs as root here (see boot-sandbox.ts)");
    assert.equal(runner.cwd, sandbox.installDir);
    assert.equal(runner.argc, "0", "run.sh gets no arguments");
    assert.equal(runner.jit_set, "yes");
    assert.equal(runner.jit_sha256, sha256(sandbox.secret), "ACTIONS_RUNNER_INPUT_JITCONFIG is the JIT config");
    assert.equal(runner.umask, "0022", "the runner gets the usual umask, not the script's 077");
    assert.deepEqual(
      runner.env!.trim().split(" ").sort(),
      ["ACTIONS_RUNNER_INPUT_JITCONFIG", "HOME", "LANG", "LOGNAME", "PATH", "PWD", "SHELL", "SHLVL", "USER"],
      "the runner's environment holds the config and no GR_ variable, nor TMPDIR",
    );
    // ps-style: while the runner ran, no process on this machine had the config in its command line...
    assert.equal(runner.argv_with_secret, "0");
    // ...and no file under the scratch root held it (the user-data copies were already scrubbed).
    assert.equal(runner.files_with_secret, "");
    for (const call of sandbox.allCalls())
      assert.ok(!call.includes(sandbox.secret), `the config in an argv: ${call.slice(0, 80)}`);

    // After the run: the user-data copies are gone, nothing left holds the config, the other cloud-init files stay.
    for (const file of sandbox.userDataFiles) assert.ok(!existsSync(file), `${file} was removed`);
    assert.deepEqual(sandbox.filesHoldingSecret(), []);
    assert.ok(existsSync(join(sandbox.cloudDir, "instances", "i-0123456789abcdef0", "datasource")));
    const scrubbed = scrubReport(result);
    assert.deepEqual(scrubbed.removed.sort(), [...sandbox.userDataFiles].sort());
    assert.deepEqual(scrubbed.gzip, [sandbox.userDataFiles[0]], "the raw user-data, gzip-compressed as received");
    assert.deepEqual(scrubbed.base64, []);
    assert.deepEqual(scrubbed.unchecked, []);
    assert.ok(
      !result.stdout.includes(sandbox.secret) && !readFileSync(sandbox.console, "utf8").includes(sandbox.secret),
    );
  });

  it("H200, arm64: the arm64 tarball, checked against the arm64 checksum", async () => {
    const { sandbox, result } = await boot({ arch: "aarch64", gpus: hostCaptures("h200") });
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [sandbox.tarballPath("arm64")]);
    assert.equal(sandbox.runnerRecord()?.arch, "arm64");
    assert.notEqual(
      sandbox.sha256.arm64,
      sandbox.sha256.x64,
      "the two tarballs differ, so the x64 checksum would fail",
    );
    assert.ok(has(result, "GPU check passed: 1 GPU(s): NVIDIA H200 (143771 MiB)"), result.stdout);
    assert.deepEqual(gpuFacts(result.stdout), { count: 1, driver: "580.159.04", cuda: "13.0", model: "NVIDIA H200" });
  });

  it("two GPUs expected, two reported (derived: the H100 row twice): passes", async () => {
    const { sandbox, result } = await boot({ gpus: twoH100s(), values: { GR_EXPECTED_GPUS: "2" } });
    assertPoweredOff(sandbox, result);
    assert.ok(
      has(result, "GPU check passed: 2 GPU(s): NVIDIA H100 80GB HBM3 (81559 MiB), NVIDIA H100 80GB HBM3 (81559 MiB)"),
      result.stdout,
    );
    assert.ok(has(result, "gpu-facts: count=2 driver=580.159.04 cuda=13.0 model=NVIDIA H100 80GB HBM3"), result.stdout);
    assert.equal(sandbox.runnerRecord()?.jit_set, "yes");
  });

  it("the plain report failing (no capture for it: the stand-in exits 99): passes, the CUDA version unknown", async () => {
    const { "nvidia-smi.txt": _, ...captures } = hostCaptures("h100");
    const { sandbox, result } = await boot({ gpus: captures });
    assertPoweredOff(sandbox, result);
    assert.ok(sandbox.runnerRecord(), result.stdout);
    assert.deepEqual(gpuFacts(result.stdout), {
      count: 1,
      driver: "580.159.04",
      cuda: "unknown",
      model: "NVIDIA H100 80GB HBM3",
    });
  });

  it("ECC not reported ([N/A], as consumer cards answer; derived): passes", async () => {
    const { sandbox, result } = await boot({ gpus: h100With((f) => setField(f, ECC_FIELD, "[N/A]")) });
    assertPoweredOff(sandbox, result);
    assert.ok(sandbox.runnerRecord(), result.stdout);
  });

  it("GR_EXPECTED_GPUS=0: no GPU check, even without nvidia-smi", async () => {
    const { sandbox, result } = await boot({ gpus: null, values: { GR_EXPECTED_GPUS: "0" } });
    assertPoweredOff(sandbox, result);
    assert.ok(has(result, "GPU check: skipped (GR_EXPECTED_GPUS=0)"));
    assert.equal(gpuFacts(result.stdout), undefined, "no GPU facts without a check");
    assert.ok(sandbox.runnerRecord());
  });

  it("an existing user, GR_RUNNER_SUDO=false: no useradd, no sudoers drop-in", async () => {
    const { sandbox, result } = await boot({
      users: ["ci"],
      values: { GR_RUNNER_USER: "ci", GR_RUNNER_SUDO: "false" },
    });
    assertPoweredOff(sandbox, result);
    assert.deepEqual(sandbox.calls("useradd"), []);
    assert.ok(has(result, "user ci already exists"));
    assert.ok(has(result, "passwordless sudo: not granted"));
    assert.ok(!existsSync(join(sandbox.root, "etc", "sudoers.d", "90-gpu-runner")));
    assert.deepEqual(sandbox.calls("runuser"), ["-u ci -- ./run.sh"]);
    assert.equal(sandbox.runnerRecord()?.user, "ci");
  });

  it("an existing account of the image that is a system account is refused, whatever sudo says", async () => {
    const { sandbox, result } = await boot({ users: ["ci:998:ci"], values: { GR_RUNNER_USER: "ci" } });
    assertPoweredOff(sandbox, result);
    assert.equal(
      powerOffReason(result),
      "runner user ci is a system account of the image (uid 998): refusing to run jobs as it",
    );
    assertNoRunner(sandbox, result);
  });

  it("an existing admin of the image with GR_RUNNER_SUDO=false is refused: it would keep its sudo", async () => {
    const { sandbox, result } = await boot({
      users: ["ci:1500:sudo docker"],
      values: { GR_RUNNER_USER: "ci", GR_RUNNER_SUDO: "false" },
    });
    assertPoweredOff(sandbox, result);
    assert.match(
      powerOffReason(result),
      /^runner user ci already exists in an admin group \(ci sudo docker \): it would keep sudo although GR_RUNNER_SUDO=false$/,
    );
    assertNoRunner(sandbox, result);
  });

  it("already installed (pre-baked image): no download", async () => {
    const { sandbox, result } = await boot({ preinstalled: RUNNER_RELEASE.version });
    assertPoweredOff(sandbox, result);
    assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [], "no request reached the release server");
    assert.ok(
      has(result, `runner ${RUNNER_RELEASE.version} already installed in ${sandbox.installDir}; download skipped`),
    );
    assert.deepEqual(sandbox.calls("chown"), [`-R -- runner: ${sandbox.installDir}`], "still given to the user");
    assert.equal(sandbox.runnerRecord()?.jit_set, "yes");
  });

  it("another version installed: downloads the pinned one", async () => {
    const { sandbox, result } = await boot({ preinstalled: "2.300.0" });
    assertPoweredOff(sandbox, result);
    assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [sandbox.tarballPath("x64")]);
    assert.equal(readFileSync(join(sandbox.installDir, ".gpu-runner-version"), "utf8"), `${RUNNER_RELEASE.version}\n`);
  });

  const bakedCases: { name: string; preinstalled?: string; downloads: boolean; says: (v: string) => string }[] = [
    {
      name: "the pinned release",
      preinstalled: RUNNER_RELEASE.version,
      downloads: false,
      says: (v) => `runner ${v} preinstalled in`,
    },
    {
      name: "a later release",
      preinstalled: "9.999.0",
      downloads: false,
      says: () => "runner 9.999.0 preinstalled in",
    },
    {
      name: "an older release",
      preinstalled: "2.300.0",
      downloads: true,
      says: (v) => `: 2.300.0, ${v} or later needed: downloading ${v}`,
    },
    { name: "no runner at all", downloads: true, says: (v) => `: none found, ${v} or later needed: downloading ${v}` },
  ];
  for (const c of bakedCases) {
    it(`runner-preinstalled with ${c.name} in the image: ${c.downloads ? "the pinned release is downloaded" : "no download"}`, async () => {
      const { sandbox, result } = await boot({
        preinstalled: c.preinstalled,
        values: { GR_RUNNER_PREINSTALLED: "true" },
      });
      assertPoweredOff(sandbox, result);
      assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), c.downloads ? [sandbox.tarballPath("x64")] : []);
      assert.ok(
        result.lines.some((l) => l.startsWith(BOOT_LOG_PREFIX) && l.includes(c.says(RUNNER_RELEASE.version))),
        result.stdout,
      );
      assert.equal(sandbox.runnerRecord()?.jit_set, "yes", "the runner ran");
    });
  }

  it("a 503 from the release server is retried", async () => {
    const { sandbox, result } = await boot({ release: "flaky" });
    assertPoweredOff(sandbox, result);
    assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [sandbox.tarballPath("x64"), sandbox.tarballPath("x64")]);
    assert.ok(sandbox.runnerRecord());
  });

  it("a pre-runner script that succeeds runs as root before the runner, then the runner runs", async () => {
    // No shebang (bash runs it), output relayed with a prefix, none of the GR_ variables nor the config inherited.
    const script = 'echo "warming up"\nenv >"$TMPDIR/pre-runner-env"\nprintf yes >"$TMPDIR/pre-runner-ran"\n';
    const { sandbox, result } = await boot({ values: { GR_PRE_RUNNER_SCRIPT_B64: b64(script) } });
    assertPoweredOff(sandbox, result);
    assert.ok(has(result, "pre-runner: warming up"), result.stdout);
    assert.ok(has(result, "pre-runner script: succeeded"));
    assert.equal(sandbox.runnerRecord()?.pre_runner_ran, "yes", "it ran before the runner");
    const env = readFileSync(join(sandbox.root, "tmp", "pre-runner-env"), "utf8");
    assert.ok(!/^GR_/m.test(env), `no GR_ variable exported to it:\n${env}`);
    assert.deepEqual(sandbox.filesHoldingSecret(), [], "the config was not in its environment either");
    const stateDirs = readdirSync(join(sandbox.root, "tmp")).filter((d) => d.startsWith("gpu-runner."));
    assert.equal(stateDirs.length, 1);
    const leftovers = readdirSync(join(sandbox.root, "tmp", stateDirs[0]!)).filter((f) => f.startsWith("pre-runner"));
    assert.deepEqual(leftovers, ["pre-runner.log"], "the decoded script was removed; its output file stays");
  });

  it("a pre-runner script that starts a daemon: only the script's exit is waited for, its lines still relayed", async () => {
    // The daemon inherits the script's stdout and stderr; were they a pipe to the boot script's reader, the boot
    // would wait for the daemon (on a machine, until the lifetime cap). It outlives any bound of the kit: a boot that
    // waited for it would be reported hung, not finished.
    const script =
      'sleep 3000 &\necho "$!" >"$TMPDIR/daemon-pid"\necho "daemon started"\necho "to stderr" >&2\nprintf "last words"\n';
    const { sandbox, result } = await boot({ values: { GR_PRE_RUNNER_SCRIPT_B64: b64(script) } });
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    const relayed = result.lines.filter((l) => l.startsWith(`${BOOT_LOG_PREFIX} pre-runner: `));
    assert.deepEqual(
      relayed,
      ["daemon started", "to stderr", "last words"].map((l) => `${BOOT_LOG_PREFIX} pre-runner: ${l}`),
    );
    assert.ok(
      result.lines.indexOf(`${BOOT_LOG_PREFIX} pre-runner script: succeeded`) <
        result.lines.findIndex((l) => l.includes("runner started as")),
    );
    assert.equal(sandbox.runnerRecord()?.jit_set, "yes", "the runner ran");
    const daemon = Number(readFileSync(join(sandbox.root, "tmp", "daemon-pid"), "utf8"));
    assert.ok(
      isAlive(daemon),
      "the boot ran the runner to its end while the daemon lived: only the script's exit was waited for",
    );
  });
});

describe("boot script: a cloud's command that ends the machine through its API, before the power-off", {
  concurrency: PARALLEL,
}, () => {
  const b64 = (script: string) => Buffer.from(script, "utf8").toString("base64");

  it("runs once, as root, after the runner is stopped and before poweroff; the power-off follows", async () => {
    const marker = join(tmpdir(), `end-command-${process.pid}-${Date.now()}`);
    const { sandbox, result } = await boot({
      values: { GR_END_COMMAND_B64: b64(`echo "deallocate $(id -un)" > '${marker}'\n`) },
    });
    assertPoweredOff(sandbox, result);
    assert.match(readFileSync(marker, "utf8"), /^deallocate /);
    rmSync(marker, { force: true });
    const at = (text: string) => result.lines.findIndex((l) => l.includes(text));
    assert.ok(
      at("powering off: runner exited") >= 0 && at("powering off:") < at("ending the machine through the cloud's API"),
    );
    assert.ok(at("ending the machine through the cloud's API") < at("ended through the cloud's API"));
    assert.equal(result.lines.filter((l) => l.includes("ending the machine through the cloud's API")).length, 1);
  });

  it("a command that fails is logged with its first line, and the machine still powers off", async () => {
    const { sandbox, result } = await boot({
      values: { GR_END_COMMAND_B64: b64("echo 'HTTP 403 from the API' >&2; exit 3\n") },
    });
    assertPoweredOff(sandbox, result);
    assert.ok(has(result, "ending through the cloud's API failed (exit code 3): HTTP 403 from the API"), result.stdout);
  });

  it("without one (every cloud whose power-off ends the bill), nothing is attempted", async () => {
    const { result } = await boot({});
    assert.ok(!result.stdout.includes("through the cloud"));
  });
});

describe("boot script: every failure powers off, with its reason, and starts no runner", {
  concurrency: PARALLEL,
}, () => {
  const cases: {
    name: string;
    options: Omit<SandboxOptions, "server">;
    reason: string | RegExp;
    downloads?: number;
    check?: (s: BootSandbox, r: RunResult) => void;
  }[] = [
    {
      name: "bad checksum",
      options: { values: { GR_RUNNER_SHA256_X64: "0".repeat(64) } },
      reason: /^runner checksum mismatch: expected 0{64}, got [0-9a-f]{64}; refusing to install it$/,
      downloads: 1,
      check: (s) => assert.ok(!existsSync(join(s.installDir, "run.sh")), "nothing unpacked"),
    },
    {
      name: "the tarball is not there (404)",
      options: { release: "missing" },
      reason: /^runner download failed \(curl exit code 22\): curl: \(22\) The requested URL returned error: 404/,
      downloads: 1,
    },
    {
      name: "no nvidia-smi at all (driver never came up)",
      options: { gpus: null, values: { GR_GPU_WAIT_SECONDS: "1" } },
      reason: "GPU check failed: nvidia-smi not found (waited 1s)",
      downloads: 1,
    },
    {
      name: "nvidia-smi cannot talk to the driver (derived -L capture, rc 9)",
      options: {
        gpus: {
          ...hostCaptures("h100"),
          [LIST]: {
            command: "nvidia-smi -L",
            output: [
              "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
            ],
            rc: 9,
          },
        },
        values: { GR_GPU_WAIT_SECONDS: "1" },
      },
      reason:
        "GPU check failed: nvidia-smi -L failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running. (waited 1s)",
      downloads: 1,
    },
    {
      name: "the query fails (the real invalid-field answer, rc 2, given to the gate's query)",
      options: {
        gpus: {
          ...hostCaptures("h100"),
          [QUERY]: { ...readCapture("h200", "nvidia-smi-query-bad.txt"), command: readCapture("h100", QUERY).command },
        },
      },
      reason: 'GPU check failed: nvidia-smi query exit code 2: Field "no_such_field" is not a valid field to query.',
    },
    {
      name: "wrong GPU count (2 expected, the H100 host has 1)",
      options: { values: { GR_EXPECTED_GPUS: "2" } },
      reason: "GPU check failed: found 1 GPU(s), expected 2",
    },
    {
      name: "more GPUs than expected (1 expected, the derived host has 2)",
      options: { gpus: twoH100s() },
      reason: "GPU check failed: found 2 GPU(s), expected 1",
    },
    {
      name: "uncorrected ECC errors (derived: 3 in the ECC field)",
      options: { gpus: h100With((f) => setField(f, ECC_FIELD, "3")) },
      reason: "GPU check failed: GPU 0 has 3 uncorrected ECC error(s)",
    },
    {
      name: "one of two GPUs has ECC errors (derived)",
      options: {
        gpus: (() => {
          const c = twoH100s();
          c[QUERY] = editRows(c[QUERY]!, (f, row) => (row === 1 ? setField(f, ECC_FIELD, "12") : f));
          return c;
        })(),
        values: { GR_EXPECTED_GPUS: "2" },
      },
      reason: "GPU check failed: GPU 1 has 12 uncorrected ECC error(s)",
    },
    {
      name: "a GPU reports no memory (derived: 0 MiB)",
      options: { gpus: h100With((f) => setField(f, MEMORY_FIELD, "0")) },
      reason: "GPU check failed: GPU 0 reports memory '0'",
    },
    {
      name: "pre-runner script fails",
      options: {
        values: { GR_PRE_RUNNER_SCRIPT_B64: b64("#!/bin/bash\necho checking CUDA\necho 'no CUDA' >&2\nexit 7\n") },
      },
      reason: "pre-runner script failed (exit code 7)",
      check: (_, r) => {
        assert.ok(has(r, "pre-runner: checking CUDA") && has(r, "pre-runner: no CUDA"), r.stdout);
      },
    },
    {
      name: "pre-runner script starts a daemon, then fails: its exit code decides, at once",
      options: {
        values: {
          GR_PRE_RUNNER_SCRIPT_B64: b64(
            'sleep 3000 &\necho "$!" >"$TMPDIR/daemon-pid"\necho \'daemon up, but no CUDA\'\nexit 5\n',
          ),
        },
      },
      reason: "pre-runner script failed (exit code 5)",
      check: (s, r) => {
        assert.ok(has(r, "pre-runner: daemon up, but no CUDA"), r.stdout);
        const daemon = Number(readFileSync(join(s.root, "tmp", "daemon-pid"), "utf8"));
        assert.ok(isAlive(daemon), "the boot powered off while the daemon lived: not held by it");
      },
    },
    {
      name: "pre-runner script is not base64",
      options: { values: { GR_PRE_RUNNER_SCRIPT_B64: "abc" } },
      reason: "pre-runner script failed: not valid base64",
    },
    {
      name: "the runner exits without a job",
      options: { runner: "exit-3" },
      reason: "runner exited (exit code 3)",
      check: (s, r) => {
        assert.ok(has(r, "runner exited with code 3 without taking a job"), r.stdout);
        assert.ok(has(r, "runner: An error occurred: Runner not configured"), r.stdout);
        assert.ok(s.runnerRecord(), "it did run");
      },
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { sandbox, result } = await boot(c.options);
      assertPoweredOff(sandbox, result);
      const reason = powerOffReason(result);
      if (typeof c.reason === "string") assert.equal(reason, c.reason);
      else assert.match(reason, c.reason);
      if (c.downloads !== undefined) assert.equal(server.requestsUnder(`/${sandbox.id}/`).length, c.downloads);
      if (c.name !== "the runner exits without a job") assertNoRunner(sandbox, result);
      c.check?.(sandbox, result);
      assert.deepEqual(sandbox.filesHoldingSecret(), [], "the config is on no disk");
    });
  }
});

describe("boot script: invalid settings power off before touching anything", { concurrency: PARALLEL }, () => {
  const cases: [string, Record<string, string | undefined>, string][] = [
    ["no JIT config", { GR_JIT_CONFIG: undefined }, "invalid setting GR_JIT_CONFIG: empty or missing"],
    [
      "no lifetime",
      { GR_MAX_LIFETIME_MINUTES: undefined },
      "invalid setting GR_MAX_LIFETIME_MINUTES='': expected an integer > 0",
    ],
    [
      "lifetime 0",
      { GR_MAX_LIFETIME_MINUTES: "0" },
      "invalid setting GR_MAX_LIFETIME_MINUTES='0': expected an integer > 0",
    ],
    [
      "idle 1.5",
      { GR_IDLE_TIMEOUT_MINUTES: "1.5" },
      "invalid setting GR_IDLE_TIMEOUT_MINUTES='1.5': expected an integer > 0",
    ],
    [
      "version latest",
      { GR_RUNNER_VERSION: "latest" },
      "invalid setting GR_RUNNER_VERSION='latest': expected a version like 2.329.0",
    ],
    [
      "root as runner user",
      { GR_RUNNER_USER: "root" },
      "invalid setting GR_RUNNER_USER='root': expected a user other than root",
    ],
    ["sudo yes", { GR_RUNNER_SUDO: "yes" }, "invalid setting GR_RUNNER_SUDO='yes': expected true or false"],
    ["GPUs -1", { GR_EXPECTED_GPUS: "-1" }, "invalid setting GR_EXPECTED_GPUS='-1': expected 0 to 99"],
    [
      "short checksum",
      { GR_RUNNER_SHA256_X64: "abc" },
      "invalid setting GR_RUNNER_SHA256_X64='abc': expected 64 hex digits",
    ],
    ["install dir /", { GR_INSTALL_DIR: "/" }, "invalid setting GR_INSTALL_DIR='/': expected an absolute path, not /"],
    [
      "relative install dir",
      { GR_INSTALL_DIR: "opt/runner" },
      "invalid setting GR_INSTALL_DIR='opt/runner': expected an absolute path, not /",
    ],
    ["agent dir /", { GR_AGENT_DIR: "/" }, "invalid setting GR_AGENT_DIR='/': expected an absolute path, not /"],
    [
      "pre-runner script not base64",
      { GR_PRE_RUNNER_SCRIPT_B64: "#!/bin/sh" },
      "invalid setting GR_PRE_RUNNER_SCRIPT_B64='#!/bin/sh': expected base64",
    ],
    [
      "relative system root (test only)",
      { GR_SYSTEM_ROOT: "var" },
      "invalid setting GR_SYSTEM_ROOT='var': expected empty or an absolute path",
    ],
    // Quoted by the header, never evaluated: the value is reported as it is, and nothing ran.
    [
      "a name with shell in it",
      { GR_RUNNER_NAME: "it's $(touch pwned)" },
      "invalid setting GR_RUNNER_NAME='it's $(touch pwned)': expected 1-100 of A-Za-z0-9._-",
    ],
  ];

  for (const [name, values, reason] of cases) {
    it(name, async () => {
      const { sandbox, result } = await boot({ values });
      assertPoweredOff(sandbox, result);
      assert.equal(powerOffReason(result), reason);
      assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [], "no download");
      assert.deepEqual(sandbox.calls("useradd"), [], "no user created");
      assertNoRunner(sandbox, result);
      assert.ok(!existsSync(join(sandbox.root, "pwned")));
      const backstop = sandbox.calls("power").some((c) => c.startsWith("shutdown -P"));
      const capInvalid = ["no lifetime", "lifetime 0", "relative system root (test only)"].includes(name);
      assert.equal(backstop, !capInvalid, "the backstop is scheduled once the cap is valid");
    });
  }
});

/**
 * A lifetime, in "minutes" that are seconds here, for the tests whose cap must fire once the job (or the pre-runner
 * script) runs: a boot gets there in about a second on a quiet machine. The cap's verdict is read from the script's own
 * record (the deadline file against the power-off's clock); were a machine slower than this, the test says so.
 */
const LIFETIME_PAST_THE_START = 10;
const tooSlow = (what: string) =>
  `the cap fired before ${what}: this machine took over ${LIFETIME_PAST_THE_START} s to get there`;

/** The machine powered off, every time at or after the lifetime deadline the first boot wrote. */
function assertPoweredOffAtTheDeadline(sandbox: BootSandbox): void {
  const deadline = sandbox.deadline();
  const at = sandbox.poweredOffAt();
  assert.ok(
    at.length > 0 && at.every((t) => t >= deadline),
    `power-off at ${at.join(", ")} (epoch s), the deadline ${deadline}`,
  );
}

describe("boot script: timeouts", { concurrency: PARALLEL }, () => {
  it("idle timeout: no job within GR_IDLE_TIMEOUT_MINUTES, the runner is stopped, then power-off", async () => {
    const { sandbox, result } = await boot({ runner: "idle", values: { GR_IDLE_TIMEOUT_MINUTES: "4" } });
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "idle timeout: no job within 4 minute(s) of the runner starting");
    assert.ok(!result.stdout.includes("job taken"));
    // Not before the timeout, read from the script's milestone and the power-off's clock: bash counts whole seconds
    // (SECONDS), so the wait is at least 4 - 1 of them.
    const started = Number(/^gpu-runner-time: (\S+) runner-started$/m.exec(result.stdout)?.[1]);
    const [off] = sandbox.poweredOffAt();
    assert.ok(off !== undefined && off - started >= 3, `powered off ${off} (epoch s), the runner started ${started}`);
    const pid = Number(sandbox.runnerRecord()?.pid);
    await waitFor("the runner to be stopped", () => !isAlive(pid));
  });

  it("lifetime cap: a job that runs too long is stopped and the machine powered off", async () => {
    const life = String(LIFETIME_PAST_THE_START);
    const { sandbox, result } = await boot({ runner: "job-then-hang", values: { GR_MAX_LIFETIME_MINUTES: life } });
    assert.ok(has(result, "job taken: long-job"), `${tooSlow("the job was taken")}\n${result.stdout}`);
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), `max lifetime reached (${life} minute(s))`);
    assert.ok(!result.stdout.includes("job done"));
    assertPoweredOffAtTheDeadline(sandbox);
    const pid = Number(sandbox.runnerRecord()?.pid);
    await waitFor("the runner to be stopped", () => !isAlive(pid));
  });

  it("the idle timeout does not stop a job that runs past it", async () => {
    // The job is held until the idle deadline (the runner's start, from the script's own milestone, plus 2 "minutes")
    // has passed; the runner then finishes it and the boot powers off for that reason alone.
    const sandbox = await create({ runner: "held-job", values: { GR_IDLE_TIMEOUT_MINUTES: "2" } });
    const running = sandbox.run();
    await waitFor("the held job", () => sandbox.output().includes(`${BOOT_LOG_PREFIX} job taken: held-job`));
    const started = Number(/^gpu-runner-time: (\S+) runner-started$/m.exec(sandbox.output())?.[1]);
    await waitFor("the idle deadline to pass", () => Date.now() / 1000 > started + 3);
    await sandbox.releaseJob();
    const result = await running;
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    assert.ok(has(result, "job done: runner exited with code 0"), result.stdout);
    assert.ok(
      has(result, "runner: 2025-01-01 00:00:00Z: Job held-job completed with result: Succeeded"),
      result.stdout,
    );
  });

  it("SIGTERM to the boot script stops the runner and powers off", async () => {
    const sandbox = await create({ runner: "idle" });
    const { exited } = sandbox.start();
    try {
      await waitFor("the runner", () => sandbox.output().includes("Listening for Jobs"));
      process.kill(sandbox.pid, "SIGTERM");
      assert.equal((await exited).code, 0);
      assert.equal(
        powerOffReason({ stdout: sandbox.output(), lines: sandbox.lines() } as RunResult),
        "boot script got a termination signal",
      );
      assert.deepEqual(
        sandbox.calls("power").filter((c) => c === "poweroff"),
        ["poweroff"],
      );
      const pid = Number(sandbox.runnerRecord()?.pid);
      await waitFor("the runner to be stopped", () => !isAlive(pid));
    } finally {
      killGroup(sandbox.pid);
    }
  });

  it("lifetime cap holds even when the boot script itself is killed", async () => {
    // The pre-runner script hangs; the boot script is then killed with SIGKILL (no trap can run): the timer alone
    // must still power off at the cap.
    const life = String(LIFETIME_PAST_THE_START);
    const sandbox = await create({
      values: { GR_MAX_LIFETIME_MINUTES: life, GR_PRE_RUNNER_SCRIPT_B64: b64("echo hanging\nexec sleep 3000\n") },
    });
    const { exited } = sandbox.start();
    try {
      await waitFor(
        "the pre-runner script",
        () => sandbox.output().includes("pre-runner: hanging") || sandbox.calls("power").includes("poweroff"),
      );
      assert.ok(
        sandbox.output().includes("pre-runner: hanging"),
        `${tooSlow("the pre-runner script ran")}\n${sandbox.output()}`,
      );
      process.kill(sandbox.pid, "SIGKILL");
      assert.equal((await exited).signal, "SIGKILL");
      await waitFor("the power-off", () => sandbox.calls("power").includes("poweroff"));
      await waitFor("its log line", () =>
        sandbox.output().includes(`${BOOT_LOG_PREFIX} powering off: max lifetime reached (${life} minute(s))`),
      );
      assertPoweredOffAtTheDeadline(sandbox);
      assertNoRunner(sandbox, { stdout: sandbox.output(), lines: sandbox.lines() } as RunResult);
    } finally {
      killGroup(sandbox.pid);
    }
  });
});

describe("boot script: the runner credential's on-disk copies", { concurrency: PARALLEL }, () => {
  it("plain and gzip-compressed copies are all removed, and the log line names each", async () => {
    const sandbox = await create();
    // Beside cloud-init's four, a gzip copy elsewhere under its directory (as a log rotation or a backup makes one).
    const extra = join(sandbox.cloudDir, "instances", "i-0123456789abcdef0", "user-data.txt.gz");
    await writeFile(extra, gzipSync(readFileSync(sandbox.userDataFiles[1]!)));
    const result = await sandbox.run();
    assertPoweredOff(sandbox, result);
    for (const file of [...sandbox.userDataFiles, extra]) assert.ok(!existsSync(file), `${file} was removed`);
    assert.deepEqual(sandbox.filesHoldingSecret(), []);
    const report = scrubReport(result);
    assert.deepEqual(report.removed.sort(), [...sandbox.userDataFiles, extra].sort(), report.line);
    assert.deepEqual(report.gzip.sort(), [sandbox.userDataFiles[0]!, extra].sort(), report.line);
    assert.deepEqual(report.unchecked, []);
    assert.ok(existsSync(join(sandbox.cloudDir, "instances", "i-0123456789abcdef0", "datasource")), "the rest stays");
  });

  it("a file it cannot read, or a gzip stream that does not decompress, is named as unchecked, not as removed", async () => {
    const sandbox = await create();
    const instance = join(sandbox.cloudDir, "instances", "i-0123456789abcdef0");
    const truncated = join(instance, "vendor-data.txt");
    const unreadable = join(instance, "sem-data");
    await writeFile(truncated, readFileSync(sandbox.userDataFiles[0]!).subarray(0, 20)); // gzip header, no more
    const closed = join(instance, "handlers");
    const locked = join(sandbox.cloudDir, "seed", "user-data"); // in a directory it may not change
    await writeFile(unreadable, "nothing secret\n", { mode: 0o000 });
    await mkdir(closed, { mode: 0o000 });
    await mkdir(join(sandbox.cloudDir, "seed"));
    await writeFile(locked, readFileSync(sandbox.userDataFiles[3]!));
    await chmod(join(sandbox.cloudDir, "seed"), 0o555);
    try {
      const result = await sandbox.run();
      assertPoweredOff(sandbox, result);
      const report = scrubReport(result);
      assert.deepEqual(report.removed.sort(), [...sandbox.userDataFiles].sort(), report.line);
      const [listing, ...files] = report.unchecked.sort();
      assert.deepEqual(
        files,
        [`${truncated} (gzip that does not decompress)`, `${unreadable} (unreadable)`].sort(),
        report.line,
      );
      assert.ok(
        listing?.startsWith(`${sandbox.cloudDir} (not all listed: find: `) && listing.includes("handlers"),
        report.line,
      );
      assert.ok(existsSync(truncated) && existsSync(unreadable), "what it could not check, it leaves");
      assert.ok(report.line.endsWith(`; could not remove: ${locked}`), report.line);
      assert.ok(existsSync(locked));
    } finally {
      await chmod(unreadable, 0o600);
      await chmod(closed, 0o700);
      await chmod(join(sandbox.cloudDir, "seed"), 0o700);
    }
    // Zeroed in place where it could be written (not where, as here when the tests run as root, it belonged to root).
    assert.deepEqual(
      sandbox.filesHoldingSecret().filter((f) => f !== locked),
      [],
    );
  });

  // Where Azure's Linux guest agent keeps the custom data as delivered, base64-encoded: an ovf-env.xml as cloud-init's
  // datasource rewrites it (the custom data in <ns1:CustomData>, the password redacted) and the CustomData file the
  // agent itself saves when it provisions (undecoded by default).
  const ovfEnv = (customData: string) =>
    [
      '<ns0:Environment xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1" xmlns:ns1="http://schemas.microsoft.com/windowsazure">',
      "<ns1:ProvisioningSection><ns1:Version>1.0</ns1:Version><ns1:LinuxProvisioningConfigurationSet>",
      "<ns1:ConfigurationSetType>LinuxProvisioningConfiguration</ns1:ConfigurationSetType>",
      "<ns1:HostName>gpu-1234-1-0</ns1:HostName><ns1:UserName>gpuadmin</ns1:UserName><ns1:UserPassword>REDACTED</ns1:UserPassword>",
      `<ns1:CustomData>${customData}</ns1:CustomData>`,
      "</ns1:LinuxProvisioningConfigurationSet></ns1:ProvisioningSection></ns0:Environment>",
    ].join("");

  it("a guest agent's base64-encoded copies (ovf-env.xml, CustomData) are removed and named; its other files stay", async () => {
    const agent = (sandbox: BootSandbox, name: string) => join(sandbox.agentDir, name);
    const sandbox = await create({
      files: (s) => ({
        [agent(s, "ovf-env.xml")]: ovfEnv(b64(s.userData)),
        [agent(s, "CustomData")]: b64(s.userData),
        [agent(s, "provisioned")]: `${s.machineId}\n`,
        [agent(s, "history/1/GoalState.xml")]: "<GoalState><Incarnation>1</Incarnation></GoalState>\n",
      }),
    });
    const copies = [agent(sandbox, "ovf-env.xml"), agent(sandbox, "CustomData")];
    // A directory of the agent's it cannot list: named as such, under the agent's directory (not cloud-init's).
    const closed = agent(sandbox, "events");
    await mkdir(closed, { mode: 0o000 });
    try {
      const result = await sandbox.run();
      assertPoweredOff(sandbox, result);
      for (const file of copies) assert.ok(!existsSync(file), `${file} was removed`);
      for (const file of ["provisioned", "history/1/GoalState.xml"])
        assert.ok(existsSync(agent(sandbox, file)), `${file} stays`);
      const report = scrubReport(result);
      assert.deepEqual(report.removed.sort(), [...sandbox.userDataFiles, ...copies].sort(), report.line);
      assert.deepEqual(report.base64.sort(), copies.sort(), report.line);
      assert.deepEqual(report.gzip, [sandbox.userDataFiles[0]!], report.line);
      assert.equal(report.unchecked.length, 1, report.line);
      assert.ok(
        report.unchecked[0]!.startsWith(`${sandbox.agentDir} (not all listed: find: `) &&
          report.line.includes("events"),
        report.line,
      );
    } finally {
      await chmod(closed, 0o700);
    }
    assert.deepEqual(sandbox.filesHoldingSecret(), []);
  });

  it("base64 copies at each offset mod 3, on one line or wrapped at 76, are removed and named; another config's stay", async () => {
    // The boot script with k bytes before it, base64-encoded: the config starts at each of the three offsets mod 3.
    const encoded = (text: string, k: number, wrap: boolean) => {
      const line = Buffer.concat([Buffer.from("xy".slice(0, k)), Buffer.from(text)]).toString("base64");
      return wrap ? `${line.replace(/.{76}/g, "$&\n")}\n` : line;
    };
    const other = renderBootScript({
      values: { GR_RUNNER_NAME: "gpu-1234-1-1", GR_JIT_CONFIG: `jit-${randomBytes(1536).toString("base64")}` },
    });
    const name = (dir: string, what: string, k: number, wrap: boolean) =>
      join(dir, `${what}-${k}${wrap ? "-wrapped" : ""}.b64`);
    const cases = [0, 1, 2].flatMap((k) => [false, true].map((wrap) => ({ k, wrap })));
    const sandbox = await create({
      files: (s) =>
        Object.fromEntries(
          cases.flatMap(({ k, wrap }) => {
            const dir = wrap ? s.agentDir : s.cloudDir; // both directories searched
            return [
              [name(dir, "this", k, wrap), encoded(s.userData, k, wrap)],
              [name(dir, "other", k, wrap), encoded(other, k, wrap)],
            ];
          }),
        ),
      recordTools: ["base64", "grep", "gzip", "tr"],
    });
    const dirOf = (wrap: boolean) => (wrap ? sandbox.agentDir : sandbox.cloudDir);
    const copies = cases.map(({ k, wrap }) => name(dirOf(wrap), "this", k, wrap));
    const others = cases.map(({ k, wrap }) => name(dirOf(wrap), "other", k, wrap));
    const at = sandbox.userData.indexOf(sandbox.secret);
    assert.deepEqual(new Set([0, 1, 2].map((k) => (at + k) % 3)).size, 3, "the config at each offset mod 3");
    const result = await sandbox.run();
    assertPoweredOff(sandbox, result);
    for (const file of copies) assert.ok(!existsSync(file), `${file} was removed`);
    for (const file of others) assert.ok(existsSync(file), `${file} (another runner's config) stays`);
    assert.deepEqual(sandbox.filesHoldingSecret(), []);
    const report = scrubReport(result);
    assert.deepEqual(report.removed.sort(), [...sandbox.userDataFiles, ...copies].sort(), report.line);
    assert.deepEqual(report.base64.sort(), copies.sort(), report.line);
    assert.deepEqual(report.unchecked, []);
    // What grep looked for came through a pipe: neither the config nor any part of its base64 was in an argv.
    const patterns = [0, 1, 2].map((k) => encoded(sandbox.secret, k, false).slice(4, -4));
    assert.ok(sandbox.calls("grep").length > 0 && sandbox.calls("base64").length > 0, "the calls were recorded");
    for (const call of sandbox.allCalls()) {
      assert.ok(
        ![sandbox.secret, ...patterns].some((p) => call.includes(p.slice(0, 40))),
        `the config in an argv: ${call.slice(0, 80)}`,
      );
    }
  });
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe("boot script: the lifetime cap survives a reboot, counted from the first boot", {
  concurrency: PARALLEL,
}, () => {
  it("the first boot writes the deadline and installs the per-boot re-arm", async () => {
    const before = nowSeconds();
    const { sandbox, result } = await boot();
    const after = Math.ceil(Date.now() / 1000);
    assertPoweredOff(sandbox, result);

    // The deadline: 60 "minutes" (seconds here) from the first boot, tied to this VM, root's only.
    const [epoch, machine] = readFileSync(sandbox.deadlinePath, "utf8").trim().split(" ");
    assert.ok(
      Number(epoch) >= before + 60 && Number(epoch) <= after + 60,
      `deadline ${epoch} in [${before + 60}, ${after + 60}]`,
    );
    assert.equal(machine, sandbox.machineId);
    assert.equal(statSync(sandbox.deadlinePath).mode & 0o777, 0o600);
    assert.equal(statSync(join(sandbox.root, "var", "lib", "gpu-runner")).mode & 0o777, 0o700);

    // The unit, enabled for every boot, runs the per-boot script; it holds no secret.
    const rearm = join(sandbox.root, "var", "lib", "gpu-runner", "lifetime");
    const unit = readFileSync(sandbox.unitPath, "utf8");
    assert.match(unit, new RegExp(`^ExecStart=/bin/bash ${rearm}$`, "m"));
    assert.match(unit, /^Type=oneshot$/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    assert.equal(readlinkSync(sandbox.unitLinkPath), sandbox.unitPath);
    assert.ok(!readFileSync(rearm, "utf8").includes(sandbox.secret));
    const check = spawnSync("bash", ["-n", rearm], { encoding: "utf8" });
    assert.equal(check.status, 0, check.stderr);

    // This boot too: a systemd timer a time unit past the deadline (the script's own timer goes first), the backstop.
    const runs = sandbox.calls("systemd-run");
    assert.equal(runs.length, 1, runs.join("\n"));
    assert.match(
      runs[0]!,
      new RegExp(
        `^--unit=gpu-runner-lifetime-cap --on-active=6[01]s --timer-property=AccuracySec=1s -- /bin/bash ${rearm}$`,
      ),
    );
    assert.equal(sandbox.calls("power")[0], "shutdown -P +3");
    assert.ok(
      result.lines.some((l) =>
        /^gpu-runner: lifetime: (59|60) of 60 minute\(s\) left, counted from the first boot: systemd timer gpu-runner-lifetime-cap in 6[01] s$/.test(
          l,
        ),
      ),
      result.stdout,
    );
    assert.ok(
      result.lines.some((l) =>
        l.startsWith(
          `${BOOT_LOG_PREFIX} lifetime re-armed at every boot by gpu-runner-lifetime.service until ${epoch} `,
        ),
      ),
      result.stdout,
    );
  });

  it("without GR_TIME_UNIT_SECONDS a minute is 60 s: the deadline, this boot's timer and the backstop", async () => {
    // Every other test runs with 1 s "minutes"; this one runs production's unit (and does not wait for it).
    const before = nowSeconds();
    const { sandbox, result } = await boot({ values: { GR_TIME_UNIT_SECONDS: undefined } });
    const after = Math.ceil(Date.now() / 1000);
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    const deadline = sandbox.deadline();
    assert.ok(
      deadline >= before + 3600 && deadline <= after + 3600,
      `deadline ${deadline} in [${before + 3600}, ${after + 3600}]`,
    );
    assert.match(sandbox.calls("systemd-run")[0]!, /^--unit=gpu-runner-lifetime-cap --on-active=36(59|60)s /);
    assert.equal(sandbox.calls("power")[0], "shutdown -P +62");
    assert.ok(
      result.lines.some((l) =>
        /^gpu-runner: lifetime: 60 of 60 minute\(s\) left, counted from the first boot: /.test(l),
      ),
      result.stdout,
    );
  });

  it("a later boot past the deadline powers off at once", async () => {
    const { sandbox } = await boot();
    const [, machine] = readFileSync(sandbox.deadlinePath, "utf8").trim().split(" ");
    await writeFile(sandbox.deadlinePath, `${nowSeconds() - 5} ${machine}\n`); // the clock has passed it
    const powerBefore = sandbox.calls("power").length;
    const later = await sandbox.perBoot();
    assert.equal(later.code, 0, later.stderr);
    assert.deepEqual(later.lines, [
      `${BOOT_LOG_PREFIX} powering off: max lifetime reached (60 minute(s), counted from the first boot)`,
    ]);
    assert.deepEqual(sandbox.calls("power").slice(powerBefore), ["poweroff"]);
    assert.equal(sandbox.calls("systemd-run").length, 1, "no new timer");
  });

  it("a later boot before the deadline re-arms for the time left, not the whole lifetime", async () => {
    const { sandbox } = await boot();
    const [, machine] = readFileSync(sandbox.deadlinePath, "utf8").trim().split(" ");
    await writeFile(sandbox.deadlinePath, `${nowSeconds() + 30} ${machine}\n`); // 30 of the 60 are left
    const powerBefore = sandbox.calls("power").length;
    const later = await sandbox.perBoot();
    sandbox.killTimers();
    assert.equal(later.code, 0, later.stderr);
    assert.match(
      later.lines.at(-1)!,
      /^gpu-runner: lifetime: (29|30) of 60 minute\(s\) left, counted from the first boot: systemd timer gpu-runner-lifetime-cap in (29|30) s$/,
    );
    assert.match(sandbox.calls("systemd-run")[1]!, /^--unit=gpu-runner-lifetime-cap --on-active=(29|30)s /);
    assert.deepEqual(sandbox.calls("power").slice(powerBefore), ["shutdown -P +3"]);
  });

  it("a later boot without a readable deadline fails closed", async () => {
    const { sandbox } = await boot();
    await rm(sandbox.deadlinePath);
    const powerBefore = sandbox.calls("power").length;
    const later = await sandbox.perBoot();
    assert.match(
      later.lines.at(-1)!,
      /^gpu-runner: powering off: no lifetime deadline readable in .*\/var\/lib\/gpu-runner\/deadline \(removed\?\): failing closed$/,
    );
    assert.deepEqual(sandbox.calls("power").slice(powerBefore), ["poweroff"]);
  });

  it("killing the boot script, its timer and the runner, and `shutdown -c`, do not escape the cap", async () => {
    // What a job with sudo can do in a minute: everything the boot script started dies, the scheduled shutdown is
    // cancelled. The timer systemd holds (here a session of its own) still runs the re-arm at the deadline.
    const life = String(LIFETIME_PAST_THE_START);
    const sandbox = await create({
      runner: "job-then-hang",
      values: { GR_MAX_LIFETIME_MINUTES: life },
    });
    const { exited } = sandbox.start();
    try {
      await waitFor(
        "the job",
        () => sandbox.output().includes("job taken: long-job") || sandbox.calls("power").includes("poweroff"),
      );
      assert.ok(
        sandbox.output().includes("job taken: long-job"),
        `${tooSlow("the job was taken")}\n${sandbox.output()}`,
      );
      killGroup(sandbox.pid);
      await exited;
      const cancel = spawnSync(join(sandbox.bin, "shutdown"), ["-c"], { encoding: "utf8" });
      assert.equal(cancel.status, 0, cancel.stderr);
      await waitFor("the power-off", () => sandbox.calls("power").includes("poweroff"));
      assertPoweredOffAtTheDeadline(sandbox);
      const console = readFileSync(sandbox.console, "utf8");
      assert.ok(
        console.endsWith(
          `${BOOT_LOG_PREFIX} powering off: max lifetime reached (${life} minute(s), counted from the first boot)\n`,
        ),
        console,
      );
    } finally {
      killGroup(sandbox.pid);
    }
  });

  it("a second run on the same machine (a startup script runs at every boot) keeps the first boot's deadline", async () => {
    const past = await boot({ deadline: { epoch: nowSeconds() - 1, machine: "this" } });
    assertPoweredOff(past.sandbox, past.result);
    assert.equal(powerOffReason(past.result), "max lifetime reached (60 minute(s))");
    assert.deepEqual(server.requestsUnder(`/${past.sandbox.id}/`), [], "no download");
    assertNoRunner(past.sandbox, past.result);

    const epoch = nowSeconds() + 20;
    const { sandbox, result } = await boot({ deadline: { epoch, machine: "this" } });
    assertPoweredOff(sandbox, result);
    assert.ok(
      result.lines.some((l) =>
        /^gpu-runner: lifetime armed: (19|20) of 60 minute\(s\) left, counted from this machine's first boot$/.test(l),
      ),
      result.stdout,
    );
    assert.equal(readFileSync(sandbox.deadlinePath, "utf8"), `${epoch} ${sandbox.machineId}\n`, "the deadline is kept");
    assert.equal(sandbox.runnerRecord()?.jit_set, "yes");
  });

  it("a deadline from another machine (a copied disk) is neither kept nor obeyed", async () => {
    const { sandbox, result } = await boot({ deadline: { epoch: nowSeconds() - 1000, machine: "another" } });
    assertPoweredOff(sandbox, result);
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    const [epoch, machine] = readFileSync(sandbox.deadlinePath, "utf8").trim().split(" ");
    assert.equal(machine, sandbox.machineId);
    assert.ok(Number(epoch) >= nowSeconds() + 30, "a fresh deadline");

    await writeFile(sandbox.deadlinePath, `${nowSeconds() - 5} ec2fffffff-0000-4000-8000-00000000ffff\n`);
    const powerBefore = sandbox.calls("power").length;
    const later = await sandbox.perBoot();
    assert.match(
      later.lines.at(-1)!,
      /^gpu-runner: lifetime: .*\/deadline was written on another machine \(a copied disk\): not armed$/,
    );
    assert.deepEqual(sandbox.calls("power").slice(powerBefore), []);
  });
});

// shellcheck-clean: test/shellcheck.test.ts lints it with every other shell script.
describe("boot script: static checks", () => {
  it("renders into a script bash can parse, that starts with the header and has one shebang", async () => {
    const rendered = renderBootScript({ values: { GR_RUNNER_NAME: "x", GR_JIT_CONFIG: "it's" } });
    assert.ok(rendered.startsWith("#!/bin/bash\nexport GR_RUNNER_NAME='x'\nexport GR_JIT_CONFIG='it'\\''s'\n"));
    assert.equal(rendered.match(/^#!/gm)?.length, 1);
    const dir = await mkdtemp(join(tmpdir(), "boot-render-"));
    try {
      await writeFile(join(dir, "user-data"), rendered);
      const run = spawnSync("bash", ["-n", join(dir, "user-data")], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("prints with the prefix the action looks for (BOOT_LOG_PREFIX)", () => {
    const body = readFileSync(BODY_PATH, "utf8");
    assert.ok(body.includes(`local l="${BOOT_LOG_PREFIX} $*"`), "log() prefixes every line with BOOT_LOG_PREFIX");
  });
});
