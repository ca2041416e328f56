// The environment for a local review (`npx cdktf synth|plan`, `npm run review`): the caller's GPU_RUNNER_*
// variables, then a JSON file of inputs if GPU_RUNNER_CONFIG_FILE names one, then the chosen cloud's example
// values for whatever is still unset. No token is needed to review: nothing is asked of GitHub.
import { readFileSync } from "node:fs";
import { cloudNamed, DEFAULT_CLOUD } from "../../stacks/clouds.ts";
import { INPUT_ENV_PREFIX, inputEnvName } from "../../stacks/names.ts";
import { type Env, InputError } from "../../stacks/input-reader.ts";
import { type Inputs, parseInputs } from "./inputs.ts";

export const CONFIG_FILE_VARIABLE = "GPU_RUNNER_CONFIG_FILE";

/**
 * The review's inputs, parsed. An example value can contradict what the user chose (the example's gpu with the
 * user's A2 machine type): a filled-in example value that the parser refuses is dropped, and parsing retried.
 */
export function parseReviewInputs(base: Env): { env: Record<string, string | undefined>; inputs: Inputs } {
  const env = reviewEnvironment(base);
  // Only the example's values may be dropped: the variables and the config file are the user's.
  const users = reviewEnvironment(base, { examples: false });
  const filled = new Set(Object.keys(env).filter((name) => env[name] !== users[name] && name.startsWith(INPUT_ENV_PREFIX)));
  for (;;) {
    try {
      return { env, inputs: parseInputs(env) };
    } catch (error) {
      const name = error instanceof InputError ? inputEnvName(error.input) : "";
      if (!filled.delete(name)) throw error;
      delete env[name];
    }
  }
}

export function reviewEnvironment(base: Env, opts: { examples?: boolean } = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base };
  const file = base[CONFIG_FILE_VARIABLE];
  if (file) {
    for (const [input, value] of Object.entries(readConfigFile(file))) env[inputEnvName(input)] ??= value;
  }
  env[inputEnvName("mode")] ||= "start";
  env[inputEnvName("github-token")] ||= "review-only-no-token";
  const cloud = cloudNamed(env[inputEnvName("cloud")] || DEFAULT_CLOUD);
  const examples = opts.examples === false ? {} : (cloud?.example ?? {});
  for (const [input, value] of Object.entries(examples)) env[inputEnvName(input)] ||= value;
  env.GITHUB_REPOSITORY ||= "example-org/example-repo";
  env.GITHUB_RUN_ID ||= "0";
  env.GITHUB_RUN_ATTEMPT ||= "1";
  return env;
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InputError(CONFIG_FILE_VARIABLE, path, `a readable JSON file of input names to values (${(error as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InputError(CONFIG_FILE_VARIABLE, path, `a JSON object of input names to values, such as {"count": "2", "max-lifetime": "120"}`);
  }
  const out: Record<string, string> = {};
  for (const [input, value] of Object.entries(parsed)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new InputError(CONFIG_FILE_VARIABLE, path, `string, number or boolean values (input '${input}' is not)`);
    }
    out[input] = String(value);
  }
  return out;
}
