// The AWS inputs: region, instance types, image, disk, subnets or zones, launch template, lifetime role. Each error
// names the input, what was given and what is expected, before anything exists.
import { type AcceleratorRequest, machineTypesFor, readAccelerator, refuseGpuless } from "../accelerator.ts";
import type { CloudInputs } from "../cloud.ts";
import type { Env, InputReader } from "../input-reader.ts";
import { CATALOG, DEFAULT_IMAGE, gpulessWhy, VOLTA_TYPES } from "./catalog.ts";
import type { AwsConfig, AwsImage } from "./config.ts";

export const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/**
 * Where the region comes from when the region input is empty, first set first; the CLI's look-ups (sweep, stop) read
 * the same. aws-actions/configure-aws-credentials exports its required aws-region input as both (v6.2.3: README, the
 * output-env-credentials input, on by default without aws-profile; src/helpers.ts, exportRegion).
 */
export const REGION_VARIABLES = ["AWS_REGION", "AWS_DEFAULT_REGION"] as const;

/** Who sets REGION_VARIABLES, for the messages that ask for them. */
export const REGION_SOURCE = "aws-actions/configure-aws-credentials sets both from its aws-region input";

/** The region REGION_VARIABLES give, or undefined (an empty one is unset: that action's cleanup empties them). */
export function regionFromEnv(env: Env): string | undefined {
  for (const variable of REGION_VARIABLES) if (env[variable]) return env[variable];
  return undefined;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
/** An IAM role ARN (its partition captured), with an optional path: arn:aws:iam::123456789012:role/NAME. */
export const IAM_ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

const AVAILABILITY_ZONE = /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
/** EC2's own spelling of an AMI id kept in an SSM parameter (RunInstances accepts it as ImageId). */
const SSM_IMAGE = /^resolve:ssm:([A-Za-z0-9_./-]{1,2048})$/;
/** OWNER/NAME-PATTERN: an account id or alias, then an AMI name with `*` and `?` wildcards. */
const AMI_NAME = /^(\d{12}|amazon|aws-marketplace|self)\/([A-Za-z0-9()[\] ./'@_*?-]{3,128})$/;
const LAUNCH_TEMPLATE = /^(lt-[0-9a-f]{8,17})(?::(\d{1,6}|\$Latest|\$Default))?$/;
const DISK_TYPES = ["gp3", "io2"] as const;

/** The region input, else the environment's (unchecked: the AWS CLI's own setting); refused when neither is set. */
function readRegion(read: InputReader): string {
  const expected = "an AWS region such as us-east-1";
  const fromEnv = regionFromEnv(read.env);
  if (!read.isSet("region") && fromEnv === undefined)
    read.fail("region", `${expected}, or ${REGION_VARIABLES.join(" or ")} set in the environment: ${REGION_SOURCE}`);
  return read.matching("region", REGION, expected, fromEnv);
}

/** The instance types to try, in order: machine-type's list (each must carry the accelerator), or the accelerator's cheapest. */
function readInstanceTypes(read: InputReader, accelerator: AcceleratorRequest | undefined, spot: boolean): string[] {
  const types = read.list(
    "machine-type",
    INSTANCE_TYPE,
    "EC2 instance types such as g4dn.xlarge, comma-separated in order of preference",
    { max: 5 },
  );
  const chosen = machineTypesFor(read, CATALOG, accelerator, types, {
    spot,
    cloud: "aws",
    example: "t4, a10g, l4, l40s or h100, with an optional count (l4:4)",
  });
  refuseGpuless(read, chosen, gpulessWhy);
  return chosen;
}

function readImage(read: InputReader, instanceTypes: string[]): AwsImage {
  const value = read.raw("image");
  if (value === "") {
    const volta = instanceTypes.filter((type) => VOLTA_TYPES.test(type));
    if (volta.length > 0) {
      read.fail(
        "image",
        `an AMI whose NVIDIA driver drives V100 (Volta) GPUs for ${volta.join(", ")}: the default, ${DEFAULT_IMAGE.name}, ` +
          "loads NVIDIA's open kernel modules, which drive Turing and later GPUs only; give an AMI with the proprietary " +
          "kernel modules of a driver branch up to R580, the last with Volta support (docs/images.md), or another accelerator",
      );
    }
    return { kind: "default" };
  }
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
    if (read.isSet("disk-throughput"))
      read.fail("disk-throughput", "nothing with disk-type io2 (its throughput follows its IOPS)");
    return {
      diskType,
      diskIops: read.integer("disk-iops", {
        min: 100,
        max: 256_000,
        unit: "IOPS",
        dependency: { says: "for disk-type io2" },
      }),
    };
  }
  return {
    diskType,
    diskIops: read.isSet("disk-iops")
      ? read.integer("disk-iops", { min: 3000, max: 16_000, unit: "IOPS", dependency: { says: "for disk-type gp3" } })
      : undefined,
    diskThroughput: read.isSet("disk-throughput")
      ? read.integer("disk-throughput", {
          min: 125,
          max: 1000,
          unit: "MiB/s",
          dependency: { says: "for disk-type gp3" },
        })
      : undefined,
  };
}

/** Subnets, or Availability Zones of the default VPC: the places to try, in order. */
function readPlaces(
  read: InputReader,
): Pick<AwsConfig, "subnetId" | "fallbackSubnetIds" | "availabilityZone" | "fallbackZones"> {
  const subnets = read.list(
    "subnet",
    SUBNET,
    "subnet ids such as subnet-0123456789abcdef0, comma-separated in order of preference",
    { max: 5 },
  );
  const zones = read.list(
    "availability-zone",
    AVAILABILITY_ZONE,
    "Availability Zones such as us-east-1a, comma-separated in order of preference",
    { max: 5 },
  );
  if (subnets.length > 0 && zones.length > 0)
    read.fail("availability-zone", "nothing when subnet is set: each subnet lies in one zone already");
  const [subnetId, ...fallbackSubnetIds] = subnets;
  const [availabilityZone, ...fallbackZones] = zones;
  return { subnetId, fallbackSubnetIds, availabilityZone, fallbackZones };
}

function readLaunchTemplate(read: InputReader): AwsConfig["launchTemplate"] {
  if (!read.isSet("launch-template")) return undefined;
  const match = LAUNCH_TEMPLATE.exec(read.raw("launch-template"));
  if (!match)
    read.fail(
      "launch-template",
      "a launch template id with an optional version, lt-0123456789abcdef0 or lt-0123456789abcdef0:3 ($Default when none is given, or $Latest)",
    );
  return { id: match[1]!, version: match[2] ?? "$Default" };
}

export const awsInputs: CloudInputs<AwsConfig> = {
  names: [
    "region",
    "subnet",
    "availability-zone",
    "security-group",
    "instance-profile",
    "launch-template",
    "disk-iops",
    "disk-throughput",
    "lifetime-role",
  ],
  example: {
    region: "us-east-1",
    accelerator: "t4",
  },
  parse(read: InputReader): AwsConfig {
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "aws");
    const [instanceType, ...fallbackInstanceTypes] = readInstanceTypes(read, accelerator, spot);
    return {
      region: readRegion(read),
      instanceType: instanceType!,
      fallbackInstanceTypes,
      ...(accelerator ? { accelerator } : {}),
      image: readImage(read, [instanceType!, ...fallbackInstanceTypes]),
      diskSizeGb: read.integer("disk-size", { min: 8, max: 16384, fallback: 100, unit: "GB" }),
      ...readDisk(read),
      ...readPlaces(read),
      securityGroupIds: read.list(
        "security-group",
        /^sg-[0-9a-f]{8,17}$/,
        "security group ids such as sg-0123456789abcdef0",
        { max: 5 },
      ),
      instanceProfile:
        read.matching("instance-profile", /^[\w+=,.@-]{1,128}$/, "an IAM instance profile name", "") || undefined,
      launchTemplate: readLaunchTemplate(read),
      publicIp: read.boolean("public-ip", false),
      spot,
      lifetimeRole:
        read.matching(
          "lifetime-role",
          IAM_ROLE_ARN,
          "the ARN of an IAM role that EventBridge Scheduler may assume, such as arn:aws:iam::123456789012:role/gpu-runner-lifetime (docs/aws.md)",
          "",
        ) || undefined,
    };
  },
  // EC2 allows 50 tags per resource; the stack sets Name beside the ownership tags. AWS refuses user tags whose key
  // starts with aws: (any case).
  tags: { max: 50, limitOf: "EC2", noun: "tags", setByStack: 1, reservedPrefixes: ["aws:"] },
  // Amazon Linux's default user (Ubuntu's and Debian's are in the action's own list); ec2-instance-connect, the
  // account the ec2-instance-connect package creates (on Ubuntu AMIs and Amazon Linux); ssm-user, the account the SSM
  // Agent creates, with sudo, for Session Manager (AWS Systems Manager User Guide, "ssm-user").
  imageAccounts: ["ec2-user", "ec2-instance-connect", "ssm-user"],
};
