// Builds a raw Terraform JSON configuration (what cdk.tf.json holds) made only of the built-in `terraform_data`
// resource, so that the real terraform binary can init/apply/destroy it offline. It mirrors the shape of the real
// stacks where it matters: one sensitive variable per runner (JIT_VARIABLE_PREFIX + index), fed through TF_VAR_,
// with the same base64 validation; a create-time provisioner that consumes the secret; a destroy-time cleanup.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JIT_VARIABLE_PREFIX } from "../../stacks/names.ts";

/** A Terraform interpolation, not a JS template: kept in one constant so that it reads as such. */
const SELF_INPUT = "$" + "{self.input}";

export interface TfDataStackOptions {
  /** Number of runner resources (runner_0 .. runner_<count-1>). */
  count: number;
  /** Where each runner's create-time provisioner writes marker-<i> (the sha256 hex of its secret). */
  markerDir: string;
  /** This index's provisioner exits 1 without writing its marker (a failing apply). */
  failIndex?: number;
}

export function markerPath(markerDir: string, index: number): string {
  return join(markerDir, `marker-${index}`);
}

export function tfDataStack(opts: TfDataStackOptions): Record<string, unknown> {
  const variable: Record<string, unknown> = {};
  const resources: Record<string, unknown> = {};
  const ids: string[] = [];
  for (let i = 0; i < opts.count; i++) {
    const v = `${JIT_VARIABLE_PREFIX}${i}`;
    variable[v] = {
      type: "string",
      sensitive: true,
      validation: [
        {
          condition: `\${can(regex("^[A-Za-z0-9+/=]+$", var.${v}))}`,
          error_message: `${v} must be base64.`,
        },
      ],
    };
    const create =
      i === opts.failIndex
        ? `echo "runner ${i} fails on purpose" >&2; exit 1`
        : `printf '%s' "$JIT_CONFIG" | sha256sum | cut -d' ' -f1 > "$MARKER"`;
    resources[`runner_${i}`] = {
      input: markerPath(opts.markerDir, i),
      provisioner: [
        { "local-exec": { command: create, environment: { JIT_CONFIG: `\${var.${v}}`, MARKER: SELF_INPUT } } },
        // Destroy-time provisioners may only reference self: the marker path lives in `input`.
        { "local-exec": { when: "destroy", command: 'rm -f "$MARKER"', environment: { MARKER: SELF_INPUT } } },
      ],
    };
    ids.push(`\${terraform_data.runner_${i}.id}`);
  }
  return {
    variable,
    resource: { terraform_data: resources },
    output: { ids: { value: ids } },
  };
}

/** Writes the stack as <dir>/cdk.tf.json and returns the JSON object. */
export async function writeTfDataStack(dir: string, opts: TfDataStackOptions): Promise<Record<string, unknown>> {
  const stack = tfDataStack(opts);
  await writeFile(join(dir, "cdk.tf.json"), `${JSON.stringify(stack, null, 2)}\n`);
  return stack;
}
