// Renders the machine's boot script: a header of safely quoted `export` lines, then stacks/boot/runner.sh verbatim.
// Values are never spliced into shell code; the script reads them as variables.
import { readFileSync } from "node:fs";

const BODY_PATH = new URL("./boot/runner.sh", import.meta.url);

/** The boot script's body, read once per process (it is a real file so that shellcheck and auditors see it). */
let cachedBody: string | undefined;
export function bootScriptBody(): string {
  cachedBody ??= readFileSync(BODY_PATH, "utf8");
  return cachedBody;
}

/** Single-quotes a value for POSIX shells: the only character needing care inside '...' is the quote itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Terraform interpolates `${...}` and `%{...}` in every string of the configuration, and a boot script is full of
 * `${VAR}`. Doubling the opener makes Terraform emit the text literally.
 */
export function terraformLiteral(text: string): string {
  // Replacer functions, because "$$" in a replacement string means a single "$".
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

export interface BootScriptParts {
  /** Non-secret values, written as quoted `export NAME='value'` lines. */
  values: Record<string, string>;
  /**
   * Values that Terraform fills in at apply time, as `NAME -> expression`: the sensitive JIT variable, e.g.
   * `GR_JIT_CONFIG -> ${var.jit_config_0}`, whose own validation restricts it to base64 characters, and the GPU
   * count a cloud reads from its description of the machine type, a number. Both are safe inside single quotes.
   */
  terraformValues?: Record<string, string>;
}

/** The plain shell text of the script (no Terraform escaping): what runs on the machine. */
export function renderBootScript(parts: BootScriptParts): string {
  return assemble(parts, (s) => s);
}

/** The script as a Terraform string: literal parts escaped, secret parts left as Terraform expressions. */
export function renderBootScriptForTerraform(parts: BootScriptParts): string {
  return assemble(parts, terraformLiteral);
}

function assemble(parts: BootScriptParts, literal: (s: string) => string): string {
  const lines = ["#!/bin/bash"];
  for (const [name, value] of Object.entries(parts.values)) {
    assertName(name);
    lines.push(literal(`export ${name}=${shellQuote(value)}`));
  }
  for (const [name, expression] of Object.entries(parts.terraformValues ?? {})) {
    assertName(name);
    lines.push(`export ${name}='${expression}'`);
  }
  return `${lines.join("\n")}\n${literal(withoutComments(withoutShebang(bootScriptBody())))}`;
}

function assertName(name: string): void {
  if (!NAME.test(name))
    throw new Error(`boot script variable name ${JSON.stringify(name)} is not an upper-case shell name`);
}

/**
 * The script without its whole-line comments: they explain it to readers of stacks/boot/runner.sh, and would cost a
 * quarter of the user-data a cloud accepts (16 KiB on some). The script has no here-document nor multi-line string that
 * a line starting with # could belong to; a test checks that bash reads the same functions either way.
 */
export function withoutComments(body: string): string {
  return body
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n");
}

function withoutShebang(body: string): string {
  // Stryker disable next-line MethodExpression: a shebang left in place starts with #, so withoutComments drops it anyway
  return body.startsWith("#!") ? body.slice(body.indexOf("\n") + 1) : body;
}
