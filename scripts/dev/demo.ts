// npm run demo: the whole life of one start, on this machine, in seconds, with no cloud account and no GitHub token.
// Narrated for a newcomer: what runs for real, what stands in, and what is left at the end (nothing).
//
//   npm run demo                 # narrated
//   npm run demo -- --verbose    # every line the action prints
//   npm run demo -- --keep       # keep the scratch directory to look around
//   npm run demo -- --summary-file=summary.md   # the two job summaries go to that file instead of the screen
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ActionRunResult, StepResult } from "../../test/kit/local-github/action-runner.ts";
import { LocalWorld } from "../../test/kit/local-github/world.ts";

const args = new Set(process.argv.slice(2));
const verbose = args.has("--verbose");
const keep = args.has("--keep");
const summaryFile = [...args].find((a) => a.startsWith("--summary-file="))?.slice("--summary-file=".length);
const COUNT = 2;

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const dim = (text: string) => (color ? `\x1b[2m${text}\x1b[0m` : text);
const bold = (text: string) => (color ? `\x1b[1m${text}\x1b[0m` : text);
const good = (text: string) => (color ? `\x1b[32m${text}\x1b[0m` : text);
const bad = (text: string) => (color ? `\x1b[31m${text}\x1b[0m` : text);
const say = (text = "") => process.stdout.write(`${text}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The lines of the action's own log worth showing a newcomer (the rest is terraform's plan, shown with --verbose). */
const KEY_LINE =
  /Registered |Apply complete|Destroy complete|runner\(s\) online|Runners online \d+\/\d+|Machines destroyed|removed from GitHub|already gone|Deleted the state|No state found|Encrypted state written|Using terraform|Start failed|error/i;

function onLine(line: string, step: StepResult): void {
  if (line.startsWith("::group::") || line.startsWith("::endgroup::")) return;
  if (verbose || KEY_LINE.test(line))
    say(
      dim(`      ${step.id === "main" ? "" : `[${step.name}] `}${line.replace(/^::(error|warning)[^:]*::/, "$1: ")}`),
    );
}

function onStep(step: StepResult, phase: "start" | "end"): void {
  if (phase === "start") {
    const action = step.uses?.split("@")[0];
    say(
      `    ${action && step.name.startsWith(`Run ${action}`) ? `uses: ${action}` : step.name}${action ? dim("  (stood in for)") : ""}`,
    );
    return;
  }
  const mark =
    step.outcome === "success"
      ? good("ok")
      : step.conclusion === "success"
        ? "failed (continue-on-error)"
        : bad("FAILED");
  say(dim(`      -> ${mark} in ${seconds(step.endedAt - step.startedAt)}${step.note ? `; ${step.note}` : ""}`));
}

/**
 * The job summaries (what each job wrote to GITHUB_STEP_SUMMARY, shown on the run's page at GitHub): on the screen,
 * or in the file --summary-file names (the scratch directory that held them is gone by the end).
 */
function showSummaries(start: ActionRunResult, stop?: ActionRunResult): void {
  const text = [
    "<!-- the start job's summary -->",
    start.summary.trimEnd() || "(empty)",
    "",
    ...(stop ? ["<!-- the stop job's summary -->", stop.summary.trimEnd() || "(empty)", ""] : []),
  ].join("\n");
  if (summaryFile) {
    const path = resolve(summaryFile);
    writeFileSync(path, text);
    say(`    written to ${path} (Markdown, as GitHub renders it on the run's page)`);
    return;
  }
  say(dim("    Markdown, as GitHub renders it on the run's page:"));
  for (const line of text.split("\n")) say(line ? `    ${line}` : "");
}

function skipped(result: ActionRunResult): string {
  const names = result.stepResults.filter((s) => !s.ran).map((s) => s.name.replace(/^Run ([^@]+)@.*/, "uses: $1"));
  return names.length > 0 ? dim(`    skipped by their if: ${names.join("; ")}`) : "";
}

async function main(): Promise<number> {
  const began = Date.now();
  say(bold("Ephemeral GPU runners: one start, one job, one stop, on this machine"));
  say(`
  Real:        action.yml, run step by step (its if: conditions, its input -> environment mapping);
               the action's scripts (scripts/main.ts with tsx); terraform init/apply/destroy;
               the machine's boot script (stacks/boot/runner.sh).
  Stands in:   the cloud  -> local processes: the 'local' machine kind runs each machine's boot script in its own
                             session under a scratch directory (test/kit/local-cloud/local.ts; user management and power-off
                             are stood in for by test/kit/local-cloud/bin, so nothing outside that directory is touched);
               GitHub     -> a server on 127.0.0.1 (runner registration, status, artifacts), checked against
                             GitHub's published OpenAPI description when it is installed (npm ci);
               the runner -> a small run.sh that takes one job; uses: steps -> stand-ins.
`);

  const world = await LocalWorld.create();
  let failures = 0;
  const check = (ok: boolean, text: string) => {
    if (!ok) failures++;
    say(`    ${ok ? good("ok") : bad("NOT OK")}  ${text}`);
  };
  try {
    say(bold("1. Setting up"));
    say(`    GitHub stand-in:   ${world.server.url}  (repository ${world.repository}, run ${world.runId})`);
    say(
      `    runner release:    actions-runner-linux-x64-${world.release.version}.tar.gz, sha256 ${world.release.sha256.slice(0, 16)}... (built just now)`,
    );
    say(`    scratch directory: ${world.root}`);
    say(
      `    OpenAPI checks:    ${world.server.checksOpenApi ? "on" : "off (@octokit/openapi, a development dependency, is not installed)"}`,
    );
    say();

    say(bold(`2. The start job: uses: the action with mode: start, cloud: local, count: ${COUNT}`));
    const start = await world.start({ count: String(COUNT) }, { onLine, onStep });
    const skippedStart = skipped(start);
    if (skippedStart) say(skippedStart);
    if (start.failed) {
      say(bad(`    start failed: ${start.errors.join("; ")}`));
      showSummaries(start);
      return 1;
    }
    const label = start.outputs.label ?? "";
    say(`    outputs: label=${label}`);
    say(`             runners=${start.outputs.runners}`);
    const main = start.stepResults.find((s) => s.id === "main");
    const lastOnline = Math.max(...world.server.issued.map((r) => r.onlineAt ?? 0));
    say(
      dim(
        `    the last runner reported online ${seconds((main?.endedAt ?? 0) - lastOnline)} before the start step ended`,
      ),
    );
    say();

    say(bold(`3. The GPU job (runs-on: ${label}): queued at GitHub, each runner takes one by itself`));
    for (let i = 1; i <= COUNT; i++) world.server.queueJob(label, { name: `gpu-tests (${i})`, seconds: 0.5 });
    await world.server.waitFor("the jobs", () => world.server.jobs.every((j) => j.doneAt !== undefined));
    for (const job of world.server.jobs) {
      const runner = world.server.runner(job.runnerId ?? -1);
      say(
        `    ${runner?.name} ran "${job.name}" in ${seconds((job.doneAt ?? 0) - (job.takenAt ?? 0))}, then left GitHub (a JIT runner takes one job)`,
      );
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && world.machineDirs().some((d) => !existsSync(join(d, "powered-off"))))
      await new Promise((r) => setTimeout(r, 100));
    for (const dir of world.machineDirs()) {
      const reason = existsSync(join(dir, "powered-off"))
        ? readFileSync(join(dir, "powered-off"), "utf8").trim()
        : "still running";
      say(`    machine ${dir.split("/").pop()} powered itself off: ${reason}`);
    }
    say();

    say(bold("4. The stop job (if: always()): mode: stop with the state-id output"));
    const stop = await world.stop(start.outputs["state-id"] ?? "", {}, { onLine, onStep });
    const skippedStop = skipped(stop);
    if (skippedStop) say(skippedStop);
    say();

    say(bold("5. The job summaries (GITHUB_STEP_SUMMARY of the start and the stop job)"));
    showSummaries(start, stop);
    say();

    say(bold("6. What is left"));
    check(!stop.failed, `stop succeeded${stop.failed ? `: ${stop.errors.join("; ")}` : ""}`);
    const processes = world.processes();
    check(processes.length === 0, `no process of the machines or runners (${processes.length} found)`);
    check(world.machineDirs().length === 0, "no machine directory (terraform destroy ran the machines' halt)");
    check(world.server.runners.length === 0, "no runner registered at GitHub");
    check(world.server.artifacts.length === 0, "no state artifact (deleted by stop)");
    const findings = world.findSecrets();
    check(
      findings.length === 0,
      `no token, JIT config or runner credential in clear in any log line, file or artifact${findings.length ? `: ${findings.map((f) => `${f.secret} in ${f.where}`).join("; ")}` : ""}`,
    );
    const apiCalls = world.server.requests.filter((r) => r.route.startsWith("/repos/")).length;
    if (world.server.checksOpenApi) {
      check(
        world.server.violations.length === 0,
        `${apiCalls} API calls, all as GitHub's OpenAPI description documents them${world.server.violations.length ? `: ${world.server.violations.join("; ")}` : ""}`,
      );
    }
    say();
    say(
      `Done in ${seconds(Date.now() - began)}.${keep ? ` Scratch directory kept: ${world.root}` : " Scratch directory removed."}`,
    );
    say(
      dim(
        "Next: npm test (every check, on real terraform), npm run bench (timings), npm run review (the AWS stack for review).",
      ),
    );
    return failures === 0 ? 0 : 1;
  } finally {
    await world.close({ keep });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  },
);
