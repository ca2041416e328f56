// The README is part of the interface: its workflows must be valid for GitHub, and its inputs table must say what
// action.yml and the parser really do.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cloudNames } from "../stacks/clouds.ts";
import { workflowErrors } from "./kit/action-file.ts";
import { inputsTable, README_PATH, readmeTable } from "./kit/inputs-table.ts";

const readme = readFileSync(README_PATH, "utf8");

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

describe("README", () => {
  const workflows = yamlBlocks(readme).filter((block) => /^jobs:/m.test(block));

  it("has the start / GPU job / stop workflows for every cloud", () => {
    assert.ok(workflows.length >= cloudNames().length, `found ${workflows.length} workflow blocks`);
    for (const cloud of cloudNames()) {
      assert.ok(
        workflows.some((w) => w.includes(`cloud: ${cloud}`) && w.includes("mode: start") && w.includes("mode: stop")),
        cloud,
      );
    }
  });

  for (const [index, workflow] of workflows.entries()) {
    it(`workflow ${index + 1} is valid for GitHub's workflow parser`, () => {
      assert.deepEqual(workflowErrors(workflow, `readme-${index + 1}.yml`), []);
    });
  }

  it("the workflow check catches a broken workflow (so the tests above can fail)", () => {
    const broken = (workflows[0] ?? "").replace("runs-on: ubuntu-latest", "runs-onn: ubuntu-latest");
    assert.ok(workflowErrors(broken).length > 0);
  });

  it("every stop job runs whatever happened to the jobs before it", () => {
    for (const workflow of workflows) {
      const stopJob = workflow.slice(workflow.indexOf("stop-runner:"));
      assert.match(stopJob, /if: \$\{\{ always\(\)/);
    }
  });

  it("its inputs table matches action.yml and the parser (regenerate: npx tsx test/kit/inputs-table.ts --write)", () => {
    assert.equal(readmeTable(readme), inputsTable());
  });

  it("its quick start is the two commands CI and newcomers run", () => {
    assert.match(readme, /npm ci && npm run review/);
    assert.match(readme, /\nnpm test\s/);
    assert.match(readFileSync(new URL("../.ci/run", import.meta.url), "utf8"), /\nnpm test\n/);
  });

  it("its 'Adding a cloud' sketch type-checks against the real cloud interface", () => {
    const section = readme.slice(readme.indexOf("## Adding a cloud"), readme.indexOf("## Contributing and releases"));
    const sketch = /```ts\n(\/\/ stacks\/mycloud\/index\.ts\n[\s\S]*?)```/.exec(section)?.[1];
    assert.ok(sketch, "the section has a ts block starting with // stacks/mycloud/index.ts");
    assert.equal(typeCheckSketch(sketch), "");
    // And the check can fail: the same sketch missing a fact every cloud must give is refused.
    assert.match(typeCheckSketch(sketch.replace(/^ {4}capacityErrors: .*\n/m, "")), /capacityErrors/);
  });
});

/**
 * Compiles a cloud file written as if it lay in stacks/ (its ./ imports pointed at the real stacks/ files) with the
 * project's compiler settings. Only the provider package is stood in for, by a declaration of the two classes the
 * sketch uses. Returns the compiler's complaints, "" when there are none.
 */
function typeCheckSketch(source: string): string {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "readme-sketch-"));
  try {
    writeFileSync(
      join(dir, "mycloud.ts"),
      source.replace(
        /from "\.\.\/([\w-]+\.ts)"/g,
        (_, file: string) => `from ${JSON.stringify(join(root, "stacks", file))}`,
      ),
    );
    writeFileSync(
      join(dir, "provider-mycloud.d.ts"),
      `declare module "@cdktf/provider-mycloud/lib/provider/index.js" {
  export class MycloudProvider { constructor(scope: unknown, id: string, config: { region: string }); }
}
declare module "@cdktf/provider-mycloud/lib/instance/index.js" {
  export class Instance {
    constructor(scope: unknown, id: string, config: { name: string; machineType: string; image: string; userData: string; tags: Record<string, string> });
    readonly id: string;
  }
}
`,
    );
    const { compilerOptions } = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8"));
    const config = {
      compilerOptions: { ...compilerOptions, typeRoots: [join(root, "node_modules", "@types")] },
      files: ["mycloud.ts", "provider-mycloud.d.ts"],
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
    const run = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(dir, "tsconfig.json")], {
      encoding: "utf8",
    });
    return `${run.stdout}${run.stderr}`.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
