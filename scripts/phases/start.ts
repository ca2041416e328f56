// mode: start. Order matters for safety: everything that can be checked offline (inputs, synthesis) happens
// before GitHub or the cloud is asked for anything, and from the first runner registered on, any failure undoes
// what exists before the step fails. The phases (register, provision, wait, summarize; undo and save when it goes
// wrong) share one record of what exists so far, StartProgress, which is what undo and save read.
import { mkdir, rm } from "node:fs/promises";
import type { MachinePlan } from "../../stacks/cloud.ts";
import { JIT_VARIABLE_PREFIX } from "../../stacks/names.ts";
import type { ActionIO, Clock } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient, JitConfig } from "../adapters/github.ts";
import { packStackDir, writeEncryptedBundle } from "../adapters/state-bundle.ts";
import type { Terraform } from "../adapters/terraform.ts";
import { OUTPUTS } from "../lib/constants.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { newLabel, runnerName } from "../settings/label.ts";
import type { RunContext } from "../settings/run-context.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { showBootLines } from "./boot-lines.ts";
import { describeStart, planStack } from "./describe.ts";
import { guardAgainstForks } from "./fork-guard.ts";
import { startSummary } from "./job-summary.ts";
import { bootMilestones, type StartTimes, timelineMarkdown } from "./timeline.ts";
import { provision } from "./provision.ts";
import { expectedGpus, gpuCheck, synthesize } from "./synthesize.ts";
import { runnersOfStart, teardown } from "./teardown.ts";
import { RunnersNotOnlineError, waitForRunnersOnline } from "./wait-online.ts";

export interface StartDeps {
  github: GitHubClient;
  terraform: Terraform;
  io: ActionIO;
  clock: Clock;
  /** Scratch directory for the synthesized stack; removed before returning (it may hold state in clear). */
  workDir: string;
  label?: () => string;
  /** How often to ask GitHub whether the runners are online. */
  pollIntervalMs?: number;
  /** How long to wait for them; runner-timeout's minutes when not given (the end-to-end tests shorten it). */
  runnerTimeoutMs?: number;
  /**
   * Registers what to do when the job is cancelled (SIGINT/SIGTERM from the runner); returns the unregister
   * function. Start saves its state at once, so the upload step (if: always()) can hand it to the stop job even
   * if this process is killed before its own cleanup ends.
   */
  onCancel?: (handler: () => void) => () => void;
  /** Runs the cloud's CLI (a machine's console, the state store). */
  run: CommandRunner;
  /** What happened before this script, for the timeline: when the action began, whether its install was cached. */
  setup?: { actionStarted?: number; installCacheHit?: boolean };
}

export interface StartedRunner {
  name: string;
  id: number;
  machineId: string;
}

export class StartError extends Error {
  constructor(
    message: string,
    options?: ErrorOptions & { cancelled?: boolean },
  ) {
    super(message, options);
    this.name = "StartError";
    this.cancelled = options?.cancelled ?? false;
  }

  /** The job was cancelled: nothing to explain, the stop job cleans up. */
  readonly cancelled: boolean;
}

/** What exists so far: grown by each phase, read by undo and save. */
interface StartProgress {
  readonly label: string;
  /** The stack directory of the candidate being (or last) applied; holds the state with the artifact backend. */
  stackDir: string;
  /** The candidate that got capacity (the inputs' own plan until then). */
  plan: MachinePlan;
  registered: JitConfig[];
  /** When the machines began to be created (apply started): the stop summary counts their lifetime from here. */
  machinesSince?: string;
  runners: StartedRunner[];
  /** The job was cancelled: what exists is left to the stop job (there is no time to destroy it). */
  cancelled?: boolean;
  /** When each phase ended, for the timeline in the job summary. */
  times: StartTimes;
  /** What the stack resolved at apply: the GPU count the boot script checks, and the image the machines boot. */
  resolved?: { gpusPerMachine?: number; image?: string };
}

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
  if (inputs.dryRun) {
    try {
      return await dryRun(inputs, label, synthesized, deps);
    } finally {
      await rm(deps.workDir, { recursive: true, force: true });
    }
  }

  const times: StartTimes = { ...deps.setup, scriptStarted: Math.round(performance.timeOrigin), synthesized: Date.now() };
  const progress: StartProgress = { label, stackDir: synthesized.stackDir, plan: inputs.plan, registered: [], runners: [], times };
  const save = () => saveState(inputs, context, progress, deps);
  const unregisterCancel = deps.onCancel?.(() => {
    // GitHub kills the step 10 s after the cancel: no time to destroy. Terraform is told to stop (it writes what it
    // made to its state), then the encrypted state is saved for the upload step and the stop job.
    progress.cancelled = true;
    io.warning("Cancelled: stopping terraform and saving the state; the stop job destroys what was made.");
    deps.terraform
      .interrupt()
      .then(save)
      .catch((error: unknown) => io.warning(`Could not save the state: ${(error as Error).message}`));
  });
  try {
    await register(inputs, progress, deps);
    progress.times.registered = Date.now();
    await provisionMachines(inputs, context, progress, deps);
    progress.times.applied = Date.now();
    await waitOnline(inputs, progress, deps);
    await summarize(inputs, progress, io);
    return progress.runners;
  } catch (error) {
    throw await undo(progress, error, deps);
  } finally {
    unregisterCancel?.();
    try {
      await save();
    } catch (error) {
      io.warning(`Could not write the encrypted state: ${(error as Error).message}. The stop job will not find this start's state.`);
    }
    // The stack directory may hold the state in clear, user-data and all; only the encrypted copy may stay.
    await rm(deps.workDir, { recursive: true, force: true });
  }
}

async function dryRun(inputs: StartInputs, label: string, synthesized: { stackDir: string; stackJsonPath: string }, deps: StartDeps): Promise<StartedRunner[]> {
  const { io } = deps;
  const review = describeStart(inputs, label, inputs.plan, synthesized.stackJsonPath);
  for (const line of review.split("\n")) io.info(line);
  await io.summary(`### dry-run: what this start would create\n\n\`\`\`\n${review}\n\`\`\`\n`);
  // With the job's cloud credentials, Terraform's own plan: still nothing is created (and no lock is held).
  await io.group("terraform plan (dry-run)", () => planStack(synthesized.stackDir, deps.terraform));
  io.info("dry-run: nothing was created, and no runner was registered.");
  return [];
}

/** Phase 1: one just-in-time runner per machine, registered at GitHub; each config is masked on receipt. */
async function register(inputs: StartInputs, progress: StartProgress, deps: StartDeps): Promise<void> {
  const { io, github } = deps;
  await io.group("Register just-in-time runners at GitHub", async () => {
    const runnerGroupId = await resolveRunnerGroup(inputs, github);
    for (let index = 0; index < inputs.count; index++) {
      const jit = await github.createJitConfig({ name: runnerName(progress.label, index), labels: [progress.label, ...inputs.extraLabels], runnerGroupId });
      progress.registered.push(jit);
      io.info(`Registered ${jit.runnerName} (id ${jit.runnerId})`);
    }
  });
}

/** Phase 2: the machines, on the first capacity candidate that has room; each gets its runner's config. */
async function provisionMachines(inputs: StartInputs, context: RunContext, progress: StartProgress, deps: StartDeps): Promise<void> {
  const secretEnv = Object.fromEntries(progress.registered.map((jit, index) => [`TF_VAR_${JIT_VARIABLE_PREFIX}${index}`, jit.encodedJitConfig]));
  progress.machinesSince = new Date().toISOString();
  const provisioned = await provision({ inputs, context, label: progress.label, workDir: deps.workDir, secretEnv }, deps, (dir) => {
    progress.stackDir = dir;
  });
  progress.plan = provisioned.plan;
  const outputs = await deps.terraform.output(progress.stackDir);
  const machines = outputs.machines as Record<string, string> | undefined;
  progress.resolved = {
    gpusPerMachine: typeof outputs.expected_gpus === "number" ? outputs.expected_gpus : undefined,
    image: typeof outputs.image === "string" ? outputs.image : undefined,
  };
  progress.runners = progress.registered.map((jit) => ({ name: jit.runnerName, id: jit.runnerId, machineId: machines?.[jit.runnerName] ?? "" }));
  deps.io.setOutput(OUTPUTS.runners, JSON.stringify(progress.runners));
}

/** Phase 3: every runner online at GitHub (its machine booted, passed the GPU gate and started the runner). */
async function waitOnline(inputs: StartInputs, progress: StartProgress, deps: StartDeps): Promise<void> {
  const options = { timeoutMs: deps.runnerTimeoutMs ?? inputs.runnerTimeoutMinutes * 60_000, intervalMs: deps.pollIntervalMs ?? 3000 };
  const seen = await deps.io.group("Wait for the runners to come online", () => waitForRunnersOnline(deps.github, progress.runners, options, deps));
  deps.io.info(`${progress.runners.length} runner(s) online with label ${progress.label}.`);
  const [lastId, lastAt] = [...seen].reduce((a, b) => (b[1] > a[1] ? b : a), [0, 0]);
  progress.times.online = lastAt || Date.now();
  const last = progress.runners.find((r) => r.id === lastId);
  if (last) await readMachineTimes(progress, last, deps);
}

/**
 * The boot milestones of the last runner's machine, from its console, for the timeline. Bounded: the GPU job waits
 * for this step to end, so a slow or refused console read leaves the machine's phases unknown rather than waiting.
 */
async function readMachineTimes(progress: StartProgress, runner: StartedRunner, deps: StartDeps): Promise<void> {
  const timeout = new Promise<"late">((done) => setTimeout(() => done("late"), CONSOLE_READ_LIMIT_MS).unref());
  try {
    const text = await Promise.race([progress.plan.bootConsole({ name: runner.name, id: runner.machineId }, deps.run), timeout]);
    if (text === "late") progress.times.machineUnknown = `its console was not read within ${CONSOLE_READ_LIMIT_MS / 1000} s`;
    else progress.times.machine = { runner: runner.name, milestones: bootMilestones(text) };
  } catch (error) {
    progress.times.machineUnknown = `its console could not be read (${(error as Error).message.split("\n", 1)[0]})`;
  }
}

/** How long the start waits for a console, after every runner is online. */
const CONSOLE_READ_LIMIT_MS = 5000;

/** Phase 4: what was started and what it costs, in the job summary. */
async function summarize(inputs: StartInputs, progress: StartProgress, io: ActionIO): Promise<void> {
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
      pricesAsOf: progress.plan.cloud.pricesAsOf,
    }) + timelineMarkdown(progress.times, inputs.preRunnerScript !== ""),
  );
}

/**
 * When any phase fails: the boot lines of machines that never came online, then destroy what was applied and
 * remove every runner registered under this start's label (also one whose registration answer was lost). Returns
 * the error the step fails with, saying what the cleanup did.
 */
async function undo(progress: StartProgress, error: unknown, deps: StartDeps): Promise<StartError> {
  const { io, github } = deps;
  if (progress.cancelled) {
    const made = progress.machinesSince ? "terraform was stopped and recorded what it had made" : "no machine was being made yet";
    return new StartError(`Start cancelled: ${made}; the stop job destroys it and removes the runners (the encrypted state was saved).`, { cause: error, cancelled: true });
  }
  if (error instanceof RunnersNotOnlineError) {
    const offline = progress.runners.filter((r) => error.offline.some((o) => o.id === r.id));
    await showBootLines(progress.plan, offline.map((r) => ({ name: r.name, id: r.machineId })), { io, run: deps.run });
  }
  const known = progress.registered.map((jit) => ({ id: jit.runnerId, name: jit.runnerName }));
  const runnersLeft = await runnersOfStart(github, progress.label, known).catch((listError: unknown) => {
    io.warning(`Could not list the runners to find half-made registrations: ${(listError as Error).message}`);
    return known;
  });
  const applied = progress.machinesSince !== undefined;
  const cleanup = await teardown({ stackDir: applied ? progress.stackDir : undefined, runners: runnersLeft, terraform: deps.terraform, github, io });
  // The saved state names only the runners still registered, so a stop does not take the removed ones for runners
  // that a job of another run took.
  progress.registered = progress.registered.filter((jit) => !cleanup.removedIds.includes(jit.runnerId));
  return new StartError(`Start failed: ${(error as Error).message}\nCleanup: ${cleanup.summary}`, { cause: error });
}

/** Always, and at once on a cancel: the encrypted state, for the upload step (or the cloud's store) and the stop job. */
async function saveState(inputs: StartInputs, context: RunContext, progress: StartProgress, deps: StartDeps): Promise<void> {
  const machine = progress.plan.summary();
  const bundle = await packStackDir(progress.stackDir, {
    cloud: progress.plan.cloud.name,
    label: progress.label,
    createdAt: progress.machinesSince ?? new Date().toISOString(),
    runners: progress.registered.map((jit) => ({ name: jit.runnerName, id: jit.runnerId })),
    machine: { type: machine.machineType, location: machine.location, usdPerHour: progress.plan.hourlyPriceUsd(), pricesAsOf: progress.plan.cloud.pricesAsOf },
  });
  const path = stateFilePath(context, progress.label);
  await writeEncryptedBundle(path, bundle, inputs.statePassphrase);
  if (inputs.stateStore) {
    await inputs.stateStore.put(progress.label, path, deps.run);
    deps.io.info(`Encrypted state stored in ${inputs.stateStore.description}.`);
  } else {
    deps.io.info(`Encrypted state written for upload (${path}).`);
  }
}

async function resolveRunnerGroup(inputs: StartInputs, github: GitHubClient): Promise<number> {
  if (inputs.runnerGroupName === undefined) return inputs.runnerGroupId;
  const id = await github.runnerGroupIdByName(inputs.runnerGroupName);
  if (id === undefined) {
    throw new Error(`runner-group '${inputs.runnerGroupName}' does not exist in the organization (or the token cannot see it).`);
  }
  return id;
}
