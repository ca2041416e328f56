// Everything the local machine kind needs to run the action end to end on one machine, in one scratch directory:
// the GitHub stand-in (./server.ts) with the runner release stand-in (./runner-release.ts), an artifact store, the
// action.yml driver (./action-runner.ts) with the job environment the local kind reads, and the checks that matter
// after a run: which processes are still there, and where a secret can be read in clear. Used by the end-to-end
// tests and by `npm run demo`.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { STATE_ARTIFACT_PREFIX, STATE_FILE_NAME } from "../../../scripts/lib/constants.ts";
import { POLL_INTERVAL_MS } from "../../../scripts/phases/wait-online.ts";
import {
  type ActionRunResult,
  type ArtifactStore,
  type CancelOptions,
  runAction,
  type StepResult,
} from "./action-runner.ts";
import { loadGitHubOpenApi, type OpenApiChecker } from "./openapi.ts";
import { buildRunnerRelease, type RunnerRelease } from "./runner-release.ts";
import { HUNG_MS } from "../patience.ts";
import { LocalGitHub } from "./server.ts";

/** The repository root: the action's directory (GITHUB_ACTION_PATH). */
export const ACTION_ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");

/** The hook that registers the local machine kind in the action's processes (see register-local.mjs). */
export const LOCAL_KIND_HOOK = fileURLToPath(new URL("../register-local.mjs", import.meta.url));

/** NODE_OPTIONS that preload that hook: what a job environment needs for `cloud: local`. */
export function localKindNodeOptions(): string {
  return `--import=${JSON.stringify(LOCAL_KIND_HOOK)}`;
}

export interface LocalWorldOptions {
  repository?: string;
  /** The token the stand-in accepts; a random obviously-fake one by default. */
  token?: string;
  /** Check every API exchange against GitHub's OpenAPI description (when @octokit/openapi is installed). Default true. */
  openApi?: boolean | OpenApiChecker;
  /** GPU_RUNNER_TEST_POLL_MS: how often start polls the runners. Default 200; null leaves production's {@link POLL_INTERVAL_MS}. */
  pollMs?: number | null;
  /** GPU_RUNNER_TEST_RUNNER_TIMEOUT_MS: the runner-timeout in ms, for tests of a runner that never comes online. */
  runnerTimeoutMs?: number;
  /** A page size cap below GitHub's 100, so that listing runners pages. */
  maxPerPage?: number;
  /** Extra job environment for every run. */
  env?: Record<string, string>;
  /** The machines' image has the runner release unpacked where the boot script installs it (a baked image). */
  bakedRunner?: boolean;
  /**
   * Faults in the launch of local machines, by machine name (bash extended regular expressions, e.g. "-1$"): `fail`
   * makes that machine's local-exec provisioner (test/kit/local-cloud/launch.sh) fail, so terraform apply fails half way, as
   * when a cloud refuses one machine of several; `slow` delays its launch by `slowSeconds` (default 10) first. Done by
   * a mkdir stand-in first on the job's PATH (see LAUNCH_FAULT_SHIM), so test/kit/local-cloud stays as it ships.
   */
  launchFaults?: { fail?: string; slow?: string; slowSeconds?: number };
}

export interface Upload {
  id: number;
  name: string;
  files: Map<string, Buffer>;
}

/** The Actions artifact service, standing in: files under `dir`, listed by the GitHub stand-in. */
export class LocalArtifacts implements ArtifactStore {
  /** Every upload, kept in memory so that its bytes can be checked even after the artifact is deleted. */
  readonly uploads: Upload[] = [];

  constructor(
    readonly dir: string,
    private readonly server: LocalGitHub,
    private readonly runId: string,
  ) {
    server.onArtifactDeleted = (artifact) => {
      rm(join(dir, String(artifact.id)), { recursive: true, force: true }).catch(() => undefined);
    };
  }

  async upload(
    name: string,
    path: string,
    options: { overwrite: boolean },
  ): Promise<{ id: number; digest: string } | "exists" | undefined> {
    const files = await collect(path);
    if (files.size === 0) return undefined;
    const existing = this.server.artifacts.filter((a) => a.runId === this.runId && a.name === name);
    if (existing.length > 0 && !options.overwrite) return "exists";
    for (const old of existing) this.server.deleteArtifact(old.id);
    const hash = createHash("sha256");
    let size = 0;
    for (const [file, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      hash.update(file).update(bytes);
      size += bytes.length;
    }
    const digest = hash.digest("hex");
    const artifact = this.server.addArtifact(this.runId, name, size, `sha256:${digest}`);
    for (const [file, bytes] of files) {
      const target = join(this.dir, String(artifact.id), file);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
    this.uploads.push({ id: artifact.id, name, files });
    return { id: artifact.id, digest };
  }

  async download(name: string, path: string): Promise<boolean> {
    const artifact = this.server.artifacts.find((a) => a.runId === this.runId && a.name === name);
    if (!artifact) return false;
    await mkdir(path, { recursive: true });
    await cp(join(this.dir, String(artifact.id)), path, { recursive: true });
    return true;
  }

  /** The path of a file of a live artifact, or undefined. */
  file(name: string, file: string): string | undefined {
    const artifact = this.server.artifacts.find((a) => a.runId === this.runId && a.name === name);
    const path = artifact && join(this.dir, String(artifact.id), file);
    return path && existsSync(path) ? path : undefined;
  }
}

async function collect(path: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    return files;
  }
  if (info.isFile()) {
    files.set(path.split("/").pop()!, await readFile(path));
    return files;
  }
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.set(relative(path, full), await readFile(full));
    }
  };
  await walk(path);
  return files;
}

/**
 * The mkdir stand-in of LocalWorldOptions.launchFaults. test/kit/local-cloud/launch.sh begins, under set -e, with
 * `mkdir -p "$GR_MACHINE_DIR/cloud/instance"`: that one call, for a machine the fault names, fails (or first
 * sleeps). Every other mkdir, the machines' own included, is the real one, found on PATH after this directory.
 */
export const LAUNCH_FAULT_SHIM = `#!/usr/bin/env bash
# Fault injection for the local machine kind (test/kit/local-github/world.ts, launchFaults): mkdir, first on PATH.
set -u
if [[ $# -eq 2 && $1 == -p && -n \${GR_MACHINE_DIR-} && $2 == "$GR_MACHINE_DIR/cloud/instance" ]]; then
  name=\${GR_MACHINE_DIR##*/}
  if [[ -n \${LOCAL_FAULT_LAUNCH_SLOW-} && $name =~ $LOCAL_FAULT_LAUNCH_SLOW ]]; then
    echo "mkdir (injected fault): the launch of $name is slow (\${LOCAL_FAULT_LAUNCH_SLOW_SECONDS:-10} s)" >&2
    sleep "\${LOCAL_FAULT_LAUNCH_SLOW_SECONDS:-10}"
  fi
  if [[ -n \${LOCAL_FAULT_LAUNCH_FAIL-} && $name =~ $LOCAL_FAULT_LAUNCH_FAIL ]]; then
    echo "mkdir: cannot create directory '$2': No space left on device (injected fault)" >&2
    exit 1
  fi
fi
self=$(cd -- "\${BASH_SOURCE[0]%/*}" && pwd)
IFS=: read -ra dirs <<<"$PATH"
for dir in "\${dirs[@]}"; do
  [[ $dir != "$self" && -x $dir/mkdir ]] && exec "$dir/mkdir" "$@"
done
echo "mkdir (fault stand-in): no other mkdir on PATH" >&2
exit 127
`;

export interface ProcessInfo {
  pid: number;
  command: string;
  /** What tied it to the world: "command line", "working directory" or "environment". */
  why: string;
}

/** Live processes whose command line, working directory or environment contains one of `needles`. */
export function processesMatching(needles: string[], exclude: number[] = [process.pid]): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (exclude.includes(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") continue; // a zombie holds nothing
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      let why = needles.some((n) => command.includes(n)) ? "command line" : "";
      if (!why) {
        try {
          if (needles.some((n) => readlinkSync(`/proc/${pid}/cwd`).includes(n))) why = "working directory";
        } catch {
          // not ours to read
        }
      }
      if (!why) {
        try {
          if (needles.some((n) => readFileSync(`/proc/${pid}/environ`, "utf8").includes(n))) why = "environment";
        } catch {
          // not ours to read
        }
      }
      if (why) found.push({ pid, command: command.slice(0, 200), why });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The live processes of a session (field 6 of /proc/PID/stat), zombies aside. */
export function sessionMembers(sid: number): number[] {
  return processesWhere((stat) => stat.session === sid);
}

/** The live processes of a process group (field 5 of /proc/PID/stat), zombies aside: e.g. a step's, by its pid. */
export function groupMembers(pgid: number): number[] {
  return processesWhere((stat) => stat.pgrp === pgid);
}

function processesWhere(test: (stat: { pgrp: number; session: number }) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // After the command name (which may hold spaces): state ppid pgrp session ...
      const [state, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z" && test({ pgrp: Number(pgrp), session: Number(session) })) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface SecretFinding {
  /** Which secret (its kind, never its value). */
  secret: string;
  where: string;
}

export class LocalWorld {
  readonly runs: ActionRunResult[] = [];
  /** RUNNER_TEMP of each run, in order: each run is its own job, on its own (stand-in) GitHub runner. */
  readonly runnerTemps: string[] = [];
  /** Where the jobs' RUNNER_TEMP directories are made. */
  readonly runnerTemp: string;
  readonly machines: string;
  readonly tmp: string;
  readonly home: string;
  /** Where the launch fault stand-in lives (LocalWorldOptions.launchFaults). */
  readonly faultBin: string;
  readonly eventPath: string;
  /** The unpacked runner of a baked image (LocalWorldOptions.bakedRunner). */
  readonly imageRunner: string;
  readonly artifacts: LocalArtifacts;
  /** Passphrases given to runs (state-passphrase): secrets too. */
  private readonly passphrases = new Set<string>();

  private constructor(
    readonly root: string,
    readonly server: LocalGitHub,
    readonly release: RunnerRelease,
    readonly token: string,
    readonly repository: string,
    /** The workflow run of every job this world runs; the GitHub stand-in queues its jobs in it too. */
    readonly runId: string,
    private readonly options: LocalWorldOptions,
  ) {
    this.runnerTemp = join(root, "jobs");
    this.machines = join(root, "machines");
    this.tmp = join(root, "tmp");
    this.home = join(root, "home");
    this.faultBin = join(root, "fault-bin");
    this.eventPath = join(root, "event.json");
    this.imageRunner = join(root, "image-runner");
    this.artifacts = new LocalArtifacts(join(root, "artifacts"), server, this.runId);
  }

  static async create(options: LocalWorldOptions = {}): Promise<LocalWorld> {
    const root = await mkdtemp(join(tmpdir(), "gpu-runner-local-"));
    const repository = options.repository ?? "octo-org/md-sim";
    // Obviously fake, and shaped like no real GitHub token.
    const token = options.token ?? `local-test-token-${randomBytes(12).toString("hex")}`;
    const openApi =
      options.openApi === false
        ? undefined
        : options.openApi === true || options.openApi === undefined
          ? loadGitHubOpenApi()
          : options.openApi;
    const release = await buildRunnerRelease();
    const runId = String(1_000_000_000 + Math.floor(Math.random() * 8_000_000_000));
    const server = new LocalGitHub({ token, repository, release, openApi, maxPerPage: options.maxPerPage, runId });
    await server.start();
    const world = new LocalWorld(root, server, release, token, repository, runId, options);
    for (const dir of [world.runnerTemp, world.machines, world.tmp, world.home, world.artifacts.dir])
      await mkdir(dir, { recursive: true });
    if (options.bakedRunner) {
      await mkdir(world.imageRunner, { recursive: true });
      const tarball = join(root, "release.tar.gz");
      await writeFile(tarball, release.tarball);
      execFileSync("tar", ["-xzf", tarball, "-C", world.imageRunner]);
    }
    if (options.launchFaults) {
      await mkdir(world.faultBin, { recursive: true });
      await writeFile(join(world.faultBin, "mkdir"), LAUNCH_FAULT_SHIM, { mode: 0o755 });
    }
    await writeFile(world.eventPath, JSON.stringify({ repository: { full_name: repository }, inputs: {} }));
    return world;
  }

  /** The job's environment: what a workflow's `env:` would give the action, plus the local kind's settings. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    const knobs: Record<string, string> = {};
    if (this.options.pollMs !== null) knobs.GPU_RUNNER_TEST_POLL_MS = String(this.options.pollMs ?? 200);
    if (this.options.runnerTimeoutMs !== undefined)
      knobs.GPU_RUNNER_TEST_RUNNER_TIMEOUT_MS = String(this.options.runnerTimeoutMs);
    const path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin";
    const faults = this.options.launchFaults;
    if (faults?.fail) knobs.LOCAL_FAULT_LAUNCH_FAIL = faults.fail;
    if (faults?.slow) knobs.LOCAL_FAULT_LAUNCH_SLOW = faults.slow;
    if (faults?.slowSeconds !== undefined) knobs.LOCAL_FAULT_LAUNCH_SLOW_SECONDS = String(faults.slowSeconds);
    return {
      // terraform's local-exec provisioners inherit this PATH (the main step's environment): launch.sh meets the shim.
      PATH: faults ? `${this.faultBin}:${path}` : path,
      HOME: this.home,
      LANG: "C.UTF-8",
      // The machines' temporary directories too (the boot script's mktemp): kept inside the world.
      TMPDIR: this.tmp,
      // The action refuses cloud: local unless this hook registered it in its process (CONTRIBUTING.md).
      NODE_OPTIONS: localKindNodeOptions(),
      LOCAL_KIND_ROOT: this.machines,
      LOCAL_KIND_RUNNER_URL: this.server.releaseUrl,
      LOCAL_KIND_RUNNER_SHA256: this.release.sha256,
      ...(this.options.bakedRunner ? { LOCAL_KIND_IMAGE_RUNNER: this.imageRunner } : {}),
      ...knobs,
      ...this.options.env,
      ...extra,
    };
  }

  /**
   * Runs the action (action.yml, or a modified copy) with these inputs, as the one action step of a new job of this
   * world's workflow run: a fresh RUNNER_TEMP, so a stop job sees only what the artifact brings, as on GitHub.
   */
  async run(
    inputs: Record<string, string>,
    options: {
      actionFile?: string;
      env?: Record<string, string>;
      onLine?: (line: string, step: StepResult) => void;
      onStep?: (step: StepResult, phase: "start" | "end") => void;
      /** Cancel this run (the job) as GitHub does, when a step prints a given line. */
      cancel?: CancelOptions;
    } = {},
  ): Promise<ActionRunResult> {
    if (inputs["state-passphrase"]) this.passphrases.add(inputs["state-passphrase"]);
    const runnerTemp = join(this.runnerTemp, `job-${this.runnerTemps.length + 1}`);
    this.runnerTemps.push(runnerTemp);
    const result = await runAction({
      actionPath: ACTION_ROOT,
      actionFile: options.actionFile,
      inputs,
      runnerTemp,
      env: this.env(options.env),
      // The stand-in server accepts one token: it serves as the job's GITHUB_TOKEN too.
      github: {
        repository: this.repository,
        runId: this.runId,
        runAttempt: "1",
        apiUrl: this.server.url,
        token: this.token,
        eventName: "workflow_dispatch",
        eventPath: this.eventPath,
      },
      artifacts: this.artifacts,
      stepTimeoutMs: HUNG_MS,
      onLine: options.onLine,
      onStep: options.onStep,
      cancel: options.cancel,
    });
    this.runs.push(result);
    return result;
  }

  /** mode: start on the local kind, with the world's token. */
  start(inputs: Record<string, string> = {}, options: Parameters<LocalWorld["run"]>[1] = {}): Promise<ActionRunResult> {
    return this.run({ mode: "start", cloud: "local", "github-token": this.token, ...inputs }, options);
  }

  /** mode: stop on the local kind for a state id. */
  stop(
    stateId: string,
    inputs: Record<string, string> = {},
    options: Parameters<LocalWorld["run"]>[1] = {},
  ): Promise<ActionRunResult> {
    return this.run(
      { mode: "stop", cloud: "local", "github-token": this.token, "state-id": stateId, ...inputs },
      options,
    );
  }

  /** The machine directories that exist now. */
  machineDirs(): string[] {
    return existsSync(this.machines) ? readdirSync(this.machines).map((name) => join(this.machines, name)) : [];
  }

  /** The encrypted state file of a start, as the artifact store holds it (undefined once the artifact is deleted). */
  stateArtifactFile(stateId: string): string | undefined {
    return this.artifacts.file(`${STATE_ARTIFACT_PREFIX}${stateId}`, STATE_FILE_NAME);
  }

  /** Deletes a start's state artifact (store and list), as an expired or removed artifact; returns how many. */
  deleteStateArtifact(stateId: string): number {
    const name = `${STATE_ARTIFACT_PREFIX}${stateId}`;
    const found = this.server.artifacts.filter((a) => a.runId === this.runId && a.name === name);
    for (const artifact of found) this.server.deleteArtifact(artifact.id);
    return found.length;
  }

  /** The live processes of the machines whose names start with `prefix` (a state id, or one machine's name). */
  machineProcesses(prefix: string): ProcessInfo[] {
    return processesMatching([join(this.machines, prefix)]);
  }

  /**
   * A machine dies at once: every process of its session (test/kit/local-cloud/launch.sh makes each machine one session, its
   * id in MACHINE_DIR/pid) gets SIGKILL, so no trap runs; its directory stays, as a dead VM stays until deleted. The
   * GitHub stand-in is told its runner's connection dropped. Returns how many processes were killed.
   */
  async crashMachine(name: string): Promise<number> {
    const sid = readFileSync(join(this.machines, name, "pid"), "utf8").trim();
    if (!/^\d+$/.test(sid)) throw new Error(`machine ${name}: no session id in its pid file`);
    let killed = 0;
    // Twice: a process may fork while the first pass runs.
    for (let pass = 0; pass < 2; pass++) {
      for (const pid of sessionMembers(Number(sid))) {
        try {
          process.kill(pid, "SIGKILL");
          killed++;
        } catch {
          // gone meanwhile
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.server.disconnect(name);
    return killed;
  }

  /** Processes this world started that are still alive (machines, runners, their children). */
  processes(extraNeedles: string[] = []): ProcessInfo[] {
    return processesMatching([this.root, `127.0.0.1:${new URL(this.server.url).port}`, ...extraNeedles]);
  }

  /** Every secret this world handed out, by kind: the token, passphrases, JIT configs and the credentials inside. */
  secrets(): { kind: string; value: string }[] {
    const list = [{ kind: "github-token", value: this.token }];
    for (const p of this.passphrases) list.push({ kind: "state-passphrase", value: p });
    for (const runner of this.server.issued) {
      list.push({ kind: `JIT config of ${runner.name}`, value: runner.encodedJitConfig });
      list.push({ kind: `runner credential of ${runner.name}`, value: runner.credential });
    }
    return list;
  }

  /**
   * Where a secret can be read in clear: every step's output (::add-mask:: lines aside: they are how a secret is
   * masked), every file left under the world (runner temp, machines, temp, artifact store), and every uploaded byte.
   */
  findSecrets(): SecretFinding[] {
    const secrets = this.secrets().map((s) => ({ ...s, bytes: Buffer.from(s.value) }));
    const findings: SecretFinding[] = [];
    const check = (where: string, content: Buffer | string) => {
      const buffer = typeof content === "string" ? Buffer.from(content) : content;
      for (const s of secrets) if (buffer.includes(s.bytes)) findings.push({ secret: s.kind, where });
    };
    this.runs.forEach((run, r) => {
      for (const step of run.stepResults) {
        for (const stream of ["stdout", "stderr"] as const) {
          const text = step[stream]
            .split("\n")
            .filter((line) => !line.startsWith("::add-mask::"))
            .join("\n");
          check(`run ${r + 1}, step "${step.name}", ${stream}`, text);
        }
      }
      check(`run ${r + 1}, the log as GitHub would show it`, run.log);
      check(`run ${r + 1}, outputs`, JSON.stringify(run.outputs));
      check(`run ${r + 1}, job summary`, run.summary);
    });
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) check(`file ${relative(this.root, path)}`, readFileSync(path));
      }
    };
    walk(this.root);
    for (const upload of this.artifacts.uploads)
      for (const [file, bytes] of upload.files) check(`artifact ${upload.name}, ${file}`, bytes);
    return findings;
  }

  /** Kills whatever this world left running (by its paths and its server's port), closes the server, removes the root. */
  async close(options: { keep?: boolean } = {}): Promise<void> {
    for (let pass = 0; pass < 3; pass++) {
      const left = this.processes();
      if (left.length === 0) break;
      for (const p of left) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.server.close();
    if (!options.keep) await rm(this.root, { recursive: true, force: true });
  }
}
