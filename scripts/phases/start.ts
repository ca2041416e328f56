// mode: start. Order matters for safety: everything that can be checked offline (inputs, synthesis, max-cost)
// happens before GitHub or the cloud is asked for anything; then the cloud is asked, read-only, whether the start can
// succeed (the preflight); from the first runner registered on, any failure undoes what exists before the step fails. A cancel creates nothing more: no further registration, no apply begun
// after it, the running terraform interrupted; the state saved then names every runner registered and whatever
// terraform recorded, and the stop job removes it. The phases (register, provision, wait, summarize; undo and save
// when it goes wrong) share one record of what exists so far, StartProgress, which is what undo and save read.
import { mkdir, rm } from "node:fs/promises";
import { JIT_VARIABLE_PREFIX } from "../../stacks/names.ts";
import { stackTags } from "../../stacks/runner-stack.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import { OUTPUTS } from "../lib/constants.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { newLabel } from "../settings/label.ts";
import type { RunContext } from "../settings/run-context.ts";
import { describeWorstCase, worstCase } from "../settings/worst-case.ts";
import { type GpuFacts, gpuFacts, readConsole } from "./boot-lines.ts";
import { describeStart, planStack } from "./describe.ts";
import { guardAgainstForks } from "./fork-guard.ts";
import { startSummary } from "./job-summary.ts";
import { PreflightError, type PreflightReport, preflight, preflightMarkdown } from "./preflight.ts";
import { bootMilestones, type StartTimes, timelineMarkdown } from "./timeline.ts";
import { provision } from "./provision.ts";
import { buildStackConfig, expectedGpus, gpuCheck, synthesize } from "./synthesize.ts";
import type { StartDeps, StartedRunner, StartProgress } from "./start-progress.ts";
import { register } from "./start-register.ts";
import { saveState, undo } from "./start-undo.ts";
import { POLL_INTERVAL_MS, waitForRunnersOnline } from "./wait-online.ts";

export { type StartDeps, type StartedRunner, StartError } from "./start-progress.ts";

export async function start(inputs: StartInputs, context: RunContext, deps: StartDeps): Promise<StartedRunner[]> {
  const { io } = deps;
  await guardAgainstForks(context, inputs.allowForks);
  const label = deps.label?.() ?? newLabel(context);
  // Written first, so that the state upload and the stop job can find this start even if it dies half way.
  io.setOutput(OUTPUTS.label, label);
  io.setOutput(OUTPUTS.stateId, label);
  await mkdir(deps.workDir, { recursive: true });
  // Synthesized before anything exists, so a configuration error costs nothing; a dry run stops here.
  const synthesized = await io.group("Synthesize the stack", async () => {
    const result = await synthesize({ inputs, context, label }, inputs.plan, deps.workDir);
    io.info(`Terraform JSON: ${result.stackJsonPath}`);
    return result;
  });
  // Before anything exists, so the user can still choose: e.g. a cap outside the machine this cloud lacks here.
  for (const caveat of inputs.plan.summary().caveats ?? []) io.warning(caveat);
  // The cloud asked, read-only, whether this start can succeed: what would fail at apply, after runners exist and
  // minutes bill, fails here and says what to fix.
  const shared = buildStackConfig({ inputs, context, label });
  const checked = await preflight(inputs.plan, { count: inputs.count, tags: stackTags(shared) }, deps.run, io);
  if (inputs.dryRun) {
    try {
      return await dryRun(inputs, label, synthesized, checked, deps);
    } finally {
      await rm(deps.workDir, { recursive: true, force: true });
    }
  }
  if (checked.failed) {
    await rm(deps.workDir, { recursive: true, force: true });
    await io.summary(
      `### GPU runners not started: the preflight found this start cannot succeed\n\n${preflightMarkdown(checked)}`,
    );
    throw new PreflightError(checked);
  }

  const times: StartTimes = {
    ...deps.setup,
    scriptStarted: Math.round(performance.timeOrigin),
    synthesized: Date.now(),
  };
  const progress: StartProgress = {
    label,
    stackDir: synthesized.stackDir,
    plan: inputs.plan,
    registered: [],
    runners: [],
    times,
  };
  // One save at a time, in the order asked: a later save (which knows more) never lands before an earlier one.
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    const next = saving.then(() => saveState(inputs, context, progress, deps));
    saving = next.catch(() => {});
    return next;
  };
  const cancel = new AbortController();
  let cancelling: Promise<void> | undefined;
  const unregisterCancel = deps.onCancel?.(() => {
    // GitHub kills the step 10 s after the cancel: no time to destroy. Nothing more is created (each phase checks
    // the signal before it creates), terraform is told to stop (it writes what it made to its state), then the
    // encrypted state is saved for the upload step and the stop job; start's own end saves it again, knowing more.
    progress.cancelled = true;
    cancel.abort(new Error("the job was cancelled"));
    io.warning(
      "Cancelled: stopping terraform and saving the state; nothing more is created, the stop job destroys what was made.",
    );
    cancelling = deps.terraform
      .interrupt()
      .then(save)
      .catch((error: unknown) => io.warning(`Could not save the state: ${(error as Error).message}`));
  });
  const signal = cancel.signal;
  try {
    await register(inputs, context, progress, deps, signal);
    progress.times.registered = Date.now();
    await provisionMachines(inputs, context, progress, deps, signal);
    progress.times.applied = Date.now();
    const gpusFound = await waitOnline(inputs, progress, deps, signal);
    await summarize(inputs, progress, io, gpusFound, checked);
    return progress.runners;
  } catch (error) {
    throw await undo(progress, error, deps);
  } finally {
    unregisterCancel?.();
    await cancelling;
    try {
      await save();
    } catch (error) {
      io.warning(
        `Could not write the encrypted state: ${(error as Error).message}. The stop job will not find this start's state.`,
      );
    }
    // The stack directory may hold the state in clear, user-data and all; only the encrypted copy may stay.
    await rm(deps.workDir, { recursive: true, force: true });
  }
}

async function dryRun(
  inputs: StartInputs,
  label: string,
  synthesized: { stackDir: string; stackJsonPath: string },
  checked: PreflightReport,
  deps: StartDeps,
): Promise<StartedRunner[]> {
  const { io } = deps;
  const review = describeStart(inputs, label, inputs.plan, synthesized.stackJsonPath);
  for (const line of review.split("\n")) io.info(line);
  await io.summary(
    `### dry-run: what this start would create\n\n\`\`\`\n${review}\n\`\`\`\n\n#### What ${inputs.plan.cloud.name} answered the preflight\n\n${preflightMarkdown(checked)}`,
  );
  // A start that the cloud says would fail fails its dry run too: that is what a dry run is for.
  if (checked.failed) throw new PreflightError(checked);
  // With the job's cloud credentials, Terraform's own plan: still nothing is created (and no lock is held).
  await io.group("terraform plan (dry-run)", () => planStack(synthesized.stackDir, deps.terraform));
  io.info("dry-run: nothing was created, and no runner was registered.");
  return [];
}

/** Phase 2: the machines, on the first capacity candidate that has room; each gets its runner's config. */
async function provisionMachines(
  inputs: StartInputs,
  context: RunContext,
  progress: StartProgress,
  deps: StartDeps,
  signal: AbortSignal,
): Promise<void> {
  const secretEnv = Object.fromEntries(
    progress.registered.map((jit, index) => [`TF_VAR_${JIT_VARIABLE_PREFIX}${index}`, jit.encodedJitConfig]),
  );
  progress.machinesSince = new Date().toISOString();
  const provisioned = await provision(
    { inputs, context, label: progress.label, workDir: deps.workDir, secretEnv },
    { ...deps, signal },
    (dir) => {
      progress.stackDir = dir;
    },
  );
  progress.plan = provisioned.plan;
  const outputs = await deps.terraform.output(progress.stackDir);
  const machines = outputs.machines as Record<string, string> | undefined;
  progress.resolved = {
    gpusPerMachine: typeof outputs.expected_gpus === "number" ? outputs.expected_gpus : undefined,
    image: typeof outputs.image === "string" ? outputs.image : undefined,
  };
  progress.runners = progress.registered.map((jit) => ({
    name: jit.runnerName,
    id: jit.runnerId,
    machineId: machines?.[jit.runnerName] ?? "",
  }));
  deps.io.setOutput(OUTPUTS.runners, JSON.stringify(progress.runners));
}

/**
 * Phase 3: every runner online at GitHub (its machine booted, passed the GPU gate and started the runner). Returns
 * what each machine's GPU check found, for the summary (undefined when there was no check).
 */
async function waitOnline(
  inputs: StartInputs,
  progress: StartProgress,
  deps: StartDeps,
  signal: AbortSignal,
): Promise<Record<string, GpuFacts | string> | undefined> {
  const options = {
    timeoutMs: deps.runnerTimeoutMs ?? inputs.runnerTimeoutMinutes * 60_000,
    intervalMs: deps.pollIntervalMs ?? POLL_INTERVAL_MS,
  };
  // A cancel ends the wait at its next poll rather than at runner-timeout: the step has seconds left.
  const clock = {
    now: deps.clock.now,
    sleep: async (ms: number) => {
      signal.throwIfAborted();
      await deps.clock.sleep(ms);
      signal.throwIfAborted();
    },
  };
  const seen = await deps.io.group("Wait for the runners to come online", () =>
    waitForRunnersOnline(deps.github, progress.runners, options, { ...deps, clock }),
  );
  deps.io.info(`${progress.runners.length} runner(s) online with label ${progress.label}.`);
  const [lastId, lastAt] = [...seen].reduce((a, b) => (b[1] > a[1] ? b : a), [0, 0]);
  progress.times.online = lastAt || Date.now();
  const last = progress.runners.find((r) => r.id === lastId);
  const checked = (progress.resolved?.gpusPerMachine ?? expectedGpus(inputs, progress.plan)) > 0;
  // Without a GPU check there are no GPU facts: only the last machine's console is read, for the timeline.
  const gpus = await readMachines(progress, checked ? progress.runners : last ? [last] : [], last, deps);
  return checked ? gpus : undefined;
}

/**
 * From the machines' consoles: the boot milestones of the last runner's machine, for the timeline, and what each
 * machine's GPU check found. In parallel and bounded (the GPU job waits for this step to end): a slow or refused
 * console read leaves that machine's part unknown, in one warning, rather than waiting or failing the start.
 */
async function readMachines(
  progress: StartProgress,
  runners: StartedRunner[],
  last: StartedRunner | undefined,
  deps: StartDeps,
): Promise<Record<string, GpuFacts | string>> {
  const gpus: Record<string, GpuFacts | string> = {};
  await Promise.all(
    runners.map(async (runner) => {
      const read = await readConsole(progress.plan, { name: runner.name, id: runner.machineId }, deps.run);
      if ("failure" in read) deps.io.warning(read.failure);
      gpus[runner.name] =
        "failure" in read
          ? read.failure
          : (gpuFacts(read.text) ??
            "no gpu-facts line in its console yet (the boot script did not print it, or the cloud's copy of the console lags)");
      if (runner !== last) return;
      if ("failure" in read) progress.times.machineUnknown = read.failure;
      else progress.times.machine = { runner: runner.name, milestones: bootMilestones(read.text) };
    }),
  );
  return gpus;
}

/** Phase 4: what was started and what it costs, in the job summary. */
async function summarize(
  inputs: StartInputs,
  progress: StartProgress,
  io: ActionIO,
  gpusFound: Record<string, GpuFacts | string> | undefined,
  checked: PreflightReport,
): Promise<void> {
  await io.summary(
    startSummary({
      label: progress.label,
      runners: progress.runners,
      machine: progress.plan.summary(),
      gpusPerMachine: progress.resolved?.gpusPerMachine ?? expectedGpus(inputs, progress.plan),
      gpuCheck: gpuCheck(inputs, progress.plan),
      bootedImage: progress.resolved?.image,
      maxLifetimeMinutes: inputs.maxLifetimeMinutes,
      usdPerHour: progress.plan.hourlyPriceUsd(),
      pricesAsOf: progress.plan.cloud.catalog.pricesAsOf,
      gpusFound,
      // Of every candidate the start could have applied (the inputs' plan), not only the one that got capacity.
      worstCase: describeWorstCase(worstCase(inputs.plan, inputs.count, inputs.maxLifetimeMinutes)),
      maxCostUsd: inputs.maxCostUsd,
    }) +
      timelineMarkdown(progress.times, inputs.preRunnerScript !== "") +
      `\n#### What ${inputs.plan.cloud.name} answered the preflight\n\n${preflightMarkdown(checked)}`,
  );
}
