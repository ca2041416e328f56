// The README is part of the interface: its workflows must be valid for GitHub, and its inputs table must say what
// action.yml and the parser really do.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { workflowErrors } from "./kit/action-file.ts";
import { inputsTable, README_PATH, readmeTable } from "./kit/inputs-table.ts";

const readme = readFileSync(README_PATH, "utf8");

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

describe("README", () => {
  const workflows = yamlBlocks(readme).filter((block) => /^jobs:/m.test(block));

  it("has the start / GPU job / stop workflows for both clouds", () => {
    assert.ok(workflows.length >= 2, `found ${workflows.length} workflow blocks`);
    for (const cloud of ["aws", "gcp"]) {
      assert.ok(workflows.some((w) => w.includes(`cloud: ${cloud}`) && w.includes("mode: start") && w.includes("mode: stop")), cloud);
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
});
