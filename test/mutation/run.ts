// The second half of `npm run mutation`: reads StrykerJS's report, runs the table of mutations it cannot make
// (table.ts), and prints the scores, "mutation score: N%" last. Fails below the bar, 90% for each half.
//   tsx test/mutation/run.ts            StrykerJS's report (run it first) and the table
//   tsx test/mutation/run.ts --table    the table alone
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PARALLEL } from "../kit/patience.ts";
import { BOOT_TESTS, TABLE, type TableMutant } from "./table.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REPORT = join(ROOT, ".stryker-tmp", "mutation.json");
const BAR = 90;

interface Tally {
  killed: number;
  total: number;
  survivors: string[];
}

/** StrykerJS's own score: detected (killed or timed out) over valid mutants; a mutant no test runs counts as survived. */
function strykerTally(): Tally {
  if (!existsSync(REPORT))
    throw new Error(`no StrykerJS report at ${REPORT}: run \`npm run mutation\` (or stryker) first`);
  const report = JSON.parse(readFileSync(REPORT, "utf8")) as {
    files: Record<
      string,
      {
        source: string;
        mutants: { status: string; mutatorName: string; replacement?: string; location: { start: { line: number } } }[];
      }
    >;
  };
  const tally: Tally = { killed: 0, total: 0, survivors: [] };
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (["CompileError", "RuntimeError", "Ignored"].includes(m.status)) continue;
      tally.total++;
      if (m.status === "Killed" || m.status === "Timeout") tally.killed++;
      else
        tally.survivors.push(
          `${file}:${m.location.start.line} ${m.mutatorName} -> ${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 80)} (${m.status})`,
        );
    }
  }
  return tally;
}

/**
 * A scratch copy of what the tests read, with the project's node_modules linked in, and a temporary directory of its
 * own. Both are open to all: as root, the boot sandboxes run the script as nobody, who must reach its scratch root.
 */
async function scratchCopy(): Promise<{ dir: string; tmp: string }> {
  const dir = await mkdtemp(join(tmpdir(), "gpu-runner-mutant-"));
  const tmp = join(dir, "tmp");
  await mkdir(tmp);
  await chmod(dir, 0o755);
  await chmod(tmp, 0o1777);
  for (const entry of ["scripts", "stacks", "test", "package.json", "tsconfig.json", "action.yml", "cdktf.json"]) {
    if (existsSync(join(ROOT, entry)))
      await cp(join(ROOT, entry), join(dir, entry), {
        recursive: true,
        filter: (src) => !src.includes(".stryker-tmp"),
      });
  }
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return { dir, tmp };
}

/** Kills every process whose working directory is under `dir`: what a test file killed early left (its sandboxes). */
function killProcessesUnder(dir: string): void {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone, or not ours to read
    }
  }
}

/** Runs one test file in `dir`; resolves true at its first failing test (then ends it) or false when all passed. */
function fails({ dir, tmp }: { dir: string; tmp: string }, testFile: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test-reporter=tap", testFile], {
      cwd: dir,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    let failed = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (!failed && /^\s*not ok /m.test(out)) {
        failed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", (code) => resolve(failed || code !== 0));
  });
}

/** Applies the mutant (none: the control) to a scratch copy and runs its tests there: true when one failed. */
async function killed(mutant: TableMutant | undefined, tests: string[]): Promise<boolean> {
  const scratch = await scratchCopy();
  try {
    if (mutant) {
      const path = join(scratch.dir, mutant.file);
      const text = await readFile(path, "utf8");
      const at = text.indexOf(mutant.find);
      if (at < 0 || text.indexOf(mutant.find, at + 1) >= 0)
        throw new Error(`"${mutant.name}": its text is not found exactly once in ${mutant.file}`);
      await writeFile(path, text.slice(0, at) + mutant.replace + text.slice(at + mutant.find.length));
    }
    for (const testFile of tests) {
      if (await fails(scratch, testFile)) return true;
    }
    return false;
  } finally {
    killProcessesUnder(scratch.dir);
    await rm(scratch.dir, { recursive: true, force: true });
  }
}

async function tableTally(): Promise<Tally> {
  // The control: every test file the table uses passes on the unmutated copy, or a kill would prove nothing.
  const files = [...new Set(TABLE.flatMap((m) => m.tests ?? BOOT_TESTS))];
  if (await killed(undefined, files))
    throw new Error(`the control failed: ${files.join(", ")} do not pass on an unmutated copy`);
  console.log(`  control: ${files.join(", ")} pass on an unmutated copy`);
  const tally: Tally = { killed: 0, total: TABLE.length, survivors: [] };
  const queue = [...TABLE];
  const worker = async () => {
    for (let mutant = queue.shift(); mutant; mutant = queue.shift()) {
      const dead = await killed(mutant, mutant.tests ?? BOOT_TESTS);
      console.log(`  ${dead ? "killed  " : "SURVIVED"} ${mutant.name} (${mutant.file})`);
      if (dead) tally.killed++;
      else tally.survivors.push(`${mutant.file}: ${mutant.name}`);
    }
  };
  // Each test file boots sandboxes of its own (test/kit/patience.ts): two files at a time are enough.
  await Promise.all(Array.from({ length: Math.min(2, PARALLEL) }, worker));
  return tally;
}

const percent = (t: Tally) => (t.total === 0 ? 100 : Math.floor((1000 * t.killed) / t.total) / 10);

async function main(): Promise<void> {
  const tableOnly = process.argv.includes("--table");
  const halves: [string, Tally][] = [];
  if (!tableOnly) halves.push(["StrykerJS, safety-critical modules", strykerTally()]);
  console.log(`Table of mutations StrykerJS does not make (${TABLE.length}):`);
  halves.push(["table: boot script and constants", await tableTally()]);
  for (const [name, tally] of halves) {
    for (const survivor of tally.survivors) console.log(`  survived: ${survivor}`);
    console.log(`mutation score (${name}): ${percent(tally)}% (${tally.killed} of ${tally.total} killed)`);
  }
  const all = halves.reduce(
    (sum, [, t]) => ({ killed: sum.killed + t.killed, total: sum.total + t.total, survivors: [] }),
    { killed: 0, total: 0, survivors: [] } as Tally,
  );
  console.log(`mutation score: ${percent(all)}%`);
  if (halves.some(([, t]) => percent(t) < BAR)) {
    console.error(`below the bar of ${BAR}%: add the tests a reviewer of each surviving rule would ask for`);
    process.exitCode = 1;
  }
}

await main();
