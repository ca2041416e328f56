// How the AWS preflight reads what the aws CLI answered (stacks/aws/preflight.ts asks): the error code of a refused
// call, the permission a denial names, the Service Quotas code of an instance family, and whether a subnet's route
// table reaches GitHub. Pure, so each rule is tested on its own.
import type { CommandResult } from "../cloud-command.ts";

/** The policy file docs/aws.md gives for a start, whose statements (by Sid) a fix names. */
export const START_POLICY = "docs/policies/aws-start.json";

/** What a call answered: its output, or the service's error code and message, or why it could not be asked. */
export type Answer =
  | { kind: "ok"; stdout: string }
  | { kind: "error"; code: string; message: string }
  | { kind: "unasked"; why: string };

/**
 * The aws CLI prints a service's error as "An error occurred (CODE) when calling the OPERATION operation: MESSAGE"
 * (botocore.exceptions.ClientError's message) and exits 255 (v1) or 254 (v2); 127 is the shell's "not found".
 */
const CLIENT_ERROR =
  /An error occurred \(([\w.]+)\)(?: \([^)]*\))? when calling the \w+ operation(?: \([^)]*\))?: ?(.*)/s;

/** Throttling and the service's own outages: the question could not be asked now, which says nothing of the start. */
const NOT_NOW =
  /^(RequestLimitExceeded|Throttling|ThrottlingException|TooManyRequestsException|ServiceUnavailable|ServiceUnavailableException|InternalError|InternalFailure|ServiceException|Unavailable)$/;

export function readAnswer(result: CommandResult): Answer {
  if (result.exitCode === 0) return { kind: "ok", stdout: result.stdout };
  if (result.exitCode === 127) return { kind: "unasked", why: "the aws CLI is not installed (exit 127)" };
  const error = CLIENT_ERROR.exec(result.stderr);
  if (!error) {
    const last = result.stderr.trim().split("\n").at(-1) || `exit ${result.exitCode}`;
    return { kind: "unasked", why: `the aws CLI failed: ${last.slice(0, 300)}` };
  }
  const [, code, message] = error as unknown as [string, string, string];
  if (NOT_NOW.test(code)) return { kind: "unasked", why: `${code}: ${firstLine(message)}` };
  return { kind: "error", code, message: firstLine(message) };
}

const firstLine = (text: string) => text.trim().split("\n")[0]!.slice(0, 400);

/** EC2's, IAM's, SSM's and Service Quotas' codes for "this identity may not": EC2 says UnauthorizedOperation. */
export const isDenied = (code: string) =>
  /^(UnauthorizedOperation|AccessDenied|AccessDeniedException|UnauthorizedException)$/.test(code);

/**
 * The permission a denial names. EC2 words it "User: ARN is not authorized to perform: ec2:RunInstances on
 * resource: arn:aws:ec2:...:volume/* because ..." beside an encoded message that only sts:DecodeAuthorizationMessage
 * (another permission) can read; IAM, SSM and Service Quotas use the same "not authorized to perform" words.
 */
export function deniedPermission(message: string): { action?: string; resource?: string } {
  const found = /not authorized to perform:? ([\w-]+:\w+)(?: on resource:? (\S+?))?(?:[\s,]|$)/.exec(message);
  return { action: found?.[1], resource: found?.[2] };
}

/**
 * The statement of START_POLICY that grants an action the start needs: the reads (Describe, DefaultImage); of a
 * RunInstances or CreateSecurityGroup request, the tagged creations (CreateTagged), their tags (TagOnCreate), the
 * VPC (SecurityGroupInVpc), what the instance uses (RunInstancesOnSharedResources), the instance profile's role
 * (PassInstanceProfileRole). Undefined when the resource does not say which.
 */
export function statementFor(action: string, resource = ""): string | undefined {
  if (action.startsWith("ec2:Describe")) return "Describe";
  if (action === "ssm:GetParameter") return "DefaultImage";
  if (action === "ec2:CreateTags") return "TagOnCreate";
  if (action === "iam:PassRole") return "PassInstanceProfileRole";
  if (action === "ec2:CreateSecurityGroup") return /:vpc\//.test(resource) ? "SecurityGroupInVpc" : "CreateTagged";
  if (action === "ec2:RunInstances")
    return /:(instance|volume)\//.test(resource)
      ? "CreateTagged"
      : resource
        ? "RunInstancesOnSharedResources"
        : undefined;
  return undefined;
}

/** "add the statement X of docs/policies/aws-start.json (...)" for a denied permission. */
export function permissionFix(action: string, resource: string | undefined, what: string): string {
  const sid = statementFor(action, resource);
  const on = resource ? ` on ${resource}` : "";
  return sid
    ? `Allow ${action}${on} to the start's role: ${what}; add the statement "${sid}" of ${START_POLICY}`
    : `Allow ${action}${on} to the start's role: ${what}`;
}

// ---- quotas --------------------------------------------------------------------------------------------------

/** One Service Quotas quota of EC2 (service code ec2): its code, its name, and the usage class its answer carries. */
export interface VcpuQuota {
  code: string;
  name: string;
  /** UsageMetric.MetricDimensions.Class of the quota's answer: checked, so a wrong code cannot pass for the right one. */
  usageClass: string;
}

/**
 * EC2's running-instance quotas count vCPUs per group of families, on demand and Spot apart. The codes and names are
 * Service Quotas' own (the AWS CLI User Guide's service-quotas examples show L-1216C47A with its usage class
 * Standard/OnDemand; the console lists each as servicequotas/home/services/ec2/quotas/CODE); each answer's
 * UsageMetric.MetricDimensions.Class is checked against the class here, so a code that names another quota reads as
 * unchecked, never as a pass.
 */
const QUOTAS = {
  standard: {
    onDemand: {
      code: "L-1216C47A",
      name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
      usageClass: "Standard/OnDemand",
    },
    spot: {
      code: "L-34B43A08",
      name: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
      usageClass: "Standard/Spot",
    },
  },
  g: {
    onDemand: { code: "L-DB2E81BA", name: "Running On-Demand G and VT instances", usageClass: "G/OnDemand" },
    spot: { code: "L-3819A6DF", name: "All G and VT Spot Instance Requests", usageClass: "G/Spot" },
  },
  p: {
    onDemand: { code: "L-417A185B", name: "Running On-Demand P instances", usageClass: "P/OnDemand" },
    spot: { code: "L-7212CCBC", name: "All P Spot Instance Requests", usageClass: "P/Spot" },
  },
} as const satisfies Record<string, { onDemand: VcpuQuota; spot: VcpuQuota }>;

/** Families whose letter is a Standard one's but that have quotas of their own (DL, HPC, Inf, Trn, Mac). */
const NOT_STANDARD = new Set(["dl", "hpc", "inf", "trn", "mac"]);

/** The vCPU quota an instance type counts against, or undefined for a family the action knows no code of. */
export function vcpuQuotaOf(instanceType: string, spot: boolean): VcpuQuota | undefined {
  const family = /^([a-z]+)\d/.exec(instanceType)?.[1];
  if (!family) return undefined;
  const group =
    family === "g" || family === "gr" || family === "vt"
      ? QUOTAS.g
      : family === "p"
        ? QUOTAS.p
        : /^[acdhimrtz]/.test(family) && !NOT_STANDARD.has(family)
          ? QUOTAS.standard
          : undefined;
  return group && (spot ? group.spot : group.onDemand);
}

// ---- the route to GitHub -----------------------------------------------------------------------------------

/** A route of DescribeRouteTables (RouteTable.Routes[]): its destination and what it goes through. */
export interface Route {
  DestinationCidrBlock?: string;
  GatewayId?: string;
  NatGatewayId?: string;
  TransitGatewayId?: string;
  NetworkInterfaceId?: string;
  VpcPeeringConnectionId?: string;
  State?: string;
}

export type RouteVerdict = { status: "ok" | "failed" | "unchecked"; detail: string };

/**
 * Whether a machine in a subnet with this route table reaches GitHub (which it dials out to, over IPv4): its
 * 0.0.0.0/0 route goes to an internet gateway and the machine has a public IP, or to a NAT gateway. A route through
 * a transit gateway, a network interface (a NAT instance, a firewall) or a peering may reach it elsewhere: unknown.
 */
export function judgeRoute(routes: readonly Route[], publicIp: boolean): RouteVerdict {
  const route = routes.find((r) => r.DestinationCidrBlock === "0.0.0.0/0" && r.State !== "blackhole");
  if (!route)
    return {
      status: "failed",
      detail: "its route table has no active 0.0.0.0/0 route: the runner cannot reach GitHub",
    };
  if (route.NatGatewayId?.startsWith("nat-"))
    return { status: "ok", detail: `0.0.0.0/0 goes through ${route.NatGatewayId}` };
  if (route.GatewayId?.startsWith("igw-"))
    return publicIp
      ? { status: "ok", detail: `0.0.0.0/0 goes through ${route.GatewayId}, and the machine gets a public IP` }
      : {
          status: "failed",
          detail: `0.0.0.0/0 goes through ${route.GatewayId}, but the machine gets no public IP: it cannot reach GitHub`,
        };
  const through =
    route.TransitGatewayId ??
    route.NetworkInterfaceId ??
    route.VpcPeeringConnectionId ??
    route.GatewayId ??
    "another target";
  return { status: "unchecked", detail: `0.0.0.0/0 goes through ${through}, which may or may not reach GitHub` };
}
