// mode: start. Order matters for safety: everything that can be checked offline (inputs, synthesis) happens
// before GitHub or the cloud is asked for anything, and from the first runner registered on, any failure undoes
// what exists before the step fails.
import { mkdir, rm } from "node:fs/promises";
import type { ActionIO, Clock } from "../adapters/action-io.ts";
import { showBootLines } from "./boot-lines.ts";
import { type CommandRunner, runCommand } from "../adapters/command.ts";
import { JIT_VARIABLE_PREFIX, OUTPUTS } from "../lib/constants.ts";
import { guardAgainstForks } from "./fork-guard.ts";
import type { GitHubClient, JitConfig } from "../adapters/github.ts";
import type { RunContext, StartInputs } from "../settings/inputs.ts";
import { newLabel, runnerName } from "../settings/label.ts";
import { startSummary } from "./job-summary.ts";
import { provision, synthesizeFor } from "./provision.ts";
import { describeStart, planStack } from "../dev/review.ts";
import { expectedGpus } from "./synthesize.ts";
import { packStackDir, writeEncryptedBundle } from "../adapters/state-bundle.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { runnersOfStart, teardown } from "./teardown.ts";
import type { Terraform } from "../adapters/terraform.ts";
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
  /** Runs the cloud's CLI (to read a machine's console); the real one by default. */
  run?: CommandRunner;
}

export interface StartedRunner {
  name: string;
  id: number;
  machineId: string;
}

export class StartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartError";
  }
}

export async function start(inputs: StartInputs, context: RunContext, deps: StartDeps): Promise<StartedRunner[]> {
  const { io, github, terraform } = deps;
  await guardAgainstForks(context, inputs.allowForks);
  const label = deps.label?.() ?? newLabel(context);
  // Written first, so that the state upload and the stop job can find this start even if it dies half way.
  io.setOutput(OUTPUTS.label, label);
  io.setOutput(OUTPUTS.stateId, label);

  const target = { inputs, context, label, workDir: deps.workDir, secretEnv: {} as Record<string, string> };
  await mkdir(deps.workDir, { recursive: true });
  // Synthesized before anything exists, so a configuration error costs nothing; a dry run stops here.
  const synthesized = await io.group("Synthesize the stack", async () => {
    const result = await synthesizeFor(target, inputs.cloudConfig);
    io.info(`Terraform JSON: ${result.stackJsonPath}`);
    return result;
  });
  let stackDir = synthesized.stackDir;
  if (inputs.dryRun) {
    try {
      const review = describeStart(inputs, label, inputs.cloudConfig, synthesized.stackJsonPath);
      for (const line of review.split("\n")) io.info(line);
      await io.summary(`### dry-run: what this start would create\n\n\`\`\`\n${review}\n\`\`\`\n`);
      // With the job's cloud credentials, Terraform's own plan: still nothing is created (and no lock is held).
      await io.group("terraform plan (dry-run)", () => planStack(stackDir, terraform));
      io.info(`dry-run: nothing was created, and no runner was registered.`);
      return [];
    } finally {
      await rm(deps.workDir, { recursive: true, force: true });
    }
  }

  const registered: JitConfig[] = [];
  let applyStarted = false;
  let machineConfig: unknown = inputs.cloudConfig;
  /** When the machines began to be created: the stop summary counts their lifetime from here. */
  let machinesSince: string | undefined;
  const save = () => saveState(inputs, context, label, stackDir, registered, machineConfig, machinesSince, io);
  const unregisterCancel = deps.onCancel?.(() => {
    io.warning("Cancelled: saving the state now; what was created is destroyed next, or by the stop job.");
    save().catch((error: unknown) => io.warning(`Could not save the state: ${(error as Error).message}`));
  });
  let runners: StartedRunner[] = [];
  try {
    await io.group("Register just-in-time runners at GitHub", async () => {
      const runnerGroupId = await resolveRunnerGroup(inputs, github);
      for (let index = 0; index < inputs.count; index++) {
        const jit = await github.createJitConfig({ name: runnerName(label, index), labels: [label, ...inputs.extraLabels], runnerGroupId });
        registered.push(jit);
        io.info(`Registered ${jit.runnerName} (id ${jit.runnerId})`);
      }
    });
    target.secretEnv = Object.fromEntries(registered.map((jit, index) => [`TF_VAR_${JIT_VARIABLE_PREFIX}${index}`, jit.encodedJitConfig]));
    applyStarted = true;
    machinesSince = new Date().toISOString();
    const provisioned = await provision(target, deps, (dir) => {
      stackDir = dir;
    });
    machineConfig = provisioned.config;
    const machines = (await terraform.output(stackDir)).machines as Record<string, string> | undefined;
    runners = registered.map((jit) => ({ name: jit.runnerName, id: jit.runnerId, machineId: machines?.[jit.runnerName] ?? "" }));
    io.setOutput(OUTPUTS.runners, JSON.stringify(runners));
    await io.group("Wait for the runners to come online", () =>
      waitForRunnersOnline(github, runners, { timeoutMs: deps.runnerTimeoutMs ?? inputs.runnerTimeoutMinutes * 60_000, intervalMs: deps.pollIntervalMs ?? 3000 }, deps),
    );
    io.info(`${runners.length} runner(s) online with label ${label}.`);
    await io.summary(
      startSummary({
        label,
        runners,
        machine: inputs.cloud.summary(machineConfig),
        gpusPerMachine: expectedGpus(inputs, machineConfig),
        maxLifetimeMinutes: inputs.maxLifetimeMinutes,
        usdPerHour: inputs.cloud.hourlyPriceUsd(machineConfig),
      }),
    );
    return runners;
  } catch (error) {
    if (error instanceof RunnersNotOnlineError) {
      const offline = runners.filter((r) => error.offline.some((o) => o.id === r.id));
      await showBootLines(inputs.cloud, machineConfig, offline.map((r) => ({ name: r.name, id: r.machineId })), { io, run: deps.run ?? runCommand });
    }
    const known = registered.map((jit) => ({ id: jit.runnerId, name: jit.runnerName }));
    const runnersLeft = await runnersOfStart(github, label, known).catch((listError: unknown) => {
      io.warning(`Could not list the runners to find half-made registrations: ${(listError as Error).message}`);
      return known;
    });
    const cleanup = await teardown({ stackDir: applyStarted ? stackDir : undefined, runners: runnersLeft, terraform, github, io });
    throw new StartError(`Start failed: ${(error as Error).message}\nCleanup: ${cleanup.summary}`, { cause: error });
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

async function saveState(
  inputs: StartInputs,
  context: RunContext,
  label: string,
  stackDir: string,
  registered: JitConfig[],
  machineConfig: unknown,
  machinesSince: string | undefined,
  io: ActionIO,
): Promise<void> {
  const machine = inputs.cloud.summary(machineConfig);
  const bundle = await packStackDir(stackDir, {
    cloud: inputs.cloud.name,
    label,
    createdAt: machinesSince ?? new Date().toISOString(),
    runners: registered.map((jit) => ({ name: jit.runnerName, id: jit.runnerId })),
    machine: { type: machine.machineType, location: machine.location, usdPerHour: inputs.cloud.hourlyPriceUsd(machineConfig) },
  });
  const path = stateFilePath(context, label);
  await writeEncryptedBundle(path, bundle, inputs.statePassphrase);
  io.info(`Encrypted state written for upload (${path}).`);
}

async function resolveRunnerGroup(inputs: StartInputs, github: GitHubClient): Promise<number> {
  if (inputs.runnerGroupName === undefined) return inputs.runnerGroupId;
  const id = await github.runnerGroupIdByName(inputs.runnerGroupName);
  if (id === undefined) {
    throw new Error(`runner-group '${inputs.runnerGroupName}' does not exist in the organization (or the token cannot see it).`);
  }
  return id;
}
