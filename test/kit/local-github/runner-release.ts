// The runner release stand-in for the local machine kind: an `actions-runner-linux-<arch>-<version>.tar.gz` built at
// run time, whose run.sh behaves like the real runner started with a just-in-time config: it reads the config from
// ACTIONS_RUNNER_INPUT_JITCONFIG (never argv), connects to the local GitHub stand-in (./server.ts) with the
// credential inside the config, takes one job queued for its labels, says "Running job: <name>" (what the boot
// script's idle watchdog looks for), reports the job done and exits 0, as an ephemeral runner does.
//
// The tarball is byte-for-byte reproducible (sorted names, fixed times and owners, gzip without a timestamp), so its
// sha256 is stable for a given version, and the same bytes serve both architectures: run.sh is a bash script.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { RUNNER_RELEASE } from "../../../stacks/boot-values.ts";

export type RunnerArch = "x64" | "arm64";

export interface RunnerRelease {
  version: string;
  /** The tarball's bytes (the same for both architectures). */
  tarball: Buffer;
  sha256: string;
  /** The path of an architecture's tarball below the download base, e.g. /v2.329.0/actions-runner-linux-x64-2.329.0.tar.gz. */
  path(arch: RunnerArch): string;
}

export function releasePath(version: string, arch: RunnerArch): string {
  return `/v${version}/actions-runner-linux-${arch}-${version}.tar.gz`;
}

/** The stand-in's run.sh. Talks only to the service URL inside its config; prints the config nowhere. */
export function runScript(version: string): string {
  return `#!/usr/bin/env bash
# Stand-in for the GitHub Actions runner's run.sh (actions-runner-linux-*-${version}.tar.gz), built at run time by
# test/kit/local-github/runner-release.ts for the local machine kind. Like the real runner started with a
# just-in-time config, it reads the config from ACTIONS_RUNNER_INPUT_JITCONFIG (never argv), connects, takes one
# job, and exits 0 after it. It talks to the local GitHub stand-in named in its config, sends its credential
# through curl's stdin (not argv), and never prints the config.
set -u -o pipefail
umask 077
JIT=\${ACTIONS_RUNNER_INPUT_JITCONFIG-}
unset ACTIONS_RUNNER_INPUT_JITCONFIG
stamp() { date -u '+%Y-%m-%d %H:%M:%SZ'; }
fail() {
  printf '%s: An error occurred: %s\\n' "$(stamp)" "$1" >&2
  exit "\${2:-1}"
}
[[ -n $JIT ]] || fail "no just-in-time configuration: ACTIONS_RUNNER_INPUT_JITCONFIG is not set" 2

# The config is base64 of {".runner": base64, ".credentials": base64, ".credentials_rsaparams": base64}, as GitHub's.
part() {
  local v
  v=$(printf %s "$JIT" | base64 -d 2>/dev/null | sed -n "s/.*\\"\\\\.$1\\": *\\"\\([A-Za-z0-9+\\/=]*\\)\\".*/\\1/p")
  [[ -n $v ]] && printf %s "$v" | base64 -d 2>/dev/null
}
field() { # JSON KEY: a scalar value of a flat JSON object
  printf %s "$1" | sed -n "s/.*\\"$2\\": *\\"\\{0,1\\}\\([^\\",}]*\\).*/\\1/p"
}
if ! RUNNER=$(part runner) || ! CREDENTIALS=$(part credentials); then
  fail "the just-in-time configuration is not valid" 2
fi
ID=$(field "$RUNNER" agentId)
NAME=$(field "$RUNNER" agentName)
SERVER=$(field "$RUNNER" serverUrl)
SECRET=$(field "$CREDENTIALS" clientId)
unset JIT CREDENTIALS
[[ $ID =~ ^[0-9]+$ && -n $NAME && $SERVER == http*://* && -n $SECRET ]] || fail "the just-in-time configuration is incomplete" 2

api() { # METHOD PATH [CURL ARGS...]: one call to the service, authenticated by the runner's credential
  local method=$1 path=$2
  shift 2
  printf 'header = "Authorization: RunnerCredential %s"\\n' "$SECRET" |
    curl -q -sS --max-time 10 -K - -X "$method" -w '\\n%{http_code}' "$@" "\${SERVER%/}$path"
}
REPLY_BODY='' REPLY_STATUS=''
call() { # METHOD PATH [CURL ARGS...]: sets REPLY_STATUS (000 when no answer) and REPLY_BODY
  local out
  out=$(api "$@" 2>/dev/null) || out=$'\\n000'
  REPLY_STATUS=\${out##*$'\\n'}
  REPLY_BODY=\${out%$'\\n'*}
}
gone() {
  printf '%s: Runner %s was removed from the service; exiting.\\n' "$(stamp)" "$NAME"
  exit 1
}

# Connect: retried until the service answers, as the real runner retries forever.
until call POST "/_local/runners/$ID/online" -d ''; [[ $REPLY_STATUS == 2* ]]; do
  [[ $REPLY_STATUS == 404 ]] && gone
  sleep 0.5
done
printf '\\n√ Connected to GitHub\\n\\nCurrent runner version: '"'"'%s'"'"'\\n%s: Listening for Jobs\\n' "${version}" "$(stamp)"

# One job: polled for (the real runner long-polls its broker).
while :; do
  call GET "/_local/runners/$ID/job"
  [[ $REPLY_STATUS == 404 ]] && gone
  if [[ $REPLY_STATUS == 200 ]]; then
    JOB=$(field "$REPLY_BODY" name)
    [[ -n $JOB && $JOB != null ]] && break
  fi
  sleep 0.2
done
SECONDS_TO_RUN=$(field "$REPLY_BODY" seconds)
RESULT=$(field "$REPLY_BODY" result)
printf '%s: Running job: %s\\n' "$(stamp)" "$JOB"
[[ $SECONDS_TO_RUN =~ ^[0-9]+(\\.[0-9]+)?$ ]] && sleep "$SECONDS_TO_RUN"
printf '%s: Job %s completed with result: %s\\n' "$(stamp)" "$JOB" "\${RESULT:-Succeeded}"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  call POST "/_local/runners/$ID/done" -H 'Content-Type: application/json' -d "{\\"result\\":\\"\${RESULT:-Succeeded}\\"}"
  [[ $REPLY_STATUS == 2* || $REPLY_STATUS == 404 ]] && break
  sleep 0.5
done
exit 0
`;
}

const LISTENER = `#!/usr/bin/env bash
# Stand-in for the runner's listener binary: the local runner's work is done by run.sh.
if [[ \${1-} == --version ]]; then echo "VERSION"; exit 0; fi
echo "Runner.Listener (stand-in): use ./run.sh" >&2
exit 1
`;

const CONFIG = `#!/usr/bin/env bash
# Stand-in for the runner's config.sh: a just-in-time runner is never configured; its config comes with run.sh.
echo "config.sh (stand-in): not needed for just-in-time runners; run ./run.sh with ACTIONS_RUNNER_INPUT_JITCONFIG set" >&2
exit 1
`;

let testBuild: Promise<RunnerRelease> | undefined;

/** The release for tests: built once per test process, then shared. */
export function testRelease(): Promise<RunnerRelease> {
  testBuild ??= buildRunnerRelease();
  return testBuild;
}

/** Builds the release for `version` (the pinned one by default) in a scratch directory, removed afterwards. */
export async function buildRunnerRelease(version: string = RUNNER_RELEASE.version): Promise<RunnerRelease> {
  const work = await mkdtemp(join(tmpdir(), "runner-release-"));
  try {
    const root = join(work, "release");
    await mkdir(join(root, "bin"), { recursive: true });
    await writeFile(join(root, "run.sh"), runScript(version), { mode: 0o755 });
    await writeFile(join(root, "config.sh"), CONFIG, { mode: 0o755 });
    await writeFile(join(root, "bin", "Runner.Listener"), LISTENER.replace("VERSION", version), { mode: 0o755 });
    await writeFile(join(root, "bin", "Runner.Worker"), "stand-in\n", { mode: 0o644 });
    const tar = join(work, "release.tar");
    // Reproducible: the same version always gives the same bytes, hence the same sha256.
    execFileSync("tar", [
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--format=gnu",
      "-cf",
      tar,
      "-C",
      root,
      ".",
    ]);
    const tarball = gzipSync(await readFile(tar), { level: 9 });
    const sha256 = createHash("sha256").update(tarball).digest("hex");
    return { version, tarball, sha256, path: (arch) => releasePath(version, arch) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
