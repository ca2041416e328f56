// The aws cloud's part of the shared tests: its contract (test/cloud-contract.test.ts), its words (test/layers.test.ts)
// and what it makes of each accelerator (test/accelerators.test.ts).
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { reviewVariable } from "../../../scripts/dev/review-env.ts";
import { type CloudCases, bootScriptLocal, type Json } from "../../kit/cloud-cases.ts";

export const cases: CloudCases = {
  contract: {
    // The example with a lifetime role, as a careful user sets it: the cap outside the machine is then a schedule.
    env: { [reviewVariable("lifetime-role")]: "arn:aws:iam::123456789012:role/gpu-runner-lifetime" },
    machines: (json) =>
      Object.values((json.resource?.aws_instance ?? {}) as Record<string, Json>).map((vm) => ({
        name: vm.tags?.Name,
        resource: vm,
        bootScript: bootScriptLocal(json, vm.user_data_base64, "base64gzip"),
        tagSets: { tags: vm.tags, volume_tags: vm.volume_tags },
      })),
    // EC2 has no run-time limit of its own: an EventBridge Scheduler schedule terminates the instance at a point in
    // time. The one whose TerminateInstances input names this machine's instance, and only that one.
    cloudLifetimeSeconds(machine, json, synthesizedAt) {
      const [key] =
        Object.entries(json.resource.aws_instance as Record<string, Json>).find(([, vm]) => vm === machine.resource) ??
        [];
      const schedules = Object.values((json.resource?.aws_scheduler_schedule ?? {}) as Record<string, Json>);
      const mine = schedules.filter((s) => String(s.target?.input).includes(`aws_instance.${key}.id`));
      assert.equal(mine.length, 1, `${machine.name}: one schedule terminates it`);
      const schedule = mine[0]!;
      assert.equal(schedule.target.arn, "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances");
      assert.equal(schedule.schedule_expression_timezone, "UTC");
      assert.equal(schedule.action_after_completion, "DELETE");
      const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(schedule.schedule_expression)?.[1];
      assert.ok(at, `${machine.name}: a one-time at() schedule`);
      return (Date.parse(`${at}Z`) - synthesizedAt) / 1000;
    },
    endsRatherThanStops: (machine) => assert.equal(machine.resource.instance_initiated_shutdown_behavior, "terminate"),
    deliveredBytes: (script) => gzipSync(script).length,
    ownership: true,
  },
  // No production file outside stacks/aws/ names the cloud (its services, its CLI, its image names).
  words: /\b(aws|ec2|amazon|ami|s3)\b/i,
  oidcLogin: "aws-actions/configure-aws-credentials",
  accelerators: {
    defaultImage: (arch) =>
      `resolve:ssm:/aws/service/deeplearning/ami/${arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id`,
    rows: [
      { accelerator: "t4", want: "g4dn.xlarge" },
      { accelerator: "T4:1", want: "g4dn.xlarge" },
      { accelerator: "t4:2", want: /t4 in a count that one aws machine carries, 1, 4 or 8/ },
      { accelerator: "t4:4", want: "g4dn.12xlarge" },
      { accelerator: "t4:8", want: "g4dn.metal" },
      { accelerator: "t4g", want: "g5g.xlarge", arch: "arm64" },
      { accelerator: "a10g", want: "g5.xlarge" },
      { accelerator: "l4", want: "g6.xlarge" },
      { accelerator: "l4:2", want: /1, 4 or 8/ },
      { accelerator: "l4:8", want: "g6.48xlarge" },
      { accelerator: "l40s", want: "g6e.xlarge" },
      // v100 (p3) is refused on the image input with the default image: test/inputs.test.ts, "the first run's facts".
      { accelerator: "a100", want: /a100 in a count that one aws machine carries, 8/ },
      { accelerator: "a100:8", want: "p4d.24xlarge" },
      { accelerator: "a100:16", want: /a100 in a count that one aws machine carries, 8/ },
      { accelerator: "a100-80gb:8", want: "p4de.24xlarge" },
      { accelerator: "h100", want: "p5.4xlarge" },
      { accelerator: "h100", want: "p5.4xlarge (spot)", inputs: { spot: "true" } },
      { accelerator: "h100:8", want: "p5.48xlarge" },
      { accelerator: "h200:8", want: "p5en.48xlarge" },
    ],
    wrongValues: [
      { input: "disk-type", value: "pd-ssd", expected: /one of gp3, io2/ },
      {
        input: "image",
        value: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
        expected: /AMI id/,
      },
      { input: "machine-type", value: "n1-standard-4", expected: /EC2 instance types/ },
    ],
  },
};
