// When a start goes wrong, and always at its end: undo what exists (the boot lines of machines that stayed offline,
// then destroy and deregister), and save the encrypted state for the upload step and the stop job.
import { packStackDir, writeEncryptedBundle } from "../adapters/state-bundle.ts";
import type { StartInputs } from "../settings/inputs.ts";
import type { RunContext } from "../settings/run-context.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { showBootLines } from "./boot-lines.ts";
import { type StartDeps, StartError, type StartProgress } from "./start-progress.ts";
import { runnersOfStart, teardown } from "./teardown.ts";
import { RunnersNotOnlineError } from "./wait-online.ts";

/**
 * When any phase fails: the boot lines of machines that never came online, then destroy what was applied and
 * remove every runner registered under this start's label (also one whose registration answer was lost). Returns
 * the error the step fails with, saying what the cleanup did.
 */
export async function undo(progress: StartProgress, error: unknown, deps: StartDeps): Promise<StartError> {
  const { io, github } = deps;
  if (progress.cancelled) {
    const made = progress.machinesSince
      ? "terraform was stopped and recorded what it had made"
      : "no machine was being made yet";
    return new StartError(
      `Start cancelled: ${made}; the stop job destroys it and removes the runners (the encrypted state was saved).`,
      { cause: error, cancelled: true },
    );
  }
  if (error instanceof RunnersNotOnlineError) {
    const offline = progress.runners.filter((r) => error.offline.some((o) => o.id === r.id));
    await showBootLines(
      progress.plan,
      offline.map((r) => ({ name: r.name, id: r.machineId })),
      { io, run: deps.run },
    );
  }
  const known = progress.registered.map((jit) => ({ id: jit.runnerId, name: jit.runnerName }));
  const runnersLeft = await runnersOfStart(github, progress.label, known).catch((listError: unknown) => {
    io.warning(`Could not list the runners to find half-made registrations: ${(listError as Error).message}`);
    return known;
  });
  const applied = progress.machinesSince !== undefined;
  const cleanup = await teardown({
    stackDir: applied ? progress.stackDir : undefined,
    runners: runnersLeft,
    terraform: deps.terraform,
    github,
    io,
  });
  // The saved state names only the runners still registered, so a stop does not take the removed ones for runners
  // that a job of another run took.
  progress.registered = progress.registered.filter((jit) => !cleanup.removedIds.includes(jit.runnerId));
  return new StartError(`Start failed: ${(error as Error).message}\nCleanup: ${cleanup.summary}`, { cause: error });
}

/** Always, and at once on a cancel: the encrypted state, for the upload step (or the cloud's store) and the stop job. */
export async function saveState(
  inputs: StartInputs,
  context: RunContext,
  progress: StartProgress,
  deps: StartDeps,
): Promise<void> {
  const machine = progress.plan.summary();
  const bundle = await packStackDir(progress.stackDir, {
    cloud: progress.plan.cloud.name,
    label: progress.label,
    createdAt: progress.machinesSince ?? new Date().toISOString(),
    runners: progress.registered.map((jit) => ({ name: jit.runnerName, id: jit.runnerId })),
    machine: {
      type: machine.machineType,
      location: machine.location,
      usdPerHour: progress.plan.hourlyPriceUsd(),
      pricesAsOf: progress.plan.cloud.catalog.pricesAsOf,
    },
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
