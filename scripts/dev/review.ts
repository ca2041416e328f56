// `npm run review`: what a start with these inputs would create, without creating anything. Reads the same
// GPU_RUNNER_* variables as the action (or GPU_RUNNER_CONFIG_FILE), filling in the cloud's example values where the
// user left them unset (and saying which), so it runs on a fresh clone with no cloud account and no token.
import { resolve } from "node:path";
import { InputError } from "../../stacks/input-reader.ts";
import type { PreflightRequest } from "../../stacks/preflight.ts";
import { stackTags } from "../../stacks/runner-stack.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import { commandRunner } from "../adapters/command.ts";
import { createTerraform } from "../adapters/terraform.ts";
import { describeStart, planStack } from "../phases/describe.ts";
import { explainFailure } from "../phases/explain.ts";
import { PreflightError, preflight, preflightMarkdown } from "../phases/preflight.ts";
import { buildStackConfig, synthesize } from "../phases/synthesize.ts";
import type { StartInputs } from "../settings/inputs.ts";
import { newLabel } from "../settings/label.ts";
import { describeExamples, parseReviewInputs } from "./review-env.ts";
import { readRunContext } from "../settings/run-context.ts";

export interface ReviewResult {
  text: string;
  stackDir: string;
  /** What `--preflight` asks the cloud with (the same request a start sends). */
  preflight: { inputs: StartInputs; request: PreflightRequest };
}

export async function review(env: Record<string, string | undefined>, outdir: string): Promise<ReviewResult> {
  const { env: full, inputs, examples } = parseReviewInputs(env);
  if (inputs.mode !== "start")
    throw new InputError("mode", inputs.mode, "start (a review shows what a start would create)");
  const context = readRunContext(full, outdir);
  const label = newLabel(context);
  const { stackDir, stackJsonPath } = await synthesize({ inputs, context, label }, inputs.plan, outdir);
  const request = { count: inputs.count, tags: stackTags(buildStackConfig({ inputs, context, label })) };
  const notices = inputs.notices.map((notice) => `Notice: ${notice}\n`).join("");
  const filled = describeExamples(examples);
  return {
    text: notices + (filled && `${filled}\n`) + describeStart(inputs, label, inputs.plan, stackJsonPath),
    stackDir,
    preflight: { inputs, request },
  };
}

/** The preflight's log lines on the terminal, as the action's log shows them. */
const consoleIO: Pick<ActionIO, "group" | "info" | "warning"> = {
  group: async <T>(title: string, body: () => Promise<T>) => {
    console.log(title);
    return body();
  },
  info: (line) => console.log(`  ${line}`),
  warning: (line) => console.log(`  warning: ${line}`),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { text, stackDir, preflight: asked } = await review(process.env, resolve("cdktf.out"));
    console.log(text);
    // The cloud's own answers, with your credentials: read-only questions, nothing is created.
    if (process.argv.includes("--preflight")) {
      const { inputs, request } = asked;
      const run = commandRunner(process.env, inputs.cloud.environment);
      const report = await preflight(inputs.plan, request, run, consoleIO);
      console.log(preflightMarkdown(report));
      if (report.failed) throw new PreflightError(report);
    }
    if (process.argv.includes("--plan"))
      await planStack(stackDir, createTerraform({ log: (line) => console.log(line) }));
  } catch (error) {
    console.error(explainFailure(error));
    process.exitCode = 1;
  }
}
