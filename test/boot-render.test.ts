// The boot script's header is the one place where action inputs meet shell code: run it with bash and check
// every value comes back byte for byte, whatever characters it holds.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  bootScriptBody,
  renderBootScript,
  renderBootScriptForTerraform,
  shellQuote,
  terraformLiteral,
} from "../stacks/boot-script.ts";

const HOSTILE_VALUES = [
  "plain",
  "",
  "it's quoted",
  "'; touch pwned; '",
  "$(touch pwned)",
  "`touch pwned`",
  "${HOME}",
  "line one\nline two",
  'double "quotes" and \\ backslash',
  "%{ if true }terraform directive%{ endif }",
  "ünïcödé ✓",
];

/** Whether bash can parse `text` as complete commands (no open quote). */
function bashComplete(text: string): boolean {
  return spawnSync("bash", ["-n", "-c", text]).status === 0;
}

function countExports(text: string): number {
  return (text.match(/^export GR_/gm) ?? []).length;
}

/** Runs only the header (the body is replaced by printing the variables) in a clean scratch directory. */
function echoBack(values: Record<string, string>): Record<string, string> {
  const script = renderBootScript({ values });
  // The shebang, then one export line per value (a value's newline stays inside its quotes, so count by parsing).
  const header = script.split(/(?<=\n)/).reduce(
    (acc, line) =>
      acc.done
        ? acc
        : {
            text: acc.text + line,
            done: bashComplete(acc.text + line) && countExports(acc.text + line) === Object.keys(values).length,
          },
    { text: "", done: false },
  ).text;
  const printer = Object.keys(values)
    .map((name) => `printf '%s\\0' "$${name}"`)
    .join("\n");
  const result = spawnSync("bash", ["-c", `${header}\n${printer}`], { encoding: "utf8", cwd: "/" });
  assert.equal(result.status, 0, result.stderr);
  const printed = result.stdout.split("\0").slice(0, -1);
  return Object.fromEntries(Object.keys(values).map((name, i) => [name, printed[i] ?? "<missing>"]));
}

describe("renderBootScript", () => {
  it("delivers every value to bash unchanged, executing none of it", () => {
    const values = Object.fromEntries(HOSTILE_VALUES.map((v, i) => [`GR_VALUE_${i}`, v]));
    assert.deepEqual(echoBack(values), values);
  });

  it("starts with a bash shebang and carries the real body after the header", () => {
    const script = renderBootScript({ values: { GR_A: "1" } });
    // (Each assert.ok has a message: node would otherwise parse this TypeScript file to make one, which can hang.)
    assert.ok(script.startsWith("#!/bin/bash\nexport GR_A='1'\n"), script.slice(0, 80));
    assert.ok(script.includes("gpu-runner"), "the body of stacks/boot/runner.sh follows the header");
    assert.equal(script.match(/^#!/gm)?.length, 1, "the body's own shebang is dropped");
  });

  it("leaves out the comments, and bash reads the same functions and top level as from the file itself", () => {
    const body = bootScriptBody();
    const rendered = renderBootScript({ values: {} });
    assert.ok(!/^\s*#(?!!)/m.test(rendered), "no comment line is delivered");
    assert.ok(rendered.length < body.length * 0.85, `${rendered.length} of ${body.length} bytes`);
    // Everything but the last line (which runs main): bash's own listing of the functions, from both texts.
    const definitions = (text: string) => {
      const run = spawnSync(
        "bash",
        ["-c", `${text.slice(0, text.trimEnd().lastIndexOf("\n"))}\ndeclare -f; declare -p CONSOLE UNIT`],
        { encoding: "utf8" },
      );
      assert.equal(run.status, 0, run.stderr);
      return run.stdout;
    };
    assert.equal(definitions(rendered.slice(rendered.indexOf("\n") + 1)), definitions(body));
  });

  it("delivers the body line for line: every line after the header is one of runner.sh's own, in its order", () => {
    // Dropping the file's shebang must cut at its newline: a stray fragment of it ("h", "!/usr/bin/env bash") would be
    // run as a command at boot. (That no function is lost is the test above.)
    const fileLines = bootScriptBody().split("\n");
    const delivered = renderBootScript({ values: { GR_A: "1" } }).split("\n");
    assert.deepEqual(delivered.slice(0, 2), ["#!/bin/bash", "export GR_A='1'"]);
    let at = 1; // the file's line 0 is its own shebang, never delivered
    for (const line of delivered.slice(2)) {
      const found = fileLines.indexOf(line, at);
      assert.ok(found >= at, `${JSON.stringify(line)} is not a line of runner.sh after line ${at}`);
      at = found + 1;
    }
  });

  it("refuses a variable name that is not an upper-case shell name", () => {
    for (const name of ["gr_lower", "GR-DASH", "GR_A=$(x)", "1GR"]) {
      assert.throws(() => renderBootScript({ values: { [name]: "v" } }), /not an upper-case shell name/);
    }
  });

  it("shellQuote closes and reopens around a single quote", () => {
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });
});

describe("renderBootScriptForTerraform", () => {
  it("escapes Terraform interpolation in literal text but keeps the secret's expression live", () => {
    const script = renderBootScriptForTerraform({
      values: { GR_TAG: "${var.other} %{ if x }" },
      terraformValues: { GR_JIT_CONFIG: "${var.jit_config_0}" },
    });
    assert.ok(script.includes("export GR_TAG='$${var.other} %%{ if x }'"), "the value's openers are doubled");
    assert.ok(script.includes("export GR_JIT_CONFIG='${var.jit_config_0}'"), "the secret's expression is left live");
    // Only the one deliberate expression may remain: every other "${" in the body is escaped.
    const live = script.match(/(?<!\$)\$\{/g) ?? [];
    assert.equal(live.length, 1);
    const directives = script.match(/(?<!%)%\{/g) ?? [];
    assert.equal(directives.length, 0);
  });

  it("terraformLiteral doubles the openers Terraform would interpret", () => {
    assert.equal(terraformLiteral("a ${b} %{c} $d %e"), "a $${b} %%{c} $d %e");
  });
});
