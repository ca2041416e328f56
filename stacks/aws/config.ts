// The configuration one AWS start is made from: what inputs.ts reads, what catalog.ts prices, what stack.ts builds.
import type { AcceleratorRequest } from "../accelerator.ts";

export type Architecture = "x86_64" | "arm64";

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
