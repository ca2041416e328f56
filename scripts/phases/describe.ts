// What a start with these inputs creates, said before anything exists: printed by a dry-run and by `npm run review`,
// and Terraform's own plan of it.
import type { MachinePlan } from "../../stacks/cloud.ts";
import type { Terraform } from "../adapters/terraform.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { describeWorstCase, dollars, worstCase } from "../settings/worst-case.ts";
import { gpuCheck } from "./synthesize.ts";
import { jitPlaceholders } from "./teardown.ts";

export function describeStart(inputs: StartInputs, label: string, plan: MachinePlan, stackJsonPath: string): string {
  const machine = plan.summary();
  const price = plan.hourlyPriceUsd();
  const rows: [string, string][] = [
    ["cloud", plan.cloud.name],
    ["machines", `${inputs.count} x ${machine.machineType}`],
    ["GPUs checked before a job", gpuCheck(inputs, plan)],
    ["location", machine.location],
    ["image", machine.image],
    ["runner label", `${label} (a new one on every start)`],
    [
      "lifetime cap",
      `${inputs.maxLifetimeMinutes} min; idle ${inputs.idleTimeoutMinutes} min; online wait ${inputs.runnerTimeoutMinutes} min`,
    ],
    ["runner user", `${inputs.runnerUser}${inputs.runnerSudo ? " (passwordless sudo)" : ""}`],
    [
      "estimated cost",
      price === undefined
        ? "unknown (no list price for this machine type)"
        : machine.spot
          ? `at most $${(price * inputs.count).toFixed(2)} per hour for ${inputs.count} machine(s) (Spot; the on-demand list price of ${plan.cloud.catalog.pricesAsOf} is the upper bound)`
          : `$${(price * inputs.count).toFixed(2)} per hour for ${inputs.count} machine(s) (on-demand list price of ${plan.cloud.catalog.pricesAsOf})`,
    ],
    [
      "worst case",
      `${describeWorstCase(worstCase(plan, inputs.count, inputs.maxLifetimeMinutes))}; max-cost ${
        inputs.maxCostUsd === undefined ? "not set" : dollars(inputs.maxCostUsd)
      }`,
    ],
    [
      "extra tags",
      Object.keys(inputs.tags).length > 0 ? JSON.stringify(inputs.tags) : "none (ownership tags are always added)",
    ],
    ["state", `encrypted, in ${inputs.stateStore ? inputs.stateStore.description : "a workflow artifact"}`],
    ["Terraform JSON", stackJsonPath],
    ...(machine.caveats ?? []).map((caveat): [string, string] => ["caveat", caveat]),
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
