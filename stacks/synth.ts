// Synthesizes one start's stack to Terraform JSON with cdktf, in a directory the action owns.
import { join } from "node:path";
import { App } from "cdktf";
import type { CloudDefinition } from "./cloud.ts";
import type { SharedStackConfig } from "./runner-stack.ts";

export const STACK_ID = "gpu-runner";

export interface SynthResult {
  /** The directory Terraform runs in: holds cdk.tf.json (and, with the artifact backend, the state). */
  stackDir: string;
  stackJsonPath: string;
}

/** Synchronous, as cdktf is: the cloud's provider bindings must have been loaded (`await cloud.load()`). */
export function synthesizeStack(
  cloud: CloudDefinition<unknown>,
  shared: SharedStackConfig,
  config: unknown,
  outdir: string,
): SynthResult {
  const app = new App({ outdir, skipValidation: false });
  cloud.createStack(app, STACK_ID, shared, config);
  app.synth();
  const stackDir = join(outdir, "stacks", STACK_ID);
  return { stackDir, stackJsonPath: join(stackDir, "cdk.tf.json") };
}
