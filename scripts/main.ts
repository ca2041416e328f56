// The action's entry point and its one error boundary: parse inputs, dispatch start, stop or sweep, fail the step with
// a message that says what happened and what to check.
import * as core from "@actions/core";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ActionIO, type Clock, coreIO, realClock } from "./adapters/action-io.ts";
import { cloudNamed } from "../stacks/clouds.ts";
import { decodeInputs, readInputs } from "../stacks/input-reader.ts";
import { explainFailure } from "./phases/explain.ts";
import { createGitHubClient } from "./adapters/github/client.ts";
import type { RunnerScope } from "./adapters/github/types.ts";
import type { Env } from "../stacks/input-reader.ts";
import { parseInputs } from "./settings/inputs.ts";
import { readRunContext } from "./settings/run-context.ts";
import { start } from "./phases/start.ts";
import { stop } from "./phases/stop.ts";
import { sweep } from "./phases/sweep.ts";
import { commandRunner } from "./adapters/command.ts";
import { createTerraform } from "./adapters/terraform.ts";

/** The job's own GITHUB_TOKEN, which action.yml passes to delete the state artifact (not an input). */
const JOB_TOKEN_VARIABLE = "JOB_GITHUB_TOKEN";

export interface MainDeps {
  env: Env;
  io: ActionIO;
  clock: Clock;
  onCancel?: (handler: () => void) => () => void;
}

/** Calls `handler` on the first SIGINT or SIGTERM; listening also keeps Node from exiting before cleanup ends. */
export function onProcessCancel(handler: () => void): () => void {
  let fired = false;
  const listener = () => {
    if (fired) return;
    fired = true;
    handler();
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return () => {
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
  };
}

export async function main(deps: MainDeps): Promise<void> {
  const { env, io } = deps;
  // Mask the secrets before anything else can print them, even in an input error: the job's token, then the secret
  // inputs, as the one decoding of the inputs variable hands them over.
  const jobToken = env[JOB_TOKEN_VARIABLE]?.trim();
  if (jobToken) io.setSecret(jobToken);
  const inputs = parseInputs(
    env,
    readInputs(env, (secret) => io.setSecret(secret)),
  );
  if (inputs.mode === "start") for (const notice of inputs.notices) io.notice(notice);
  const context = readRunContext(env, tmpdir());
  const repository = { kind: "repository", owner: context.owner, repo: context.repo } as const;
  const client = (scope: RunnerScope, token = inputs.githubToken) =>
    createGitHubClient({
      token,
      apiUrl: context.apiUrl,
      scope,
      onSecret: (value) => io.setSecret(value),
      log: (line) => io.info(line),
      sleep: deps.clock.sleep,
    });
  // Runners live in the repository or its organization. The state artifact lives in the repository and is
  // deleted with the job's own token (actions: write) when action.yml passes it, else with the github-token.
  const github = client(
    inputs.runnerScope === "organization" ? { kind: "organization", org: context.owner } : repository,
  );
  const artifacts = jobToken
    ? client(repository, jobToken)
    : inputs.runnerScope === "organization"
      ? client(repository)
      : github;
  // Terraform and the cloud's CLI get the cloud's own variables (credentials, region) and none of the step's secrets.
  const terraform = createTerraform({
    pluginCacheDir: env.TF_PLUGIN_CACHE_DIR || join(context.tempDir, "terraform-plugin-cache"),
    log: (line) => io.info(line),
    env,
    passEnv: inputs.cloud.environment,
  });
  const run = commandRunner(env, inputs.cloud.environment);
  if (inputs.mode === "sweep") {
    await sweep(inputs, context, { github, runs: artifacts, io, env, run });
    return;
  }
  const workDir = await mkdtemp(join(context.tempDir, "gpu-runner-work-"));
  if (inputs.mode === "start") {
    await start(inputs, context, {
      github,
      terraform,
      io,
      clock: deps.clock,
      workDir,
      run,
      setup: setupTimes(env),
      onCancel: deps.onCancel,
      pollIntervalMs: testSetting(env.GPU_RUNNER_TEST_POLL_MS, 50, 60_000),
      runnerTimeoutMs: testSetting(env.GPU_RUNNER_TEST_RUNNER_TIMEOUT_MS, 1000, 3_600_000),
    });
  } else {
    await stop(inputs, context, { github, artifacts, terraform, io, workDir, env, run });
  }
}

/**
 * The action's run, as scripts/launch.mjs starts it: `env` is the step's whole environment, which the launcher took
 * out of process.env before any TypeScript was loaded, so that the transpiler's process never held its secrets.
 * Tests import main() with their own dependencies instead.
 */
export async function runAction(env: Env): Promise<void> {
  let cancelled = false;
  const onCancel = (handler: () => void) =>
    onProcessCancel(() => {
      cancelled = true;
      handler();
    });
  await main({ env, io: coreIO, clock: realClock, onCancel })
    .catch((error: unknown) => {
      core.setFailed(explainFailure(error, chosenCloud(env)?.terraform));
    })
    .finally(() => {
      // After a cancel, once start has saved its state, nothing may keep the step alive until GitHub kills it (a
      // registration abandoned in flight waits out its timeout): end now, with the exit code set above.
      if (cancelled) process.exit();
    });
}

// Run directly, it would already have handed the transpiler the step's secrets: it says how to run it instead.
if (import.meta.url === `file://${process.argv[1]}`) {
  core.setFailed("scripts/main.ts runs through its launcher: node scripts/launch.mjs scripts/main.ts (see action.yml)");
}

/** The cloud the inputs name, for the failure's hint; none when the inputs cannot be read (that may be the failure). */
function chosenCloud(env: Env) {
  try {
    return cloudNamed(decodeInputs(env).cloud?.trim() ?? "");
  } catch {
    return undefined;
  }
}

/** What action.yml's first steps say of themselves (not inputs): when the action began, whether the install was cached. */
function setupTimes(env: Env): { actionStarted?: number; installCacheHit?: boolean } {
  const started = Number(env.ACTION_SETUP_STARTED_MS);
  const hit = env.ACTION_SETUP_CACHE_HIT;
  return {
    actionStarted: Number.isSafeInteger(started) && started > 0 ? started : undefined,
    installCacheHit: hit === "true" ? true : hit === "false" || hit === "" ? false : undefined,
  };
}

/**
 * The end-to-end tests shorten the poll interval and the online timeout (whose input counts whole minutes)
 * through GPU_RUNNER_TEST_POLL_MS and GPU_RUNNER_TEST_RUNNER_TIMEOUT_MS. Not inputs; ignored unless in range.
 */
function testSetting(value: string | undefined, min: number, max: number): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}
