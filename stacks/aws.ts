// AWS EC2: one aws_instance per runner. Security posture lives here: IMDSv2 only, encrypted root volume deleted
// with the instance, terminate on power-off, no inbound traffic, public IP only when asked, and (with
// lifetime-role) a lifetime cap outside the machine: an EventBridge Scheduler schedule that terminates it.
import { gzipSync } from "node:zlib";
import { Fn, TerraformLocal } from "cdktf";
import { type CommandRunner, defineCloud, runChecked, type StateStore } from "./cloud.ts";
import type { InputReader } from "./input-reader.ts";
import { OWNERSHIP_KEYS } from "./names.ts";
import { RunnerStack, type RunnerSlot } from "./runner-stack.ts";
import { bundleKey, readStoreLocation } from "./state-store.ts";

export interface AwsConfig {
  region: string;
  instanceType: string;
  ami: string;
  diskSizeGb: number;
  subnetId?: string;
  securityGroupIds: string[];
  instanceProfile?: string;
  publicIp: boolean;
  spot: boolean;
  /** Instance types and subnets to try next when EC2 has no capacity (the rest of the machine-type/subnet lists). */
  fallbackInstanceTypes: string[];
  fallbackSubnetIds: string[];
  /**
   * The IAM role EventBridge Scheduler assumes to terminate each instance at its lifetime cap; undefined: no
   * schedule, and only the boot script's timer (which a job with sudo can disarm) and the stop job end it.
   */
  lifetimeRole?: string;
}

/**
 * The provider bindings, imported on first use (deep paths: the package root loads 2,200 modules). Loading them
 * lazily lets the action prune the other clouds' provider packages from its install.
 */
async function loadBindings() {
  const [subnet, vpc, instance, provider, schedule, securityGroup] = await Promise.all([
    import("@cdktf/provider-aws/lib/data-aws-subnet/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-vpc/index.js"),
    import("@cdktf/provider-aws/lib/instance/index.js"),
    import("@cdktf/provider-aws/lib/provider/index.js"),
    import("@cdktf/provider-aws/lib/scheduler-schedule/index.js"),
    import("@cdktf/provider-aws/lib/security-group/index.js"),
  ]);
  return {
    DataAwsSubnet: subnet.DataAwsSubnet,
    DataAwsVpc: vpc.DataAwsVpc,
    Instance: instance.Instance,
    AwsProvider: provider.AwsProvider,
    SchedulerSchedule: schedule.SchedulerSchedule,
    SecurityGroup: securityGroup.SecurityGroup,
  };
}
let aws: Awaited<ReturnType<typeof loadBindings>> | undefined;

function bindings(): NonNullable<typeof aws> {
  if (!aws) throw new Error("the aws provider bindings are not loaded: await awsCloud.load() first");
  return aws;
}

export class AwsRunnerStack extends RunnerStack<AwsConfig> {
  protected override configureProvider(config: AwsConfig): AwsConfig {
    const { AwsProvider } = bindings();
    new AwsProvider(this, "aws", { region: config.region, defaultTags: [{ tags: this.ownershipTags() }] });
    if (config.securityGroupIds.length > 0) return config;
    return { ...config, securityGroupIds: [this.noInboundGroup(config)] };
  }

  /** Without a given security group, one with no inbound rule at all: the runner only dials out to GitHub. */
  private noInboundGroup(config: AwsConfig): string {
    const { DataAwsSubnet, DataAwsVpc, SecurityGroup } = bindings();
    const vpcId = config.subnetId
      ? new DataAwsSubnet(this, "subnet", { id: config.subnetId }).vpcId
      : new DataAwsVpc(this, "default-vpc", { default: true }).id;
    const group = new SecurityGroup(this, "no-inbound", {
      namePrefix: `${this.shared.label}-`,
      description: "Ephemeral GPU runner: no inbound, all outbound",
      vpcId,
      egress: [{ fromPort: 0, toPort: 0, protocol: "-1", cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      tags: this.ownershipTags(),
    });
    return group.id;
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: AwsConfig): string {
    const { Instance } = bindings();
    const tags = { ...this.ownershipTags(), Name: runner.name };
    const instance = new Instance(this, `runner-${runner.index}`, {
      ami: config.ami,
      instanceType: config.instanceType,
      subnetId: config.subnetId,
      vpcSecurityGroupIds: config.securityGroupIds,
      iamInstanceProfile: config.instanceProfile,
      associatePublicIpAddress: config.publicIp,
      // A one-time Spot request that terminates on interruption: an interrupted CI machine is never resumed.
      instanceMarketOptions: config.spot
        ? { marketType: "spot", spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" } }
        : undefined,
      // Power-off (after the job, at idle timeout or at max-lifetime) must end the bill, not park the machine.
      instanceInitiatedShutdownBehavior: "terminate",
      // IMDSv2 only, one hop: a container in a job cannot reach the instance's credentials.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { encrypted: true, deleteOnTermination: true, volumeSize: config.diskSizeGb, volumeType: "gp3" },
      // Gzipped (cloud-init unpacks it): EC2 takes at most 16 KB of user-data, and the script plus a JIT config
      // comes close to that in clear. The script is a local so the JSON stays readable and needs no second escaping.
      userDataBase64: Fn.base64gzip(new TerraformLocal(this, `boot_script_${runner.index}`, userData).asString),
      userDataReplaceOnChange: true,
      tags,
      // default_tags do not reach volumes created with the instance.
      volumeTags: tags,
    });
    if (config.lifetimeRole) this.lifetimeSchedule(runner, instance.id, config.lifetimeRole);
    return instance.id;
  }

  /**
   * The hard cap outside the machine's reach: the boot script's timer (power-off, then terminate) lives in the VM,
   * where a job with sudo can disarm it. This one-time EventBridge Scheduler schedule calls EC2 TerminateInstances
   * on the instance at the cap, whatever runs on it, then deletes itself.
   */
  private lifetimeSchedule(runner: RunnerSlot, instanceId: string, roleArn: string): void {
    const { SchedulerSchedule } = bindings();
    const partition = IAM_ROLE_ARN.exec(roleArn)?.[1] ?? "aws";
    new SchedulerSchedule(this, `lifetime-${runner.index}`, {
      // The runner's name starts with the start's label: unique per start, and what the sweep lists by prefix
      // (schedules take no tags: only schedule groups do). Names: 1-64 of [0-9a-zA-Z-_.].
      name: runner.name,
      groupName: "default",
      description: `Terminates ${runner.name} at its lifetime cap (ephemeral GPU runner)`,
      // A one-time schedule, at(yyyy-mm-ddThh:mm:ss) in the time zone given (docs.aws.amazon.com/scheduler/latest/
      // UserGuide/schedule-types.html#one-time).
      scheduleExpression: atExpression(lifetimeCapTime(this.shared.synthesizedAt, this.shared.boot.maxLifetimeMinutes)),
      scheduleExpressionTimezone: "UTC",
      // OFF: invoked at the time given (within its minute), not spread over a window after it.
      flexibleTimeWindow: { mode: "OFF" },
      // DELETE: the schedule removes itself after its one invocation (UserGuide/managing-schedule-delete.html;
      // aws_scheduler_schedule.action_after_completion, NONE by default), so none is left behind to find.
      actionAfterCompletion: "DELETE",
      target: {
        // The universal target arn:aws:scheduler:::aws-sdk:SERVICE:apiAction calls that API with Input as its
        // request parameters (UserGuide/managing-targets-universal.html), here EC2 TerminateInstances. Its
        // partition follows the role's (aws-cn, aws-us-gov).
        arn: `arn:${partition}:scheduler:::aws-sdk:ec2:terminateInstances`,
        input: Fn.jsonencode({ InstanceIds: [instanceId] }),
        roleArn,
        // The most EventBridge Scheduler allows (APIReference/API_RetryPolicy.html), written out for the reviewer:
        // a throttled or failing EC2 call is retried with backoff for up to a day rather than dropped.
        retryPolicy: { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 },
      },
    });
  }
}

/**
 * How long after synthesis the outside cap fires beyond max-lifetime. The boot script's timer counts from boot,
 * which comes after synthesis by Terraform's apply and the instance's start (a few minutes): the margin lets that
 * timer, which powers off cleanly, act first in the normal case, while the schedule still bounds the bill at
 * max-lifetime plus this margin from the start when the timer was disarmed or never armed. Should apply and boot
 * take longer than the margin, the schedule ends the machine that much before its own timer would.
 */
export const LIFETIME_CAP_MARGIN_MINUTES = 10;

/** The instant the outside cap fires: synthesis + max-lifetime + margin, up to the whole second. */
export function lifetimeCapTime(synthesizedAt: Date, maxLifetimeMinutes: number): Date {
  const at = synthesizedAt.getTime() + (maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES) * 60_000;
  return new Date(Math.ceil(at / 1000) * 1000);
}

/** EventBridge Scheduler's one-time expression, at(yyyy-mm-ddThh:mm:ss), read in the schedule's time zone (UTC). */
function atExpression(time: Date): string {
  return `at(${time.toISOString().slice(0, 19)})`;
}

/** GPUs per instance type, so the GPU gate knows how many to expect without the user saying so. */
const GPUS: Readonly<Record<string, number>> = {
  "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.16xlarge": 1,
  "g4dn.12xlarge": 4, "g4dn.metal": 8,
  "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.16xlarge": 1,
  "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8,
  "g5g.xlarge": 1, "g5g.2xlarge": 1, "g5g.4xlarge": 1, "g5g.8xlarge": 1, "g5g.16xlarge": 2, "g5g.metal": 2,
  "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.16xlarge": 1,
  "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
  "g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1, "g6e.8xlarge": 1, "g6e.16xlarge": 1,
  "g6e.12xlarge": 4, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
  "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8,
  "p4d.24xlarge": 8, "p5.48xlarge": 8,
};

const PRICES_AS_OF = "2025-06";

/** On-demand list prices, USD per hour, Linux, us-east-1 (a type not listed is "unknown", never a guess). */
const ON_DEMAND: Readonly<Record<string, number>> = {
  "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
  "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
  "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
  "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
  "g5g.xlarge": 0.42, "g5g.2xlarge": 0.556, "g5g.4xlarge": 0.828, "g5g.8xlarge": 1.372, "g5g.16xlarge": 2.744,
  "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
  "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
  "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48,
};

/** EC2's answers that mean "no capacity for this, here, now": the next instance type or subnet may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /InsufficientInstanceCapacity/,
  /InsufficientHostCapacity/,
  /InsufficientCapacityOnHost/,
  /MaxSpotInstanceCountExceeded/,
  /SpotMaxPriceTooLow/,
  /capacity-not-available/,
  /InstanceLimitExceeded.*spot/is,
  /Unsupported.*(instance type|Availability Zone)/i,
];

/** EC2 allows 50 tags per resource; the action sets its 5 ownership tags and Name on each. */
const EC2_MAX_TAGS = 50;
const ACTION_TAGS = 6;

function checkTagsFit(read: InputReader): void {
  const count = Object.keys(read.stringMap("tags", "a JSON object of string tags")).length;
  const max = EC2_MAX_TAGS - ACTION_TAGS;
  if (count > max) read.fail("tags", `at most ${max} tags with cloud aws (EC2 allows ${EC2_MAX_TAGS} per resource, ${ACTION_TAGS} are the action's)`);
}

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
/** An IAM role ARN (its partition captured), with an optional path: arn:aws:iam::123456789012:role/NAME. */
const IAM_ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

const NO_OUTSIDE_CAP =
  "lifetime-role is not set: on AWS only the machine's own timer (which a job with sudo can disarm) and the stop job " +
  "end the machine; nothing outside it enforces max-lifetime. Set lifetime-role for an EventBridge Scheduler cap (docs/aws.md).";

/** S3 bucket names: 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * state-backend: s3. Each start's encrypted bundle is one object, written and read with the aws CLI (on GitHub's
 * hosted runners, with the credentials of aws-actions/configure-aws-credentials).
 */
function s3Store(read: InputReader): StateStore {
  const location = readStoreLocation(read, { pattern: S3_BUCKET, expected: "the name of the S3 bucket that keeps the encrypted state" });
  const region = read.matching("state-region", REGION, "the AWS region of the state bucket, such as us-east-1", read.env.AWS_REGION || undefined);
  const url = (stateId: string) => `s3://${location.bucket}/${bundleKey(location, stateId)}`;
  const s3 = (run: CommandRunner, args: string[]) => runChecked(run, "aws", ["s3", ...args, "--region", region, "--only-show-errors"]);
  return {
    kind: "s3",
    description: `s3://${location.bucket}/${location.prefix}/ (${region})`,
    put: async (stateId, file, run) => void (await s3(run, ["cp", file, url(stateId)])),
    async get(stateId, file, run) {
      // `aws s3 ls` of the exact key first: a missing bundle is "nothing to stop", not an error.
      const listing = await run("aws", ["s3", "ls", url(stateId), "--region", region]);
      if (listing.exitCode === 1 && listing.stderr.trim() === "") return false;
      if (listing.exitCode !== 0) throw new Error(`aws s3 ls failed (exit ${listing.exitCode}): ${listing.stderr.trim().split("\n").slice(-3).join(" ")}`);
      await s3(run, ["cp", url(stateId), file]);
      return true;
    },
    remove: async (stateId, run) => void (await s3(run, ["rm", url(stateId)])),
  };
}

export const awsCloud = defineCloud<AwsConfig>({
  name: "aws",
  inputs: ["region", "subnet", "security-group", "instance-profile", "lifetime-role"],
  parse(read: InputReader): AwsConfig {
    checkTagsFit(read);
    const typesExpected = "EC2 instance types such as g4dn.xlarge, comma-separated in order of preference";
    const [instanceType, ...fallbackInstanceTypes] = read.list("machine-type", INSTANCE_TYPE, typesExpected, { max: 5 });
    if (instanceType === undefined) read.fail("machine-type", typesExpected);
    const [subnetId, ...fallbackSubnetIds] = read.list("subnet", SUBNET, "subnet ids such as subnet-0123456789abcdef0, comma-separated in order of preference", { max: 5 });
    return {
      region: read.matching("region", REGION, "an AWS region such as us-east-1", read.env.AWS_REGION || undefined),
      instanceType,
      fallbackInstanceTypes,
      ami: read.matching("image", /^ami-[0-9a-f]{8,17}$/, "an AMI id such as ami-0123456789abcdef0"),
      diskSizeGb: read.integer("disk-size", { min: 8, max: 16384, fallback: 100 }),
      subnetId,
      fallbackSubnetIds,
      securityGroupIds: read.list("security-group", /^sg-[0-9a-f]{8,17}$/, "security group ids such as sg-0123456789abcdef0", { max: 5 }),
      instanceProfile: read.matching("instance-profile", /^[\w+=,.@-]{1,128}$/, "an IAM instance profile name", "") || undefined,
      publicIp: read.boolean("public-ip", false),
      spot: read.boolean("spot", false),
      lifetimeRole:
        read.matching("lifetime-role", IAM_ROLE_ARN, "the ARN of an IAM role that EventBridge Scheduler may assume, such as arn:aws:iam::123456789012:role/gpu-runner-lifetime (docs/aws.md)", "") ||
        undefined,
    };
  },
  load: async () => {
    aws ??= await loadBindings();
  },
  createStack: (scope, id, shared, config) => new AwsRunnerStack(scope, id, shared, config),
  providerPackages: ["@cdktf/provider-aws"],
  gpusPerMachine: (config) => GPUS[config.instanceType],
  summary: (config) => ({
    machineType: `${config.instanceType}${config.spot ? " (spot)" : ""}`,
    location: config.subnetId ? `${config.region} (${config.subnetId})` : config.region,
    image: config.ami,
    caveats: config.lifetimeRole ? undefined : [NO_OUTSIDE_CAP],
  }),
  // Spot prices move by the hour and the zone: unknown rather than a guess.
  hourlyPriceUsd: (config) => (config.spot ? undefined : ON_DEMAND[config.instanceType]),
  pricesAsOf: PRICES_AS_OF,
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that aws-actions/configure-aws-credentials ran in this job and its role has the permissions listed in docs/aws.md, " +
    "that the image exists in this region, and that the account's EC2 quota for this instance family is not exhausted.",
  // AWS refuses user tags whose key starts with aws: (any case).
  reservedTagPrefixes: ["aws:"],
  // Amazon Linux's default user (Ubuntu's and Debian's are in the action's own list).
  imageAccounts: ["ec2-user"],
  example: {
    region: "us-east-1",
    "machine-type": "g4dn.xlarge",
    image: "ami-0123456789abcdef0",
  },
  // EC2 rejects user-data over 16 KB (before base64; here after gzip).
  userDataLimitBytes: 16 * 1024,
  // The stack sends it gzipped (Fn.base64gzip): EC2 counts the gzip's bytes.
  userDataBytes: (script) => gzipSync(script).length,
  // The AWS provider and CLI read their credentials, region and profile from AWS_* (configure-aws-credentials sets them).
  environment: [/^AWS_[A-Z0-9_]+$/],
  async bootConsole(config, machine, run) {
    // --latest asks Nitro instances for the current buffer instead of the snapshot taken at boot.
    const args = ["ec2", "get-console-output", "--region", config.region, "--instance-id", machine.id, "--latest", "--output", "text", "--query", "Output"];
    return runChecked(run, "aws", args);
  },
  async sweep(label, env, run) {
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
    if (!region) throw new Error("AWS_REGION is not set: configure-aws-credentials sets it; without it the machines cannot be looked up");
    const filter = `Name=tag:${OWNERSHIP_KEYS.label},Values=${label}`;
    const found = await runChecked(run, "aws", [
      "ec2", "describe-instances", "--region", region, "--filters", filter,
      "Name=instance-state-name,Values=pending,running,stopping,stopped",
      "--query", "Reservations[].Instances[].InstanceId", "--output", "text",
    ]);
    const ids = found.split(/\s+/).filter((id) => /^i-[0-9a-f]+$/.test(id));
    const deleted: string[] = [];
    if (ids.length > 0) {
      await runChecked(run, "aws", ["ec2", "terminate-instances", "--region", region, "--instance-ids", ...ids]);
      deleted.push(...ids.map((id) => `instance ${id}`));
      // The security group can only go once no instance uses it.
      await runChecked(run, "aws", ["ec2", "wait", "instance-terminated", "--region", region, "--instance-ids", ...ids]);
    }
    const groups = await runChecked(run, "aws", [
      "ec2", "describe-security-groups", "--region", region, "--filters", filter, "--query", "SecurityGroups[].GroupId", "--output", "text",
    ]);
    for (const group of groups.split(/\s+/).filter((id) => /^sg-[0-9a-f]+$/.test(id))) {
      await runChecked(run, "aws", ["ec2", "delete-security-group", "--region", region, "--group-id", group]);
      deleted.push(`security group ${group}`);
    }
    // The lifetime schedules last: until the instances are gone they are the cap that still holds. A start
    // without lifetime-role has none, and its stop role may not be allowed to list them; one left behind costs
    // nothing, and at the cap it terminates an instance already gone and deletes itself. So a refused listing
    // is reported, never the stop's failure.
    const listing = await run("aws", [
      "scheduler", "list-schedules", "--region", region, "--group-name", "default", "--name-prefix", label, "--query", "Schedules[].Name", "--output", "text",
    ]);
    if (listing.exitCode !== 0) {
      const reason = listing.stderr.trim().split("\n").slice(-1)[0] || `exit ${listing.exitCode}`;
      deleted.push(`(lifetime schedules not looked up: ${reason}; any left delete themselves once they fire)`);
      return deleted;
    }
    for (const name of listing.stdout.split(/\s+/).filter((name) => name.startsWith(label) && /^[\w.-]{1,64}$/.test(name))) {
      await runChecked(run, "aws", ["scheduler", "delete-schedule", "--region", region, "--group-name", "default", "--name", name]);
      deleted.push(`lifetime schedule ${name}`);
    }
    return deleted;
  },
  stateStore: { kind: "s3", parse: s3Store },
  alternatives(config) {
    const types = [config.instanceType, ...config.fallbackInstanceTypes];
    const subnets = [config.subnetId, ...config.fallbackSubnetIds];
    const candidates: AwsConfig[] = [];
    // Spot everywhere first (the user asked for the cheaper capacity), then on-demand as the fallback.
    for (const spot of config.spot ? [true, false] : [false]) {
      for (const instanceType of types) {
        for (const subnetId of subnets) {
          candidates.push({ ...config, instanceType, subnetId, spot, fallbackInstanceTypes: [], fallbackSubnetIds: [] });
        }
      }
    }
    return candidates;
  },
});
