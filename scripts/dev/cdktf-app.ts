// The cdktf app behind `npx cdktf synth` and `npx cdktf plan` (cdktf.json): the same stack the action would apply,
// from the same GPU_RUNNER_* variables action.yml sets (or a JSON file named by GPU_RUNNER_CONFIG_FILE), through the
// action's own synthesis path. With none set it synthesizes the chosen cloud's example configuration (saying which
// values are examples), so a reviewer needs no cloud account.
import { synthesize } from "../phases/synthesize.ts";
import { describeExamples, parseReviewInputs } from "./review-env.ts";
import { readRunContext } from "../settings/run-context.ts";

const { env, inputs, examples } = parseReviewInputs(process.env);
if (inputs.mode !== "start")
  throw new Error("The cdktf app reviews a start: set GPU_RUNNER_MODE=start (or leave it unset).");
// On stderr: the cdktf CLI shows it, and stdout stays the CLI's own.
const filled = describeExamples(examples);
if (filled) console.error(filled);
// No outdir: the cdktf CLI says where through CDKTF_OUTDIR.
await synthesize({
  inputs,
  context: readRunContext(env, "."),
  label: env.GPU_RUNNER_REVIEW_LABEL ?? "gpu-0-1-00000000",
});
