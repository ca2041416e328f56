// The action prunes the other clouds' provider packages from its install (scripts/prune-install.sh). That is only
// safe if nothing loads a provider before the chosen cloud's load(): checked here in a fresh Node process.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** Which provider packages a fresh process has loaded after running `code` (CommonJS: they land in require.cache). */
function providersLoadedAfter(code: string): string[] {
  const script = `
    import { createRequire } from "node:module";
    import { CLOUDS } from "./stacks/clouds.ts";
    import { parseInputs } from "./scripts/settings/inputs.ts";
    import { reviewEnvironment } from "./scripts/settings/review-env.ts";
    ${code}
    const loaded = new Set(Object.keys(createRequire(import.meta.url).cache)
      .map((path) => /@cdktf\\/(provider-[a-z]+)\\//.exec(path)?.[1]).filter(Boolean));
    console.log(JSON.stringify([...loaded].sort()));
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repo, encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "[]");
}

describe("provider bindings load lazily", () => {
  it("parsing inputs for any cloud loads no provider", () => {
    const loaded = providersLoadedAfter(`
      parseInputs(reviewEnvironment({ GPU_RUNNER_CLOUD: "gcp" }));
      parseInputs(reviewEnvironment({ GPU_RUNNER_CLOUD: "aws" }));`);
    assert.deepEqual(loaded, []);
  });

  it("loading one cloud loads only its provider", () => {
    assert.deepEqual(providersLoadedAfter("await CLOUDS.aws.load();"), ["provider-aws"]);
    assert.deepEqual(providersLoadedAfter("await CLOUDS.gcp.load();"), ["provider-google"]);
  });
});

describe("prune-install.sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "prune-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function fakeInstall(name: string): string {
    const modules = join(dir, name, "node_modules");
    for (const pkg of ["provider-aws", "provider-google"]) {
      mkdirSync(join(modules, "@cdktf", pkg, "lib"), { recursive: true });
      writeFileSync(join(modules, "@cdktf", pkg, ".jsii"), "{}");
      writeFileSync(join(modules, "@cdktf", pkg, "lib", "index.js"), "");
    }
    mkdirSync(join(modules, "cdktf"), { recursive: true });
    return modules;
  }

  for (const [cloud, kept] of [["aws", "provider-aws"], ["gcp", "provider-google"], ["local", undefined]] as const) {
    it(`cloud ${cloud} keeps ${kept ?? "no provider"}, without jsii metadata`, () => {
      const modules = fakeInstall(cloud);
      execFileSync("bash", [join(repo, "scripts", "prune-install.sh"), cloud, modules]);
      for (const pkg of ["provider-aws", "provider-google"]) {
        assert.equal(existsSync(join(modules, "@cdktf", pkg, "lib", "index.js")), pkg === kept, pkg);
        assert.equal(existsSync(join(modules, "@cdktf", pkg, ".jsii")), false);
      }
      assert.ok(existsSync(join(modules, "cdktf")), "everything else stays");
    });
  }

  it("is shellcheck-clean", () => {
    execFileSync("shellcheck", [join(repo, "scripts", "prune-install.sh")]);
  });
});
