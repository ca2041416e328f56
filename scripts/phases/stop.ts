// mode: stop. Three cleanup layers, each run whatever became of the one before, and each reported:
//   1. the machines, destroyed by terraform from the start's encrypted state;
//   2. the runners at GitHub: those the state names, plus any other registered under the start's label (when GitHub
//      can list them; when it cannot, the state's list is enough to remove what start registered);
//   3. the machines found by their label tag with the cloud's CLI: when there is no usable state, or the destroy failed.
// The stop fails, after all of them ran, if one that was needed failed; the state is deleted only when all went well,
// so a re-run finds it. Running it again after success finds nothing left and succeeds.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { StateStore } from "../../stacks/cloud.ts";
import type { Env } from "../../stacks/input-reader.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import { readEncryptedBundle, type StateBundle, unpackStackDir } from "../adapters/state-bundle.ts";
import { type Terraform, TerraformError } from "../adapters/terraform.ts";
import { STATE_ARTIFACT_PREFIX } from "../lib/constants.ts";
import type { StopInputs } from "../settings/inputs.ts";
import type { RunContext } from "../settings/run-context.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { type CleanupOutcome, cleanupTable } from "./cleanup-report.ts";
import { stopSummary } from "./job-summary.ts";
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
    if (!state.bundle || destroyFailed) {
      // Without a readable state (or a working destroy) the sweep is the only way to be sure nothing is left, so its
      // failure is the stop's; when the state is simply gone (never uploaded, or an earlier stop removed it), a
      // sweep that cannot look is a warning: the start may have made nothing.
      outcomes.push(await sweepByLabel(inputs, deps, { required: state.unreadable !== undefined || destroyFailed }));
    }
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

interface LoadedState {
  bundle?: StateBundle;
  /** Why a state that exists could not be used (a wrong passphrase, an altered file). */
  unreadable?: Error;
}

async function loadState(inputs: StopInputs, statePath: string, deps: StopDeps): Promise<LoadedState> {
  try {
    // With a state store the bundle comes from the cloud's bucket; else the download step put the artifact there.
    if (inputs.stateStore) await inputs.stateStore.get(inputs.stateId, statePath, deps.run);
    const bundle = await readEncryptedBundle(statePath, inputs.statePassphrase);
    if (!bundle)
      deps.io.info(
        `No state found for ${inputs.stateId}: it was never uploaded, or an earlier stop already removed it.`,
      );
    return { bundle };
  } catch (error) {
    deps.io.info(`The state of ${inputs.stateId} cannot be used (${(error as Error).message}).`);
    return { unreadable: error as Error };
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
  const jobs = listed && runners.length > 0 ? await whoRanOnThem(runners, listed, context, deps) : undefined;
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
  runners: { name: string }[],
  listed: { name: string }[],
  context: RunContext,
  deps: StopDeps,
): Promise<RunnerJob[] | undefined> {
  try {
    const jobs = await (deps.artifacts ?? deps.github).listRunJobs(context.runId);
    const report = runnerJobs(runners, new Set(listed.map((r) => r.name)), jobs);
    for (const line of report) (line.verdict === "elsewhere" ? deps.io.warning : deps.io.info)(describeRunnerJob(line));
    return report;
  } catch (error) {
    deps.io.warning(
      `Could not list this run's jobs to check which job ran on each runner (${firstLine(error)}; the token needs Actions: read).`,
    );
    return undefined;
  }
}

/** Layer 3: the machines found by their label tag, with the cloud's CLI. */
async function sweepByLabel(
  inputs: StopInputs,
  deps: StopDeps,
  { required }: { required: boolean },
): Promise<CleanupOutcome> {
  const layer = "machines (by label)";
  return deps.io.group(`Look for machines labelled ${inputs.stateId} (${inputs.cloud.name})`, async () => {
    try {
      const found = await inputs.cloud.cli.findMachines({ label: inputs.stateId }, deps.env, deps.run);
      // Its label's leftovers (a security group, schedules) too, even when no machine is left.
      const deleted = await inputs.cloud.cli.deleteMachines(found, [inputs.stateId], deps.env, deps.run);
      deps.io.info(deleted.length > 0 ? `Deleted: ${deleted.join(", ")}.` : "None found.");
      return { layer, ok: true, detail: deleted.length > 0 ? `deleted ${deleted.join(", ")}` : "none found" };
    } catch (error) {
      deps.io.warning(`Could not look for this start's machines: ${(error as Error).message}`);
      const detail = `could not look: ${firstLine(error)}`;
      return {
        layer,
        ok: !required,
        detail: required ? detail : `${detail} (no state: the start may have made nothing)`,
      };
    }
  });
}

/** Once everything it describes is gone, the bundle goes too; a failure leaves an encrypted object behind, no more. */
async function removeStoredState(store: StateStore, stateId: string, deps: StopDeps): Promise<void> {
  try {
    await store.remove(stateId, deps.run);
    deps.io.info(`Deleted the state of ${stateId} from ${store.description}.`);
  } catch (error) {
    deps.io.warning(
      `Could not delete the state from ${store.description} (${(error as Error).message}); it is encrypted, delete it by hand.`,
    );
  }
}

/** Best effort: deleting artifacts needs `actions: write`, which the token may lack; the state is encrypted anyway. */
async function removeStateArtifact(
  github: GitHubClient,
  context: RunContext,
  stateId: string,
  io: ActionIO,
): Promise<void> {
  try {
    const deleted = await github.deleteArtifactsNamed(context.runId, `${STATE_ARTIFACT_PREFIX}${stateId}`);
    if (deleted > 0) io.info(`Deleted the state artifact of ${stateId}.`);
  } catch (error) {
    io.warning(`Could not delete the state artifact (${(error as Error).message}); it expires with its retention.`);
  }
}

/** An error in one line: its message's first line, and for terraform the first error it printed. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = (text.split("\n", 1)[0] ?? text).replace(/:$/, "");
  const terraformError = error instanceof TerraformError ? /^Error: (.+)$/m.exec(error.stderrTail)?.[1] : undefined;
  return terraformError ? `${first}: ${terraformError}` : first;
}
