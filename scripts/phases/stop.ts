// mode: stop. Finds what the start made from its encrypted state, destroys it, removes its runners at GitHub
// (those in the state and any other named after its label), and deletes the state artifact. Running it again
// finds nothing left and succeeds.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { STACK_ID } from "./synthesize.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import { type CommandRunner, runCommand } from "../adapters/command.ts";
import { STATE_ARTIFACT_PREFIX } from "../lib/constants.ts";
import type { GitHubClient } from "../adapters/github.ts";
import { stopSummary } from "./job-summary.ts";
import type { Env } from "../../stacks/input-reader.ts";
import type { StopInputs } from "../settings/inputs.ts";
import type { StateStore } from "../../stacks/cloud.ts";
import type { RunContext } from "../settings/run-context.ts";
import { readEncryptedBundle, type StateBundle, unpackStackDir } from "../adapters/state-bundle.ts";
import { stateFilePath } from "../settings/state-location.ts";
import { runnersOfStart, teardown } from "./teardown.ts";
import type { Terraform } from "../adapters/terraform.ts";

export interface StopDeps {
  github: GitHubClient;
  /** The repository-scoped client that deletes the state artifact, when runners live in the organization. */
  artifacts?: GitHubClient;
  terraform: Terraform;
  io: ActionIO;
  workDir: string;
  /** The job's environment: the cloud's region/project variables for the no-state fallback. */
  env: Env;
  /** Runs the cloud's CLI for that fallback; the real one by default. */
  run?: CommandRunner;
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
  const { io, github } = deps;
  const statePath = stateFilePath(context, inputs.stateId);
  let bundle: StateBundle | undefined;
  let unreadable: Error | undefined;
  try {
    // With a state store, the bundle comes from the cloud's bucket; else the download step put the artifact there.
    if (inputs.stateStore) await inputs.stateStore.get(inputs.stateId, statePath, deps.run ?? runCommand);
    bundle = await readEncryptedBundle(statePath, inputs.statePassphrase);
  } catch (error) {
    unreadable = error as Error;
  }
  let stackDir: string | undefined;
  let machineCount = 0;
  const problems: string[] = [];
  if (bundle === undefined) {
    io.info(
      unreadable
        ? `The state of ${inputs.stateId} cannot be used (${unreadable.message}).`
        : `No state found for ${inputs.stateId}: it was never uploaded, or an earlier stop already removed it.`,
    );
    const swept = await sweepByLabel(inputs, deps);
    // Without a readable state, the sweep is the only way to be sure nothing is left: its failure is the stop's.
    if (!swept && unreadable) problems.push(`The state could not be read and the ${inputs.cloud.name} machines could not be looked up by label.`);
  } else {
    stackDir = join(deps.workDir, "stacks", STACK_ID);
  }
  try {
    if (bundle && stackDir) {
      const dir = stackDir;
      await mkdir(dir, { recursive: true });
      // The decrypted state holds user-data in clear: it lives only in workDir, removed below whatever happens.
      await unpackStackDir(bundle, dir);
      await io.group("terraform init", () => deps.terraform.init(dir));
      // The machines that still exist per the state (none when start failed and cleaned up), for the summary.
      const machines = (await deps.terraform.output(dir)).machines;
      machineCount = machines && typeof machines === "object" ? Object.keys(machines).length : 0;
    }
    const runners = await runnersOfStart(github, inputs.stateId, bundle?.runners ?? []);
    const result = await teardown({ stackDir, runners, terraform: deps.terraform, github, io });
    if (!result.ok || problems.length > 0) throw new StopError(`Stop did not finish cleanly:\n${[...problems, result.summary].join("\n")}`);
  } finally {
    await rm(deps.workDir, { recursive: true, force: true });
  }
  if (inputs.stateStore) await removeStoredState(inputs.stateStore, inputs.stateId, deps);
  else await removeStateArtifact(deps.artifacts ?? github, context, inputs.stateId, io);
  await rm(statePath, { force: true });
  await io.summary(
    stopSummary({
      label: inputs.stateId,
      machineCount,
      machine: bundle?.machine,
      startedAt: bundle?.createdAt,
      stoppedAt: new Date(deps.now?.() ?? Date.now()),
    }),
  );
}

/** Best effort: deleting artifacts needs `actions: write`, which the token may lack; the state is encrypted anyway. */
async function removeStateArtifact(github: GitHubClient, context: RunContext, stateId: string, io: ActionIO): Promise<void> {
  try {
    const deleted = await github.deleteArtifactsNamed(context.runId, `${STATE_ARTIFACT_PREFIX}${stateId}`);
    if (deleted > 0) io.info(`Deleted the state artifact of ${stateId}.`);
  } catch (error) {
    io.warning(`Could not delete the state artifact (${(error as Error).message}); it expires with its retention.`);
  }
}

/** Once everything it describes is gone, the bundle goes too; a failure leaves an encrypted object behind, no more. */
async function removeStoredState(store: StateStore, stateId: string, deps: StopDeps): Promise<void> {
  try {
    await store.remove(stateId, deps.run ?? runCommand);
    deps.io.info(`Deleted the state of ${stateId} from ${store.description}.`);
  } catch (error) {
    deps.io.warning(`Could not delete the state from ${store.description} (${(error as Error).message}); it is encrypted, delete it by hand.`);
  }
}

/**
 * Finds this start's machines by their ownership label with the cloud's CLI and deletes them: what a lost or
 * undecryptable state would otherwise leave running until max-lifetime. Returns whether the lookup worked.
 */
async function sweepByLabel(inputs: StopInputs, deps: StopDeps): Promise<boolean> {
  return deps.io.group(`Look for machines labelled ${inputs.stateId} (${inputs.cloud.name})`, async () => {
    try {
      const deleted = await inputs.cloud.sweep(inputs.stateId, deps.env, deps.run ?? runCommand);
      deps.io.info(deleted.length > 0 ? `Deleted: ${deleted.join(", ")}.` : "None found.");
      return true;
    } catch (error) {
      deps.io.warning(`Could not look for this start's machines: ${(error as Error).message}`);
      return false;
    }
  });
}
