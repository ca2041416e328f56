// Drives the action through action.yml for tests: test/kit/local-github/action-runner.ts (the composite runner
// stand-in) and test/kit/local-github/world.ts (GitHub stand-in, runner release, artifact store, local machines),
// shared with `npm run demo`, plus the checks every end-to-end scenario ends with.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { after } from "node:test";
import { STATE_DIR_NAME, STATE_FILE_NAME } from "../../scripts/lib/constants.ts";
import type { ActionRunResult, StepResult } from "./local-github/action-runner.ts";
import type { LocalWorld, LocalWorldOptions } from "./local-github/world.ts";
import { LocalWorld as World } from "./local-github/world.ts";
import { gitHubOpenApi } from "./local-github/openapi.ts";

export {
  type ActionDefinition,
  type ActionRunOptions,
  type ActionRunResult,
  type ArtifactStore,
  type CancelOptions,
  HarnessError,
  parseFileCommand,
  readActionDefinition,
  runAction,
  type StepResult,
} from "./local-github/action-runner.ts";
export { evaluate, evaluateCondition, ExpressionError, interpolate } from "./local-github/expressions.ts";
export {
  ACTION_ROOT,
  LocalArtifacts,
  LocalWorld,
  type LocalWorldOptions,
  groupMembers,
  processesMatching,
  sessionMembers,
} from "./local-github/world.ts";

/** A world whose GitHub stand-in checks every exchange against the OpenAPI description (loaded once per process). */
export function createWorld(options: LocalWorldOptions = {}): Promise<LocalWorld> {
  return World.create({ openApi: gitHubOpenApi(), ...options });
}

/** The step with that id, or the first whose name matches. */
/**
 * A `world()` for one test file: every world it makes is closed after the file's tests, whatever a failed
 * scenario left (its processes killed, its server closed, its directory removed).
 */
export function worldsClosedAfterwards(): (options?: LocalWorldOptions) => Promise<LocalWorld> {
  const worlds: LocalWorld[] = [];
  after(async () => {
    await Promise.all(worlds.map((w) => w.close()));
  });
  return async (options = {}) => {
    const w = await createWorld(options);
    worlds.push(w);
    return w;
  };
}

export { waitFor } from "./patience.ts";

export function step(result: ActionRunResult, idOrName: string | RegExp): StepResult {
  const found = result.stepResults.find((s) =>
    typeof idOrName === "string" ? s.id === idOrName : idOrName.test(s.name),
  );
  assert.ok(found, `no step ${idOrName}`);
  return found;
}

/** What a failed run said, for assertion messages. */
export function explain(result: ActionRunResult): string {
  return [
    ...result.errors,
    ...result.stepResults.map((s) => `--- ${s.name} (${s.outcome})\n${s.stdout.slice(-3000)}${s.stderr.slice(-2000)}`),
  ].join("\n");
}

export function runners(result: ActionRunResult): { name: string; id: number; machineId: string }[] {
  return JSON.parse(result.outputs.runners || "[]") as { name: string; id: number; machineId: string }[];
}

/** Where the action keeps a start's encrypted state on the GitHub runner of a job (the last one by default). */
export function stateFile(world: LocalWorld, stateId: string, job = world.runnerTemps.length - 1): string {
  return join(world.runnerTemps[job] ?? world.runnerTemp, STATE_DIR_NAME, stateId, STATE_FILE_NAME);
}

/**
 * The checks after every scenario: no secret readable in clear anywhere (step output, files, artifacts); every JIT
 * config and the token masked by the action (::add-mask::) in the run that received them; every exchange with the
 * GitHub stand-in as GitHub's OpenAPI description documents it.
 */
export function assertNoSecretsAndConformance(world: LocalWorld): void {
  assert.deepEqual(world.findSecrets(), [], "secrets readable in clear");
  const masked = new Set(world.runs.flatMap((r) => r.masks));
  assert.ok(masked.has(world.token), "the token was not masked");
  for (const runner of world.server.issued) {
    // A config whose answer was lost (an injected fault) never reached the action: nothing to mask, nothing to leak.
    if (runner.replyLost) continue;
    assert.ok(masked.has(runner.encodedJitConfig), `the JIT config of ${runner.name} was not masked`);
  }
  assert.deepEqual(world.server.violations, [], "exchanges that depart from GitHub's OpenAPI description");
}

/**
 * Nothing of a start is left: no process, no machine directory, no registered runner, no state file on the last
 * job's runner, no artifact.
 */
export function assertNothingLeft(world: LocalWorld, stateId: string): void {
  assert.deepEqual(world.processes([stateId]), [], "processes left running");
  assert.deepEqual(world.machineDirs(), [], "machine directories left (terraform destroy did not run?)");
  assert.deepEqual(
    world.server.runners.filter((r) => r.name.startsWith(`${stateId}-`)).map((r) => r.name),
    [],
    "runners still registered at GitHub",
  );
  assert.equal(existsSync(stateFile(world, stateId)), false, "the state file is still on the last job's runner");
  assert.deepEqual(
    world.server.artifacts.filter((a) => a.name.endsWith(stateId)).map((a) => a.name),
    [],
    "the state artifact was not deleted",
  );
}

/**
 * Nothing of one start is left, whatever other starts of the world still run: no process of its machines, no
 * machine directory of its, no runner of its registered, no state artifact of its.
 */
export function assertStartGone(world: LocalWorld, stateId: string): void {
  const prefix = `${stateId}-`;
  assert.deepEqual(
    world.machineProcesses(prefix).map((p) => `${p.pid} (${p.why}): ${p.command}`),
    [],
    `processes of ${stateId}'s machines left running`,
  );
  assert.deepEqual(
    world.machineDirs().filter((dir) => basename(dir).startsWith(prefix)),
    [],
    `machine directories of ${stateId} left`,
  );
  assert.deepEqual(
    world.server.runners.filter((r) => r.name.startsWith(prefix)).map((r) => r.name),
    [],
    `runners of ${stateId} still registered at GitHub`,
  );
  assert.deepEqual(
    world.server.artifacts.filter((a) => a.name.endsWith(stateId)).map((a) => a.name),
    [],
    `the state artifact of ${stateId} was not deleted`,
  );
}
