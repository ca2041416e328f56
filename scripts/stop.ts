// mode: stop. Finds what the start made from its encrypted state, destroys it, removes its runners at GitHub
// (those in the state and any other named after its label), and deletes the state artifact. Running it again
// finds nothing left and succeeds.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { STACK_ID } from "../stacks/synth.ts";
import type { ActionIO } from "./action-io.ts";
import { STATE_ARTIFACT_PREFIX } from "./constants.ts";
import type { GitHubClient } from "./github.ts";
import type { RunContext, StopInputs } from "./inputs.ts";
import { readEncryptedBundle, unpackStackDir } from "./state-bundle.ts";
import { stateFilePath } from "./state-location.ts";
import { teardown } from "./teardown.ts";
import type { Terraform } from "./terraform.ts";

export interface StopDeps {
  github: GitHubClient;
  terraform: Terraform;
  io: ActionIO;
  workDir: string;
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
  const bundle = await readEncryptedBundle(statePath, inputs.statePassphrase);
  let stackDir: string | undefined;
  if (bundle === undefined) {
    io.info(`No state found for ${inputs.stateId}: it was never uploaded, or an earlier stop already removed it.`);
  } else {
    stackDir = join(deps.workDir, "stacks", STACK_ID);
    await mkdir(stackDir, { recursive: true });
    await unpackStackDir(bundle, stackDir);
    await io.group("terraform init", () => deps.terraform.init(stackDir!));
  }
  try {
    const runners = await runnersToRemove(github, inputs.stateId, bundle?.runners ?? []);
    const result = await teardown({ stackDir, runners, terraform: deps.terraform, github, io });
    if (!result.ok) throw new StopError(`Stop did not finish cleanly:\n${result.summary}`);
  } finally {
    await rm(deps.workDir, { recursive: true, force: true });
  }
  await removeStateArtifact(github, context, inputs.stateId, io);
  await rm(statePath, { force: true });
}

/** The runners in the state, plus any still registered under this start's label prefix (a start that died early). */
async function runnersToRemove(github: GitHubClient, stateId: string, fromState: { id: number; name: string }[]) {
  const byId = new Map(fromState.map((r) => [r.id, r]));
  for (const runner of await github.listRunners()) {
    if (runner.name.startsWith(`${stateId}-`)) byId.set(runner.id, { id: runner.id, name: runner.name });
  }
  return [...byId.values()];
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
