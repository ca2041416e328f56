// The AWS machine catalog: which instance types carry which GPU, how many, at what price, the default image for each
// architecture, and the alternatives to try when EC2 has no capacity. A price update is a diff of this file alone.
import type { CatalogMachine } from "../accelerator.ts";
import { formatAccelerator } from "../accelerator.ts";
import type { CapacityChoices } from "../capacity.ts";
import type { CloudCatalog } from "../cloud.ts";
import type { Architecture, AwsConfig } from "./config.ts";

interface AwsMachine extends CatalogMachine {
  arch: Architecture;
}

// When the figures below were taken: EC2's on-demand list after the June 2025 P4/P5 price cut (p5.48xlarge at
// $55.04), not re-read since. A later check of the price page moves this date with the figures.
const PRICES_AS_OF = "2025-06";

function machine(
  machineType: string,
  gpu: string,
  gpus: number,
  usdPerHour: number,
  arch: Architecture = "x86_64",
): AwsMachine {
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
export const CATALOG: readonly AwsMachine[] = [
  // NVIDIA T4
  machine("g4dn.xlarge", "t4", 1, 0.526),
  machine("g4dn.2xlarge", "t4", 1, 0.752),
  machine("g4dn.4xlarge", "t4", 1, 1.204),
  machine("g4dn.8xlarge", "t4", 1, 2.176),
  machine("g4dn.16xlarge", "t4", 1, 4.352),
  machine("g4dn.12xlarge", "t4", 4, 3.912),
  machine("g4dn.metal", "t4", 8, 7.824),
  // NVIDIA T4G on Graviton2 (arm64)
  machine("g5g.xlarge", "t4g", 1, 0.42, "arm64"),
  machine("g5g.2xlarge", "t4g", 1, 0.556, "arm64"),
  machine("g5g.4xlarge", "t4g", 1, 0.828, "arm64"),
  machine("g5g.8xlarge", "t4g", 1, 1.372, "arm64"),
  machine("g5g.16xlarge", "t4g", 2, 2.744, "arm64"),
  machine("g5g.metal", "t4g", 2, 2.744, "arm64"),
  // NVIDIA A10G
  machine("g5.xlarge", "a10g", 1, 1.006),
  machine("g5.2xlarge", "a10g", 1, 1.212),
  machine("g5.4xlarge", "a10g", 1, 1.624),
  machine("g5.8xlarge", "a10g", 1, 2.448),
  machine("g5.16xlarge", "a10g", 1, 4.096),
  machine("g5.12xlarge", "a10g", 4, 5.672),
  machine("g5.24xlarge", "a10g", 4, 8.144),
  machine("g5.48xlarge", "a10g", 8, 16.288),
  // NVIDIA L4
  machine("g6.xlarge", "l4", 1, 0.8048),
  machine("g6.2xlarge", "l4", 1, 0.9776),
  machine("g6.4xlarge", "l4", 1, 1.3232),
  machine("g6.8xlarge", "l4", 1, 2.0144),
  machine("g6.16xlarge", "l4", 1, 3.3968),
  machine("g6.12xlarge", "l4", 4, 4.6016),
  machine("g6.24xlarge", "l4", 4, 6.6752),
  machine("g6.48xlarge", "l4", 8, 13.3504),
  // NVIDIA L40S
  machine("g6e.xlarge", "l40s", 1, 1.861),
  machine("g6e.2xlarge", "l40s", 1, 2.24208),
  machine("g6e.4xlarge", "l40s", 1, 3.00424),
  machine("g6e.8xlarge", "l40s", 1, 4.52856),
  machine("g6e.16xlarge", "l40s", 1, 7.57719),
  machine("g6e.12xlarge", "l40s", 4, 10.49264),
  machine("g6e.24xlarge", "l40s", 4, 15.06559),
  machine("g6e.48xlarge", "l40s", 8, 30.13118),
  // NVIDIA V100
  machine("p3.2xlarge", "v100", 1, 3.06),
  machine("p3.8xlarge", "v100", 4, 12.24),
  machine("p3.16xlarge", "v100", 8, 24.48),
  // NVIDIA A100 40 GB and 80 GB
  machine("p4d.24xlarge", "a100", 8, 21.957642),
  machine("p4de.24xlarge", "a100-80gb", 8, 27.44705),
  // NVIDIA H100 and H200 (p5e.48xlarge, also 8 H200, is sold through Capacity Blocks: no on-demand list price)
  machine("p5.4xlarge", "h100", 1, 6.88),
  machine("p5.48xlarge", "h100", 8, 55.04),
  machine("p5en.48xlarge", "h200", 8, 63.296),
];

const BY_TYPE = new Map(CATALOG.map((m) => [m.machineType, m]));

/** GPU types without an on-demand list price: for the review's offline count only. */
const UNPRICED_GPUS: Readonly<Record<string, number>> = {
  "p5e.48xlarge": 8,
  "p3dn.24xlarge": 8,
  "p6-b200.48xlarge": 8,
};

/**
 * AWS names Graviton (arm64) types with a g after the generation (g5g, c7gn, p6e-gb200). The catalog says so for
 * its own types; this rule covers the rest, and EC2's description checks it at apply (instanceTypeData).
 */
const GRAVITON = /^[a-z]+\d+[a-z-]*g[a-z0-9-]*\./;

export function architectureOf(instanceType: string): Architecture {
  return BY_TYPE.get(instanceType)?.arch ?? (GRAVITON.test(instanceType) ? "arm64" : "x86_64");
}

/**
 * The image when `image` is empty: AWS's Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04; NVIDIA driver,
 * CUDA, Docker and the NVIDIA container toolkit), through the public SSM parameter AWS keeps pointing at its newest
 * release in every region, for the instance type's architecture (release notes, with the parameter names and the
 * supported instance types: https://docs.aws.amazon.com/dlami/latest/devguide/appendix-ami-release-notes.html).
 */
export const DEFAULT_IMAGE = {
  name: "AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04)",
  parameter: (arch: Architecture) =>
    `/aws/service/deeplearning/ami/${arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id`,
};

/**
 * V100 (Volta) instance types, which the default image cannot drive: its NVIDIA driver loads the open GPU kernel
 * modules, which support Turing and later GPUs only ("the open-source GPU kernel modules are not compatible with"
 * Maxwell, Pascal or Volta: NVIDIA Driver Installation Guide, Kernel Modules,
 * https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html), and its driver branch
 * (595 in the 2026 releases) is past R580, the last branch with Volta support. Its release notes' supported
 * instances list no P3 (appendix-ami-release-notes.html above). A P3 booted from it fails the GPU check and bills
 * until runner-timeout: refused before anything exists (inputs.ts), unless an image is given.
 */
export const VOLTA_TYPES = /^p3(dn)?\./;

/**
 * EC2 names its families with NVIDIA GPUs G and P (G4dn, G5, G5g, G6, Gr6, G6e, P3, P4d, P5, P6...; G4ad carries an
 * AMD GPU); the other accelerated families carry none (Inf and Trn: AWS chips, DL: Gaudi, F: FPGAs, VT: video), nor
 * do the general-purpose, compute, memory and storage ones (EC2 instance types, naming conventions and accelerated
 * computing: https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html, .../ac.html).
 */
const GPU_FAMILY = /^(g|gr|p)\d/;

/** Why an instance type carries no GPU, or undefined when it does (or may: a G or P type outside the catalog). */
export function gpulessWhy(instanceType: string): string | undefined {
  if (BY_TYPE.has(instanceType) || instanceType in UNPRICED_GPUS || GPU_FAMILY.test(instanceType)) return undefined;
  return `${instanceType} is not of EC2's G or P families, the ones with GPUs`;
}

export function defaultImageParameter(instanceType: string): string {
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

const NO_OUTSIDE_CAP =
  "lifetime-role is not set: on AWS only the machine's own timer (which a job with sudo can disarm) and the stop job " +
  "end the machine; nothing outside it enforces max-lifetime. Set lifetime-role for an EventBridge Scheduler cap (docs/aws.md).";

/** Where an instance can go: a subnet, or an Availability Zone of the default VPC (a subnet lies in one zone). */
type AwsPlace = Pick<AwsConfig, "subnetId" | "availabilityZone">;

function capacity(config: AwsConfig): CapacityChoices<AwsConfig, AwsPlace> {
  return {
    spot: config.spot,
    machineTypes: [config.instanceType, ...config.fallbackInstanceTypes],
    places: config.subnetId
      ? [config.subnetId, ...config.fallbackSubnetIds].map((subnetId) => ({ subnetId, availabilityZone: undefined }))
      : [config.availabilityZone, ...config.fallbackZones].map((availabilityZone) => ({
          subnetId: undefined,
          availabilityZone,
        })),
    candidate: (instanceType, place, spot) => ({
      ...config,
      instanceType,
      ...place,
      spot,
      fallbackInstanceTypes: [],
      fallbackSubnetIds: [],
      fallbackZones: [],
    }),
  };
}

export const awsCatalog: CloudCatalog<AwsConfig> = {
  gpus(config) {
    const known =
      config.accelerator?.count ?? BY_TYPE.get(config.instanceType)?.gpus ?? UNPRICED_GPUS[config.instanceType];
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
  capacity,
};
