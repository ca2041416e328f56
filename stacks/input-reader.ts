// Typed readers for action inputs. action.yml passes every input in one variable (INPUTS_VARIABLE, set to
// `${{ toJSON(inputs) }}`); decodeInputs reads it once, readInputs also masks the secret inputs, and InputReader reads
// the resulting map, failing with an InputError that names the input, shows what was given and says what is expected.
import { INPUTS_VARIABLE } from "./names.ts";

/**
 * The inputs that are secrets: masked the moment they are decoded, never echoed back in an error. No other input is
 * one (pre-runner-script is code the action prints only the size of); a value a workflow takes from its secrets
 * context, in any input, is masked by the runner itself.
 */
export const SECRET_INPUTS: readonly string[] = ["github-token", "state-passphrase"];

/**
 * The shortest secret input that is masked. A shorter value is no secret the action can use: the parser refuses it
 * in every secret input (GitHub's tokens are some 40 characters and more, a state-passphrase at least 16), without
 * showing it. Masking it would be worse than useless: the runner's masker has no minimum of its own (actions/runner,
 * SecretMasker.AddValue skips only an empty value), so a one-character token would turn that character into *** on
 * every line of the log, the refusal included.
 */
export const MIN_SECRET_LENGTH = 8;

export type Env = Readonly<Record<string, string | undefined>>;

/** Input name (lower case, as action.yml declares it) -> value, as the step's `with:` gave it or defaulted. */
export type InputValues = Readonly<Record<string, string>>;

/** The inputs variable is missing or is not what toJSON(inputs) gives: action.yml is broken, not an input. */
export class InputsVariableError extends Error {
  constructor(why: string) {
    // Never the value, nor JSON.parse's message (which quotes the text): it holds the secret inputs.
    super(
      `${INPUTS_VARIABLE} ${why}; expected the JSON object of input names to strings that action.yml's main step passes as \${{ toJSON(inputs) }}.`,
    );
    this.name = "InputsVariableError";
  }
}

/**
 * The inputs, from INPUTS_VARIABLE. What GitHub puts there, per its runner (actions/runner, ActionRunner.cs and
 * Handlers/CompositeActionHandler.cs): a composite action's steps get an `inputs` context of strings holding every
 * input the calling step's `with:` gives (under the name as written there: input names ignore case), then every
 * input action.yml declares that `with:` leaves out, at its default or ''. toJSON writes that context as a JSON
 * object. GitHub's docs say the same: the `inputs` context "contains input properties passed to an action"
 * (contexts reference), and composite actions read their inputs through it, getting no INPUT_* variables (metadata
 * syntax, `inputs.<input_id>`). So every declared input is a key here; names are lower-cased for lookup.
 */
export function decodeInputs(env: Env): InputValues {
  const text = env[INPUTS_VARIABLE];
  if (text === undefined || text === "") throw new InputsVariableError("is not set");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InputsVariableError("is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InputsVariableError(`is ${kindOf(parsed)}, not an object`);
  const values: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(parsed)) {
    const input = name.toLowerCase();
    if (typeof value !== "string")
      throw new InputsVariableError(`gives input '${name}' as ${kindOf(value)}, not a string`);
    if (Object.hasOwn(values, input))
      throw new InputsVariableError(`gives input '${input}' twice (input names ignore case)`);
    values[input] = value;
  }
  return values;
}

/**
 * decodeInputs, then each secret input handed to `mask` (core.setSecret) before anything can print it; a value
 * shorter than MIN_SECRET_LENGTH is not, as the parser refuses it without showing it (see there).
 */
export function readInputs(env: Env, mask: (secret: string) => void): InputValues {
  const values = decodeInputs(env);
  for (const input of SECRET_INPUTS) {
    const value = values[input]?.trim() ?? "";
    if (value.length >= MIN_SECRET_LENGTH) mask(value);
  }
  return values;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

export class InputError extends Error {
  constructor(
    readonly input: string,
    given: string,
    expected: string,
  ) {
    super(`Input '${input}': got ${describeGiven(given)}; expected ${expected}.`);
    this.name = "InputError";
  }
}

function describeGiven(given: string): string {
  if (given === "") return "nothing";
  const shown = given.length > 80 ? `${given.slice(0, 77)}...` : given;
  return JSON.stringify(shown);
}

/** What InputReader.integer accepts. */
export interface IntegerRule {
  min: number;
  max: number;
  /** The value when the input is unset; undefined: the input is required. */
  fallback?: number;
  /** What is counted (minutes, GB, machines); none for an id. */
  unit?: string;
  /**
   * What this input depends on in another, said in every refusal ("for disk-type io2"); `holds` checks a bound that
   * the other sets, after the range and on the fallback too ("more than runner-timeout (10)"), and `why` is said
   * when that fails.
   */
  dependency?: { says: string; holds?: (n: number) => boolean; why?: string };
}

export class InputReader {
  /**
   * `env`: the step's environment, where clouds find their own defaults (AWS_REGION...); `values`: the inputs,
   * decoded from it unless the caller has decoded (and masked) them already, as the entry point does.
   */
  constructor(
    readonly env: Env,
    private readonly values: InputValues = decodeInputs(env),
  ) {}

  /** The value as given; "" when unset. Own keys only: an input named like an Object method is no input. */
  private given(input: string): string {
    // Stryker disable next-line StringLiteral: decodeInputs keeps strings only, so an own key is never undefined
    return Object.hasOwn(this.values, input) ? (this.values[input] ?? "") : "";
  }

  /** The raw value, trimmed; "" when unset. */
  raw(input: string): string {
    return this.given(input).trim();
  }

  isSet(input: string): boolean {
    return this.raw(input) !== "";
  }

  /** Refuses the input, showing what was given: nothing when empty, a stand-in for a secret, else the value. */
  fail(input: string, expected: string): never {
    const given = this.given(input);
    throw new InputError(
      input,
      given.trim() === "" ? "" : SECRET_INPUTS.includes(input) ? "(a secret, not shown)" : given,
      expected,
    );
  }

  /**
   * A single value, which must be exactly what it means: " start" or "stop\n" is refused rather than trimmed, since
   * action.yml's own conditions compare the raw value and would disagree with the trimmed one. (Lists, JSON and
   * scripts, often written as YAML block scalars with a trailing newline, are read with `raw`.)
   */
  private exact(input: string, expected: string): string {
    const given = this.given(input);
    const value = given.trim();
    if (value !== "" && value !== given)
      this.fail(input, `${expected}, without leading or trailing spaces or newlines`);
    return value;
  }

  required(input: string, expected: string): string {
    const value = this.raw(input);
    if (value === "") this.fail(input, expected);
    return value;
  }

  optional(input: string, fallback = ""): string {
    return this.raw(input) || fallback;
  }

  /** A string matching `pattern`; `fallback` when unset (undefined fallback means required). */
  matching(input: string, pattern: RegExp, expected: string, fallback?: string): string {
    const value = this.exact(input, expected);
    if (value === "") {
      if (fallback === undefined) this.fail(input, expected);
      return fallback;
    }
    if (!pattern.test(value)) this.fail(input, expected);
    return value;
  }

  /**
   * A whole number from `min` to `max` (`fallback` when unset; undefined means required). Every refusal says the
   * unit and what the value depends on in other inputs, whichever rule was broken: "a whole number of minutes from
   * 10 to 10080, more than runner-timeout (10)".
   */
  integer(input: string, opts: IntegerRule): number {
    const { min, max, unit, dependency } = opts;
    const expected = `a whole number ${unit ? `of ${unit} ` : ""}from ${min} to ${max}${dependency ? `, ${dependency.says}` : ""}`;
    const n = this.wholeNumber(input, expected, opts);
    if (dependency?.holds && !dependency.holds(n))
      this.fail(input, dependency.why ? `${expected}, ${dependency.why}` : expected);
    return n;
  }

  private wholeNumber(input: string, expected: string, { min, max, fallback }: IntegerRule): number {
    const value = this.exact(input, expected);
    if (value === "") {
      if (fallback === undefined) this.fail(input, expected);
      return fallback;
    }
    if (!/^\d+$/.test(value)) this.fail(input, expected);
    const n = Number(value);
    if (n < min || n > max) this.fail(input, expected);
    return n;
  }

  boolean(input: string, fallback: boolean): boolean {
    const value = this.exact(input, "true or false").toLowerCase();
    if (value === "") return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    this.fail(input, "true or false");
  }

  oneOf<T extends string>(input: string, choices: readonly T[], fallback?: T): T {
    const expected = `one of ${choices.join(", ")}`;
    const value = this.exact(input, expected);
    if (value === "") {
      if (fallback === undefined) this.fail(input, expected);
      return fallback;
    }
    if (!(choices as readonly string[]).includes(value)) this.fail(input, expected);
    return value as T;
  }

  /** A list separated by commas or newlines; each item must match `item`. */
  list(input: string, item: RegExp, expected: string, opts: { max?: number } = {}): string[] {
    const value = this.raw(input);
    // Stryker disable next-line ConditionalExpression,StringLiteral: a shortcut; "" splits into one empty item, dropped below
    if (value === "") return [];
    const items = value
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (items.some((s) => !item.test(s))) this.fail(input, expected);
    // Stryker disable next-line ConditionalExpression: a length is never > undefined; the check says what it means
    if (opts.max !== undefined && items.length > opts.max) this.fail(input, `${expected}, at most ${opts.max} items`);
    return items;
  }

  /** A JSON object whose values are strings (tags). */
  stringMap(input: string, expected: string): Record<string, string> {
    const value = this.raw(input);
    if (value === "") return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      // Not JSON: parsed stays undefined, which the check below refuses with the same words.
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) this.fail(input, expected);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== "string") this.fail(input, expected);
      out[k] = v;
    }
    return out;
  }
}
