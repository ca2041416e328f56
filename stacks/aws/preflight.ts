// The AWS preflight (stacks/preflight.ts says why): before anything exists, the aws CLI asks EC2 to dry-run the
// launch with the stack's own parameters, reads the image, the Spot service-linked role, the family's vCPU quota and
// the subnet's route to GitHub. Read-only: every EC2 call that would create something carries --dry-run. The
// questions run at once, in at most three rounds (the image's id before its description before the dry run).
//
// Each command and the shape of its answer follow botocore's service models that ship with the aws CLI (ec2
// 2016-11-15, ssm 2014-11-06, iam 2010-05-08, service-quotas 2019-06-24): RunInstances' and CreateSecurityGroup's
// DryRun ("If you have the required permissions, the error response is DryRunOperation. Otherwise, it is
// UnauthorizedOperation"), DescribeImages' Image.RootDeviceName and BlockDeviceMappings[].Ebs.VolumeSize,
// DescribeInstanceTypes' VCpuInfo.DefaultVCpus, DescribeSubnets' VpcId and MapPublicIpOnLaunch, DescribeRouteTables'
// Associations[].SubnetId/Main and Routes[], ssm GetParameter's Parameter.Value, iam GetRole's Role.Arn (NoSuchEntity
// when absent), Service Quotas GetServiceQuota's Quota.Value and UsageMetric.MetricDimensions.
//
// This file runs one candidate's questions at once; each lives beside it: the image (preflight-image.ts), the dry
// runs (preflight-launch.ts), the route to GitHub (preflight-network.ts), the vCPU quota (preflight-quota.ts), the
// Spot role (preflight-spot-role.ts), and the memo that shares identical questions (preflight-ask.ts).
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AwsConfig } from "./config.ts";
import { Asker } from "./preflight-ask.ts";
import { launch } from "./preflight-launch.ts";
import { network } from "./preflight-network.ts";
import { quota } from "./preflight-quota.ts";
import { spotRole } from "./preflight-spot-role.ts";

export { SPOT_ROLE } from "./preflight-spot-role.ts";

/** The AWS preflight of one capacity candidate (its instance type, subnet or zone, Spot or not): every question at once. */
export async function awsPreflight(
  config: AwsConfig,
  request: PreflightRequest,
  run: CommandRunner,
): Promise<PreflightFinding[]> {
  const ask = new Asker(config, run);
  const parts = await Promise.all([
    launch(config, request, ask),
    network(config, request, ask),
    quota(config, request, ask),
    config.spot ? spotRole(ask).then((f) => [f]) : Promise.resolve([]),
  ]);
  return parts.flat();
}
