// `npm run review`: what a start with these inputs would create, without creating anything. Reads the same
// GPU_RUNNER_* variables as the action (or GPU_RUNNER_CONFIG_FILE), filling in the cloud's example values where the
// user left them unset (and saying which), so it runs on a fresh clone with no cloud account and no token.
import { resolve } from "node:path";
import { InputError } from "../../stacks/input-reader.ts";
import { createTerraform } from "../adapters/terraform.ts";
import { describeStart, planStack } from "../phases/describe.ts";
import { explainFailure } from "../phases/explain.ts";
import { synthesize } from "../phases/synthesize.ts";
import { newLabel } from "../settings/label.ts";
import { describeExamples, parseReviewInputs } from "./review-env.ts";
import { readRunContext } from "../settings/run-context.ts";

export interface ReviewResult {
  text: string;
  stackDir: string;
}

export async function review(env: Record<string, string | undefined>, outdir: string): Promise<ReviewResult> {
  const { env: full, inputs, examples } = parseReviewInputs(env);
  if (inputs.mode !== "start")
    throw new InputError("mode", inputs.mode, "start (a review shows what a start would create)");
  const context = readRunContext(full, outdir);
  const label = newLabel(context);
  const { stackDir, stackJsonPath } = await synthesize({ inputs, context, label }, inputs.plan, outdir);
  const notices = inputs.notices.map((notice) => `Notice: ${notice}\n`).join("");
  const filled = describeExamples(examples);
  return {
    text: notices + (filled && `${filled}\n`) + describeStart(inputs, label, inputs.plan, stackJsonPath),
    stackDir,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { text, stackDir } = await review(process.env, resolve("cdktf.out"));
    console.log(text);
    if (process.argv.includes("--plan"))
      await planStack(stackDir, createTerraform({ log: (line) => console.log(line) }));
  } catch (error) {
    console.error(explainFailure(error));
    process.exitCode = 1;
  }
}
