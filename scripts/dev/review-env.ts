// The environment for a local review (`npx cdktf synth|plan`, `npm run review`). Inputs come one variable each,
// GPU_RUNNER_<INPUT> (`machine-type` -> GPU_RUNNER_MACHINE_TYPE: easier to type than JSON), then from a JSON file if
// GPU_RUNNER_CONFIG_FILE names one; the parser then gets them as the action does, in the one inputs variable
// (GPU_RUNNER_INPUTS) that action.yml's main step sets to toJSON(inputs). A review is as strict as a run: a name that
// is no input is refused, and the chosen cloud's example values fill in only what the user left wholly unset, each
// said to be an example. No token is needed to review: nothing is asked of GitHub.
import { readFileSync } from "node:fs";
import { ACCELERATOR_INPUT } from "../../stacks/accelerator.ts";
import type { Cloud } from "../../stacks/cloud.ts";
import { cloudNamed, DEFAULT_CLOUD } from "../../stacks/clouds.ts";
import { INPUTS_VARIABLE } from "../../stacks/names.ts";
import { type Env, InputError } from "../../stacks/input-reader.ts";
import { type Inputs, parseInputs } from "../settings/inputs.ts";

export const CONFIG_FILE_VARIABLE = "GPU_RUNNER_CONFIG_FILE";

const VARIABLE_PREFIX = "GPU_RUNNER_";
/** Variables of the review tools themselves, not inputs. */
const SETTINGS = new Set([CONFIG_FILE_VARIABLE, INPUTS_VARIABLE, "GPU_RUNNER_REVIEW_LABEL"]);
/**
 * GPU_RUNNER_* names that are not inputs and not misspelled ones either: the test knobs scripts/main.ts reads
 * (GPU_RUNNER_TEST_*), and the names docs/tokens.md gives a GitHub App's id and key, which a shell may export.
 */
const NOT_INPUTS = new Set([...SETTINGS, "GPU_RUNNER_APP_ID", "GPU_RUNNER_APP_PRIVATE_KEY"]);
const TEST_PREFIX = "GPU_RUNNER_TEST_";

/**
 * The shared inputs that choose the machine. The example's accelerator is one answer; a user who gave either has
 * answered, and the example's must not be added to theirs (it would put a T4 on their N1 machine type).
 */
const MACHINE_CHOICE = ["machine-type", ACCELERATOR_INPUT];

/** action.yml beside the scripts: what names an input is read from its declarations (declaredInputs). */
const ACTION_FILE = new URL("../../action.yml", import.meta.url);

/** The variable that gives a review one input: "machine-type" -> "GPU_RUNNER_MACHINE_TYPE". */
export function reviewVariable(input: string): string {
  return VARIABLE_PREFIX + input.toUpperCase().replace(/-/g, "_");
}

/** A GPU_RUNNER_* variable or a config-file key that names no input: a run would ignore it, so a review refuses it. */
export class UnknownInputError extends Error {
  constructor(readonly names: string[]) {
    super(
      `Not inputs of this action: ${names.join("; ")}. A run reads only the inputs action.yml declares and would ignore these; ` +
        "name each input as the README's inputs table does (GPU_RUNNER_<INPUT> for a variable, the input itself for a config-file key).",
    );
    this.name = "UnknownInputError";
  }
}

/** What the review parsed, and the inputs it took from the cloud's example because the user left them unset. */
export interface ReviewInputs {
  env: Record<string, string | undefined>;
  inputs: Inputs;
  /** Input -> the example value filled in; empty when the user's own inputs sufficed. */
  examples: Record<string, string>;
}

/**
 * The review's inputs, parsed as strictly as a run parses them. Where the parser refuses an unset input, the cloud's
 * example value is filled in, but only from a group of related inputs the user left wholly unset: the machine choice
 * (machine-type, accelerator), the cloud's own inputs its example sets (GCP's project and zone, AWS's region...), and
 * any other input of the example alone. A group the user began is theirs to finish: the run's own error is given.
 * The parser asks for each value it lacks, so an environment fallback (AWS_REGION, GOOGLE_CLOUD_PROJECT) stands as
 * it would in a run. Unknown GPU_RUNNER_* variables and config-file keys are refused, naming the closest input.
 */
export function parseReviewInputs(base: Env): ReviewInputs {
  const { values: users, unknown } = userInputs(base);
  if (unknown.length > 0) throw new UnknownInputError(unknown);
  const cloud = cloudNamed(users.cloud || DEFAULT_CLOUD);
  const example = cloud?.inputs.example ?? {};
  const groups = cloud ? exampleGroups(cloud) : [];
  const isSet = (input: string) => (users[input] ?? "").trim() !== "";
  const values = { ...users };
  const examples: Record<string, string> = {};
  /** Example values the parser refused beside the user's own: they contradict them, so are never filled again. */
  const refused = new Set<string>();
  for (;;) {
    const env = withInputs(base, values);
    try {
      return { env, inputs: parseInputs(env, values), examples };
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      const input = error.input;
      if (Object.hasOwn(examples, input)) {
        refused.add(input);
        delete values[input];
        delete examples[input];
        continue;
      }
      const group = groups.find((g) => g.includes(input));
      if (!group || group.some(isSet)) throw error;
      // The input asked for when the example has it, else the group's (accelerator for a missing machine-type).
      const fill = (Object.hasOwn(example, input) ? [input] : group).filter(
        (i) => Object.hasOwn(example, i) && !refused.has(i) && !Object.hasOwn(examples, i),
      );
      if (fill.length === 0) throw error;
      for (const i of fill) values[i] = examples[i] = example[i]!;
    }
  }
}

/** The example's inputs in groups of related ones: one group is filled only if the user set none of it. */
function exampleGroups(cloud: Cloud): string[][] {
  const own = Object.keys(cloud.inputs.example).filter((input) => cloud.inputs.names.includes(input));
  const others = Object.keys(cloud.inputs.example).filter(
    (input) => !own.includes(input) && !MACHINE_CHOICE.includes(input),
  );
  return [own, MACHINE_CHOICE, ...others.map((input) => [input])];
}

/** "Filled in as examples: accelerator=t4, region=us-east-1 (set them to review your own: ...)", or "" when none. */
export function describeExamples(examples: Readonly<Record<string, string>>): string {
  const filled = Object.keys(examples)
    .sort()
    .map((input) => `${input}=${examples[input]}`);
  return filled.length === 0
    ? ""
    : `Filled in as examples: ${filled.join(", ")} (set them to review your own: a run would not fill them in)`;
}

/**
 * `base` with the review's inputs in the inputs variable, every example value filled in where the user left it
 * unset, and a run context where it has none: a valid start to vary, for the tests and tools that probe the parser.
 * Names are not checked here (parseReviewInputs does).
 */
export function reviewEnvironment(base: Env): Record<string, string | undefined> {
  const { values } = userInputs(base);
  const cloud = cloudNamed(values.cloud || DEFAULT_CLOUD);
  for (const [input, value] of Object.entries(cloud?.inputs.example ?? {})) values[input] ||= value;
  return withInputs(base, values);
}

/** The user's inputs: the variables, then the config file; and the names among them that are no input. */
function userInputs(base: Env): { values: Record<string, string>; unknown: string[] } {
  const declared = declaredInputs();
  const values: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || !name.startsWith(VARIABLE_PREFIX)) continue;
    if (NOT_INPUTS.has(name) || name.startsWith(TEST_PREFIX)) continue;
    const input = name.slice(VARIABLE_PREFIX.length).toLowerCase().replace(/_/g, "-");
    if (declared && !declared.includes(input)) unknown.push(name + didYouMean(input, declared, reviewVariable));
    else values[input] = value;
  }
  const file = base[CONFIG_FILE_VARIABLE];
  if (file) {
    for (const [key, value] of Object.entries(readConfigFile(file))) {
      // Input names ignore case, as in a step's with: block.
      const input = key.toLowerCase();
      if (declared && !declared.includes(input))
        unknown.push(`key '${key}' of ${file}${didYouMean(input, declared, (i) => `'${i}'`)}`);
      else values[input] ??= value;
    }
  }
  values.mode ||= "start";
  values["github-token"] ||= "review-only-no-token";
  return { values, unknown };
}

/**
 * The inputs action.yml declares (the keys of its top-level inputs: map, two spaces in). Undefined where the scripts
 * run without action.yml beside them (a copy of scripts/ and stacks/ alone): then no name can be refused.
 */
function declaredInputs(): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(ACTION_FILE, "utf8");
  } catch {
    return undefined;
  }
  const section = /^inputs:\n((?:(?: .*)?\n)*)/m.exec(text)?.[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][a-z0-9-]*):/gm)].map((match) => match[1]!);
}

/** " (did you mean X?)" for the declared input nearest to `input` in edits, when it is near enough to be a typo. */
function didYouMean(input: string, declared: readonly string[], show: (input: string) => string): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const candidate of declared) {
    const distance = editDistance(input, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best === undefined ? "" : ` (did you mean ${show(best)}?)`;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

function withInputs(base: Env, values: Readonly<Record<string, string>>): Record<string, string | undefined> {
  return {
    ...base,
    GITHUB_REPOSITORY: base.GITHUB_REPOSITORY || "example-org/example-repo",
    GITHUB_REPOSITORY_ID: base.GITHUB_REPOSITORY_ID || "1",
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
