// action.yml is code too: it must parse as GitHub parses it, declare every input the scripts read and pass them all
// in one variable, and never let an input's text reach a shell as code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { OUTPUTS } from "../scripts/lib/constants.ts";
import { INPUTS_VARIABLE } from "../stacks/names.ts";
import { reviewEnvironment } from "../scripts/dev/review-env.ts";
import { ACTION_PATH, actionErrors, readActionFile } from "./kit/action-file.ts";
import { inputsRead } from "./kit/inputs-table.ts";
import { FAKE_TOKEN, inputEnv, LOCAL_KIND_ENV, reviewVariables } from "./kit/env.ts";

const action = readActionFile();
const mainStep = action.runs.steps.find((s) => s.id === "main");

describe("action.yml", () => {
  it("is valid for GitHub's action parser", () => {
    assert.deepEqual(actionErrors(readFileSync(ACTION_PATH, "utf8")), []);
  });

  it("the parser check catches a broken file (so the test above can fail)", () => {
    const broken = readFileSync(ACTION_PATH, "utf8").replace("using: composite", "using: compost");
    assert.ok(actionErrors(broken).length > 0);
  });

  it("is a composite action whose main step runs the scripts from source with tsx, node as the step's entry process", () => {
    assert.equal(action.runs.using, "composite");
    assert.ok(mainStep, "a step with id: main");
    // Through the launcher that keeps the step's secrets from the transpiler (test/launch.test.ts).
    assert.equal(mainStep.run, "exec node scripts/launch.mjs scripts/main.ts");
    assert.equal(mainStep["working-directory"], "${{ github.action_path }}");
  });

  it("passes the main step every input in one variable, toJSON(inputs), and no input any other way", () => {
    const env = mainStep?.env ?? {};
    assert.equal(env[INPUTS_VARIABLE], "${{ toJSON(inputs) }}");
    const others = Object.entries(env).filter(
      ([name, value]) => name !== INPUTS_VARIABLE && /\binputs\b/i.test(String(value)),
    );
    assert.deepEqual(others, [], "the main step reads inputs only from the inputs variable");
  });

  it("GitHub's parser refuses the inputs variable with a wrong context or function (so the test above can fail)", () => {
    const text = readFileSync(ACTION_PATH, "utf8");
    for (const wrong of ["toJSON(input)", "toJSON(secrets)", "toJSN(inputs)"]) {
      assert.ok(actionErrors(text.replace("toJSON(inputs)", wrong)).length > 0, wrong);
    }
  });

  it("declares every input the scripts read, for every cloud and every mode", () => {
    const declared = new Set(Object.keys(action.inputs));
    const read = new Set<string>();
    for (const cloud of cloudNames()) {
      for (const backend of ["artifact", cloudNamed(cloud)?.stateStore?.kind ?? "artifact"]) {
        const env = reviewEnvironment(
          reviewVariables(
            { cloud, "state-backend": backend, "state-bucket": "bucket-name", "state-region": "us-east-1" },
            LOCAL_KIND_ENV,
          ),
        );
        for (const input of inputsRead(env)) read.add(input);
      }
    }
    for (const mode of ["stop", "sweep"]) {
      for (const input of inputsRead(inputEnv({ mode, "github-token": FAKE_TOKEN, "state-id": "gpu-1-1-0a1b2c3d" })))
        read.add(input);
    }
    assert.ok(read.has("machine-type") && read.has("state-id"), "the probe sees the reads (it is not vacuous)");
    const missing = [...read].filter((input) => !declared.has(input));
    assert.deepEqual(
      missing,
      [],
      "inputs read by the scripts but not declared in action.yml (toJSON(inputs) would never hold them)",
    );
  });

  it("never expands an expression inside a run: script (inputs travel as environment variables)", () => {
    for (const step of action.runs.steps) {
      if (step.run) assert.ok(!step.run.includes("${{"), `step ${step.name ?? step.id} has \${{ }} in run:`);
    }
  });

  it("exposes the documented outputs from the main step", () => {
    for (const output of Object.values(OUTPUTS)) {
      assert.equal(action.outputs[output]?.value, `\${{ steps.main.outputs.${output} }}`);
    }
  });

  it("uploads the state even when start failed or was cancelled, and downloads it for stop", () => {
    const upload = action.runs.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    const download = action.runs.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"));
    // Conditions read the checked values (steps.check), never a raw input that " start" would slip past.
    assert.match(
      upload?.if ?? "",
      /^always\(\) && steps\.check\.outputs\.mode == 'start' && steps\.check\.outputs\.state-backend == 'artifact'/,
    );
    assert.match(
      download?.if ?? "",
      /^steps\.check\.outputs\.mode == 'stop' && steps\.check\.outputs\.state-backend == 'artifact'/,
    );
    for (const step of action.runs.steps) {
      for (const field of [step.if, ...Object.values(step.with ?? {})]) {
        assert.doesNotMatch(
          String(field ?? ""),
          /inputs\.(mode|cloud|state-backend)\b/,
          `${step.name ?? step.id ?? step.uses} decides on a raw input`,
        );
      }
    }
    assert.equal(upload?.with?.name, "gpu-runner-state-${{ steps.main.outputs.state-id }}");
    assert.equal(download?.with?.name, "gpu-runner-state-${{ inputs.state-id }}");
    assert.equal(download?.["continue-on-error"], true, "stop goes on when there is no state to download");
    const order = action.runs.steps.map((s) => s.id ?? s.uses ?? s.name);
    assert.ok(
      order.indexOf(download?.uses) < order.indexOf("main") && order.indexOf("main") < order.indexOf(upload?.uses),
    );
  });

  it("pins every third-party action to a full commit sha", () => {
    for (const step of action.runs.steps) {
      if (step.uses) assert.match(step.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, step.uses);
    }
  });
});
