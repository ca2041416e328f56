// A scratch "machine" in which the real boot script (stacks/boot/runner.sh) runs for real: a cloud-init-like
// directory holding the user-data (and a guest agent's directory, empty unless a test fills it), stand-ins for what a test must not touch (poweroff, useradd, runuser, nvidia-smi,
// uname, systemd-run, sudo -l...), a runner release tarball built at test time and served from 127.0.0.1. The system paths the
// lifetime re-arm writes (/etc/systemd/system, /var/lib/gpu-runner, the VM's DMI UUID) live under the scratch root. PATH holds only the stand-ins and
// links to the real tools the script may use, so a command the script calls that is not listed here fails the test.
// When the tests run as root, the script runs as nobody: a broken script (say, one that goes on after a failed
// check) must not be able to write outside its scratch directory.
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, lchown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { constants as zlibConstants, gzipSync, inflateRawSync } from "node:zlib";
import { RUNNER_RELEASE } from "../../stacks/boot-values.ts";
import { renderBootScript, shellQuote } from "../../stacks/boot-script.ts";
import { HUNG_MS, waitFor } from "./patience.ts";

export const BODY_PATH = fileURLToPath(new URL("../../stacks/boot/runner.sh", import.meta.url));
export const NVIDIA_FIXTURES = fileURLToPath(new URL("../fixtures/nvidia-smi/", import.meta.url));

/** The real tools the boot script, the stand-ins and the stand-in runner may run. */
const TOOLS = [
  "bash",
  "base64",
  "cat",
  "chmod",
  "curl",
  "env",
  "find",
  "grep",
  "gzip",
  "ln",
  "mkdir",
  "mktemp",
  "mv",
  "od",
  "rm",
  "sed",
  "setsid",
  "sha256sum",
  "shred",
  "sleep",
  "sort",
  "head",
  "tail",
  "tar",
  "timeout",
  "tr",
  "wc",
];

// ------------------------------------------------------------------------------------------------ rendering

// The user-data is rendered by production's renderBootScript: what these tests run is what the stacks send.
export { shellQuote };

// ------------------------------------------------------------------------------------------ release server

export type Route = { body: Buffer; failFirst?: number } | { status: number };

/** Serves runner tarballs on 127.0.0.1 and records every request path. */
export class ReleaseServer {
  readonly requests: string[] = [];
  private readonly routes = new Map<string, Route>();
  private readonly served = new Map<string, number>();
  private server: Server | undefined;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = req.url ?? "";
      this.requests.push(path);
      const route = this.routes.get(path);
      const count = (this.served.get(path) ?? 0) + 1;
      this.served.set(path, count);
      if (!route || "status" in route) {
        res.writeHead(route?.status ?? 404).end();
      } else if (count <= (route.failFirst ?? 0)) {
        res.writeHead(503).end();
      } else {
        res.writeHead(200, { "content-type": "application/gzip", "content-length": route.body.length }).end(route.body);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  route(path: string, route: Route): void {
    this.routes.set(path, route);
  }

  requestsUnder(prefix: string): string[] {
    return this.requests.filter((path) => path.startsWith(prefix));
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

// ------------------------------------------------------------------------------------------- nvidia-smi captures

/** A capture file: `$ command`, output lines, `# rc=N ms=M`. */
export interface Capture {
  command: string;
  output: string[];
  rc: number;
}

export function parseCapture(text: string): Capture {
  const lines = text.replace(/\n$/, "").split("\n");
  const first = lines[0] ?? "";
  const last = lines[lines.length - 1] ?? "";
  const rc = /^# rc=(\d+)/.exec(last);
  if (!first.startsWith("$ ") || !rc) throw new Error(`not a capture: ${first} ... ${last}`);
  return { command: first.slice(2), output: lines.slice(1, -1), rc: Number(rc[1]) };
}

export function formatCapture(capture: Capture): string {
  return [`$ ${capture.command}`, ...capture.output, `# rc=${capture.rc} ms=0`, ""].join("\n");
}

export function readCapture(host: string, file: string): Capture {
  return parseCapture(readFileSync(join(NVIDIA_FIXTURES, host, file), "utf8"));
}

/** The captures of one real host, by file name, to replay unchanged or to derive a variant from. */
export function hostCaptures(host: "h100" | "h200"): Record<string, Capture> {
  const files = readdirSync(join(NVIDIA_FIXTURES, host)).filter((f) => f.endsWith(".txt"));
  return Object.fromEntries(files.map((f) => [f, readCapture(host, f)]));
}

// ------------------------------------------------------------------------------------------------- sandbox

/** What the stand-in runner does once listening. "held-job": takes a job that runs until the test calls releaseJob(). */
export type RunnerMode = "job" | "idle" | "job-then-hang" | "held-job" | "exit-3";
export type Arch = "x86_64" | "aarch64";

export interface SandboxOptions {
  server: ReleaseServer;
  /** What the stand-in run.sh does. */
  runner?: RunnerMode;
  /** What the stand-in `uname -m` answers. */
  arch?: Arch;
  /** nvidia-smi captures to replay (file name -> capture); null: no nvidia-smi on the PATH at all. */
  gpus?: Record<string, Capture> | null;
  /** Header values replacing the defaults; undefined removes one. */
  values?: Record<string, string | undefined>;
  /** Users that exist before boot. */
  users?: string[];
  /** Pre-bake the runner in the install dir with this version marker. */
  preinstalled?: string;
  /** Release routes: by default both tarballs are served; "missing" serves none, "flaky" answers 503 once. */
  release?: "ok" | "missing" | "flaky";
  /** A lifetime deadline already on the disk, as a boot before this one left it: on this machine, or on another one
   * whose disk this is a copy of. */
  deadline?: { epoch: number; machine: "this" | "another" };
  /** Files on the machine before it boots, beside cloud-init's (absolute path under the scratch root -> content), made
   * from the sandbox once its user-data is rendered: a guest agent's copies of it, say. Their directories are 0700. */
  files?: (sandbox: BootSandbox) => Record<string, string | Buffer>;
  /** Real tools (of TOOLS) whose every call is recorded, argv included, as the stand-ins' are: then run as usual. */
  recordTools?: string[];
  /** What `sudo -n -l -U USER` answers: "policy" (the default) as sudo would from the sudoers rules under the scratch
   * root (etc/sudoers, etc/sudoers.d/*: a rule for the user, one of its groups, or ALL), "absent" (no sudo on the
   * machine), "broken" (sudo fails). */
  sudo?: "policy" | "absent" | "broken";
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

const live = new Set<number>();

/**
 * For a test file of boot sandboxes: a release server started before its tests, and `create`, whose sandboxes are
 * killed and removed after them (node:test's before and after hooks of the calling file).
 */
export function sandboxesOfThisFile(): {
  server: ReleaseServer;
  create(options?: Omit<SandboxOptions, "server">): Promise<BootSandbox>;
} {
  const server = new ReleaseServer();
  const sandboxes: BootSandbox[] = [];
  before(() => server.start());
  after(async () => {
    killAllSandboxes();
    await Promise.all(sandboxes.map((s) => s.cleanup()));
    await server.close();
  });
  return {
    server,
    async create(options = {}) {
      const sandbox = await BootSandbox.create({ server, ...options });
      sandboxes.push(sandbox);
      return sandbox;
    },
  };
}

/** Kills every process group a sandbox started and that may still be there (for `after` hooks). */
export function killAllSandboxes(): void {
  for (const pgid of live) killGroup(pgid);
  live.clear();
}

export function killGroup(pgid: number): void {
  // 0 is a sandbox that never started: process.kill(-0) would signal the test runner's own process group.
  if (!(pgid > 0)) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export { waitFor };

let counter = 0;

export class BootSandbox {
  readonly id = `s${++counter}`;
  readonly secret = `jit-${randomBytes(1536).toString("base64")}`;
  sha256: Record<"x64" | "arm64", string> = { x64: "", arm64: "" };
  root = "";
  bin = "";
  records = "";
  installDir = "";
  cloudDir = "";
  /** A guest agent's directory (GR_AGENT_DIR): not made by the sandbox; a test that needs it writes files there. */
  agentDir = "";
  console = "";
  userDataFiles: string[] = [];
  /** The user-data as the cloud delivers it: the rendered boot script, JIT config included. */
  userData = "";
  /** What this VM's hypervisor answers in /sys/class/dmi/id/product_uuid. */
  readonly machineId = `ec2${randomBytes(4).toString("hex")}-0000-4000-8000-000000000000`;
  values: Record<string, string> = {};
  pid = 0;
  private stdout = "";
  private stderr = "";

  private constructor(readonly options: SandboxOptions) {}

  static async create(options: SandboxOptions): Promise<BootSandbox> {
    const sandbox = new BootSandbox(options);
    try {
      await sandbox.setUp();
    } catch (error) {
      if (sandbox.root) await rm(sandbox.root, { recursive: true, force: true });
      throw error;
    }
    return sandbox;
  }

  get tarballPath(): (arch: "x64" | "arm64") => string {
    const version = this.values.GR_RUNNER_VERSION ?? RUNNER_RELEASE.version;
    return (arch) => `/${this.id}/v${version}/actions-runner-linux-${arch}-${version}.tar.gz`;
  }

  private async setUp(): Promise<void> {
    const o = this.options;
    this.root = await mkdtemp(join(tmpdir(), "boot-sandbox-"));
    this.bin = join(this.root, "stand-ins");
    this.records = join(this.root, "records");
    this.installDir = join(this.root, "opt", "actions-runner");
    this.cloudDir = join(this.root, "var", "lib", "cloud");
    this.agentDir = join(this.root, "var", "lib", "waagent");
    this.console = join(this.root, "dev", "console");
    for (const dir of [
      this.bin,
      this.records,
      join(this.root, "tools"),
      join(this.root, "tmp"),
      join(this.root, "dev"),
    ]) {
      await mkdir(dir, { recursive: true });
    }
    await writeFile(this.console, "");
    await mkdir(join(this.root, "sys", "class", "dmi", "id"), { recursive: true });
    await writeFile(join(this.root, "sys", "class", "dmi", "id", "product_uuid"), `${this.machineId}\n`);
    if (o.deadline !== undefined) {
      await mkdir(join(this.root, "var", "lib", "gpu-runner"), { recursive: true });
      const id = o.deadline.machine === "this" ? this.machineId : "ec2fffffff-0000-4000-8000-00000000ffff";
      await writeFile(this.deadlinePath, `${o.deadline.epoch} ${id}\n`);
    }
    // NAME, or NAME:UID:GROUPS (space-separated) for an account the image already has.
    await writeFile(
      join(this.records, "users"),
      (o.users ?? []).map((u) => (u.includes(":") ? `${u}\n` : `${u}:1500\n`)).join(""),
    );
    await this.linkTools();
    await this.writeStandIns();

    const tarballs = { x64: await this.buildRunner("x64"), arm64: await this.buildRunner("arm64") };
    this.sha256 = { x64: sha256(tarballs.x64), arm64: sha256(tarballs.arm64) };
    this.values = this.defaultValues();
    for (const [name, value] of Object.entries(o.values ?? {})) {
      if (value === undefined) delete this.values[name];
      else this.values[name] = value;
    }
    for (const arch of ["x64", "arm64"] as const) {
      const path = this.tarballPath(arch);
      if (o.release === "missing") continue;
      o.server.route(path, { body: tarballs[arch], failFirst: o.release === "flaky" ? 1 : 0 });
    }
    if (o.preinstalled !== undefined) {
      await mkdir(this.installDir, { recursive: true });
      await writeFile(join(this.installDir, "run.sh"), this.runScript("x64", o.runner ?? "job"), { mode: 0o755 });
      await writeFile(join(this.installDir, ".gpu-runner-version"), `${o.preinstalled}\n`);
      // As the real runner answers `bin/Runner.Listener --version` (what a baked image is checked by).
      await mkdir(join(this.installDir, "bin"), { recursive: true });
      await writeFile(
        join(this.installDir, "bin", "Runner.Listener"),
        `#!/bin/bash\n[[ $1 == --version ]] && echo ${o.preinstalled}\n`,
        { mode: 0o755 },
      );
    }
    await this.writeUserData();
    for (const [path, content] of Object.entries(o.files?.(this) ?? {})) {
      if (!path.startsWith(`${this.root}/`)) throw new Error(`a sandbox file outside the sandbox: ${path}`);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, content, { mode: 0o600 });
    }
    if (UNPRIVILEGED) await chownTree(this.root, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
  }

  private defaultValues(): Record<string, string> {
    return {
      GR_RUNNER_NAME: "gpu-1234-1-0",
      GR_RUNNER_VERSION: RUNNER_RELEASE.version,
      GR_RUNNER_SHA256_X64: this.sha256.x64,
      GR_RUNNER_SHA256_ARM64: this.sha256.arm64,
      GR_RUNNER_DOWNLOAD_BASE: `${this.options.server.url}/${this.id}`,
      GR_RUNNER_USER: "runner",
      GR_RUNNER_SUDO: "true",
      GR_MAX_LIFETIME_MINUTES: "60",
      GR_IDLE_TIMEOUT_MINUTES: "30",
      GR_EXPECTED_GPUS: "1",
      GR_GPU_WAIT_SECONDS: "5",
      GR_PRE_RUNNER_SCRIPT_B64: "",
      GR_INSTALL_DIR: this.installDir,
      GR_SUDOERS_DIR: join(this.root, "etc", "sudoers.d"),
      GR_CLOUD_INIT_DIR: this.cloudDir,
      GR_AGENT_DIR: this.agentDir,
      GR_CONSOLE: this.console,
      GR_TIME_UNIT_SECONDS: "1",
      GR_SYSTEM_ROOT: this.root,
      GR_JIT_CONFIG: this.secret,
    };
  }

  private async linkTools(): Promise<void> {
    const path = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter);
    for (const tool of TOOLS) {
      const found = path.map((dir) => join(dir, tool)).find((candidate) => existsSync(candidate));
      if (!found) throw new Error(`the boot script tests need '${tool}' on the PATH`);
      await symlink(found, join(this.root, "tools", tool));
    }
  }

  /**
   * Where cloud-init keeps the user-data: instances/<id>/{user-data.txt,user-data.txt.i,scripts/part-001,obj.pkl}.
   * user-data.txt is the raw user-data as received: gzip bytes, as EC2 hands over the AWS stack's (Fn.base64gzip);
   * user-data.txt.i the processed (decompressed) MIME message; obj.pkl the pickled datasource, holding both.
   */
  private async writeUserData(): Promise<void> {
    const script = renderBootScript({ values: this.values });
    this.userData = script;
    const raw = gzipSync(script);
    const instance = join(this.cloudDir, "instances", "i-0123456789abcdef0");
    await mkdir(join(instance, "scripts"), { recursive: true });
    await symlink(join("instances", "i-0123456789abcdef0"), join(this.cloudDir, "instance"));
    const mime = `Content-Type: multipart/mixed; boundary="==BOUNDARY=="\nMIME-Version: 1.0\n\n--==BOUNDARY==\nContent-Type: text/x-shellscript; charset="utf-8"\nContent-Disposition: attachment; filename="part-001"\n\n${script}\n--==BOUNDARY==--\n`;
    // obj.pkl stands in for cloud-init's pickled datasource: the raw and the processed user-data among binary bytes.
    const pickle = Buffer.concat([
      Buffer.from([0x80, 0x04, 0x95, 0x00, 0x43]),
      raw,
      Buffer.from([0x94, 0x8c]),
      Buffer.from(mime),
      Buffer.from([0x94, 0x2e]),
    ]);
    this.userDataFiles = [
      join(instance, "user-data.txt"),
      join(instance, "user-data.txt.i"),
      join(instance, "obj.pkl"),
      join(instance, "scripts", "part-001"),
    ];
    await writeFile(this.userDataFiles[0]!, raw, { mode: 0o600 });
    await writeFile(this.userDataFiles[1]!, mime, { mode: 0o600 });
    await writeFile(this.userDataFiles[2]!, pickle, { mode: 0o600 });
    await writeFile(this.userDataFiles[3]!, script, { mode: 0o700 });
    await writeFile(join(instance, "datasource"), "DataSourceEc2Local: DataSourceEc2Local\n");
  }

  /** The script cloud-init runs: the instance's scripts/part-001. */
  get partPath(): string {
    return join(this.cloudDir, "instance", "scripts", "part-001");
  }

  /** The file whose existence ends a "held-job" runner's job. */
  get jobReleasePath(): string {
    return join(this.root, "tmp", "release-the-job");
  }

  async releaseJob(): Promise<void> {
    await writeFile(this.jobReleasePath, "");
  }

  /** The lifetime deadline the first boot writes: "EPOCH MACHINE-ID". */
  get deadlinePath(): string {
    return join(this.root, "var", "lib", "gpu-runner", "deadline");
  }

  /** The unit that re-arms the lifetime cap at every boot, and its enabling link. */
  get unitPath(): string {
    return join(this.root, "etc", "systemd", "system", "gpu-runner-lifetime.service");
  }

  get unitLinkPath(): string {
    return join(this.root, "etc", "systemd", "system", "multi-user.target.wants", "gpu-runner-lifetime.service");
  }

  private async writeStandIn(name: string, body: string): Promise<void> {
    await writeFile(join(this.bin, name), `#!/bin/bash\n# stand-in written by test/kit/boot-sandbox.ts\n${body}`, {
      mode: 0o755,
    });
  }

  private async writeStandIns(): Promise<void> {
    const rec = shellQuote(this.records);
    const users = shellQuote(join(this.records, "users"));
    // Each stand-in records its argv (joined by spaces) in records/<file>.calls.
    const record = (file: string, command = "") =>
      `printf '%s\\n' "${command ? `${command}\${*:+ $*}` : "$*"}" >>${rec}/${file}.calls\n`;
    // Power: recorded, and the machine "goes down" only in that the boot script must stop by itself, and that the
    // timers systemd held (systemd-run below) are gone with it.
    const timers = shellQuote(join(this.records, "timers"));
    await this.writeStandIn(
      "poweroff",
      `${record("power", "poweroff")}printf '%s\\n' "$EPOCHREALTIME" >>${rec}/poweroff.at\n[[ -f ${timers} ]] && while read -r t; do kill -KILL -- "-$t" 2>/dev/null; done <${timers}\nexit 0\n`,
    );
    // systemd-run --on-active=Ns ... -- COMMAND: a timer that systemd, not the boot script, holds. Here a session of
    // its own (setsid): killing the boot script and everything it started leaves it, as it would leave systemd's.
    await this.writeStandIn(
      "systemd-run",
      `${record("systemd-run")}delay=''
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in
  --on-active=*[0-9]s) delay=\${1#--on-active=} delay=\${delay%s} ;;
  --) shift; break ;;
  esac
  shift
done
[[ -n $delay && $# -gt 0 ]] || { echo "stand-in systemd-run: unsupported: $*" >&2; exit 2; }
setsid bash -c 'sleep "$1"; shift; exec "$@"' timer "$delay" "$@" </dev/null >/dev/null 2>&1 &
echo "$!" >>${timers}
echo "Running timer as unit: gpu-runner-lifetime-cap.timer"
`,
    );
    for (const tool of this.options.recordTools ?? []) {
      if (!TOOLS.includes(tool)) throw new Error(`not a tool the boot script may use: ${tool}`);
      await this.writeStandIn(tool, `${record(tool, tool)}exec ${shellQuote(join(this.root, "tools", tool))} "$@"\n`);
    }
    await this.writeStandIn("shutdown", `${record("power", "shutdown")}exit 0\n`);
    if (this.options.sudo !== "absent") await this.writeStandIn("sudo", this.sudoStandIn(record("sudo"), users));
    await this.writeStandIn("systemctl", `${record("power", "systemctl")}exit 1\n`);
    await this.writeStandIn("useradd", `${record("useradd")}echo "\${!#}:1001" >>${users}\n`);
    await this.writeStandIn(
      "id",
      `${record("id")}[[ ($1 == -u || $1 == -nG) && $# == 2 ]] || { echo "stand-in id: unsupported: $*" >&2; exit 2; }
while IFS=: read -r name uid groups; do
  [[ $name == "$2" ]] || continue
  if [[ $1 == -u ]]; then echo "$uid"; else echo "$name \${groups-}"; fi
  exit 0
done <${users}
echo "id: '$2': no such user" >&2
exit 1
`,
    );
    await this.writeStandIn(
      "chown",
      `${record("chown")}owner=\${*: -2:1}
grep -q "^\${owner%%:*}:" ${users} || { echo "chown: invalid user: '$owner'" >&2; exit 1; }
`,
    );
    await this.writeStandIn(
      "runuser",
      `${record("runuser")}[[ $1 == -u && $3 == -- ]] || { echo "stand-in runuser: unsupported: $*" >&2; exit 2; }
grep -q "^$2:" ${users} || { echo "runuser: user $2 does not exist" >&2; exit 1; }
export HOME=${shellQuote(join(this.root, "home"))}/$2 USER=$2 LOGNAME=$2 SHELL=/bin/bash
shift 3
exec "$@"
`,
    );
    await this.writeStandIn(
      "uname",
      `${record("uname")}[[ $* == -m ]] || { echo "stand-in uname: unsupported: $*" >&2; exit 2; }
echo ${this.options.arch ?? "x86_64"}
`,
    );
    const gpus = this.options.gpus === undefined ? hostCaptures("h100") : this.options.gpus;
    if (gpus !== null) {
      const dir = join(this.root, "nvidia-smi");
      await mkdir(dir);
      for (const [file, capture] of Object.entries(gpus)) await writeFile(join(dir, file), formatCapture(capture));
      // Replays the capture whose command line is exactly this call's; anything else is a test failure.
      await this.writeStandIn(
        "nvidia-smi",
        `${record("nvidia-smi")}want="\\$ nvidia-smi\${*:+ $*}"
for f in ${shellQuote(dir)}/*.txt; do
  IFS= read -r first <"$f"
  [[ $first == "$want" ]] || continue
  sed '1d;$d' "$f"
  last=$(sed -n '$p' "$f")
  last=\${last#\\# rc=}
  exit "\${last%% *}"
done
echo "stand-in nvidia-smi: no capture for: nvidia-smi $*" >&2
exit 99
`,
      );
    }
  }

  /** sudo, asked only what a user may run (`sudo -n -l -U USER`), answering in sudo's own words (sudo 1.9, C locale). */
  private sudoStandIn(record: string, users: string): string {
    if (this.options.sudo === "broken")
      return `${record}echo "sudo: unable to open /etc/sudoers: Permission denied" >&2\nexit 1\n`;
    const files = [join(this.root, "etc", "sudoers"), join(this.root, "etc", "sudoers.d")].map(shellQuote);
    return `${record}[[ $1 == -n && $2 == -l && $3 == -U && $# == 4 ]] || { echo "stand-in sudo: unsupported: $*" >&2; exit 2; }
user=$4 found='' groups=''
while IFS=: read -r name _ g; do
  [[ $name == "$user" ]] || continue
  found=1 groups="$name \${g-}"
done <${users}
[[ -n $found ]] || { echo "sudo: unknown user $user" >&2; exit 1; }
rules=''
for f in ${files[0]} ${files[1]}/*; do
  [[ -f $f ]] || continue
  while read -r who rest; do
    [[ -n $who && $who != \\#* ]] || continue
    match=''
    [[ $who == "$user" || $who == ALL ]] && match=1
    for g in $groups; do [[ $who == "%$g" ]] && match=1; done
    [[ -z $match ]] || rules+="    \${rest#*=}"$'\\n'
  done <"$f"
done
if [[ -z $rules ]]; then
  echo "User $user is not allowed to run sudo on sandbox."
else
  printf '%s\\n' "Matching Defaults entries for $user on sandbox:" "    env_reset" "" "User $user may run the following commands on sandbox:"
  printf %s "$rules"
fi
`;
  }

  /** The stand-in runner: records what it was given (never the config itself), then behaves as `mode` says. */
  private runScript(arch: "x64" | "arm64", mode: RunnerMode): string {
    const rec = shellQuote(join(this.records, "runner"));
    const behaviour: Record<RunnerMode, string> = {
      job: `echo "$(stamp): Running job: gpu-tests"\necho "$(stamp): Job gpu-tests completed with result: Succeeded"\nexit 0`,
      idle: "exec sleep 300",
      "job-then-hang": `echo "$(stamp): Running job: long-job"\nexec sleep 300`,
      "held-job": `echo "$(stamp): Running job: held-job"\nuntil [[ -e ${shellQuote(this.jobReleasePath)} ]]; do sleep 0.1; done\necho "$(stamp): Job held-job completed with result: Succeeded"\nexit 0`,
      "exit-3": `echo "An error occurred: Runner not configured" >&2\nexit 3`,
    };
    return `#!/bin/bash
# stand-in for the Actions runner's run.sh, built by test/kit/boot-sandbox.ts
stamp() { echo "2025-01-01 00:00:00Z"; }
secret=\${ACTIONS_RUNNER_INPUT_JITCONFIG-}
{
  echo "arch=${arch}"
  echo "argc=$#"
  echo "argv=$*"
  echo "user=\${USER-}"
  echo "euid=$EUID"
  echo "cwd=$PWD"
  echo "umask=$(umask)"
  echo "jit_set=\${ACTIONS_RUNNER_INPUT_JITCONFIG+yes}"
  sum=$(printf %s "$secret" | sha256sum)
  echo "jit_sha256=\${sum%% *}"
  echo "env=$(compgen -e | tr '\\n' ' ')"
  echo "pre_runner_ran=$(cat ${shellQuote(join(this.root, "tmp", "pre-runner-ran"))} 2>/dev/null)"
  echo "argv_with_secret=$(grep -lF -f <(printf %s "$secret") /proc/[0-9]*/cmdline 2>/dev/null | wc -l)"
  echo "files_with_secret=$(grep -rlF -f <(printf %s "$secret") ${shellQuote(this.root)} 2>/dev/null | tr '\\n' ' ')"
  echo "pid=$$"
} >${rec}.tmp && mv ${rec}.tmp ${rec}
echo "√ Connected to GitHub"
echo "Current runner version: '${RUNNER_RELEASE.version}'"
echo "$(stamp): Listening for Jobs"
${behaviour[mode]}
`;
  }

  private async buildRunner(arch: "x64" | "arm64"): Promise<Buffer> {
    const dir = join(this.root, "build", arch);
    await mkdir(join(dir, "bin"), { recursive: true });
    await writeFile(join(dir, "run.sh"), this.runScript(arch, this.options.runner ?? "job"), { mode: 0o755 });
    await writeFile(join(dir, "bin", "Runner.Listener"), "stand-in\n");
    const out = join(this.root, "build", `${arch}.tar.gz`);
    execFileSync("tar", ["-czf", out, "-C", dir, "."]);
    const bytes = await readFile(out);
    await rm(join(this.root, "build"), { recursive: true, force: true });
    return bytes;
  }

  /** Starts the boot script as cloud-init would (bash on scripts/part-001), in its own process group. */
  start(): { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; closed: Promise<void> } {
    const child = spawn("bash", [this.partPath], {
      cwd: this.root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...UNPRIVILEGED,
      env: this.env(),
    });
    this.pid = child.pid ?? 0;
    live.add(this.pid);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    return { exited, closed };
  }

  /** The environment a boot starts with: only the stand-ins and the listed tools on the PATH. */
  private env(): NodeJS.ProcessEnv {
    return {
      PATH: [this.bin, join(this.root, "tools")].join(delimiter),
      TMPDIR: join(this.root, "tmp"),
      HOME: join(this.root, "root"),
      LANG: "C.UTF-8",
    };
  }

  /** Runs the boot script to its end, then gives what it printed. Past HUNG_MS it is killed and reported as hung. */
  async run(hungAfterMs = HUNG_MS): Promise<RunResult> {
    const { exited, closed } = this.start();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        killGroup(this.pid);
        reject(
          new Error(
            `hung: the boot script still ran after ${hungAfterMs} ms; output so far:\n${this.stdout}${this.stderr}`,
          ),
        );
      }, hungAfterMs);
    });
    try {
      const { code, signal } = await Promise.race([exited, deadline]);
      // Its output is read to the end: the pipes close once every process holding them is gone. The boot script leaves
      // none holding them (its timer ends with it; a pre-runner daemon writes to a file), so this wait ends at once,
      // and one that does not is reported as hung.
      await Promise.race([closed, deadline]);
      return { code, signal, stdout: this.stdout, stderr: this.stderr, lines: this.lines() };
    } finally {
      clearTimeout(timer);
    }
  }

  output(): string {
    return this.stdout;
  }

  lines(): string[] {
    return this.stdout.split("\n").filter((line) => line !== "");
  }

  /** When each poweroff call came (epoch seconds, from the stand-in's own clock). */
  poweredOffAt(): number[] {
    const file = join(this.records, "poweroff.at");
    return existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
          .map(Number)
      : [];
  }

  /** The lifetime deadline on the disk (epoch seconds), as the first boot wrote it. */
  deadline(): number {
    return Number(readFileSync(this.deadlinePath, "utf8").split(" ")[0]);
  }

  calls(name: string): string[] {
    const file = join(this.records, `${name}.calls`);
    return existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
  }

  /** Every stand-in call recorded, argv joined by spaces. */
  allCalls(): string[] {
    return readdirSync(this.records)
      .filter((f) => f.endsWith(".calls"))
      .flatMap((f) => this.calls(f.slice(0, -".calls".length)));
  }

  /** What the stand-in runner recorded, or undefined if it never ran. */
  runnerRecord(): Record<string, string> | undefined {
    const file = join(this.records, "runner");
    if (!existsSync(file)) return undefined;
    const entries = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const);
    return Object.fromEntries(entries);
  }

  /**
   * Regular files under the scratch root whose content includes the JIT config: in clear, in a gzip stream at any
   * offset (each 1f 8b 08 decompressed from there, what follows the stream ignored, a truncated one as far as it
   * goes), or inside base64 text at any offset (whitespace aside), found by decoding every base64 run at each of its
   * 4 alignments.
   */
  filesHoldingSecret(): string[] {
    const needle = Buffer.from(this.secret);
    const inBase64 = (bytes: Buffer): boolean => {
      const runs =
        bytes
          .toString("latin1")
          .replace(/\s+/g, "")
          .match(/[A-Za-z0-9+/]{16,}/g) ?? [];
      return runs.some((run) => [0, 1, 2, 3].some((skip) => Buffer.from(run.slice(skip), "base64").includes(needle)));
    };
    const holds = (bytes: Buffer): boolean => {
      if (bytes.includes(needle) || inBase64(bytes)) return true;
      for (let at = bytes.indexOf(GZIP_MAGIC); at >= 0; at = bytes.indexOf(GZIP_MAGIC, at + 1)) {
        if (gzipStreamAt(bytes, at)?.includes(needle)) return true;
      }
      return false;
    };
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && holds(readFileSync(path))) found.push(path);
      }
    };
    walk(this.root);
    return found;
  }

  /** Runs what gpu-runner-lifetime.service runs at a later boot (its ExecStart), as the boot script ran. */
  async perBoot(hungAfterMs = HUNG_MS): Promise<RunResult> {
    const exec = /^ExecStart=(.+)$/m.exec(readFileSync(this.unitPath, "utf8"))?.[1];
    if (!exec) throw new Error(`no ExecStart in ${this.unitPath}`);
    const [command, ...args] = exec.split(" ");
    const child = spawn(command!, args, {
      cwd: this.root,
      stdio: ["ignore", "pipe", "pipe"],
      ...UNPRIVILEGED,
      env: this.env(),
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), hungAfterMs);
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("close", (c, s) => resolve({ code: c, signal: s })),
    );
    clearTimeout(timer);
    return { code, signal, stdout: out, stderr: err, lines: out.split("\n").filter((l) => l !== "") };
  }

  /** Kills the timers the systemd-run stand-in armed (each its own session). */
  killTimers(): void {
    const file = join(this.records, "timers");
    if (!existsSync(file)) return;
    for (const pid of readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /^\d+$/.test(l)))
      killGroup(Number(pid));
  }

  async cleanup(): Promise<void> {
    this.killTimers();
    killGroup(this.pid);
    live.delete(this.pid);
    await chmod(this.root, 0o700).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/** What the gzip stream whose header starts at `at` decompresses to, as far as it goes (RFC 1952's header fields:
 * FEXTRA, FNAME, FCOMMENT, FHCRC); undefined where nothing decompresses. */
export function gzipStreamAt(bytes: Buffer, at: number): Buffer | undefined {
  const flags = bytes[at + 3] ?? 0;
  let body = at + 10;
  if (flags & 0x04) body += 2 + (bytes.readUInt16LE(Math.min(body, bytes.length - 2)) || 0);
  for (const bit of [0x08, 0x10]) if (flags & bit) body = bytes.indexOf(0, body) + 1 || bytes.length;
  if (flags & 0x02) body += 2;
  try {
    return inflateRawSync(bytes.subarray(body), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined;
  }
}

/** Who runs the boot script when the tests run as root: nobody/nogroup. */
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await lchown(child, uid, gid);
  }
}

export function sha256(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
