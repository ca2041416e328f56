// Phase 1 of a start: its runners registered at GitHub, one just-in-time runner per machine, and what a cancel
// during it leaves (no further registration; the one in flight waited for briefly, so the saved state names it).
import type { GitHubClient } from "../adapters/github/types.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { runnerLabels, runnerName } from "../settings/label.ts";
import type { RunContext } from "../settings/run-context.ts";
import type { StartDeps, StartProgress } from "./start-progress.ts";

/**
 * Phase 1: one just-in-time runner per machine, registered at GitHub; each config is masked on receipt. On a cancel
 * no further runner is registered; the answer of one in flight is awaited REGISTRATION_GRACE_MS at most, so that
 * the saved state names its runner (past that, the stop job finds it by its name under the label).
 */
export async function register(
  inputs: StartInputs,
  context: RunContext,
  progress: StartProgress,
  deps: StartDeps,
  signal: AbortSignal,
): Promise<void> {
  const { io, github } = deps;
  await io.group("Register just-in-time runners at GitHub", async () => {
    const runnerGroupId = await resolveRunnerGroup(inputs, github);
    for (let index = 0; index < inputs.count; index++) {
      signal.throwIfAborted();
      const request = {
        name: runnerName(progress.label, index),
        labels: runnerLabels(progress.label, context.repositoryId, inputs.extraLabels),
        runnerGroupId,
        signal,
      };
      const jit = await answeredWithinGrace(github.createJitConfig(request), signal);
      progress.registered.push(jit);
      io.info(`Registered ${jit.runnerName} (id ${jit.runnerId})`);
    }
    signal.throwIfAborted();
  });
}

/** How long a cancelled start waits for a registration in flight: well within the 7.5 s GitHub gives after SIGINT. */
const REGISTRATION_GRACE_MS = 3000;

/** `call`'s answer, unless the signal fires and the answer takes more than REGISTRATION_GRACE_MS after it. */
function answeredWithinGrace<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const giveUp = () => {
      timer = setTimeout(() => reject(signal.reason), REGISTRATION_GRACE_MS);
    };
    signal.addEventListener("abort", giveUp, { once: true });
    call.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", giveUp);
    });
  });
}

async function resolveRunnerGroup(inputs: StartInputs, github: GitHubClient): Promise<number> {
  if (inputs.runnerGroupName === undefined) return inputs.runnerGroupId;
  const id = await github.runnerGroupIdByName(inputs.runnerGroupName);
  if (id === undefined) {
    throw new Error(
      `runner-group '${inputs.runnerGroupName}' does not exist in the organization (or the token cannot see it).`,
    );
  }
  return id;
}
