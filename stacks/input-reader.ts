// Typed readers for action inputs. Each reads the environment variable that action.yml maps the input to, and
// fails with an InputError that names the input, shows what was given and says what is expected.
import { inputEnvName } from "./names.ts";

/** The inputs that are secrets: masked the moment they are read, never echoed back in an error. */
export const SECRET_INPUTS: readonly string[] = ["github-token", "state-passphrase"];

export type Env = Readonly<Record<string, string | undefined>>;

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

export class InputReader {
  constructor(readonly env: Env) {}

  /** The raw value, trimmed; "" when unset. */
  raw(input: string): string {
    return (this.env[inputEnvName(input)] ?? "").trim();
  }

  isSet(input: string): boolean {
    return this.raw(input) !== "";
  }

  fail(input: string, expected: string): never {
    const given = this.env[inputEnvName(input)] ?? "";
    throw new InputError(input, SECRET_INPUTS.includes(input) ? "(a secret, not shown)" : given.trim() === "" ? "" : given, expected);
  }

  /**
   * A single value, which must be exactly what it means: " start" or "stop\n" is refused rather than trimmed, since
   * action.yml's own conditions compare the raw value and would disagree with the trimmed one. (Lists, JSON and
   * scripts, often written as YAML block scalars with a trailing newline, are read with `raw`.)
   */
  private exact(input: string, expected: string): string {
    const given = this.env[inputEnvName(input)] ?? "";
    const value = given.trim();
    if (value !== "" && value !== given) this.fail(input, `${expected}, without leading or trailing spaces or newlines`);
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

  integer(input: string, opts: { min: number; max: number; fallback?: number }): number {
    const expected = `a whole number from ${opts.min} to ${opts.max}`;
    const value = this.exact(input, expected);
    if (value === "") {
      if (opts.fallback === undefined) this.fail(input, expected);
      return opts.fallback;
    }
    if (!/^\d+$/.test(value)) this.fail(input, expected);
    const n = Number(value);
    if (n < opts.min || n > opts.max) this.fail(input, expected);
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
    if (value === "") return [];
    const items = value
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (items.some((s) => !item.test(s))) this.fail(input, expected);
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
      this.fail(input, expected);
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
