// The environment for a local review (`npx cdktf synth|plan`, `npm run review`). Inputs come one variable each,
// GPU_RUNNER_<INPUT> (`machine-type` -> GPU_RUNNER_MACHINE_TYPE: easier to type than JSON), then from a JSON file if
// GPU_RUNNER_CONFIG_FILE names one, then from the chosen cloud's example values for whatever is still unset; the
// parser then gets them as the action does, in the one inputs variable (GPU_RUNNER_INPUTS) that action.yml's main step
// sets to toJSON(inputs). No token is needed to review: nothing is asked of GitHub.
import { readFileSync } from "node:fs";
import { cloudNamed, DEFAULT_CLOUD } from "../../stacks/clouds.ts";
import { INPUTS_VARIABLE } from "../../stacks/names.ts";
import { type Env, InputError } from "../../stacks/input-reader.ts";
import { type Inputs, parseInputs } from "../settings/inputs.ts";

export const CONFIG_FILE_VARIABLE = "GPU_RUNNER_CONFIG_FILE";

const VARIABLE_PREFIX = "GPU_RUNNER_";
/** Variables of the review tools themselves, not inputs. */
const SETTINGS = new Set([CONFIG_FILE_VARIABLE, INPUTS_VARIABLE, "GPU_RUNNER_REVIEW_LABEL"]);

/** The variable that gives a review one input: "machine-type" -> "GPU_RUNNER_MACHINE_TYPE". */
export function reviewVariable(input: string): string {
  return VARIABLE_PREFIX + input.toUpperCase().replace(/-/g, "_");
}

/**
 * The review's inputs, parsed. An example value can contradict what the user chose (the example's gpu with the
 * user's A2 machine type): a filled-in example value that the parser refuses is dropped, and parsing retried.
 */
export function parseReviewInputs(base: Env): { env: Record<string, string | undefined>; inputs: Inputs } {
  const values = reviewInputs(base);
  // Only the example's values may be dropped: the variables and the config file are the user's.
  const users = reviewInputs(base, { examples: false });
  const filled = new Set(Object.keys(values).filter((input) => values[input] !== users[input]));
  for (;;) {
    const env = withInputs(base, values);
    try {
      return { env, inputs: parseInputs(env, values) };
    } catch (error) {
      const input = error instanceof InputError ? error.input : "";
      if (!filled.delete(input)) throw error;
      delete values[input];
    }
  }
}

/** `base` with the review's inputs in the inputs variable, and a run context where it has none. */
export function reviewEnvironment(base: Env, opts: { examples?: boolean } = {}): Record<string, string | undefined> {
  return withInputs(base, reviewInputs(base, opts));
}

function reviewInputs(base: Env, opts: { examples?: boolean } = {}): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || !name.startsWith(VARIABLE_PREFIX) || SETTINGS.has(name)) continue;
    values[name.slice(VARIABLE_PREFIX.length).toLowerCase().replace(/_/g, "-")] = value;
  }
  const file = base[CONFIG_FILE_VARIABLE];
  if (file) {
    for (const [input, value] of Object.entries(readConfigFile(file))) values[input] ??= value;
  }
  values.mode ||= "start";
  values["github-token"] ||= "review-only-no-token";
  const cloud = cloudNamed(values.cloud || DEFAULT_CLOUD);
  const examples = opts.examples === false ? {} : (cloud?.inputs.example ?? {});
  for (const [input, value] of Object.entries(examples)) values[input] ||= value;
  return values;
}

function withInputs(base: Env, values: Readonly<Record<string, string>>): Record<string, string | undefined> {
  return {
    ...base,
    GITHUB_REPOSITORY: base.GITHUB_REPOSITORY || "example-org/example-repo",
    GITHUB_RUN_ID: base.GITHUB_RUN_ID || "0",
    GITHUB_RUN_ATTEMPT: base.GITHUB_RUN_ATTEMPT || "1",
    [INPUTS_VARIABLE]: JSON.stringify(values),
  };
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InputError(
      CONFIG_FILE_VARIABLE,
      path,
      `a readable JSON file of input names to values (${(error as Error).message})`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InputError(
      CONFIG_FILE_VARIABLE,
      path,
      `a JSON object of input names to values, such as {"count": "2", "max-lifetime": "120"}`,
    );
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
