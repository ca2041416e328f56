// The AWS cloud's capacity choices, and what no real CLI can show. Every command the action issues through the aws
// CLI (find, delete, boot console, the state bucket) is tested through the real CLI against the cloud's stand-ins,
// in cli-real.test.ts; what is left here runs no command, or needs an answer the cloud never gives.
// (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { awsCloud as CLOUD } from "../../../stacks/aws/index.ts";
import type { AwsConfig } from "../../../stacks/aws/config.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";
const REPO_ID = "612345678";

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

// What no real CLI can show: refusals that come before any command runs (the recorder only shows that nothing ran),
// and one answer the cloud never gives (said why below).
describe("what no real CLI can show (stop's label search, mode: sweep)", () => {
  const START = { repositoryId: REPO_ID, label: LABEL };

  // An empty label would be a schedule prefix and a tag value that match every start: `--name-prefix ""` (or
  // "-") lists every schedule of the account's default group. Refused before any command runs.
  for (const [what, filter] of [
    ["an empty label", { repositoryId: REPO_ID, label: "" }],
    ["an empty repository id", { repositoryId: "", label: LABEL }],
    ["a repository name for an id", { repositoryId: "octo-org/md-sim", label: LABEL }],
    ["a label that is a filter", { repositoryId: REPO_ID, label: `${LABEL},Values=*` }],
  ] as const) {
    it(`aws refuses ${what} before running anything`, async () => {
      const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" } });
      const env = { AWS_REGION: "eu-west-1" };
      await assert.rejects(CLOUD.cli.deleteMachines([], [filter], env, run), /is not a/);
      await assert.rejects(CLOUD.cli.findMachines(filter, env, run), /is not a/);
      await assert.rejects(CLOUD.cli.findLeftovers(filter, env, run), /is not a/);
      assert.deepEqual(calls, []);
    });
  }

  // Kept recorded: EC2 never returns a group id that is not sg-<hex>, and Scheduler honours --name-prefix, so only a
  // recorded answer can show that a listing wider than asked is checked again before anything is read or deleted.
  it("aws checks a listing wider than it asked again: no group id but sg-<hex>, no schedule outside the prefix", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: "[]" },
      "aws ec2 describe-security-groups": {
        stdout: JSON.stringify([{ id: "not-a-group", name: "x", tags: [] }]),
      },
      "aws scheduler list-schedules": { stdout: JSON.stringify(["gpu-42-1-ffffffff-0", "other"]) },
    });
    const env = { AWS_REGION: "eu-west-1" };
    assert.deepEqual(await CLOUD.cli.findLeftovers({ repositoryId: REPO_ID, label: LABEL }, env, run), {
      leftovers: [],
      unchecked: [],
    });
    assert.deepEqual(await CLOUD.cli.deleteMachines([], [START], env, run), []);
    assert.ok(!calls.some((c) => / (get-schedule|delete-schedule|delete-security-group) /.test(c)), calls.join("\n"));
  });

  it("aws without a region refuses rather than guess, naming the variables and the step that sets them", async () => {
    for (const env of [{}, { AWS_REGION: "", AWS_DEFAULT_REGION: "" }]) {
      await assert.rejects(CLOUD.cli.findMachines(START, env, recorder({}).run), {
        message:
          "AWS_REGION and AWS_DEFAULT_REGION are not set: aws-actions/configure-aws-credentials sets both from its aws-region input; " +
          "without one the machines cannot be looked up",
      });
    }
  });
});
