// The action prunes the other clouds' provider packages from its install (scripts/prune-install.ts). That is only
// safe if nothing loads a provider before the chosen cloud's load(): checked here in a fresh Node process.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { allClouds, cloudNames } from "../stacks/clouds.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** Which provider packages a fresh process has loaded after running `code` (CommonJS: they land in require.cache). */
function providersLoadedAfter(code: string): string[] {
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { createRequire } from "node:module";
    import { cloudNamed } from ${module("../stacks/clouds.ts")};
    import { parseInputs } from ${module("../scripts/settings/inputs.ts")};
    import { reviewEnvironment } from ${module("../scripts/dev/review-env.ts")};
    ${code}
    const loaded = new Set(Object.keys(createRequire(import.meta.url).cache)
      .map((path) => /@cdktf\\/(provider-[a-z]+)\\//.exec(path)?.[1]).filter(Boolean));
    console.log(JSON.stringify([...loaded].sort()));
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: repo,
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "[]");
}

describe("provider bindings load lazily", () => {
  it("parsing inputs for any cloud loads no provider", () => {
    const parses = cloudNames().map(
      (name) => `parseInputs(reviewEnvironment({ GPU_RUNNER_CLOUD: ${JSON.stringify(name)} }));`,
    );
    assert.ok(parses.length > 1);
    assert.deepEqual(providersLoadedAfter(parses.join("\n")), []);
  });

  it("loading one cloud loads only its provider", () => {
    for (const cloud of allClouds()) {
      const expected = cloud.terraform.providerPackages.map((pkg) => pkg.split("/").at(-1));
      assert.deepEqual(
        providersLoadedAfter(`await cloudNamed(${JSON.stringify(cloud.name)}).terraform.load();`),
        expected,
        cloud.name,
      );
    }
  });
});

describe("prune-install.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "prune-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of the action (its own files copied, node_modules hard-linked: pruning the copy leaves this one whole). */
  function actionCopy(name: string): string {
    const copy = join(dir, name);
    mkdirSync(copy);
    for (const entry of ["scripts", "stacks", "package.json", "cdktf.json"])
      cpSync(join(repo, entry), join(copy, entry), { recursive: true });
    execFileSync("cp", ["-al", join(repo, "node_modules"), join(copy, "node_modules")]);
    return copy;
  }
  const run = (copy: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ["--import", "tsx", ...args], {
      cwd: copy,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
  const megabytes = (path: string) => Number(execFileSync("du", ["-sm", path], { encoding: "utf8" }).split("\t")[0]);

  for (const cloud of allClouds()) {
    it(`cloud ${cloud.name}: only the modules its stack loads are kept, and a review synthesizes from the pruned tree`, () => {
      const copy = actionCopy(cloud.name);
      const pruned = run(copy, ["scripts/prune-install.ts", cloud.name]);
      assert.equal(pruned.status, 0, pruned.stderr);
      for (const other of allClouds().filter((c) => c.name !== cloud.name)) {
        for (const pkg of other.terraform.providerPackages)
          assert.ok(!existsSync(join(copy, "node_modules", pkg)), `${pkg} removed`);
      }
      for (const pkg of cloud.terraform.providerPackages) {
        const kept = readdirSync(join(copy, "node_modules", pkg), { recursive: true }).length;
        assert.ok(kept < 100, `${pkg}: ${kept} entries kept of thousands`);
        assert.ok(megabytes(join(copy, "node_modules", pkg)) < 10, `${pkg} is a few MB at most`);
      }
      const review = run(copy, ["scripts/dev/review.ts"], { GPU_RUNNER_CLOUD: cloud.name });
      assert.equal(review.status, 0, review.stderr);
      assert.match(review.stdout, new RegExp(`cloud +${cloud.name}\\n`));
      const app = run(copy, ["scripts/dev/cdktf-app.ts"], {
        GPU_RUNNER_CLOUD: cloud.name,
        CDKTF_OUTDIR: join(copy, "cdktf.out"),
      });
      assert.equal(app.status, 0, app.stderr);

      // The check can fail: take one module the stack needs out of the pruned tree, and the review says so. (A cloud
      // whose stack needs no provider package, built of Terraform's own resources, has none to take out.)
      if (cloud.terraform.providerPackages.length === 0) return;
      const provider = join(copy, "node_modules", cloud.terraform.providerPackages[0]!);
      const needed = readdirSync(provider, { recursive: true })
        .map(String)
        .find((f) => f.endsWith("index.js") && f.includes("/"));
      assert.ok(needed);
      rmSync(join(provider, needed));
      const broken = run(copy, ["scripts/dev/review.ts"], { GPU_RUNNER_CLOUD: cloud.name });
      assert.notEqual(broken.status, 0);
      assert.match(broken.stderr + broken.stdout, /Cannot find module|ERR_MODULE_NOT_FOUND/);
    });
  }

  it("refuses an unknown cloud, naming the input, before removing anything", () => {
    const copy = actionCopy("unknown");
    const pruned = run(copy, ["scripts/prune-install.ts", "AWS "]);
    assert.notEqual(pruned.status, 0);
    assert.ok(
      pruned.stderr.includes(`Input 'cloud': got "AWS "; expected one of ${cloudNames().join(", ")}.`),
      pruned.stderr,
    );
    for (const cloud of allClouds())
      for (const pkg of cloud.terraform.providerPackages)
        assert.ok(existsSync(join(copy, "node_modules", pkg, "package.json")), pkg);
  });
});
