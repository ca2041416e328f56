// The action prunes the other clouds' provider packages from its install (scripts/prune-install.ts). That is only
// safe if nothing loads a provider before the chosen cloud's load(): checked here in a fresh Node process.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { pruneInstall } from "../scripts/prune-install.ts";
import { allClouds } from "../stacks/clouds.ts";
import { InputError } from "../stacks/input-reader.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** Which provider packages a fresh process has loaded after running `code` (CommonJS: they land in require.cache). */
function providersLoadedAfter(code: string): string[] {
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { createRequire } from "node:module";
    import { cloudNamed } from ${module("../stacks/clouds.ts")};
    import { parseInputs } from ${module("../scripts/settings/inputs.ts")};
    import { reviewEnvironment } from ${module("../scripts/settings/review-env.ts")};
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
    assert.deepEqual(providersLoadedAfter('await cloudNamed("aws").load();'), ["provider-aws"]);
    assert.deepEqual(providersLoadedAfter('await cloudNamed("gcp").load();'), ["provider-google"]);
  });
});

describe("prune-install.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "prune-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const providers = ["provider-aws", "provider-google"];

  function fakeInstall(name: string): string {
    const modules = join(dir, name, "node_modules");
    for (const pkg of providers) {
      mkdirSync(join(modules, "@cdktf", pkg, "lib"), { recursive: true });
      writeFileSync(join(modules, "@cdktf", pkg, ".jsii"), "{}");
      writeFileSync(join(modules, "@cdktf", pkg, "lib", "index.js"), "");
    }
    mkdirSync(join(modules, "cdktf"), { recursive: true });
    return modules;
  }

  for (const cloud of allClouds()) {
    it(`cloud ${cloud.name} keeps ${cloud.providerPackages.join(", ")}, without jsii metadata`, async () => {
      const modules = fakeInstall(cloud.name);
      await pruneInstall(cloud.name, modules);
      for (const pkg of providers) {
        assert.equal(existsSync(join(modules, "@cdktf", pkg, "lib", "index.js")), cloud.providerPackages.includes(`@cdktf/${pkg}`), pkg);
        assert.equal(existsSync(join(modules, "@cdktf", pkg, ".jsii")), false);
      }
      assert.ok(existsSync(join(modules, "cdktf")), "everything else stays");
    });
  }

  it("refuses an unknown cloud, naming the input, before removing anything", async () => {
    const modules = fakeInstall("unknown");
    await assert.rejects(pruneInstall("AWS ", modules), (error: unknown) => error instanceof InputError && error.input === "cloud" && /one of aws, gcp/.test(error.message));
    for (const pkg of providers) assert.ok(existsSync(join(modules, "@cdktf", pkg, "lib", "index.js")), pkg);
  });
});
