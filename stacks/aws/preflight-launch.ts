// The AWS preflight's dry runs: RunInstances with the stack's own parameters, and CreateSecurityGroup for the group
// the action makes. The only calls that would create something, each with --dry-run, so kept together.
import { OWNERSHIP_KEYS } from "../names.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AwsConfig } from "./config.ts";
import type { Answer } from "./preflight-answers.ts";
import type { Asker } from "./preflight-ask.ts";
import { refused, unchecked } from "./preflight-findings.ts";
import { describeImage, type Image, imageId } from "./preflight-image.ts";

type Finding = PreflightFinding;

/** EC2's answers to a dry run that mean "no capacity for this type here": the next candidate may have some. */
const CANDIDATE_ERRORS = /^(Unsupported|InsufficientInstanceCapacity|InvalidInstanceType|VcpuLimitExceeded)/;

/** The tags of a create request, as --tag-specifications takes them for each resource type. */
function tagSpecifications(types: string[], tags: Readonly<Record<string, string>>): string {
  const list = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  return JSON.stringify(types.map((ResourceType) => ({ ResourceType, Tags: list })));
}

/** A dry run: DryRunOperation means EC2 would have done it; any other answer says why not. */
function dryRunFinding(check: string, answer: Answer, asked: string, what: string): Finding {
  if (answer.kind === "unasked") return unchecked(check, answer.why);
  if (answer.kind === "ok")
    // --dry-run never succeeds: an answer without DryRunOperation is not EC2's, and proves nothing.
    return unchecked(check, "the dry run returned no DryRunOperation answer");
  if (answer.code === "DryRunOperation")
    return { check, status: "ok", detail: "EC2 would accept it (DryRunOperation)", scope: "start" };
  const scope = CANDIDATE_ERRORS.test(answer.code) ? "candidate" : "start";
  return refused(check, answer, asked, what, scope);
}

/** RunInstances as the stack's aws_instance calls it, with --dry-run: permissions, tags and parameters judged by EC2. */
function runInstancesArgs(config: AwsConfig, image: Image, tags: Readonly<Record<string, string>>): string[] {
  const args = ["--dry-run", "--image-id", image.id, "--instance-type", config.instanceType, "--count", "1"];
  if (config.launchTemplate)
    args.push(
      "--launch-template",
      JSON.stringify({ LaunchTemplateId: config.launchTemplate.id, Version: config.launchTemplate.version }),
    );
  // The provider sends a network interface with AssociatePublicIpAddress only for a subnet with public IP asked
  // (hashicorp/terraform-provider-aws, internal/service/ec2/ec2_instance.go, "hasSubnet && associatePublicIPAddress");
  // otherwise the subnet id and groups, and the subnet's MapPublicIpOnLaunch decides. When the action makes its own
  // group it does not exist yet: the dry run leaves the groups out (EC2 then takes the VPC's default group; the
  // group is judged by its own dry run).
  if (config.subnetId && config.publicIp)
    args.push(
      "--network-interfaces",
      JSON.stringify([
        {
          DeviceIndex: 0,
          SubnetId: config.subnetId,
          AssociatePublicIpAddress: true,
          ...(config.securityGroupIds.length > 0 ? { Groups: config.securityGroupIds } : {}),
        },
      ]),
    );
  else {
    if (config.subnetId) args.push("--subnet-id", config.subnetId);
    if (config.securityGroupIds.length > 0) args.push("--security-group-ids", ...config.securityGroupIds);
  }
  if (config.availabilityZone) args.push("--placement", JSON.stringify({ AvailabilityZone: config.availabilityZone }));
  if (config.instanceProfile) args.push("--iam-instance-profile", JSON.stringify({ Name: config.instanceProfile }));
  if (config.spot)
    args.push(
      "--instance-market-options",
      JSON.stringify({
        MarketType: "spot",
        SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" },
      }),
    );
  args.push(
    "--instance-initiated-shutdown-behavior",
    "terminate",
    "--metadata-options",
    JSON.stringify({ HttpEndpoint: "enabled", HttpTokens: "required", HttpPutResponseHopLimit: 1 }),
  );
  if (image.rootDevice)
    args.push(
      "--block-device-mappings",
      JSON.stringify([
        {
          DeviceName: image.rootDevice,
          Ebs: {
            VolumeSize: config.diskSizeGb,
            VolumeType: config.diskType,
            Encrypted: true,
            DeleteOnTermination: true,
            ...(config.diskIops === undefined ? {} : { Iops: config.diskIops }),
            ...(config.diskThroughput === undefined ? {} : { Throughput: config.diskThroughput }),
          },
        },
      ]),
    );
  // The instance and its volumes carry the stack's tags and the runner's Name, so tag-conditioned statements judge
  // the dry run as they judge apply.
  const label = tags[OWNERSHIP_KEYS.label];
  args.push(
    "--tag-specifications",
    tagSpecifications(["instance", "volume"], { ...tags, ...(label ? { Name: `${label}-0` } : {}) }),
  );
  return args;
}

function launchCheck(config: AwsConfig): string {
  return `EC2 dry run of run-instances (${config.instanceType}${config.spot ? ", Spot" : ""}, ${config.subnetId ?? config.availabilityZone ?? config.region})`;
}

export async function launch(config: AwsConfig, request: PreflightRequest, ask: Asker): Promise<Finding[]> {
  const resolved = await imageId(config, ask);
  if (config.image.kind !== "name" && resolved.id === undefined) return resolved.findings;
  const described = await describeImage(config, ask, resolved.id);
  const image = described.image ?? (resolved.id ? { id: resolved.id } : undefined);
  if (!image) return [...resolved.findings, ...described.findings];
  const answer = await ask.ask("ec2", "run-instances", runInstancesArgs(config, image, request.tags));
  return [
    ...resolved.findings,
    ...described.findings,
    dryRunFinding(launchCheck(config), answer, "ec2:RunInstances", "the stack launches each runner with RunInstances"),
  ];
}

/** CreateSecurityGroup with --dry-run, as the stack makes its no-inbound group when no security-group is given. */
export function askGroupDryRun(request: PreflightRequest, vpc: string, ask: Asker): Promise<Answer> {
  return ask.ask("ec2", "create-security-group", [
    "--dry-run",
    "--group-name",
    `${request.tags[OWNERSHIP_KEYS.label] ?? "gpu-runner"}-preflight`,
    "--description",
    "Ephemeral GPU runner: no inbound, all outbound",
    "--vpc-id",
    vpc,
    "--tag-specifications",
    tagSpecifications(["security-group"], request.tags),
  ]);
}

/** The finding of the security group's dry run. */
export function groupDryRunFinding(vpc: string, group: Answer): Finding {
  return dryRunFinding(
    `EC2 dry run of create-security-group (in ${vpc})`,
    group,
    "ec2:CreateSecurityGroup",
    "without a security-group input the stack makes a no-inbound group",
  );
}
