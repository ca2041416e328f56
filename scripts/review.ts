// `npm run review`: what a start with these inputs would create, without creating anything. Reads the same
// GPU_RUNNER_* variables as the action (or GPU_RUNNER_CONFIG_FILE), filling in the cloud's example values, so it
// runs on a fresh clone with no cloud account and no token.
import { resolve } from "node:path";
import { synthesizeStack } from "../stacks/synth.ts";
import { InputError } from "./input-readers.ts";
import { parseInputs, readRunContext, type StartInputs } from "./inputs.ts";
import { newLabel } from "./label.ts";
import { buildStackConfig } from "./stack-config.ts";
import { reviewEnvironment } from "./review-env.ts";

export async function review(env: Record<string, string | undefined>, outdir: string): Promise<string> {
  const full = reviewEnvironment(env);
  const inputs = parseInputs(full);
  if (inputs.mode !== "start") throw new InputError("mode", inputs.mode, "start (a review shows what a start would create)");
  const context = readRunContext(full, outdir);
  const label = newLabel(context);
  const shared = buildStackConfig(inputs, context, label);
  await inputs.cloud.load();
  const { stackJsonPath } = synthesizeStack(inputs.cloud, shared, inputs.cloudConfig, outdir);
  return describe(inputs, label, shared.boot.expectedGpus, stackJsonPath);
}

function describe(inputs: StartInputs, label: string, gpus: number, stackJsonPath: string): string {
  const machine = inputs.cloud.summary(inputs.cloudConfig);
  const rows: [string, string][] = [
    ["cloud", inputs.cloud.name],
    ["machines", `${inputs.count} x ${machine.machineType}`],
    ["GPUs checked before a job", gpus > 0 ? `${gpus} per machine` : "no check (set expected-gpus)"],
    ["location", machine.location],
    ["image", machine.image],
    ["runner label", `${label} (a new one on every start)`],
    ["lifetime cap", `${inputs.maxLifetimeMinutes} min; idle ${inputs.idleTimeoutMinutes} min; online wait ${inputs.runnerTimeoutMinutes} min`],
    ["runner user", `${inputs.runnerUser}${inputs.runnerSudo ? " (passwordless sudo)" : ""}`],
    ["extra tags", Object.keys(inputs.tags).length > 0 ? JSON.stringify(inputs.tags) : "none (ownership tags are always added)"],
    ["state", inputs.stateBackend.kind === "artifact" ? "encrypted workflow artifact" : `${inputs.stateBackend.kind} bucket ${inputs.stateBackend.bucket}`],
    ["Terraform JSON", stackJsonPath],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    "Review: what a start would create (nothing was created)",
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    "",
    `Inspect the JSON, or run 'npx cdktf plan' with cloud credentials to see Terraform's plan.`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(await review(process.env, resolve("cdktf.out")));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}

