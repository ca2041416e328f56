// The stop's part that deals with the start's encrypted state: reading it (from the artifact the download step put in
// place, or the cloud's bucket), and deleting it once everything it describes is gone.
import type { StateStore } from "../../stacks/cloud-cli.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import { readEncryptedBundle, type StateBundle } from "../adapters/state-bundle.ts";
import { STATE_ARTIFACT_PREFIX } from "../lib/constants.ts";
import type { StopInputs } from "../settings/inputs.ts";
import type { RunContext } from "../settings/run-context.ts";

/** What the state's reading and removal use of the stop's dependencies. */
interface StateDeps {
  io: ActionIO;
  run: CommandRunner;
}

export interface LoadedState {
  bundle?: StateBundle;
  /** Why a state that exists could not be used (a wrong passphrase, an altered file). */
  unreadable?: Error;
}

export async function loadState(inputs: StopInputs, statePath: string, deps: StateDeps): Promise<LoadedState> {
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

/** Once everything it describes is gone, the bundle goes too; a failure leaves an encrypted object behind, no more. */
export async function removeStoredState(store: StateStore, stateId: string, deps: StateDeps): Promise<void> {
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
export async function removeStateArtifact(
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
