// npm run review: what a start would create, from the same inputs as the action, on a machine with no account.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InputError } from "../stacks/input-reader.ts";
import { review } from "../scripts/dev/review.ts";

const dir = mkdtempSync(join(tmpdir(), "review-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const outdir = () => join(dir, `out-${n++}`);

function row(text: string, name: string): string | undefined {
  return new RegExp(`^ {2}${name} +(.*)$`, "m").exec(text)?.[1];
}

describe("review", () => {
  it("with nothing set, shows the AWS example and writes its Terraform JSON", async () => {
    const { text, stackDir } = await review({}, outdir());
    assert.equal(row(text, "cloud"), "aws");
    assert.equal(row(text, "machines"), "1 x g4dn.xlarge");
    assert.equal(row(text, "GPUs checked before a job"), "1 per machine");
    assert.match(row(text, "estimated cost") ?? "", /^\$0\.53 per hour for 1 machine\(s\)/);
    assert.ok(JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).resource.aws_instance["runner-0"]);
  });

  it("on AWS, says plainly when nothing outside the machine caps its lifetime, and shows the schedule when something does", async () => {
    const without = await review({}, outdir());
    assert.match(row(without.text, "caveat") ?? "", /^lifetime-role is not set: on AWS only the machine's own timer .* and the stop job end the machine/);
    assert.equal(JSON.parse(readFileSync(join(without.stackDir, "cdk.tf.json"), "utf8")).resource.aws_scheduler_schedule, undefined);
    const role = "arn:aws:iam::123456789012:role/gpu-runner-lifetime";
    const withRole = await review({ GPU_RUNNER_LIFETIME_ROLE: role }, outdir());
    assert.equal(row(withRole.text, "caveat"), undefined);
    const schedule = JSON.parse(readFileSync(join(withRole.stackDir, "cdk.tf.json"), "utf8")).resource.aws_scheduler_schedule["lifetime-0"];
    assert.equal(schedule.target.role_arn, role);
  });

  it("reads the inputs from a JSON file, dropping an example value that contradicts them", async () => {
    const file = join(dir, "gpu.json");
    writeFileSync(file, JSON.stringify({ cloud: "gcp", project: "my-project", zone: "us-central1-a", "machine-type": "a2-highgpu-2g", count: 2 }));
    const { text } = await review({ GPU_RUNNER_CONFIG_FILE: file }, outdir());
    assert.equal(row(text, "cloud"), "gcp");
    // The example's gpu (nvidia-tesla-t4:1) does not fit an A2 type: dropped, the A2's own two GPUs counted.
    assert.equal(row(text, "machines"), "2 x a2-highgpu-2g");
    assert.equal(row(text, "GPUs checked before a job"), "2 per machine");
  });

  it("refuses the user's own bad input with the action's message", async () => {
    await assert.rejects(review({ GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_MACHINE_TYPE: "a2-highgpu-1g", GPU_RUNNER_GPU: "nvidia-tesla-t4:1" }, outdir()), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.equal(error.input, "gpu");
      return true;
    });
    await assert.rejects(review({ GPU_RUNNER_COUNT: "0" }, outdir()), /^InputError: Input 'count': got "0"/);
  });

  it("refuses a config file that is not a JSON object of inputs", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, "[1, 2]");
    await assert.rejects(review({ GPU_RUNNER_CONFIG_FILE: file }, outdir()), /GPU_RUNNER_CONFIG_FILE.*a JSON object/);
  });
});
