// The cdktf app behind `npx cdktf synth` and `npx cdktf plan`: the same stack the action would apply, from the
// same GPU_RUNNER_* variables action.yml sets (or a JSON file named by GPU_RUNNER_CONFIG_FILE). With none set it
// synthesizes the chosen cloud's example configuration, so a reviewer needs no cloud account.
import { App } from "cdktf";
import { readRunContext } from "../settings/inputs.ts";
import { parseReviewInputs } from "../settings/review-env.ts";
import { buildStackConfig } from "../phases/synthesize.ts";
import { STACK_ID } from "../../stacks/synth.ts";

const { env, inputs } = parseReviewInputs(process.env);
if (inputs.mode !== "start") throw new Error("The cdktf app reviews a start: set GPU_RUNNER_MODE=start (or leave it unset).");
const context = readRunContext(env, ".");
const app = new App();
await inputs.cloud.load();
inputs.cloud.createStack(app, STACK_ID, buildStackConfig(inputs, context, env.GPU_RUNNER_REVIEW_LABEL ?? "gpu-0-1-00000000"), inputs.cloudConfig);
app.synth();
