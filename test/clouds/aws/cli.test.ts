// The AWS cloud's CLI seam and capacity choices: the exact commands it issues to find, delete and read machines,
// and the order of the configurations it tries. (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { awsCloud as CLOUD } from "../../../stacks/aws/index.ts";
import type { AwsConfig } from "../../../stacks/aws/config.ts";
import type { CommandRunner } from "../../../stacks/cloud.ts";
import { InputReader } from "../../../stacks/input-reader.ts";
import { inputEnv } from "../../kit/env.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";

const AWS_CONFIG: AwsConfig = {
  region: "us-east-1",
  instanceType: "g5.xlarge",
  fallbackInstanceTypes: ["g4dn.xlarge"],
  image: { kind: "id", id: "ami-0123456789abcdef0" },
  diskSizeGb: 100,
  diskType: "gp3",
  subnetId: "subnet-00000001",
  fallbackSubnetIds: ["subnet-00000002"],
  fallbackZones: [],
  securityGroupIds: [],
  publicIp: false,
  spot: true,
};

describe("capacity alternatives", () => {
  it("aws: Spot over every type and subnet first, then on-demand, the user's order kept", () => {
    const tried = CLOUD.plan(AWS_CONFIG)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.spot ? "spot" : "on-demand"} ${c.instanceType} ${c.subnetId}`);
    assert.deepEqual(tried, [
      "spot g5.xlarge subnet-00000001",
      "spot g5.xlarge subnet-00000002",
      "spot g4dn.xlarge subnet-00000001",
      "spot g4dn.xlarge subnet-00000002",
      "on-demand g5.xlarge subnet-00000001",
      "on-demand g5.xlarge subnet-00000002",
      "on-demand g4dn.xlarge subnet-00000001",
      "on-demand g4dn.xlarge subnet-00000002",
    ]);
  });

  it("aws: without spot or lists, the one configuration", () => {
    const single = { ...AWS_CONFIG, spot: false, fallbackInstanceTypes: [], fallbackSubnetIds: [] };
    assert.deepEqual(
      CLOUD.plan(single)
        .alternatives()
        .map((p) => CLOUD.configOf(p)),
      [{ ...single, availabilityZone: undefined }],
    );
  });

  it("aws: Availability Zones of the default VPC in order, when no subnet is given", () => {
    const zones = {
      ...AWS_CONFIG,
      spot: false,
      subnetId: undefined,
      fallbackSubnetIds: [],
      availabilityZone: "us-east-1a",
      fallbackZones: ["us-east-1b", "us-east-1c"],
    };
    const tried = CLOUD.plan(zones)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.instanceType} ${c.availabilityZone} ${c.subnetId}`);
    assert.deepEqual(tried, [
      "g5.xlarge us-east-1a undefined",
      "g5.xlarge us-east-1b undefined",
      "g5.xlarge us-east-1c undefined",
      "g4dn.xlarge us-east-1a undefined",
      "g4dn.xlarge us-east-1b undefined",
      "g4dn.xlarge us-east-1c undefined",
    ]);
  });
});

describe("boot console", () => {
  it("aws reads the instance's latest console output", async () => {
    const { run, calls } = recorder({ "aws ec2 get-console-output": { stdout: "gpu-runner: booting\n" } });
    assert.equal(await CLOUD.plan(AWS_CONFIG).bootConsole({ name: "r-0", id: "i-0abc" }, run), "gpu-runner: booting\n");
    assert.deepEqual(calls, [
      "aws ec2 get-console-output --region us-east-1 --instance-id i-0abc --latest --output text --query Output",
    ]);
  });

  it("a failing CLI is an error naming the command", async () => {
    const { run } = recorder({ aws: { exitCode: 255, stderr: "An error occurred (UnauthorizedOperation)" } });
    await assert.rejects(
      CLOUD.plan(AWS_CONFIG).bootConsole({ name: "r-0", id: "i-0abc" }, run),
      /aws ec2 get-console-output --region failed \(exit 255\): An error occurred \(UnauthorizedOperation\)/,
    );
  });
});

describe("finding and deleting machines by their tags (stop without state, mode: sweep)", () => {
  /** A sweep by label, as stop does it without state: find, then delete what was found and the label's leftovers. */
  const sweep = async (env: Record<string, string>, run: CommandRunner) =>
    CLOUD.cli.deleteMachines(await CLOUD.cli.findMachines({ label: LABEL }, env, run), [LABEL], env, run);
  const ec2Listing = (...instances: { id: string; state?: string; tags?: Record<string, string> }[]) =>
    JSON.stringify(
      instances.map((i) => ({
        id: i.id,
        state: i.state ?? "running",
        launched: "2026-12-01T10:00:00+00:00",
        tags: Object.entries({
          Name: `${LABEL}-0`,
          "gpu-runner-label": LABEL,
          "gpu-runner-max-lifetime": "360",
          ...i.tags,
        }).map(([Key, Value]) => ({ Key, Value })),
      })),
    );

  it("aws terminates the label's instances, waits, deletes its security group, then its lifetime schedules", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: ec2Listing({ id: "i-0aaa" }, { id: "i-0bbb" }) },
      "aws ec2 describe-security-groups": { stdout: "sg-0ccc\n" },
      "aws scheduler list-schedules": { stdout: `${LABEL}-0\t${LABEL}-1\n` },
    });
    const deleted = await sweep({ AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(deleted, [
      "instance i-0aaa",
      "instance i-0bbb",
      "security group sg-0ccc",
      `lifetime schedule ${LABEL}-0`,
      `lifetime schedule ${LABEL}-1`,
    ]);
    assert.deepEqual(calls, [
      `aws ec2 describe-instances --region eu-west-1 --filters Name=tag:gpu-runner-managed-by,Values=ephemeral-gpu-runner Name=tag:gpu-runner-label,Values=${LABEL} Name=instance-state-name,Values=pending,running,stopping,stopped --query Reservations[].Instances[].{id: InstanceId, state: State.Name, launched: LaunchTime, tags: Tags} --output json`,
      "aws ec2 terminate-instances --region eu-west-1 --instance-ids i-0aaa i-0bbb",
      "aws ec2 wait instance-terminated --region eu-west-1 --instance-ids i-0aaa i-0bbb",
      `aws ec2 describe-security-groups --region eu-west-1 --filters Name=tag:gpu-runner-label,Values=${LABEL} --query SecurityGroups[].GroupId --output text`,
      "aws ec2 delete-security-group --region eu-west-1 --group-id sg-0ccc",
      `aws scheduler list-schedules --region eu-west-1 --group-name default --name-prefix ${LABEL} --query Schedules[].Name --output text`,
      `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-0`,
      `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-1`,
    ]);
  });

  it("aws reads each machine's state, launch time, label and lifetime from its tags; a whole repository's too", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": {
        stdout: ec2Listing({ id: "i-0aaa", state: "stopped" }, { id: "i-0bbb", state: "pending" }),
      },
    });
    const found = await CLOUD.cli.findMachines({ repository: "octo-org/md-sim" }, { AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(found, [
      {
        id: "i-0aaa",
        name: `${LABEL}-0`,
        label: LABEL,
        state: "stopped",
        launchedAt: new Date("2026-12-01T10:00:00Z"),
        maxLifetimeMinutes: 360,
        location: "eu-west-1",
      },
      {
        id: "i-0bbb",
        name: `${LABEL}-0`,
        label: LABEL,
        state: "running",
        launchedAt: new Date("2026-12-01T10:00:00Z"),
        maxLifetimeMinutes: 360,
        location: "eu-west-1",
      },
    ]);
    assert.match(calls[0] ?? "", / Name=tag:gpu-runner-repository,Values=octo-org\/md-sim /);
  });

  it("aws deletes leftover schedules even when the instances are already gone", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: "[]" },
      "aws scheduler list-schedules": { stdout: `${LABEL}-0\n` },
    });
    assert.deepEqual(await sweep({ AWS_REGION: "eu-west-1" }, run), [`lifetime schedule ${LABEL}-0`]);
    assert.equal(
      calls.at(-1),
      `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-0`,
    );
  });

  it("aws: a role that may not list schedules still sweeps the machines, and says so", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: ec2Listing({ id: "i-0aaa" }) },
      "aws scheduler list-schedules": {
        exitCode: 254,
        stderr: "An error occurred (AccessDeniedException) when calling the ListSchedules operation: not authorized\n",
      },
    });
    const deleted = await sweep({ AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(deleted.slice(0, 1), ["instance i-0aaa"]);
    assert.match(
      deleted[1] ?? "",
      /^\(lifetime schedules not looked up: An error occurred \(AccessDeniedException\).*; any left delete themselves once they fire\)$/,
    );
    assert.ok(!calls.some((c) => c.includes("delete-schedule")));
  });

  it("aws deletes only schedules of its own label", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: "[]" },
      "aws scheduler list-schedules": { stdout: `${LABEL}-0\tgpu-42-1-ffffffff-0\tother\n` },
    });
    assert.deepEqual(await sweep({ AWS_REGION: "eu-west-1" }, run), [`lifetime schedule ${LABEL}-0`]);
    assert.equal(calls.filter((c) => c.includes("delete-schedule")).length, 1);
  });

  it("aws with nothing tagged deletes nothing", async () => {
    const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" } });
    assert.deepEqual(await sweep({ AWS_DEFAULT_REGION: "us-east-1" }, run), []);
    assert.ok(!calls.some((c) => c.includes("terminate-instances")));
    assert.ok(!calls.some((c) => c.includes("delete-schedule")));
  });

  it("aws without a region refuses rather than guess, naming the variables and the step that sets them", async () => {
    for (const env of [{}, { AWS_REGION: "", AWS_DEFAULT_REGION: "" }]) {
      await assert.rejects(CLOUD.cli.findMachines({ label: LABEL }, env, recorder({}).run), {
        message:
          "AWS_REGION and AWS_DEFAULT_REGION are not set: aws-actions/configure-aws-credentials sets both from its aws-region input; " +
          "without one the machines cannot be looked up",
      });
    }
  });

  // The start's parse reads the same variables in the same order (test/inputs.test.ts): sweep finds where start made.
  for (const [env, region] of [
    [{ AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "us-east-1" }, "eu-west-1"],
    [{ AWS_REGION: "", AWS_DEFAULT_REGION: "us-east-1" }, "us-east-1"],
  ] as const) {
    it(`aws looks in ${region} with ${JSON.stringify(env)}`, async () => {
      const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" } });
      await CLOUD.cli.findMachines({ label: LABEL }, env, run);
      assert.match(calls[0] ?? "", new RegExp(`^aws ec2 describe-instances --region ${region} `));
    });
  }
});

describe("state store (state-backend: the cloud's bucket)", () => {
  const readerOf = (inputs: Record<string, string>) => new InputReader(inputEnv(inputs));
  const s3 = CLOUD.stateStore!.parse(
    readerOf({ "state-bucket": "md-sim-state", "state-prefix": "ci/gpu", "state-region": "eu-central-1" }),
  );
  const object = (scheme: string) => `${scheme}://md-sim-state/ci/gpu/${LABEL}.bin`;

  it("s3: one object per start, written, read and removed with the aws CLI", async () => {
    const { run, calls } = recorder({});
    await s3.put(LABEL, "/tmp/state.bin", run);
    assert.equal(await s3.get(LABEL, "/tmp/back.bin", run), true);
    await s3.remove(LABEL, run);
    assert.deepEqual(calls, [
      `aws s3 cp /tmp/state.bin ${object("s3")} --region eu-central-1 --only-show-errors`,
      `aws s3 ls ${object("s3")} --region eu-central-1`,
      `aws s3 cp ${object("s3")} /tmp/back.bin --region eu-central-1 --only-show-errors`,
      `aws s3 rm ${object("s3")} --region eu-central-1 --only-show-errors`,
    ]);
  });

  it("s3: a missing object is no state (false), a refused listing an error", async () => {
    const missing = recorder({ "aws s3 ls": { exitCode: 1 } });
    assert.equal(await s3.get(LABEL, "/tmp/back.bin", missing.run), false);
    assert.ok(!missing.calls.some((c) => c.startsWith("aws s3 cp")), "nothing copied");
    const denied = recorder({
      "aws s3 ls": { exitCode: 1, stderr: "An error occurred (AccessDenied) when calling the ListObjectsV2 operation" },
    });
    await assert.rejects(s3.get(LABEL, "/tmp/back.bin", denied.run), /AccessDenied/);
  });
});
