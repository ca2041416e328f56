// `npm run review`: what a start with these inputs would create, without creating anything. Reads the same
// GPU_RUNNER_* variables as the action (or GPU_RUNNER_CONFIG_FILE), filling in the cloud's example values, so it
// runs on a fresh clone with no cloud account and no token.
import { resolve } from "node:path";
import { PRICES_AS_OF } from "../../stacks/prices.ts";
import { synthesizeStack } from "../../stacks/synth.ts";
import { explainFailure } from "../phases/explain.ts";
import { InputError } from "../../stacks/input-reader.ts";
import { readRunContext, type StartInputs } from "../settings/inputs.ts";
import { newLabel } from "../settings/label.ts";
import { parseReviewInputs } from "../settings/review-env.ts";
import { buildStackConfig, expectedGpus } from "../phases/synthesize.ts";
import { jitPlaceholders } from "../phases/teardown.ts";
import { createTerraform, type Terraform } from "../adapters/terraform.ts";

export interface ReviewResult {
  text: string;
  stackDir: string;
}

export async function review(env: Record<string, string | undefined>, outdir: string): Promise<ReviewResult> {
  const { env: full, inputs } = parseReviewInputs(env);
  if (inputs.mode !== "start") throw new InputError("mode", inputs.mode, "start (a review shows what a start would create)");
  const context = readRunContext(full, outdir);
  const label = newLabel(context);
  const shared = buildStackConfig(inputs, context, label);
  await inputs.cloud.load();
  const { stackDir, stackJsonPath } = synthesizeStack(inputs.cloud, shared, inputs.cloudConfig, outdir);
  return { text: describeStart(inputs, label, inputs.cloudConfig, stackJsonPath), stackDir };
}

/** The readable summary of what a start with these inputs creates: printed by review and by dry-run. */
export function describeStart(inputs: StartInputs, label: string, cloudConfig: unknown, stackJsonPath: string): string {
  const gpus = expectedGpus(inputs, cloudConfig);
  const machine = inputs.cloud.summary(cloudConfig);
  const price = inputs.cloud.hourlyPriceUsd(cloudConfig);
  const rows: [string, string][] = [
    ["cloud", inputs.cloud.name],
    ["machines", `${inputs.count} x ${machine.machineType}`],
    ["GPUs checked before a job", gpus > 0 ? `${gpus} per machine` : "no check (set expected-gpus)"],
    ["location", machine.location],
    ["image", machine.image],
    ["runner label", `${label} (a new one on every start)`],
    ["lifetime cap", `${inputs.maxLifetimeMinutes} min; idle ${inputs.idleTimeoutMinutes} min; online wait ${inputs.runnerTimeoutMinutes} min`],
    ["runner user", `${inputs.runnerUser}${inputs.runnerSudo ? " (passwordless sudo)" : ""}`],
    ["estimated cost", price === undefined ? "unknown (no list price for this machine type)" : `$${(price * inputs.count).toFixed(2)} per hour for ${inputs.count} machine(s) (on-demand list price of ${PRICES_AS_OF})`],
    ["extra tags", Object.keys(inputs.tags).length > 0 ? JSON.stringify(inputs.tags) : "none (ownership tags are always added)"],
    ["state", inputs.stateBackend.kind === "artifact" ? "encrypted workflow artifact" : `${inputs.stateBackend.kind} bucket ${inputs.stateBackend.bucket}`],
    ["Terraform JSON", stackJsonPath],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    "Review: what a start would create (nothing was created)",
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    "",
    "Inspect the JSON, or add --plan (with the cloud's credentials) to see Terraform's plan.",
  ].join("\n");
}

/** `terraform init` and `plan` of a synthesized stack; init needs the provider registry and plan the credentials. */
export async function planStack(stackDir: string, terraform: Terraform): Promise<void> {
  await terraform.init(stackDir);
  await terraform.plan(stackDir, { secretEnv: await jitPlaceholders(stackDir) });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { text, stackDir } = await review(process.env, resolve("cdktf.out"));
    console.log(text);
    if (process.argv.includes("--plan")) await planStack(stackDir, createTerraform({ log: (line) => console.log(line) }));
  } catch (error) {
    console.error(explainFailure(error));
    process.exitCode = 1;
  }
}

