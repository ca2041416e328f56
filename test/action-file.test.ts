// action.yml is code too: it must parse as GitHub parses it, map every input the scripts read, and never let an
// input's text reach a shell as code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { OUTPUTS } from "../scripts/lib/constants.ts";
import { INPUT_ENV_PREFIX, inputEnvName } from "../stacks/names.ts";
import { reviewEnvironment } from "../scripts/settings/review-env.ts";
import { ACTION_PATH, actionErrors, readActionFile } from "./kit/action-file.ts";
import { variablesRead } from "./kit/inputs-table.ts";
import { FAKE_TOKEN, inputEnv, LOCAL_KIND_ENV } from "./kit/env.ts";

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
    assert.equal(mainStep.run, "exec node --import tsx/esm scripts/main.ts");
    assert.equal(mainStep["working-directory"], "${{ github.action_path }}");
  });

  it("maps every input to its GPU_RUNNER_* variable in the main step, and nothing else to that prefix", () => {
    const env = mainStep?.env ?? {};
    for (const input of Object.keys(action.inputs)) {
      assert.equal(env[inputEnvName(input)], `\${{ inputs.${input} }}`, `input ${input}`);
    }
    const mapped = Object.keys(env).filter((k) => k.startsWith(INPUT_ENV_PREFIX));
    assert.equal(mapped.length, Object.keys(action.inputs).length);
  });

  it("declares every input the scripts read, for every cloud and both modes", () => {
    const declared = new Set(Object.keys(action.inputs).map(inputEnvName));
    const read = new Set<string>();
    for (const cloud of cloudNames()) {
      for (const backend of ["artifact", cloudNamed(cloud)?.stateStore?.kind ?? "artifact"]) {
        const env = reviewEnvironment(
          inputEnv({ cloud, "state-backend": backend, "state-bucket": "bucket-name", "state-region": "us-east-1" }, LOCAL_KIND_ENV),
        );
        for (const name of variablesRead(env)) read.add(name);
      }
    }
    for (const name of variablesRead(inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-id": "gpu-1-1-0a1b2c3d" }))) read.add(name);
    const missing = [...read].filter((name) => !declared.has(name));
    assert.deepEqual(missing, [], "variables read by the scripts but not mapped from an input in action.yml");
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
    assert.match(upload?.if ?? "", /^always\(\) && steps\.check\.outputs\.mode == 'start' && steps\.check\.outputs\.state-backend == 'artifact'/);
    assert.match(download?.if ?? "", /^steps\.check\.outputs\.mode == 'stop' && steps\.check\.outputs\.state-backend == 'artifact'/);
    for (const step of action.runs.steps) {
      for (const field of [step.if, ...Object.values(step.with ?? {})]) {
        assert.doesNotMatch(String(field ?? ""), /inputs\.(mode|cloud|state-backend)\b/, `${step.name ?? step.id ?? step.uses} decides on a raw input`);
      }
    }
    assert.equal(upload?.with?.name, "gpu-runner-state-${{ steps.main.outputs.state-id }}");
    assert.equal(download?.with?.name, "gpu-runner-state-${{ inputs.state-id }}");
    assert.equal(download?.["continue-on-error"], true, "stop goes on when there is no state to download");
    const order = action.runs.steps.map((s) => s.id ?? s.uses ?? s.name);
    assert.ok(order.indexOf(download?.uses) < order.indexOf("main") && order.indexOf("main") < order.indexOf(upload?.uses));
  });

  it("pins every third-party action to a full commit sha", () => {
    for (const step of action.runs.steps) {
      if (step.uses) assert.match(step.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, step.uses);
    }
  });
});
