// Builds the environment action.yml would give the scripts, from input names.
import { INPUTS_VARIABLE } from "../../stacks/names.ts";
import { reviewVariable } from "../../scripts/dev/review-env.ts";

export const FAKE_TOKEN = "test-token-not-real-0123456789";

export const RUN_CONTEXT_ENV = {
  GITHUB_REPOSITORY: "octo-org/md-sim",
  GITHUB_REPOSITORY_ID: "612345678",
  GITHUB_RUN_ID: "987654321",
  GITHUB_RUN_ATTEMPT: "2",
  GITHUB_API_URL: "https://api.github.com",
} as const;

/**
 * Env for `inputs` (input name -> value) on top of the run context: the inputs in the one variable action.yml sets
 * (toJSON(inputs)). Only the inputs given: an input left out reads as '' (the parser's fallbacks stand for action.yml's
 * defaults); the action runner's tests check that GitHub gives every declared input.
 */
export function inputEnv(inputs: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return { ...RUN_CONTEXT_ENV, ...extra, [INPUTS_VARIABLE]: JSON.stringify(inputs) };
}

/** Env for a local review of `inputs`: one GPU_RUNNER_<INPUT> variable each, on top of the run context. */
export function reviewVariables(
  inputs: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...RUN_CONTEXT_ENV, ...extra };
  for (const [name, value] of Object.entries(inputs)) env[reviewVariable(name)] = value;
  return env;
}

/** A valid AWS start, to which a test adds or overrides inputs. */
export const AWS_START: Readonly<Record<string, string>> = {
  mode: "start",
  cloud: "aws",
  "github-token": FAKE_TOKEN,
  region: "us-east-1",
  "machine-type": "g4dn.xlarge",
  image: "ami-0123456789abcdef0",
};

/** Valid settings of the local machine kind, for tests that only parse or synthesize (nothing is started). */
export const LOCAL_KIND_ENV: Readonly<Record<string, string>> = {
  LOCAL_KIND_ROOT: "/nonexistent/gpu-runner-local",
  LOCAL_KIND_RUNNER_URL: "http://127.0.0.1:9/runner",
  LOCAL_KIND_RUNNER_SHA256: "0".repeat(64),
};
