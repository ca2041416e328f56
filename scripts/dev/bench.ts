// npm run bench: figures, never a verdict. Medians of several runs, each printed next to its target.
//
//   synth      the cdktf app per cloud, run with the loader the action's main step runs it with (its launcher registers tsx/esm): wall time and
//              peak RSS, as ratios to a bare start of the same loader measured in the same run
//   lifecycle  start (2 runners) -> a job each -> stop on the local machine kind: the start's own timeline (the job
//              summary's), the online detection latency, the action's overhead (everything but the machine's create
//              and boot), and the same with the runner baked into the image (runner-preinstalled)
//   install    npm ci --omit=dev into a scratch copy of the action, then its prune for each cloud: what the cache
//              holds and restores, against keeping whole provider packages (the prune before this one)
//
//   npm run bench -- --runs 5 --lifecycles 3 --no-install
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudNames } from "../../stacks/clouds.ts";
import { ACTION_ROOT, LocalWorld, localKindNodeOptions } from "../../test/kit/local-github/world.ts";
import { median, mb, row, s, say } from "./bench-format.ts";
import { install } from "./bench-install.ts";

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
/** The loader the action's main step runs with (scripts/launch.mjs registers it). */
const LOADER = "tsx/esm";

interface Sample {
  ms: number;
  maxRssKb: number;
}

/** Runs `node --import <loader> <script>` (or a bare start) once: wall time, and peak RSS from GNU time -v (or resourceUsage). */
function measure(script: string | undefined, env: Record<string, string>): Promise<Sample> {
  const useTime = existsSync(TIME);
  const node = ["--import", LOADER, ...(script ? [script] : ["-e", ""])];
  // Without GNU time, the child reports its own peak RSS as it exits.
  const onExit = `process.on("exit", () => process.stderr.write("\\nMAXRSS_KB=" + process.resourceUsage().maxRSS + "\\n"));`;
  const load = script ? `await import(${JSON.stringify(`file://${join(ACTION_ROOT, script)}`)});` : "";
  const [command, args] = useTime
    ? [TIME, ["-v", process.execPath, ...node]]
    : [process.execPath, ["--import", LOADER, "--input-type=module", "-e", `${onExit} ${load}`]];
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
  say(`Synthesis: node --import ${LOADER} scripts/dev/cdktf-app.ts per cloud (the action's loader), median of ${RUNS}`);
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
  const widths = [26, 10, 14, 10, 12, 30];
  say(row(["", "time", "x bare start", "peak RSS", "x bare RSS", "target"], widths));
  say(row([`bare node --import ${LOADER}`, s(bare.ms), "1.0", mb(bare.kb), "1.0", ""], widths));
  for (const cloud of clouds) {
    const ms = median(samples[cloud]!.map((x) => x.ms));
    const kb = median(samples[cloud]!.map((x) => x.maxRssKb));
    say(
      row(
        [
          `synth ${cloud}`,
          s(ms),
          (ms / bare.ms).toFixed(1),
          mb(kb),
          (kb / bare.kb).toFixed(1),
          "<= 3x bare start, <= 150 MB",
        ],
        widths,
      ),
    );
  }
  say();
}

interface Lifecycle {
  total: number;
  start: number;
  stop: number;
  /** Last runner online (server) -> the first listing that saw it online (what the poll interval costs). */
  onlineToSeen: number;
  /** Last runner online -> start step ended (driver). */
  onlineToStartEnd: number;
  /** The start's own timeline, phase -> ms (the job summary's table). */
  phases: Record<string, number>;
  /** GitHub API requests of the start step: registration writes (1 s apart), then one listing a poll. */
  requests: number;
  /** The start step's own duration. */
  mainMs: number;
}

/** The job summary's "Where the time went" table, back into numbers. */
function phasesOf(summary: string): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const match of summary.matchAll(/^\| ([^|]+?) \| (\d+(?:\.\d+)?) (s|min) \|$/gm)) {
    phases[match[1]!] = Number(match[2]) * (match[3] === "min" ? 60_000 : 1000);
  }
  return phases;
}

async function lifecycle(pollMs: number | null, baked: boolean): Promise<Lifecycle> {
  const world = await LocalWorld.create({ pollMs, openApi: false, bakedRunner: baked });
  try {
    const began = Date.now();
    const requestsBefore = world.server.requests.length;
    const start = await world.start({ count: "2", ...(baked ? { "runner-preinstalled": "true" } : {}) });
    if (start.failed) throw new Error(`start failed: ${start.errors.join("; ")}`);
    const main = start.stepResults.find((x) => x.id === "main");
    const startEnded = Date.now();
    const apiRequests = world.server.requests
      .slice(requestsBefore)
      .filter((r) => r.route !== "release" && !r.url.startsWith("/_local/")).length;
    const label = start.outputs.label ?? "";
    world.server.queueJob(label, { seconds: 0 });
    world.server.queueJob(label, { seconds: 0 });
    await world.server.waitFor("the jobs", () => world.server.jobs.every((j) => j.doneAt !== undefined));
    const stopBegan = Date.now();
    const stop = await world.stop(start.outputs["state-id"] ?? "");
    if (stop.failed) throw new Error(`stop failed: ${stop.errors.join("; ")}`);
    const ended = Date.now();
    const lastOnline = Math.max(...world.server.issued.map((r) => r.onlineAt ?? Number.NaN));
    const lastSeen = Math.max(...world.server.issued.map((r) => r.seenOnlineAt ?? Number.NaN));
    const mainMs = (main?.endedAt ?? Number.NaN) - (main?.startedAt ?? Number.NaN);
    return {
      total: ended - began,
      start: startEnded - began,
      stop: ended - stopBegan,
      onlineToSeen: lastSeen - lastOnline,
      onlineToStartEnd: (main?.endedAt ?? Number.NaN) - lastOnline,
      phases: phasesOf(start.summary),
      requests: apiRequests,
      mainMs,
    };
  } finally {
    await world.close();
  }
}

/** The action's own share: everything but the machine's create (in apply) and boot, which belong to the cloud. */
const OVERHEAD_PHASES = [
  "Setting up the action",
  "Checking inputs and synthesizing the stack",
  "Registering the runners at GitHub",
  "terraform init and apply",
];

async function lifecycles(): Promise<void> {
  say(
    `Local lifecycle: start 2 runners, one job each, stop; median of ${LIFECYCLES} (real terraform, real boot script)`,
  );
  const variants = [
    { name: "production poll (1 s)", pollMs: null, baked: false },
    { name: "production poll, baked runner", pollMs: null, baked: true },
  ];
  const results: { name: string; runs: Lifecycle[] }[] = [];
  for (const v of variants) {
    const runs: Lifecycle[] = [];
    for (let i = 0; i < LIFECYCLES; i++) runs.push(await lifecycle(v.pollMs, v.baked));
    results.push({ name: v.name, runs });
  }
  const widths = [32, 8, 8, 8, 14, 18, 24];
  say(row(["", "total", "start", "stop", "online->seen", "online->start end", "GitHub requests (step)"], widths));
  for (const { name, runs } of results) {
    const m = (pick: (r: Lifecycle) => number) => median(runs.map(pick));
    say(
      row(
        [
          name,
          s(m((r) => r.total)),
          s(m((r) => r.start)),
          s(m((r) => r.stop)),
          s(m((r) => r.onlineToSeen)),
          s(m((r) => r.onlineToStartEnd)),
          `${m((r) => r.requests)} in ${s(m((r) => r.mainMs))}`,
        ],
        widths,
      ),
    );
  }
  say(
    "  targets: online detection <= 1.5 s (median); one request a poll for all runners (polls 1 s apart, writes 1 s apart)",
  );
  say();
  say("Where the start's time went (its job summary's timeline), median per phase");
  const phases = [...new Set(results.flatMap(({ runs }) => runs.flatMap((r) => Object.keys(r.phases))))];
  const phaseWidths = [60, ...results.map(() => 32)];
  say(row(["phase", ...results.map((r) => r.name)], phaseWidths));
  for (const phase of phases)
    say(
      row(
        [phase, ...results.map(({ runs }) => s(median(runs.map((r) => r.phases[phase] ?? Number.NaN))))],
        phaseWidths,
      ),
    );
  const overhead = (r: Lifecycle) =>
    OVERHEAD_PHASES.reduce((sum, p) => sum + (Object.entries(r.phases).find(([k]) => k.startsWith(p))?.[1] ?? 0), 0);
  say(
    row(
      [
        "the action's own overhead (the four first phases)",
        ...results.map(({ runs }) => s(median(runs.map(overhead)))),
      ],
      phaseWidths,
    ),
  );
  say("  target: the action's own overhead <= 5 s with warm caches (here: no npm install, terraform's cache warm)");
  say();
}

async function main(): Promise<void> {
  say(`Benchmarks on node ${process.versions.node}, ${process.platform}/${process.arch}; figures, not a gate.`);
  say();
  await synth();
  await lifecycles();
  if (INSTALL) await install(LOADER);
  else say("Production install: skipped (--no-install)");
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
