// AWS EC2: one aws_instance per runner. Security posture lives here: IMDSv2 only, encrypted root volume deleted
// with the instance, terminate on power-off, no inbound traffic, public IP only when asked.
import { Fn, TerraformLocal } from "cdktf";
import { runChecked } from "../scripts/adapters/command.ts";
import { OWNERSHIP_KEYS } from "../scripts/lib/constants.ts";
import type { InputReader } from "./input-reader.ts";
import { defineCloud } from "./cloud.ts";
import { awsGpusPerMachine } from "./gpu-catalog.ts";
import { AWS_ON_DEMAND } from "./prices.ts";
import { RunnerStack, type RunnerSlot } from "./runner-stack.ts";

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
}

/**
 * The provider bindings, imported on first use (deep paths: the package root loads 2,200 modules). Loading them
 * lazily lets the action prune the other clouds' provider packages from its install.
 */
async function loadBindings() {
  const [subnet, vpc, instance, provider, securityGroup] = await Promise.all([
    import("@cdktf/provider-aws/lib/data-aws-subnet/index.js"),
    import("@cdktf/provider-aws/lib/data-aws-vpc/index.js"),
    import("@cdktf/provider-aws/lib/instance/index.js"),
    import("@cdktf/provider-aws/lib/provider/index.js"),
    import("@cdktf/provider-aws/lib/security-group/index.js"),
  ]);
  return {
    DataAwsSubnet: subnet.DataAwsSubnet,
    DataAwsVpc: vpc.DataAwsVpc,
    Instance: instance.Instance,
    AwsProvider: provider.AwsProvider,
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
    return instance.id;
  }
}

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;

export const awsCloud = defineCloud<AwsConfig>({
  name: "aws",
  inputs: ["region", "subnet", "security-group", "instance-profile"],
  parse(read: InputReader): AwsConfig {
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
    };
  },
  load: async () => {
    aws ??= await loadBindings();
  },
  createStack: (scope, id, shared, config) => new AwsRunnerStack(scope, id, shared, config),
  gpusPerMachine: (config) => awsGpusPerMachine(config.instanceType),
  summary: (config) => ({
    machineType: `${config.instanceType}${config.spot ? " (spot)" : ""}`,
    location: config.subnetId ? `${config.region} (${config.subnetId})` : config.region,
    image: config.ami,
  }),
  // Spot prices move by the hour and the zone: unknown rather than a guess.
  hourlyPriceUsd: (config) => (config.spot ? undefined : AWS_ON_DEMAND[config.instanceType]),
  example: {
    region: "us-east-1",
    "machine-type": "g4dn.xlarge",
    image: "ami-0123456789abcdef0",
  },
  // EC2 rejects user-data over 16 KB (before base64; here after gzip).
  userDataLimitBytes: 16 * 1024,
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
    return deleted;
  },
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
