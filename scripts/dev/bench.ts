// npm run bench: figures, never a verdict. Medians of several runs, each printed next to its target.
//
//   synth           `node --import tsx scripts/dev/cdktf-app.ts` per cloud (and the local kind): wall time and peak RSS, and both
//                   as a ratio to a bare `node --import tsx -e ''` measured in the same run
//   online          from the last runner reporting online (the GitHub stand-in's clock) to the end of the start
//                   step (the action driver's clock), with production's default poll (3 s for up to three runners) and with the tests' 200 ms
//   lifecycle       start (2 runners) -> both take a job -> stop, on the local machine kind
//   install         `npm ci --omit=dev` of package.json + package-lock.json into a scratch directory: time and size,
//                   then the size after scripts/prune-install.ts for each cloud (uses the npm registry)
//
//   npm run bench -- --runs 5 --lifecycles 3 --no-install
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudNames } from "../../stacks/clouds.ts";
import { ACTION_ROOT, LocalWorld, localKindNodeOptions } from "../../test/kit/local-github/world.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const RUNS = option("runs", 5);
const LIFECYCLES = option("lifecycles", 3);
const INSTALL = !argv.includes("--no-install");
const TIME = "/usr/bin/time";

const say = (text = "") => process.stdout.write(`${text}\n`);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const row = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");

interface Sample {
  ms: number;
  maxRssKb: number;
}

/** Runs `node --import tsx <script>` (or a bare start) once: wall time, and peak RSS from GNU time -v (or resourceUsage). */
function measure(script: string | undefined, env: Record<string, string>): Promise<Sample> {
  const useTime = existsSync(TIME);
  const node = ["--import", "tsx", ...(script ? [script] : ["-e", ""])];
  // Without GNU time, the child reports its own peak RSS as it exits.
  const onExit = `process.on("exit", () => process.stderr.write("\\nMAXRSS_KB=" + process.resourceUsage().maxRSS + "\\n"));`;
  const load = script ? `await import(${JSON.stringify(`file://${join(ACTION_ROOT, script)}`)});` : "";
  const [command, args] = useTime
    ? [TIME, ["-v", process.execPath, ...node]]
    : [process.execPath, ["--import", "tsx", "--input-type=module", "-e", `${onExit} ${load}`]];
  return new Promise((resolve, reject) => {
    const began = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: ACTION_ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - began) / 1e6;
      if (code !== 0) return reject(new Error(`node ${node.join(" ")} exited with ${code}: ${stderr.slice(-800)}`));
      const rss = useTime ? /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr) : /MAXRSS_KB=(\d+)/.exec(stderr);
      resolve({ ms, maxRssKb: Number(rss?.[1] ?? Number.NaN) });
    });
  });
}

async function synth(): Promise<void> {
  say(`Synthesis: node --import tsx scripts/dev/cdktf-app.ts per cloud, median of ${RUNS} (peak RSS via ${existsSync(TIME) ? "GNU time -v" : "process.resourceUsage"})`);
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CHECKPOINT_DISABLE: "1" };
  const bareSamples: Sample[] = [];
  // Every cloud of the product, and the test kit's local kind (registered through its hook, as the tests do).
  const clouds = [...cloudNames(), "local"];
  const samples: Record<string, Sample[]> = Object.fromEntries(clouds.map((c) => [c, []]));
  const out = await mkdtemp(join(tmpdir(), "bench-synth-"));
  try {
    // Interleaved, so that a slow moment of the machine weighs on every figure alike.
    for (let i = 0; i < RUNS; i++) {
      bareSamples.push(await measure(undefined, base));
      for (const cloud of clouds) {
        samples[cloud]!.push(
          await measure("scripts/dev/cdktf-app.ts", {
            ...base,
            CDKTF_OUTDIR: join(out, `${cloud}-${i}`),
            GPU_RUNNER_CLOUD: cloud,
            ...(cloud === "local" ? { NODE_OPTIONS: localKindNodeOptions() } : {}),
            LOCAL_KIND_ROOT: join(out, "machines"),
            LOCAL_KIND_RUNNER_URL: "http://127.0.0.1:9/runner",
            LOCAL_KIND_RUNNER_SHA256: "0".repeat(64),
          }),
        );
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  const bare = { ms: median(bareSamples.map((x) => x.ms)), kb: median(bareSamples.map((x) => x.maxRssKb)) };
  const widths = [22, 10, 14, 10, 12, 30];
  say(row(["", "time", "x bare start", "peak RSS", "x bare RSS", "target"], widths));
  say(row(["bare node --import tsx", s(bare.ms), "1.0", mb(bare.kb), "1.0", ""], widths));
  for (const cloud of clouds) {
    const ms = median(samples[cloud]!.map((x) => x.ms));
    const kb = median(samples[cloud]!.map((x) => x.maxRssKb));
    say(row([`synth ${cloud}`, s(ms), (ms / bare.ms).toFixed(1), mb(kb), (kb / bare.kb).toFixed(1), "<= 3x bare start, < 150 MB"], widths));
  }
  say();
}

interface Lifecycle {
  total: number;
  start: number;
  stop: number;
  /** Last runner online (server) -> start step ended (driver). */
  onlineToStartEnd: number;
  /** Last runner online -> the first status call that saw it online (what the poll interval costs). */
  onlineToSeen: number;
}

async function lifecycle(pollMs: number | null): Promise<Lifecycle> {
  const world = await LocalWorld.create({ pollMs, openApi: false });
  try {
    const began = Date.now();
    const start = await world.start({ count: "2" });
    if (start.failed) throw new Error(`start failed: ${start.errors.join("; ")}`);
    const main = start.stepResults.find((x) => x.id === "main");
    const startEnded = Date.now();
    const label = start.outputs.label ?? "";
    world.server.queueJob(label, { seconds: 0 });
    world.server.queueJob(label, { seconds: 0 });
    await world.server.waitFor("the jobs", () => world.server.jobs.every((j) => j.doneAt !== undefined), 30_000);
    const stopBegan = Date.now();
    const stop = await world.stop(start.outputs["state-id"] ?? "");
    if (stop.failed) throw new Error(`stop failed: ${stop.errors.join("; ")}`);
    const ended = Date.now();
    const lastOnline = Math.max(...world.server.issued.map((r) => r.onlineAt ?? Number.NaN));
    const lastSeen = Math.max(...world.server.issued.map((r) => r.seenOnlineAt ?? Number.NaN));
    return {
      total: ended - began,
      start: startEnded - began,
      stop: ended - stopBegan,
      onlineToStartEnd: (main?.endedAt ?? Number.NaN) - lastOnline,
      onlineToSeen: lastSeen - lastOnline,
    };
  } finally {
    await world.close();
  }
}

async function lifecycles(): Promise<void> {
  say(`Local lifecycle: start 2 runners, one job each, stop; median of ${LIFECYCLES} (real terraform and boot script)`);
  const widths = [38, 8, 8, 8, 14, 18, 40];
  say(row(["", "total", "start", "stop", "online->seen", "online->start end", "target"], widths));
  for (const [name, pollMs] of [
    ["default poll (3 s for 2 runners)", null],
    ["poll 200 ms (GPU_RUNNER_TEST_POLL_MS)", 200],
  ] as const) {
    const runs: Lifecycle[] = [];
    for (let i = 0; i < LIFECYCLES; i++) runs.push(await lifecycle(pollMs));
    const m = (key: keyof Lifecycle) => s(median(runs.map((r) => r[key])));
    say(row([name, m("total"), m("start"), m("stop"), m("onlineToSeen"), m("onlineToStartEnd"), "online detection < 5 s, lifecycle < 15 s"], widths));
  }
  say();
}

async function install(): Promise<void> {
  say("Production install: npm ci --omit=dev of package.json + package-lock.json (npm registry), then prune-install.ts per cloud");
  const dir = await mkdtemp(join(tmpdir(), "bench-install-"));
  try {
    for (const file of ["package.json", "package-lock.json"]) await copyFile(join(ACTION_ROOT, file), join(dir, file));
    const began = Date.now();
    try {
      execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, npm_config_cache: join(dir, ".npm-cache") } });
    } catch (error) {
      say(`  npm ci failed (offline?): ${((error as { stderr?: Buffer }).stderr?.toString() ?? String(error)).trim().split("\n").slice(-3).join(" ")}`);
      return;
    }
    const took = Date.now() - began;
    const du = (path: string) => Number(execFileSync("du", ["-sk", path], { encoding: "utf8" }).split("\t")[0]);
    say(`  npm ci --omit=dev: ${s(took)} (empty npm cache), node_modules ${mb(du(join(dir, "node_modules")))}`);
    const prune = join(ACTION_ROOT, "scripts", "prune-install.ts");
    for (const cloud of cloudNames()) {
      // A hard-linked copy: cheap, and pruning it leaves the original whole.
      const copy = join(dir, `pruned-${cloud}`);
      execFileSync("cp", ["-al", join(dir, "node_modules"), copy]);
      execFileSync(process.execPath, ["--import", "tsx", prune, cloud, copy], { stdio: "ignore", cwd: ACTION_ROOT });
      say(`  pruned for ${cloud}: ${mb(du(copy))}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  say();
}

async function main(): Promise<void> {
  say(`Benchmarks on node ${process.versions.node}, ${process.platform}/${process.arch}; figures, not a gate.`);
  say();
  await synth();
  await lifecycles();
  if (INSTALL) await install();
  else say("Production install: skipped (--no-install)");
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
