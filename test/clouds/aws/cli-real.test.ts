// The AWS cloud's CLI calls through the real `aws` CLI, against the local stand-in of EC2, EventBridge Scheduler
// and S3 (test/kit/cloud-apis/aws.ts), which reads every request through botocore's own service models and answers
// in their shapes: a flag the CLI does not know, a filter it refuses, a JSON shape it never prints would fail here,
// where a recorded command line would pass (cli.test.ts keeps only what runs no command). Each test has its own
// stand-in, so they run at once.
// aws-cli v1 exits 255 on a service error, v2 254: both are accepted.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { AwsConfig } from "../../../stacks/aws/config.ts";
import { awsCloud as CLOUD } from "../../../stacks/aws/index.ts";
import { scheduleDescription } from "../../../stacks/aws/schedule-owner.ts";
import { InputReader } from "../../../stacks/input-reader.ts";
import { AWS_ERRORS, type AwsStandIn, startAwsStandIn } from "../../kit/cloud-apis/aws.ts";
import { readEc2Request, ModelViolation, serviceModel } from "../../kit/cloud-apis/botocore.ts";
import { AWS_CLI, realRunner, requireCli, scratchFolders } from "../../kit/cloud-apis/clis.ts";
import { inputEnv } from "../../kit/env.ts";

const REGION = "eu-west-1";
const REPO = "612345678";
const OTHER_REPO = "612345679";
const LABEL = "gpu-42-1-0a1b2c3d";
const OTHER_LABEL = "gpu-43-1-0a1b2c3d";

const CONFIG: AwsConfig = {
  region: REGION,
  instanceType: "g5.xlarge",
  fallbackInstanceTypes: [],
  image: { kind: "id", id: "ami-0123456789abcdef0" },
  diskSizeGb: 100,
  diskType: "gp3",
  fallbackSubnetIds: [],
  fallbackZones: [],
  securityGroupIds: [],
  publicIp: false,
  spot: false,
};

const own = (label: string, repositoryId = REPO) => ({
  "gpu-runner-managed-by": "ephemeral-gpu-runner",
  "gpu-runner-repository-id": repositoryId,
  "gpu-runner-label": label,
});

/** A stand-in holding two starts of this repository, one of another repository under the same label, and more. */
async function world(): Promise<AwsStandIn> {
  const aws = await startAwsStandIn();
  const launched = new Date("2026-12-01T10:00:00Z");
  aws.instances.push(
    {
      id: "i-0aaa",
      region: REGION,
      state: "running",
      tags: { ...own(LABEL), Name: `${LABEL}-0`, "gpu-runner-max-lifetime": "360" },
      launchTime: launched,
      securityGroups: ["sg-0aaa"],
    },
    {
      id: "i-0bbb",
      region: REGION,
      state: "stopped",
      tags: { ...own(LABEL), Name: `${LABEL}-1` },
      launchTime: launched,
      securityGroups: ["sg-0aaa"],
    },
    // Not to be touched: another start of the repository, another repository's start under the same label, one
    // already terminated, one in another region, one without the managed-by tag.
    {
      id: "i-0ccc",
      region: REGION,
      state: "running",
      tags: { ...own(OTHER_LABEL), Name: `${OTHER_LABEL}-0` },
      launchTime: launched,
    },
    {
      id: "i-0ddd",
      region: REGION,
      state: "running",
      tags: { ...own(LABEL, OTHER_REPO), Name: `${LABEL}-0` },
      launchTime: launched,
    },
    {
      id: "i-0eee",
      region: REGION,
      state: "terminated",
      tags: { ...own(LABEL), Name: `${LABEL}-2` },
      launchTime: launched,
    },
    {
      id: "i-0fff",
      region: "us-east-1",
      state: "running",
      tags: { ...own(LABEL), Name: `${LABEL}-0` },
      launchTime: launched,
    },
    {
      id: "i-0abc",
      region: REGION,
      state: "running",
      tags: { "gpu-runner-label": LABEL, "gpu-runner-repository-id": REPO },
      launchTime: launched,
    },
  );
  aws.securityGroups.push(
    { id: "sg-0aaa", region: REGION, tags: own(LABEL) },
    { id: "sg-0ccc", region: REGION, tags: own(OTHER_LABEL) },
    { id: "sg-0ddd", region: REGION, tags: own(LABEL, OTHER_REPO) },
  );
  aws.schedules.push(
    { name: `${LABEL}-0`, region: REGION, group: "default", description: scheduleDescription(`${LABEL}-0`, REPO) },
    { name: `${LABEL}-1`, region: REGION, group: "default", description: scheduleDescription(`${LABEL}-1`, REPO) },
    // Same name pattern, another repository's description: never deleted.
    {
      name: `${LABEL}-2`,
      region: REGION,
      group: "default",
      description: scheduleDescription(`${LABEL}-2`, OTHER_REPO),
    },
    {
      name: `${OTHER_LABEL}-0`,
      region: REGION,
      group: "default",
      description: scheduleDescription(`${OTHER_LABEL}-0`, REPO),
    },
  );
  aws.buckets.set("state-bucket", new Map());
  return aws;
}

/** Runs `body` with a fresh stand-in and the action's own runner pointed at it, then checks the stand-in saw nothing it refused. */
async function withAws(body: (aws: AwsStandIn, env: Record<string, string>) => Promise<void>, refusals = 0) {
  requireCli(AWS_CLI);
  const aws = await world();
  try {
    await body(aws, { ...aws.env, AWS_REGION: REGION });
    assert.equal(aws.problems.length, refusals, `the stand-in refused: ${aws.problems.join("; ")}`);
  } finally {
    await aws.close();
  }
}

/** A scratch folder for a test's bundle files, removed when the file's tests end. */
const scratch = scratchFolders("s3-store-");

const runner = (env: Record<string, string>) => realRunner(env, CLOUD.environment);

describe("aws: the real CLI against EC2, Scheduler and S3 stand-ins", { concurrency: true }, () => {
  it("stop without state: finds the start's machines by tags, terminates exactly those, then its group and schedules", () =>
    withAws(async (aws, env) => {
      const run = runner(env);
      // Listed by --name-prefix "<label>-", this repository's, but no name a start gives its schedules
      // (<label>-<n>): never read, never deleted.
      aws.schedules.push({
        name: `${LABEL}-0-x`,
        region: REGION,
        group: "default",
        description: scheduleDescription(`${LABEL}-0-x`, REPO),
      });
      const start = { repositoryId: REPO, label: LABEL };
      const found = await CLOUD.cli.findMachines(start, env, run);
      assert.deepEqual(
        found.map((m) => [
          m.id,
          m.name,
          m.label,
          m.repositoryId,
          m.state,
          m.location,
          m.maxLifetimeMinutes,
          m.launchedAt?.toISOString(),
        ]),
        [
          ["i-0aaa", `${LABEL}-0`, LABEL, REPO, "running", REGION, 360, "2026-12-01T10:00:00.000Z"],
          ["i-0bbb", `${LABEL}-1`, LABEL, REPO, "stopped", REGION, undefined, "2026-12-01T10:00:00.000Z"],
        ],
      );
      const deleted = await CLOUD.cli.deleteMachines(found, [start], env, run);
      assert.deepEqual(deleted, [
        "instance i-0aaa",
        "instance i-0bbb",
        "security group sg-0aaa",
        `lifetime schedule ${LABEL}-0`,
        `lifetime schedule ${LABEL}-1`,
        `(lifetime schedule ${LABEL}-2 left: its description does not name repository id ${REPO})`,
      ]);
      // What the cloud holds now: exactly the start's resources gone.
      assert.deepEqual(
        aws.instances.filter((i) => i.state === "terminated").map((i) => i.id),
        ["i-0aaa", "i-0bbb", "i-0eee"],
      );
      assert.deepEqual(
        aws.securityGroups.map((g) => g.id),
        ["sg-0ccc", "sg-0ddd"],
      );
      assert.deepEqual(
        aws.schedules.map((s) => s.name),
        [`${LABEL}-2`, `${OTHER_LABEL}-0`, `${LABEL}-0-x`],
      );
      // In the region asked, in this order: the group goes only once the waiter saw the instances terminated.
      assert.ok(aws.calls.every((c) => c.region === REGION));
      assert.deepEqual(
        aws.calls.map((c) => c.operation),
        [
          "DescribeInstances",
          "TerminateInstances",
          "DescribeInstances",
          "DescribeSecurityGroups",
          "DeleteSecurityGroup",
          "ListSchedules",
          "GetSchedule",
          "DeleteSchedule",
          "GetSchedule",
          "DeleteSchedule",
          "GetSchedule",
        ],
      );
      assert.deepEqual(aws.calls[0]!.input.Filters, [
        { Name: "tag:gpu-runner-managed-by", Values: ["ephemeral-gpu-runner"] },
        { Name: "tag:gpu-runner-repository-id", Values: [REPO] },
        { Name: "tag:gpu-runner-label", Values: [LABEL] },
        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
      ]);
      assert.deepEqual(aws.calls[5]!.input, { GroupName: "default", NamePrefix: `${LABEL}-` });
    }));

  it("sweep: a whole repository's machines and leftovers, none of another repository's; throttling retried by the CLI", () =>
    withAws(async (aws, env) => {
      const run = runner(env);
      aws.instances[1]!.state = "pending";
      // Listed by the sweep's --name-prefix "gpu-", but no start's schedule: not ours to judge, never read.
      aws.schedules.push({
        name: "gpu-maintenance",
        region: REGION,
        group: "default",
        description: scheduleDescription("gpu-maintenance", REPO),
      });
      // RequestLimitExceeded once: the CLI retries it itself (botocore's retry handler), and the listing comes through.
      aws.fail("DescribeInstances", AWS_ERRORS.throttled(), 1);
      const [machines, leftovers] = await Promise.all([
        CLOUD.cli.findMachines({ repositoryId: REPO }, env, run),
        CLOUD.cli.findLeftovers({ repositoryId: REPO }, env, run),
      ]);
      // By the repository id alone: every label of it, no other repository's; a pending machine counts as running.
      assert.deepEqual(machines.map((m) => `${m.id} ${m.state}`).sort(), [
        "i-0aaa running",
        "i-0bbb running",
        "i-0ccc running",
      ]);
      assert.ok(
        aws.calls.every((c) => c.operation !== "GetSchedule" || c.input.Name !== "gpu-maintenance"),
        "a schedule no start named was read",
      );
      assert.deepEqual(leftovers.leftovers.map((l) => `${l.kind} ${l.id} ${l.label} ${l.repositoryId}`).sort(), [
        `lifetime schedule ${LABEL}-0 ${LABEL} ${REPO}`,
        `lifetime schedule ${LABEL}-1 ${LABEL} ${REPO}`,
        `lifetime schedule ${OTHER_LABEL}-0 ${OTHER_LABEL} ${REPO}`,
        `security group sg-0aaa ${LABEL} ${REPO}`,
        `security group sg-0ccc ${OTHER_LABEL} ${REPO}`,
      ]);
      assert.deepEqual(leftovers.unchecked, []);
      assert.equal(
        aws.calls.filter((c) => c.operation === "DescribeInstances").length,
        2,
        "the throttled call was retried",
      );
    }));

  it("boot console: the CLI decodes EC2's base64 console output, and the action returns it as printed", () =>
    withAws(async (aws, env) => {
      aws.instances[0]!.console = "gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n";
      const text = await CLOUD.plan(CONFIG).bootConsole({ name: `${LABEL}-0`, id: "i-0aaa" }, runner(env));
      // `--output text` ends what it prints with a newline of its own.
      assert.equal(text, "gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n\n");
      assert.deepEqual(aws.calls.at(-1), {
        service: "ec2",
        operation: "GetConsoleOutput",
        region: REGION,
        input: { InstanceId: "i-0aaa", Latest: true },
      });
    }));

  it("errors as EC2 returns them reach the action's message through the CLI: not authorized, not found", () =>
    withAws(async (aws, env) => {
      const run = runner(env);
      aws.fail("TerminateInstances", AWS_ERRORS.unauthorized("TerminateInstances"));
      const found = await CLOUD.cli.findMachines({ repositoryId: REPO, label: LABEL }, env, run);
      await assert.rejects(
        CLOUD.cli.deleteMachines(found, [{ repositoryId: REPO, label: LABEL }], env, run),
        /^Error: aws ec2 terminate-instances --region failed \(exit 25[45]\): .*\(UnauthorizedOperation\) when calling the TerminateInstances operation: You are not authorized to perform this operation\. User: .* is not authorized to perform: ec2:TerminateInstances/,
      );
      assert.ok(
        aws.instances.every((i) => i.state !== "terminated" || i.id === "i-0eee"),
        "nothing was terminated",
      );
      await assert.rejects(
        CLOUD.plan(CONFIG).bootConsole({ name: "gone", id: "i-0123456789" }, run),
        /aws ec2 get-console-output --region failed \(exit 25[45]\): .*\(InvalidInstanceID\.NotFound\).*The instance ID 'i-0123456789' does not exist/,
      );
    }));

  it("a stop role that may not list schedules: reported in parentheses, never the stop's failure", () =>
    withAws(async (aws, env) => {
      aws.fail("ListSchedules", AWS_ERRORS.schedulerAccessDenied("ListSchedules"));
      // The sweep's search still finds the security groups, and says what it could not look for.
      const search = await CLOUD.cli.findLeftovers({ repositoryId: REPO }, env, runner(env));
      assert.deepEqual(
        search.leftovers.map((l) => l.id),
        ["sg-0aaa", "sg-0ccc"],
      );
      assert.equal(search.unchecked.length, 1, search.unchecked.join("\n"));
      assert.match(
        search.unchecked[0]!,
        /^lifetime schedules \(An error occurred \(AccessDeniedException\) when calling the ListSchedules operation: User: .* is not authorized to perform: scheduler:ListSchedules/,
      );
      // The start's instances are already gone (a stop after its destroy): its group is free to go.
      for (const i of aws.instances) i.securityGroups = [];
      const deleted = await CLOUD.cli.deleteMachines([], [{ repositoryId: REPO, label: LABEL }], env, runner(env));
      assert.equal(deleted[0], "security group sg-0aaa");
      assert.match(
        deleted[1] ?? "",
        /^\(lifetime schedules not looked up: An error occurred \(AccessDeniedException\) when calling the ListSchedules operation: User: .* is not authorized to perform: scheduler:ListSchedules.*; any left delete themselves once they fire\)$/,
      );
      assert.equal(aws.schedules.length, 4, "no schedule was deleted");
    }));

  it("sweep's search: schedules whose description may not be read are said, never judged, never listed as ours", () =>
    withAws(async (aws, env) => {
      aws.fail("GetSchedule", AWS_ERRORS.schedulerAccessDenied("GetSchedule"));
      const found = await CLOUD.cli.findLeftovers({ repositoryId: REPO, label: LABEL }, env, runner(env));
      assert.deepEqual(
        found.leftovers.map((l) => `${l.kind} ${l.id}`),
        ["security group sg-0aaa"],
      );
      assert.equal(found.unchecked.length, 3, found.unchecked.join("\n"));
      for (const line of found.unchecked)
        assert.match(
          line,
          /^lifetime schedule gpu-42-1-0a1b2c3d-\d \(.*An error occurred \(AccessDeniedException\) when calling the GetSchedule operation: User: .* is not authorized to perform: scheduler:GetSchedule/,
        );
      // Stop's deletion (its instances already gone): the schedules are left, each said so, never deleted.
      for (const i of aws.instances) i.securityGroups = [];
      const deleted = await CLOUD.cli.deleteMachines([], [{ repositoryId: REPO, label: LABEL }], env, runner(env));
      assert.equal(deleted[0], "security group sg-0aaa");
      assert.equal(deleted.length, 4, deleted.join("\n"));
      for (const [n, line] of deleted.slice(1).entries())
        assert.match(
          line,
          new RegExp(
            `^\\(lifetime schedule ${LABEL}-${n} left: its description could not be read: aws scheduler get-schedule --region failed \\(exit 25[45]\\): An error occurred \\(AccessDeniedException\\) when calling the GetSchedule operation`,
          ),
        );
      assert.ok(!aws.calls.some((c) => c.operation === "DeleteSchedule"));
      assert.equal(aws.schedules.length, 4, "nothing was deleted");
    }));

  it("stop after the destroy: no instance left, the start's group and its own schedules still go", () =>
    withAws(async (aws, env) => {
      const run = runner(env);
      for (const i of aws.instances) {
        if (i.id === "i-0aaa" || i.id === "i-0bbb") i.state = "terminated";
        i.securityGroups = [];
      }
      const start = { repositoryId: REPO, label: LABEL };
      const found = await CLOUD.cli.findMachines(start, env, run);
      assert.deepEqual(found, []);
      assert.deepEqual(await CLOUD.cli.deleteMachines(found, [start], env, run), [
        "security group sg-0aaa",
        `lifetime schedule ${LABEL}-0`,
        `lifetime schedule ${LABEL}-1`,
        `(lifetime schedule ${LABEL}-2 left: its description does not name repository id ${REPO})`,
      ]);
      assert.ok(!aws.calls.some((c) => c.operation === "TerminateInstances"));
      assert.deepEqual(
        aws.schedules.map((s) => s.name),
        [`${LABEL}-2`, `${OTHER_LABEL}-0`],
      );
    }));

  // The start's parse reads the same variables in the same order (test/inputs.test.ts): sweep finds where start made.
  // i-0fff is the one machine of the start in us-east-1; the others are in eu-west-1.
  it("the region from the environment: AWS_REGION before AWS_DEFAULT_REGION, an empty one skipped; nothing there, nothing deleted", () =>
    withAws(async (aws, env) => {
      const start = { repositoryId: REPO, label: LABEL };
      const envs = [
        { ...env, AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: REGION },
        { ...env, AWS_REGION: "", AWS_DEFAULT_REGION: "us-east-1" },
      ];
      for (const e of envs) {
        const found = await CLOUD.cli.findMachines(start, e, runner(e));
        assert.deepEqual(
          found.map((m) => `${m.id} ${m.location}`),
          ["i-0fff us-east-1"],
          JSON.stringify(e),
        );
      }
      assert.deepEqual(
        aws.calls.map((c) => `${c.operation} ${c.region}`),
        ["DescribeInstances us-east-1", "DescribeInstances us-east-1"],
      );
      // A region where the repository has nothing: the stop finds nothing and deletes nothing.
      const empty = { ...env, AWS_REGION: "ap-south-1" };
      const run = runner(empty);
      assert.deepEqual(
        await CLOUD.cli.deleteMachines(await CLOUD.cli.findMachines(start, empty, run), [start], empty, run),
        [],
      );
      assert.ok(
        aws.calls.every((c) => !/^(Terminate|Delete)/.test(c.operation)),
        aws.calls.map((c) => c.operation).join(" "),
      );
    }));

  it("state-backend s3: put, get, a missing bundle, remove, through aws s3 against the S3 stand-in", () =>
    withAws(async (aws, env) => {
      const run = runner(env);
      // The bucket's own region (state-region), not the environment's (eu-west-1).
      const store = CLOUD.stateStore!.parse(
        new InputReader(inputEnv({ "state-bucket": "state-bucket", "state-region": "eu-central-1" })),
      );
      const dir = scratch();
      const bundle = Buffer.from([0, 1, 2, 255, 10, 13, 10]);
      writeFileSync(join(dir, "out.bin"), bundle);
      await store.put(LABEL, join(dir, "out.bin"), run);
      assert.deepEqual(aws.buckets.get("state-bucket")!.get(`gpu-runner/${LABEL}.bin`), bundle);
      const [got, missing] = await Promise.all([
        store.get(LABEL, join(dir, "in.bin"), run),
        store.get("gpu-1-1-ffffffff", join(dir, "none.bin"), run),
      ]);
      assert.equal(got, true);
      assert.deepEqual(readFileSync(join(dir, "in.bin")), bundle);
      assert.equal(missing, false, "a missing bundle is nothing to stop, not an error");
      await store.remove(LABEL, run);
      assert.equal(aws.buckets.get("state-bucket")!.size, 0);
      assert.ok(
        aws.calls.every((c) => c.region === "eu-central-1"),
        aws.calls.map((c) => c.region).join(" "),
      );
    }));

  it("state-backend s3: a bucket the credentials may not write is an error naming the command and S3's words", () =>
    withAws(async (aws, env) => {
      aws.fail("PutObject", AWS_ERRORS.s3AccessDenied());
      const store = CLOUD.stateStore!.parse(
        new InputReader(inputEnv({ "state-bucket": "state-bucket", "state-region": REGION })),
      );
      const file = join(scratch(), "out.bin");
      writeFileSync(file, "bundle");
      await assert.rejects(
        store.put(LABEL, file, runner(env)),
        /^Error: aws s3 cp .* failed \(exit 1\): upload failed: .* An error occurred \(AccessDenied\) when calling the PutObject operation: Access Denied/,
      );
    }));
  it("state-backend s3: a listing the credentials may not make is an error, never 'no bundle' (nothing to stop)", () =>
    withAws(async (aws, env) => {
      aws.fail("ListObjectsV2", AWS_ERRORS.s3AccessDenied());
      aws.buckets.get("state-bucket")!.set(`gpu-runner/${LABEL}.bin`, Buffer.from("bundle"));
      const store = CLOUD.stateStore!.parse(
        new InputReader(inputEnv({ "state-bucket": "state-bucket", "state-region": REGION })),
      );
      const file = join(scratch(), "in.bin");
      await assert.rejects(
        store.get(LABEL, file, runner(env)),
        /^Error: aws s3 ls failed \(exit 25[45]\): An error occurred \(AccessDenied\) when calling the ListObjectsV2 operation: Access Denied/,
      );
    }));
});

describe("aws: the stand-in refuses what botocore's models refuse", () => {
  it("an unknown parameter, a list not numbered 1..N, a missing required one, an unknown Action", () => {
    requireCli(AWS_CLI);
    const ec2 = serviceModel("ec2");
    const version = `Version=${ec2.metadata.apiVersion}`;
    assert.deepEqual(readEc2Request(ec2, `Action=TerminateInstances&${version}&InstanceId.1=i-0aaa`), {
      operation: "TerminateInstances",
      input: { InstanceIds: ["i-0aaa"] },
    });
    for (const [body, why] of [
      [`Action=DescribeInstances&${version}&Filters.1.Name=tag:x`, /unknown parameter Filters/],
      [`Action=DescribeInstances&${version}&Filter.2.Name=tag:x`, /numbered 2, not 1..N/],
      [`Action=TerminateInstances&${version}`, /missing required parameter InstanceIds/],
      [`Action=TerminateInstance&${version}&InstanceId.1=i-0aaa`, /unknown Action TerminateInstance/],
      [`Action=GetConsoleOutput&${version}&InstanceId=i-0aaa&Latest=yes`, /Latest must be true or false/],
    ] as const)
      assert.throws(
        () => readEc2Request(ec2, body),
        (e: Error) => e instanceof ModelViolation && why.test(e.message),
      );
  });
});
