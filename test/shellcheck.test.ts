// Every shell script the project ships (the boot script, the local machine kind, the install pruner, CI) passes
// Debian's shellcheck. Found by shebang, so a new script is covered without a list to keep.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));

function shellScripts(dir: string): string[] {
  return readdirSync(join(repo, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) =>
      /^#!(\/usr\/bin\/env bash|\/bin\/bash|\/bin\/sh)\b/.test(readFileSync(path, "utf8").slice(0, 40)),
    );
}

const scripts = [".ci", "scripts", "stacks", "test/kit"].flatMap(shellScripts);

const installed = !spawnSync("shellcheck", ["--version"]).error;

describe("shellcheck", () => {
  // One failure, not one per script, when the tool is missing (npm test says how to get it before any test runs).
  it("is installed", () =>
    assert.ok(installed, "shellcheck is not on PATH: sudo apt-get install shellcheck (see the README's quick start)"));

  it("finds the project's shell scripts", () => {
    const names = scripts.map((p) => relative(repo, p));
    for (const expected of [
      ".ci/run",
      "stacks/boot/runner.sh",
      "test/kit/local-cloud/launch.sh",
      "test/kit/local-cloud/halt.sh",
      "test/kit/local-cloud/bin/poweroff",
    ]) {
      assert.ok(names.includes(expected), `${expected} is checked`);
    }
  });

  for (const path of installed ? scripts : []) {
    it(`${relative(repo, path)} is clean`, () => {
      const run = spawnSync("shellcheck", ["-x", path], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stdout + run.stderr);
    });
  }
});
