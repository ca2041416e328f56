// AWS EC2: one aws_instance per runner. Security posture lives here: IMDSv2 only, encrypted root volume deleted
// with the instance, terminate on power-off, no inbound traffic, public IP only when asked, and (with
// lifetime-role) a lifetime cap outside the machine: an EventBridge Scheduler schedule that terminates it.
import { gzipSync } from "node:zlib";
import { Fn, TerraformLocal } from "cdktf";
import { type AcceleratorRequest, type CatalogMachine, formatAccelerator, machineTypesFor, readAccelerator } from "./accelerator.ts";
import { type CommandRunner, defineCloud, type FoundMachine, jsonList, runChecked, type StateStore } from "./cloud.ts";
import type { Env, InputReader } from "./input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "./names.ts";
import { type MachineMade, RunnerStack, type RunnerSlot } from "./runner-stack.ts";
import { bundleKey, readStoreLocation } from "./state-store.ts";

type Architecture = "x86_64" | "arm64";

/** Where the machine's image comes from; everything but an AMI id is resolved by Terraform at apply. */
export type AwsImage =
  /** AWS's Deep Learning Base AMI with the NVIDIA driver, through its public SSM parameter (DEFAULT_IMAGE). */
  | { kind: "default" }
  | { kind: "id"; id: string }
  /** An SSM parameter that holds an AMI id: `resolve:ssm:NAME`, EC2's own spelling. */
  | { kind: "ssm"; parameter: string }
  /** The newest AMI of an owner whose name matches a pattern (`*` and `?` wildcards). */
  | { kind: "name"; owner: string; pattern: string };

export interface AwsConfig {
  region: string;
  instanceType: string;
  /** The accelerator input: every instance type carries it, and EC2's description is held to it at apply. */
  accelerator?: AcceleratorRequest;
  image: AwsImage;
  diskSizeGb: number;
  diskType: "gp3" | "io2";
  diskIops?: number;
  diskThroughput?: number;
  subnetId?: string;
  /** An Availability Zone of the default VPC (when no subnet is given). */
  availabilityZone?: string;
  securityGroupIds: string[];
  instanceProfile?: string;
  /** A launch template the instance starts from; the action's own settings (image, type, disk, metadata, network) win. */
  launchTemplate?: { id: string; version: string };
  publicIp: boolean;
  spot: boolean;
  /** Instance types, subnets and zones to try next when EC2 has no capacity (the rest of the lists). */
  fallbackInstanceTypes: string[];
  fallbackSubnetIds: string[];
  /**
   * The IAM role EventBridge Scheduler assumes to terminate each instance at its lifetime cap; undefined: no
   * schedule, and only the boot script's timer (which a job with sudo can disarm) and the stop job end it.
   */
  lifetimeRole?: string;
  fallbackZones: string[];
}

/**
 * The provider bindings, imported on first use (deep paths: the package root loads 2,200 modules). Loading them
 * lazily lets the action prune the other clouds' provider packages from its install.
 */
async function loadBindings() {
  const [ami, instanceType, ssmParameter, subnet, vpc, instance, provider, schedule, securityGroup] = await Promise.all([
    import("@cdktf/provider-aws/lib/data-aws-ami/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-ec2-instance-type/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-ssm-parameter/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-subnet/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-vpc/index.js"),
    import("@cdktf/provider-aws/lib/instance/index.js"),
    import("@cdktf/provider-aws/lib/provider/index.js"),
    import("@cdktf/provider-aws/lib/scheduler-schedule/index.js"),
    import("@cdktf/provider-aws/lib/security-group/index.js"),
  ]);
  return {
    DataAwsAmi: ami.DataAwsAmi,
    DataAwsEc2InstanceType: instanceType.DataAwsEc2InstanceType,
    DataAwsSsmParameter: ssmParameter.DataAwsSsmParameter,
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

  /** EC2's GPU count for the instance type (DescribeInstanceTypes, read at apply): the GPU gate expects that many. */
  protected override gpuCountAtApply(config: AwsConfig): string {
    const described = this.instanceTypeData(config);
    return Fn.sum(Fn.concat([[0], Fn.lookupNested(described.gpus, ["*", "count"])]));
  }

  /**
   * EC2's own description of the instance type, read once per stack. Its postconditions fail the plan, before
   * anything is created, when the type does not carry the accelerator asked for or cannot boot the image's
   * architecture.
   */
  private instanceTypeData(config: AwsConfig) {
    const { DataAwsEc2InstanceType } = bindings();
    const existing = this.node.tryFindChild("machine-type");
    if (existing instanceof DataAwsEc2InstanceType) return existing;
    const checks = [];
    if (config.accelerator) {
      checks.push({
        condition: `\${sum(concat([0], tolist(self.gpus)[*].count)) == ${config.accelerator.count}}`,
        errorMessage: `EC2 describes ${config.instanceType} with another number of GPUs than accelerator ${formatAccelerator(config.accelerator)} asks for.`,
      });
    }
    if (config.image.kind === "default" || config.image.kind === "name") {
      const arch = architectureOf(config.instanceType);
      checks.push({
        condition: `\${contains(self.supported_architectures, "${arch}")}`,
        errorMessage: `The image is chosen for ${arch}, and ${config.instanceType} does not run ${arch}: set image to one built for its architecture.`,
      });
    }
    return new DataAwsEc2InstanceType(this, "machine-type", { instanceType: config.instanceType, lifecycle: { postcondition: checks } });
  }

  /** The AMI id, resolved by Terraform at apply (once per stack) unless given as an id. */
  private imageId(config: AwsConfig): string {
    const { DataAwsAmi, DataAwsSsmParameter } = bindings();
    const image = config.image;
    if (image.kind === "id") return image.id;
    const existing = this.node.tryFindChild("machine-image");
    if (existing instanceof DataAwsAmi) return existing.id;
    // insecure_value: an AMI id is public, and a sensitive value would hide the image from plans and outputs.
    if (existing instanceof DataAwsSsmParameter) return existing.insecureValue;
    if (image.kind === "ssm") return new DataAwsSsmParameter(this, "machine-image", { name: image.parameter }).insecureValue;
    if (image.kind === "default") return new DataAwsSsmParameter(this, "machine-image", { name: defaultImageParameter(config.instanceType) }).insecureValue;
    const found = new DataAwsAmi(this, "machine-image", {
      mostRecent: true,
      owners: [image.owner],
      filter: [
        { name: "name", values: [image.pattern] },
        { name: "architecture", values: [architectureOf(config.instanceType)] },
        { name: "state", values: ["available"] },
      ],
    });
    return found.id;
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: AwsConfig): MachineMade {
    const { Instance } = bindings();
    const tags = { ...this.ownershipTags(), Name: runner.name };
    // Its checks hold even when expected-gpus makes the GPU count not needed.
    if (config.accelerator || config.image.kind === "default" || config.image.kind === "name") this.instanceTypeData(config);
    const instance = new Instance(this, `runner-${runner.index}`, {
      ami: this.imageId(config),
      instanceType: config.instanceType,
      // The base the user keeps outside the action (key pair, placement, capacity reservation...); every argument
      // set here overrides the template's, so it cannot weaken the settings below.
      launchTemplate: config.launchTemplate,
      subnetId: config.subnetId,
      availabilityZone: config.availabilityZone,
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
      rootBlockDevice: {
        encrypted: true,
        deleteOnTermination: true,
        volumeSize: config.diskSizeGb,
        volumeType: config.diskType,
        iops: config.diskIops,
        throughput: config.diskThroughput,
      },
      // Gzipped (cloud-init unpacks it): EC2 takes at most 16 KB of user-data, and the script plus a JIT config
      // comes close to that in clear. The script is a local so the JSON stays readable and needs no second escaping.
      userDataBase64: Fn.base64gzip(new TerraformLocal(this, `boot_script_${runner.index}`, userData).asString),
      userDataReplaceOnChange: true,
      tags,
      // default_tags do not reach volumes created with the instance.
      volumeTags: tags,
    });
    if (config.lifetimeRole) this.lifetimeSchedule(runner, instance.id, config.lifetimeRole);
    return { id: instance.id, image: instance.ami };
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

interface AwsMachine extends CatalogMachine {
  arch: Architecture;
}

const PRICES_AS_OF = "2026-09";

function machine(machineType: string, gpu: string, gpus: number, usdPerHour: number, arch: Architecture = "x86_64"): AwsMachine {
  return { machineType, gpu, gpus, usdPerHour, arch };
}

/**
 * The instance types the accelerator input chooses from: the GPU each carries and how many (EC2 instance types,
 * accelerated computing: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html, and each family's page,
 * https://aws.amazon.com/ec2/instance-types/g4/, /g5/, /g5g/, /g6/, /g6e/, /p3/, /p4/, /p5/), with its on-demand list
 * price in USD per hour, Linux, us-east-1 (https://aws.amazon.com/ec2/pricing/on-demand/, after the June 2025
 * P4/P5 price cut). At apply, EC2's own description of the type (DescribeInstanceTypes) is what the GPU gate
 * expects; this table is the review's offline fallback, and the price table.
 */
const CATALOG: readonly AwsMachine[] = [
  // NVIDIA T4
  machine("g4dn.xlarge", "t4", 1, 0.526), machine("g4dn.2xlarge", "t4", 1, 0.752), machine("g4dn.4xlarge", "t4", 1, 1.204),
  machine("g4dn.8xlarge", "t4", 1, 2.176), machine("g4dn.16xlarge", "t4", 1, 4.352), machine("g4dn.12xlarge", "t4", 4, 3.912),
  machine("g4dn.metal", "t4", 8, 7.824),
  // NVIDIA T4G on Graviton2 (arm64)
  machine("g5g.xlarge", "t4g", 1, 0.42, "arm64"), machine("g5g.2xlarge", "t4g", 1, 0.556, "arm64"), machine("g5g.4xlarge", "t4g", 1, 0.828, "arm64"),
  machine("g5g.8xlarge", "t4g", 1, 1.372, "arm64"), machine("g5g.16xlarge", "t4g", 2, 2.744, "arm64"), machine("g5g.metal", "t4g", 2, 2.744, "arm64"),
  // NVIDIA A10G
  machine("g5.xlarge", "a10g", 1, 1.006), machine("g5.2xlarge", "a10g", 1, 1.212), machine("g5.4xlarge", "a10g", 1, 1.624),
  machine("g5.8xlarge", "a10g", 1, 2.448), machine("g5.16xlarge", "a10g", 1, 4.096), machine("g5.12xlarge", "a10g", 4, 5.672),
  machine("g5.24xlarge", "a10g", 4, 8.144), machine("g5.48xlarge", "a10g", 8, 16.288),
  // NVIDIA L4
  machine("g6.xlarge", "l4", 1, 0.8048), machine("g6.2xlarge", "l4", 1, 0.9776), machine("g6.4xlarge", "l4", 1, 1.3232),
  machine("g6.8xlarge", "l4", 1, 2.0144), machine("g6.16xlarge", "l4", 1, 3.3968), machine("g6.12xlarge", "l4", 4, 4.6016),
  machine("g6.24xlarge", "l4", 4, 6.6752), machine("g6.48xlarge", "l4", 8, 13.3504),
  // NVIDIA L40S
  machine("g6e.xlarge", "l40s", 1, 1.861), machine("g6e.2xlarge", "l40s", 1, 2.24208), machine("g6e.4xlarge", "l40s", 1, 3.00424),
  machine("g6e.8xlarge", "l40s", 1, 4.52856), machine("g6e.16xlarge", "l40s", 1, 7.57719), machine("g6e.12xlarge", "l40s", 4, 10.49264),
  machine("g6e.24xlarge", "l40s", 4, 15.06559), machine("g6e.48xlarge", "l40s", 8, 30.13118),
  // NVIDIA V100
  machine("p3.2xlarge", "v100", 1, 3.06), machine("p3.8xlarge", "v100", 4, 12.24), machine("p3.16xlarge", "v100", 8, 24.48),
  // NVIDIA A100 40 GB and 80 GB
  machine("p4d.24xlarge", "a100", 8, 21.957642), machine("p4de.24xlarge", "a100-80gb", 8, 27.44705),
  // NVIDIA H100 and H200 (p5e.48xlarge, also 8 H200, is sold through Capacity Blocks: no on-demand list price)
  machine("p5.4xlarge", "h100", 1, 6.88), machine("p5.48xlarge", "h100", 8, 55.04), machine("p5en.48xlarge", "h200", 8, 63.296),
];

const BY_TYPE = new Map(CATALOG.map((m) => [m.machineType, m]));

/** GPU types without an on-demand list price: for the review's offline count only. */
const UNPRICED_GPUS: Readonly<Record<string, number>> = { "p5e.48xlarge": 8, "p3dn.24xlarge": 8, "p6-b200.48xlarge": 8 };

/**
 * AWS names Graviton (arm64) types with a g after the generation (g5g, c7gn, p6e-gb200). The catalog says so for
 * its own types; this rule covers the rest, and EC2's description checks it at apply (instanceTypeData).
 */
const GRAVITON = /^[a-z]+\d+[a-z-]*g[a-z0-9-]*\./;

function architectureOf(instanceType: string): Architecture {
  return BY_TYPE.get(instanceType)?.arch ?? (GRAVITON.test(instanceType) ? "arm64" : "x86_64");
}

/**
 * The image when `image` is empty: AWS's Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04; NVIDIA driver,
 * CUDA, Docker and the NVIDIA container toolkit), through the public SSM parameter AWS keeps pointing at its newest
 * release in every region, for the instance type's architecture (release notes, with the parameter names and the
 * supported instance types: https://docs.aws.amazon.com/dlami/latest/devguide/appendix-ami-release-notes.html).
 */
const DEFAULT_IMAGE = {
  name: "AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04)",
  parameter: (arch: Architecture) => `/aws/service/deeplearning/ami/${arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id`,
};

function defaultImageParameter(instanceType: string): string {
  return DEFAULT_IMAGE.parameter(architectureOf(instanceType));
}

function describeImage(config: AwsConfig): string {
  const image = config.image;
  switch (image.kind) {
    case "id":
      return image.id;
    case "ssm":
      return `resolve:ssm:${image.parameter} (resolved at apply)`;
    case "name":
      return `the newest ${architectureOf(config.instanceType)} AMI of ${image.owner} named ${JSON.stringify(image.pattern)} (resolved at apply)`;
    case "default":
      return `resolve:ssm:${defaultImageParameter(config.instanceType)} (the default: ${DEFAULT_IMAGE.name}, resolved at apply)`;
  }
}

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

/** EC2 allows 50 tags per resource; the action sets its ownership tags and Name on each. */
const EC2_MAX_TAGS = 50;
const ACTION_TAGS = Object.keys(OWNERSHIP_KEYS).length + 1;

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
const AVAILABILITY_ZONE = /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
/** EC2's own spelling of an AMI id kept in an SSM parameter (RunInstances accepts it as ImageId). */
const SSM_IMAGE = /^resolve:ssm:([A-Za-z0-9_./-]{1,2048})$/;
/** OWNER/NAME-PATTERN: an account id or alias, then an AMI name with `*` and `?` wildcards. */
const AMI_NAME = /^(\d{12}|amazon|aws-marketplace|self)\/([A-Za-z0-9()[\] ./'@_*?-]{3,128})$/;
const LAUNCH_TEMPLATE = /^(lt-[0-9a-f]{8,17})(?::(\d{1,6}|\$Latest|\$Default))?$/;
const DISK_TYPES = ["gp3", "io2"] as const;

/** The instance types to try, in order: machine-type's list (each must carry the accelerator), or the accelerator's cheapest. */
function readInstanceTypes(read: InputReader, accelerator: AcceleratorRequest | undefined, spot: boolean): string[] {
  const types = read.list("machine-type", INSTANCE_TYPE, "EC2 instance types such as g4dn.xlarge, comma-separated in order of preference", { max: 5 });
  return machineTypesFor(read, CATALOG, accelerator, types, { spot, cloud: "aws", example: "t4, a10g, l4, l40s or h100, with an optional count (l4:4)" });
}

function readImage(read: InputReader): AwsImage {
  const value = read.raw("image");
  if (value === "") return { kind: "default" };
  if (AMI_ID.test(value)) return { kind: "id", id: value };
  const ssm = SSM_IMAGE.exec(value);
  if (ssm) return { kind: "ssm", parameter: ssm[1]! };
  const named = AMI_NAME.exec(value);
  if (named) return { kind: "name", owner: named[1]!, pattern: named[2]! };
  read.fail(
    "image",
    "an AMI id such as ami-0123456789abcdef0, an SSM parameter that holds one as resolve:ssm:/path/to/ami-id, or the newest AMI " +
      "of an owner as OWNER/NAME-PATTERN such as amazon/Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *; " +
      `or nothing for the default, ${DEFAULT_IMAGE.name}`,
  );
}

/**
 * gp3 (the default) with optional IOPS and throughput, or io2 with IOPS; the ranges of EC2's CreateVolume
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html). EC2 checks the ratios to the size.
 */
function readDisk(read: InputReader): Pick<AwsConfig, "diskType" | "diskIops" | "diskThroughput"> {
  const diskType = read.oneOf("disk-type", DISK_TYPES, "gp3");
  if (diskType === "io2") {
    if (read.isSet("disk-throughput")) read.fail("disk-throughput", "nothing with disk-type io2 (its throughput follows its IOPS)");
    return { diskType, diskIops: read.integer("disk-iops", { min: 100, max: 256_000 }) };
  }
  return {
    diskType,
    diskIops: read.isSet("disk-iops") ? read.integer("disk-iops", { min: 3000, max: 16_000 }) : undefined,
    diskThroughput: read.isSet("disk-throughput") ? read.integer("disk-throughput", { min: 125, max: 1000 }) : undefined,
  };
}

/** Subnets, or Availability Zones of the default VPC: the places to try, in order. */
function readPlaces(read: InputReader): Pick<AwsConfig, "subnetId" | "fallbackSubnetIds" | "availabilityZone" | "fallbackZones"> {
  const subnets = read.list("subnet", SUBNET, "subnet ids such as subnet-0123456789abcdef0, comma-separated in order of preference", { max: 5 });
  const zones = read.list("availability-zone", AVAILABILITY_ZONE, "Availability Zones such as us-east-1a, comma-separated in order of preference", { max: 5 });
  if (subnets.length > 0 && zones.length > 0) read.fail("availability-zone", "nothing when subnet is set: each subnet lies in one zone already");
  const [subnetId, ...fallbackSubnetIds] = subnets;
  const [availabilityZone, ...fallbackZones] = zones;
  return { subnetId, fallbackSubnetIds, availabilityZone, fallbackZones };
}

function readLaunchTemplate(read: InputReader): AwsConfig["launchTemplate"] {
  if (!read.isSet("launch-template")) return undefined;
  const match = LAUNCH_TEMPLATE.exec(read.raw("launch-template"));
  if (!match) read.fail("launch-template", "a launch template id with an optional version, lt-0123456789abcdef0 or lt-0123456789abcdef0:3 ($Default when none is given, or $Latest)");
  return { id: match[1]!, version: match[2] ?? "$Default" };
}

function regionOf(env: Env): string {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new Error("AWS_REGION is not set: configure-aws-credentials sets it; without it the machines cannot be looked up");
  return region;
}

/** `describe-instances` as JSON: EC2's states pending/running and stopping/stopped. */
function parseInstances(json: string, region: string): FoundMachine[] {
  const machines: FoundMachine[] = [];
  for (const item of jsonList(json, "aws ec2 describe-instances") as { id?: unknown; state?: unknown; launched?: unknown; tags?: { Key?: string; Value?: string }[] | null }[]) {
    if (typeof item.id !== "string" || !/^i-[0-9a-f]+$/.test(item.id)) continue;
    const tag = (key: string) => item.tags?.find((t) => t.Key === key)?.Value;
    const lifetime = Number(tag(OWNERSHIP_KEYS.maxLifetime));
    machines.push({
      id: item.id,
      name: tag("Name") ?? item.id,
      label: tag(OWNERSHIP_KEYS.label) ?? "",
      state: item.state === "stopping" || item.state === "stopped" ? "stopped" : "running",
      launchedAt: typeof item.launched === "string" ? new Date(item.launched) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: region,
    });
  }
  return machines;
}

/** What a start makes beside its instances, found by its label: the no-inbound security group, the lifetime schedules. */
async function deleteLeftovers(label: string, region: string, run: CommandRunner): Promise<string[]> {
  const deleted: string[] = [];
  const filter = `Name=tag:${OWNERSHIP_KEYS.label},Values=${label}`;
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
}

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
  inputs: ["region", "subnet", "availability-zone", "security-group", "instance-profile", "launch-template", "disk-iops", "disk-throughput", "lifetime-role"],
  parse(read: InputReader): AwsConfig {
    checkTagsFit(read);
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "aws");
    const [instanceType, ...fallbackInstanceTypes] = readInstanceTypes(read, accelerator, spot);
    return {
      region: read.matching("region", REGION, "an AWS region such as us-east-1", read.env.AWS_REGION || undefined),
      instanceType: instanceType!,
      fallbackInstanceTypes,
      ...(accelerator ? { accelerator } : {}),
      image: readImage(read),
      diskSizeGb: read.integer("disk-size", { min: 8, max: 16384, fallback: 100 }),
      ...readDisk(read),
      ...readPlaces(read),
      securityGroupIds: read.list("security-group", /^sg-[0-9a-f]{8,17}$/, "security group ids such as sg-0123456789abcdef0", { max: 5 }),
      instanceProfile: read.matching("instance-profile", /^[\w+=,.@-]{1,128}$/, "an IAM instance profile name", "") || undefined,
      launchTemplate: readLaunchTemplate(read),
      publicIp: read.boolean("public-ip", false),
      spot,
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
  gpus(config) {
    const known = config.accelerator?.count ?? BY_TYPE.get(config.instanceType)?.gpus ?? UNPRICED_GPUS[config.instanceType];
    return {
      count: known,
      source: config.accelerator
        ? `accelerator ${formatAccelerator(config.accelerator)}`
        : known === undefined
          ? `${config.instanceType} is not in the action's catalog`
          : `the action's catalog of ${config.instanceType}`,
      atApply: `EC2's description of ${config.instanceType}`,
    };
  },
  summary: (config) => ({
    machineType: `${config.instanceType}${config.spot ? " (spot)" : ""}`,
    location: [config.region, config.subnetId, config.availabilityZone].filter(Boolean).join(", "),
    image: describeImage(config),
    spot: config.spot,
    caveats: config.lifetimeRole ? undefined : [NO_OUTSIDE_CAP],
  }),
  // Spot prices move by the hour and the zone; the on-demand price is what a Spot machine costs at most.
  hourlyPriceUsd: (config) => BY_TYPE.get(config.instanceType)?.usdPerHour,
  pricesAsOf: PRICES_AS_OF,
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that aws-actions/configure-aws-credentials ran in this job and its role has the permissions listed in docs/aws.md " +
    "(ssm:GetParameter for the default image, ec2:DescribeInstanceTypes for the GPU count), that the image exists in this region, " +
    "and that the account's EC2 quota for this instance family is not exhausted.",
  // AWS refuses user tags whose key starts with aws: (any case).
  reservedTagPrefixes: ["aws:"],
  // Amazon Linux's default user (Ubuntu's and Debian's are in the action's own list).
  imageAccounts: ["ec2-user"],
  example: {
    region: "us-east-1",
    accelerator: "t4",
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
  async findMachines(filter, env, run) {
    const region = regionOf(env);
    const [key, value] = "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
    const found = await runChecked(run, "aws", [
      "ec2", "describe-instances", "--region", region,
      "--filters", `Name=tag:${OWNERSHIP_KEYS.managedBy},Values=${MANAGED_BY_VALUE}`, `Name=tag:${key},Values=${value}`,
      "Name=instance-state-name,Values=pending,running,stopping,stopped",
      "--query", "Reservations[].Instances[].{id: InstanceId, state: State.Name, launched: LaunchTime, tags: Tags}", "--output", "json",
    ]);
    return parseInstances(found, region);
  },
  async deleteMachines(machines, labels, env, run) {
    const region = regionOf(env);
    const ids = machines.map((m) => m.id).filter((id) => /^i-[0-9a-f]+$/.test(id));
    const deleted: string[] = [];
    if (ids.length > 0) {
      await runChecked(run, "aws", ["ec2", "terminate-instances", "--region", region, "--instance-ids", ...ids]);
      deleted.push(...ids.map((id) => `instance ${id}`));
      // A security group can only go once no instance uses it.
      await runChecked(run, "aws", ["ec2", "wait", "instance-terminated", "--region", region, "--instance-ids", ...ids]);
    }
    for (const label of labels) deleted.push(...(await deleteLeftovers(label, region, run)));
    return deleted;
  },

  stateStore: { kind: "s3", parse: s3Store },
  alternatives(config) {
    const types = [config.instanceType, ...config.fallbackInstanceTypes];
    // The places to try: subnets, or Availability Zones of the default VPC (a subnet lies in one zone).
    const places = config.subnetId
      ? [config.subnetId, ...config.fallbackSubnetIds].map((subnetId) => ({ subnetId, availabilityZone: undefined }))
      : [config.availabilityZone, ...config.fallbackZones].map((availabilityZone) => ({ subnetId: undefined, availabilityZone }));
    const candidates: AwsConfig[] = [];
    // Spot everywhere first (the user asked for the cheaper capacity), then on-demand as the fallback.
    for (const spot of config.spot ? [true, false] : [false]) {
      for (const instanceType of types) {
        for (const place of places) {
          candidates.push({ ...config, instanceType, ...place, spot, fallbackInstanceTypes: [], fallbackSubnetIds: [], fallbackZones: [] });
        }
      }
    }
    return candidates;
  },
});
