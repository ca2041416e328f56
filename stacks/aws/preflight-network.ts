// The AWS preflight's network questions: the subnet (given, or the default ones) and its route to GitHub, and the
// security group's dry run in its VPC. Apart because the route is judged from route tables the stack never reads.
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AwsConfig } from "./config.ts";
import { type Answer, isDenied, judgeRoute, type Route, START_POLICY } from "./preflight-answers.ts";
import { type Asker, json } from "./preflight-ask.ts";
import { refused, unchecked } from "./preflight-findings.ts";
import { askGroupDryRun, groupDryRunFinding } from "./preflight-launch.ts";

type Finding = PreflightFinding;

interface Subnet {
  id?: unknown;
  vpc?: unknown;
  publicIp?: unknown;
}

interface RouteTable {
  /** [true] for the VPC's main table (the Main of its associations), else [] or null. */
  main?: unknown[] | null;
  subnets?: unknown[];
  routes?: Route[];
}

export async function network(config: AwsConfig, request: PreflightRequest, ask: Asker): Promise<Finding[]> {
  // Without a subnet, EC2 launches into a default subnet of the default VPC (of the zone, when one is given): the
  // stack's group goes into the default VPC (its aws_vpc data source, default = true), which holds those subnets.
  const where = config.subnetId ?? `the default subnets of ${config.availabilityZone ?? config.region}`;
  const check = `route to GitHub from ${where}`;
  const subnetArgs = config.subnetId
    ? ["--subnet-ids", config.subnetId]
    : [
        "--filters",
        "Name=default-for-az,Values=true",
        ...(config.availabilityZone ? [`Name=availability-zone,Values=${config.availabilityZone}`] : []),
      ];
  const answer = await ask.ask("ec2", "describe-subnets", [
    ...subnetArgs,
    "--query",
    "Subnets[].{id: SubnetId, vpc: VpcId, publicIp: MapPublicIpOnLaunch}",
    "--output",
    "json",
  ]);
  if (answer.kind === "unasked") return [unchecked(check, answer.why)];
  if (answer.kind === "error") {
    if (/^InvalidSubnetID\./.test(answer.code))
      return [
        {
          check,
          status: "failed",
          detail: `${answer.code}: ${answer.message}`,
          fix: "set subnet to a subnet of this region",
          scope: "start",
        },
      ];
    return [refused(check, answer, "ec2:DescribeSubnets", "the stack reads the subnet's VPC", "start")];
  }
  const listed = json(answer.stdout);
  const subnets = (Array.isArray(listed) ? (listed as Subnet[]) : []).filter(
    (s): s is { id: string; vpc: string; publicIp?: unknown } => typeof s.id === "string" && typeof s.vpc === "string",
  );
  if (subnets.length === 0)
    return [
      {
        check,
        status: "failed",
        detail: config.subnetId
          ? `EC2 finds no subnet ${config.subnetId}`
          : "this region has no default VPC with a default subnet there",
        fix: "set subnet to a subnet with a route to the internet (NAT gateway, or internet gateway with public-ip: true)",
        scope: "start",
      },
    ];
  const vpc = subnets[0]!.vpc;
  const [routes, group] = await Promise.all([
    ask.ask("ec2", "describe-route-tables", [
      "--filters",
      `Name=vpc-id,Values=${vpc}`,
      "--query",
      "RouteTables[].{main: Associations[?Main].Main, subnets: Associations[].SubnetId, routes: Routes}",
      "--output",
      "json",
    ]),
    config.securityGroupIds.length > 0 ? undefined : askGroupDryRun(request, vpc, ask),
  ]);
  const findings: Finding[] = [routeFinding(check, subnets, routes, config)];
  if (group) findings.push(groupDryRunFinding(vpc, group));
  return findings;
}

function routeFinding(
  check: string,
  subnets: { id: string; publicIp?: unknown }[],
  answer: Answer,
  config: AwsConfig,
): Finding {
  if (answer.kind === "unasked") return unchecked(check, answer.why);
  if (answer.kind === "error") {
    // The stack itself never reads route tables: a denial leaves the question open, it does not fail the start.
    if (isDenied(answer.code))
      return {
        ...unchecked(check, `${answer.code}: the role may not ec2:DescribeRouteTables`),
        fix: `Allow ec2:DescribeRouteTables (the statement "Describe" of ${START_POLICY}) for this check`,
      };
    return unchecked(check, `${answer.code}: ${answer.message}`);
  }
  const listed = json(answer.stdout);
  const tables = Array.isArray(listed) ? (listed as RouteTable[]) : [];
  const verdicts = subnets.map((subnet) => {
    // A subnet uses the table associated with it, else its VPC's main table.
    const table = tables.find((t) => t.subnets?.includes(subnet.id)) ?? tables.find((t) => t.main?.includes(true));
    // The provider asks a public IP only for a given subnet with public-ip: true; otherwise the subnet's own
    // MapPublicIpOnLaunch decides (runInstancesArgs, preflight-launch.ts).
    const publicIp = (config.subnetId !== undefined && config.publicIp) || subnet.publicIp === true;
    return { subnet: subnet.id, ...judgeRoute(table?.routes ?? [], publicIp) };
  });
  const failed = verdicts.filter((v) => v.status === "failed");
  const open = verdicts.filter((v) => v.status === "unchecked");
  const line = (list: typeof verdicts) => list.map((v) => `${v.subnet}: ${v.detail}`).join("; ");
  if (failed.length > 0)
    return {
      check,
      status: "failed",
      detail: line(failed),
      fix: config.subnetId
        ? "give a subnet whose 0.0.0.0/0 route goes to a NAT gateway, or to an internet gateway with public-ip: true"
        : "set public-ip: true (the default VPC routes through an internet gateway), or give a subnet with a NAT gateway",
      scope: "start",
    };
  if (open.length > 0) return unchecked(check, line(open));
  return { check, status: "ok", detail: line(verdicts), scope: "start" };
}
