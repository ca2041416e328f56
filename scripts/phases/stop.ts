// mode: stop. Three cleanup layers, each run whatever became of the one before, and each reported:
//   1. the machines, destroyed by terraform from the start's encrypted state;
//   2. the runners at GitHub: those the state names, plus any other registered under the start's label (when GitHub
//      can list them; when it cannot, the state's list is enough to remove what start registered);
//   3. the machines found by their label tag with the cloud's CLI, always, after the destroy: a create cut off after
//      the cloud accepted it (a cancel, a killed start) leaves a machine that no state names.
// The stop fails, after all of them ran, if one that was needed failed; the state is deleted only when all went well,
// so a re-run finds it. Running it again after success finds nothing left and succeeds; running it again after a
// failure tells the runners the first stop removed from those a job of another run took (runner-jobs.ts).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Env } from "../../stacks/input-reader.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import { type StateBundle, unpackStackDir } from "../adapters/state-bundle.ts";
import { type Terraform, TerraformError } from "../adapters/terraform.ts";
import type { StopInputs } from "../settings/inputs.ts";
import type { RunContext } from "../settings/run-context.ts";
import { runOfLabel } from "../settings/label.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { type CleanupOutcome, cleanupTable } from "./cleanup-report.ts";
import { stopSummary } from "./job-summary.ts";
import { loadState, removeStateArtifact, removeStoredState } from "./stop-state.ts";
import { STACK_ID } from "./synthesize.ts";
import { describeRunnerJob, type RunnerJob, runnerJobs } from "./runner-jobs.ts";
import { destroyStack, registeredUnderLabel, removeRunners, unionOfRunners } from "./teardown.ts";

export interface StopDeps {
  github: GitHubClient;
  /** The repository-scoped client that deletes the state artifact, when runners live in the organization. */
  artifacts?: GitHubClient;
  terraform: Terraform;
  io: ActionIO;
  workDir: string;
  /** The job's environment: the cloud's region/project variables for the sweep by label. */
  env: Env;
  /** Runs the cloud's CLI (the sweep, the state store). */
  run: CommandRunner;
  /** Epoch milliseconds, for the summary's lifetime; Date.now by default. */
  now?: () => number;
}

export class StopError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StopError";
  }
}

export async function stop(inputs: StopInputs, context: RunContext, deps: StopDeps): Promise<void> {
  const { io } = deps;
  const statePath = stateFilePath(context, inputs.stateId);
  const state = await loadState(inputs, statePath, deps);
  const outcomes: CleanupOutcome[] = [];
  let machineCount = 0;
  // Stryker disable next-line ArrayDeclaration: without a bundle machineCount is 0, and stopSummary then lists no machine.
  let machineNames: string[] = [];
  let runnerReport: RunnerJob[] | undefined;
  let notChecked: string | undefined;
  try {
    if (state.bundle) {
      const destroyed = await destroyFromState(state.bundle, deps);
      machineCount = destroyed.machineNames.length;
      machineNames = destroyed.machineNames;
      outcomes.push(destroyed.outcome);
    }
    const runners = await removeRunnersOfStart(inputs.stateId, state.bundle, context, deps);
    outcomes.push(...runners.outcomes);
    runnerReport = runners.jobs;
    const destroyFailed = outcomes.some((o) => o.layer === "machines (terraform)" && !o.ok);
    // Always: the state names only what terraform recorded. Without a readable state (or a working destroy) the
    // sweep is the only way to be sure nothing is left, so a sweep that cannot look fails the stop. Otherwise it is
    // a warning, said in the log and the summary: when the state is simply gone (never uploaded, or an earlier stop
    // removed it) the start may have made nothing; when the state was destroyed, a machine it does not name exists
    // only if a create was cut off mid-apply, and failing every stop of a repository whose CLI cannot list (the
    // state kept, each re-run failing alike) would teach its users to ignore a red stop. The scheduled sweep, which
    // fails when it cannot look, is the backstop for that case.
    const sweep = await sweepByLabel(inputs, context, deps, {
      required: state.unreadable !== undefined || destroyFailed,
      stateDestroyed: state.bundle !== undefined && !destroyFailed,
    });
    outcomes.push(sweep.outcome);
    notChecked = sweep.notChecked;
  } finally {
    // The decrypted state holds user-data (runner credentials) in clear: it never outlives the step.
    await rm(deps.workDir, { recursive: true, force: true });
  }
  // Stryker disable next-line StringLiteral: cleanupTable writes text for any format but "markdown".
  io.info(cleanupTable(outcomes, "text"));
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    const jobs = runnerReport ? `\n\n${runnerReport.map((r) => `- ${describeRunnerJob(r)}`).join("\n")}` : "";
    await io.summary(
      `### GPU runners not fully stopped: \`${inputs.stateId}\`\n\n${cleanupTable(outcomes, "markdown")}${jobs}\n`,
    );
    throw new StopError(`Stop did not finish cleanly:\n${failed.map((o) => `${o.layer}: ${o.detail}`).join("\n")}`);
  }
  if (inputs.stateStore) await removeStoredState(inputs.stateStore, inputs.stateId, deps);
  else await removeStateArtifact(deps.artifacts ?? deps.github, context, inputs.stateId, io);
  await rm(statePath, { force: true });
  await io.summary(
    stopSummary({
      label: inputs.stateId,
      machineCount,
      machine: state.bundle?.machine,
      startedAt: state.bundle?.createdAt,
      stoppedAt: new Date(deps.now?.() ?? Date.now()),
      runnerJobs: runnerReport?.map(describeRunnerJob),
      machines: machineNames,
      notChecked,
    }),
  );
  // Cleaned up, state and all (a re-run would find the same): but a runner that ran another run's job is an alarm.
  const elsewhere = runnerReport?.filter((r) => r.verdict === "elsewhere") ?? [];
  if (elsewhere.length > 0) {
    throw new StopError(
      `jobs on the runners: ${elsewhere.map(describeRunnerJob).join("; ")}. Its machine ran code of another workflow run with this ` +
        "repository's secrets and cloud: find that run in the repository's Actions tab, and check that no other workflow asks for this start's labels.",
    );
  }
}

/** Layer 1: terraform destroy from the state (init first: the providers are not in the bundle). */
async function destroyFromState(
  bundle: StateBundle,
  deps: StopDeps,
): Promise<{ outcome: CleanupOutcome; machineNames: string[] }> {
  const layer = "machines (terraform)";
  const dir = join(deps.workDir, "stacks", STACK_ID);
  // Stryker disable next-line ArrayDeclaration: still [] only when a step before output failed, and a failed layer makes stop throw before it uses the names.
  let machineNames: string[] = [];
  try {
    await mkdir(dir, { recursive: true });
    await unpackStackDir(bundle, dir);
    await deps.io.group("terraform init", () => deps.terraform.init(dir));
    // The machines that still exist per the state (none when start failed and cleaned up), for the summary.
    const machines = (await deps.terraform.output(dir)).machines;
    machineNames = machines && typeof machines === "object" ? Object.keys(machines) : [];
    await destroyStack(dir, deps.terraform, deps.io);
    return {
      outcome: { layer, ok: true, detail: `destroyed (${machineNames.length} machine(s) in the state)` },
      machineNames,
    };
  } catch (error) {
    deps.io.warning(`Could not destroy from the state: ${(error as Error).message}`);
    return { outcome: { layer, ok: false, detail: firstLine(error) }, machineNames };
  }
}

/**
 * Layer 2: the runners at GitHub. First which job ran on each (before they are deleted: a JIT runner still listed
 * took no job), then their removal. A listing that fails still leaves the state's own runners to remove.
 */
async function removeRunnersOfStart(
  label: string,
  bundle: StateBundle | undefined,
  context: RunContext,
  deps: StopDeps,
): Promise<{ outcomes: CleanupOutcome[]; jobs?: RunnerJob[] }> {
  const layer = "runners (GitHub)";
  const known = bundle?.runners ?? [];
  const listed = await registeredUnderLabel(deps.github, label).catch((error: unknown) => {
    deps.io.warning(
      `Could not list the runners at GitHub (${firstLine(error)}); removing the ${known.length} the state names.`,
    );
    return undefined;
  });
  const runners = unionOfRunners(known, listed ?? []);
  const jobs = listed && runners.length > 0 ? await whoRanOnThem(label, runners, listed, context, deps) : undefined;
  const removal = await removeRunners(deps.github, runners, deps.io);
  const outcomes: CleanupOutcome[] = [
    listed
      ? { layer, ok: removal.ok, detail: removal.detail }
      : { layer, ok: false, detail: `${removal.detail}; could not check GitHub for other runners of this label` },
  ];
  return { outcomes, jobs };
}

/** Which job ran on each runner, from the run's jobs; undefined (with a warning) when the jobs cannot be listed. */
async function whoRanOnThem(
  label: string,
  runners: { name: string }[],
  listed: { name: string; busy: boolean }[],
  context: RunContext,
  deps: StopDeps,
): Promise<RunnerJob[] | undefined> {
  try {
    const jobs = await (deps.artifacts ?? deps.github).listRunJobs(context.runId);
    // A stop in a later attempt than its start is a re-run (of a failed stop): the stop before it removed runners.
    const startAttempt = Number(runOfLabel(label)?.runAttempt);
    const rerun = Number(context.runAttempt) > startAttempt;
    const report = runnerJobs(runners, new Map(listed.map((r) => [r.name, r])), jobs, rerun);
    for (const line of report) (line.verdict === "elsewhere" ? deps.io.warning : deps.io.info)(describeRunnerJob(line));
    return report;
  } catch (error) {
    deps.io.warning(
      `Could not list this run's jobs to check which job ran on each runner (${firstLine(error)}; the token needs Actions: read).`,
    );
    return undefined;
  }
}

/**
 * Layer 3: the machines found by their label tag, with the cloud's CLI. `required`: its failure fails the stop;
 * `stateDestroyed`: the state's machines were destroyed, so what it finds is what the state did not name.
 * `notChecked` says, when it could not look and that is no failure, what was not checked (for the summary).
 */
async function sweepByLabel(
  inputs: StopInputs,
  context: RunContext,
  deps: StopDeps,
  { required, stateDestroyed }: { required: boolean; stateDestroyed: boolean },
): Promise<{ outcome: CleanupOutcome; notChecked?: string }> {
  const layer = "machines (by label)";
  return deps.io.group(`Look for machines labelled ${inputs.stateId} (${inputs.cloud.name})`, async () => {
    try {
      // By the repository id too: a label alone does not prove the machine is this repository's.
      const start = { repositoryId: context.repositoryId, label: inputs.stateId };
      const found = await inputs.cloud.cli.findMachines(start, deps.env, deps.run);
      // Its label's leftovers (a security group, schedules) too, even when no machine is left.
      const deleted = await inputs.cloud.cli.deleteMachines(found, [start], deps.env, deps.run);
      if (stateDestroyed && found.length > 0)
        deps.io.warning(
          `Machines of this start that its state did not name (a create cut off mid-apply): ${found.map((m) => m.name).join(", ")}; deleted by label.`,
        );
      deps.io.info(deleted.length > 0 ? `Deleted: ${deleted.join(", ")}.` : "None found.");
      return {
        outcome: { layer, ok: true, detail: deleted.length > 0 ? `deleted ${deleted.join(", ")}` : "none found" },
      };
    } catch (error) {
      deps.io.warning(`Could not look for this start's machines: ${(error as Error).message}`);
      const detail = `could not look: ${firstLine(error)}`;
      if (required) return { outcome: { layer, ok: false, detail } };
      const why = stateDestroyed
        ? "the state's machines were destroyed; one it does not name (a create cut off mid-apply) would be missed"
        : "no state: the start may have made nothing";
      return {
        outcome: { layer, ok: true, detail: `${detail} (${why})` },
        notChecked: `machines labelled ${inputs.stateId}: ${detail} (${why}). A scheduled mode: sweep (docs/sweep.md) finds them.`,
      };
    }
  });
}

/** An error in one line: its message's first line, and for terraform the first error it printed. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = (text.split("\n", 1)[0] ?? text).replace(/:$/, "");
  const terraformError = error instanceof TerraformError ? /^Error: (.+)$/m.exec(error.stderrTail)?.[1] : undefined;
  return terraformError ? `${first}: ${terraformError}` : first;
}
