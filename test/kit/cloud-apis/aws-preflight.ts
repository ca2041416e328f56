// The part of the AWS stand-in (aws.ts) that the preflight's questions reach: EC2's dry runs of RunInstances and
// CreateSecurityGroup, its images, instance types, subnets and route tables; SSM's parameters (json protocol); IAM's
// roles (query protocol); Service Quotas' quotas (json protocol). Requests are read, and answers serialized, through
// botocore's models (botocore.ts) as in aws.ts; a dry run answers DryRunOperation unless a fault is asked for.
import {
  ec2Response,
  jsonResponse,
  queryResponse,
  readJsonRequest,
  readQueryRequest,
  type ServiceModel,
  serviceModel,
} from "./botocore.ts";
import { type Answer, type Listening, listen, type Request } from "./http.ts";

/** An error as the service returns it: aws.ts's AwsError (the same shape, declared here so neither file imports the other). */
export interface AwsError {
  status: number;
  code: string;
  message: string;
}

export interface Ec2Image {
  id: string;
  region: string;
  name: string;
  /** The owner's account id (or alias for the owners filter: amazon). */
  owner: string;
  architecture: "x86_64" | "arm64";
  created: string;
  rootDevice: string;
  /** The root snapshot's size, GiB. */
  rootGb: number;
}

export interface Ec2Subnet {
  id: string;
  region: string;
  vpc: string;
  zone: string;
  defaultForAz: boolean;
  mapPublicIp: boolean;
}

export interface Ec2RouteTable {
  id: string;
  region: string;
  vpc: string;
  main: boolean;
  subnets: string[];
  /** 0.0.0.0/0 routes by target: igw-..., nat-..., tgw-..., or none. */
  defaultRoute?: string;
}

export interface PreflightWorld {
  images: Ec2Image[];
  /** Instance type -> its default vCPUs (DescribeInstanceTypes' VCpuInfo.DefaultVCpus). */
  instanceTypes: Record<string, number>;
  subnets: Ec2Subnet[];
  routeTables: Ec2RouteTable[];
  /** SSM parameters by region and name. */
  parameters: { region: string; name: string; value: string }[];
  /** IAM role names that exist (IAM is global). */
  roles: string[];
  /** Service Quotas of EC2 by region and code, with the usage class Service Quotas reports for it. */
  quotas: { region: string; code: string; name: string; value: number; usageClass: string }[];
}

export function preflightWorld(): PreflightWorld {
  return { images: [], instanceTypes: {}, subnets: [], routeTables: [], parameters: [], roles: [], quotas: [] };
}

/** AWS's answers the preflight tests ask for (EC2's error code reference; the services' models' error shapes). */
export const PREFLIGHT_ERRORS = {
  /** What EC2 answers a dry run it would have allowed (RunInstancesRequest.DryRun's documentation). */
  dryRun: (): AwsError => ({
    status: 412,
    code: "DryRunOperation",
    message: "Request would have succeeded, but DryRun flag is set.",
  }),
  /** EC2's refusal, with the permission and resource in clear beside the encoded message. */
  unauthorized: (action: string, resource: string): AwsError => ({
    status: 403,
    code: "UnauthorizedOperation",
    message: `You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/gpu-runner/gh is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action. Encoded authorization failure message: AbCdEf0123`,
  }),
  /** IAM's (query protocol), SSM's and Service Quotas' (json protocol) refusal. */
  accessDenied: (code: "AccessDenied" | "AccessDeniedException", action: string): AwsError => ({
    status: 403,
    code,
    message: `User: arn:aws:sts::123456789012:assumed-role/gpu-runner/gh is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`,
  }),
};

type Fail = (error: AwsError) => never;
type Filter = { Name: string; Values?: string[] };

/** EC2's filters on the fields the preflight filters by; `*` and `?` are wildcards (EC2 filter values allow them). */
function matches(filters: Filter[], fields: Record<string, string>, fail: Fail): boolean {
  return filters.every(({ Name, Values = [] }) => {
    const value = fields[Name];
    if (value === undefined)
      fail({ status: 400, code: "InvalidParameterValue", message: `The filter '${Name}' is invalid` });
    return Values.some((pattern) =>
      new RegExp(
        `^${pattern
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, ".*")
          .replace(/\?/g, ".")}$`,
      ).test(value!),
    );
  });
}

/** The EC2 answers of the preflight's operations, or undefined for another operation (aws.ts answers those). */
export function ec2PreflightAnswer(
  model: ServiceModel,
  operation: string,
  input: Record<string, unknown>,
  region: string,
  world: PreflightWorld,
  fail: Fail,
): string | undefined {
  const filters = (input.Filters ?? []) as Filter[];
  const inRegion = <T extends { region: string }>(items: T[]) => items.filter((i) => i.region === region);
  switch (operation) {
    case "RunInstances": {
      // The stand-in launches nothing: only a dry run is answered, after the checks EC2 makes of its parameters.
      if (input.DryRun !== true)
        fail({ status: 400, code: "StandInError", message: "the stand-in only dry-runs RunInstances" });
      if (!inRegion(world.images).some((i) => i.id === input.ImageId))
        fail({
          status: 400,
          code: "InvalidAMIID.NotFound",
          message: `The image id '[${input.ImageId}]' does not exist`,
        });
      const nics = (input.NetworkInterfaces ?? []) as { SubnetId?: string }[];
      for (const subnet of [input.SubnetId, ...nics.map((n) => n.SubnetId)].filter((s) => s !== undefined))
        if (!inRegion(world.subnets).some((s) => s.id === subnet))
          fail({ status: 400, code: "InvalidSubnetID.NotFound", message: `The subnet ID '${subnet}' does not exist` });
      if (!(String(input.InstanceType) in world.instanceTypes))
        fail({
          status: 400,
          code: "InvalidParameterValue",
          message: `Invalid value '${input.InstanceType}' for InstanceType.`,
        });
      return fail(PREFLIGHT_ERRORS.dryRun());
    }
    case "CreateSecurityGroup":
      if (input.DryRun !== true)
        fail({ status: 400, code: "StandInError", message: "the stand-in only dry-runs CreateSecurityGroup" });
      if (!inRegion(world.subnets).some((s) => s.vpc === input.VpcId))
        fail({ status: 400, code: "InvalidVpcID.NotFound", message: `The vpc ID '${input.VpcId}' does not exist` });
      return fail(PREFLIGHT_ERRORS.dryRun());
    case "DescribeImages": {
      const ids = input.ImageIds as string[] | undefined;
      const owners = input.Owners as string[] | undefined;
      for (const id of ids ?? [])
        if (!inRegion(world.images).some((i) => i.id === id))
          fail({ status: 400, code: "InvalidAMIID.NotFound", message: `The image id '[${id}]' does not exist` });
      const found = inRegion(world.images).filter(
        (i) =>
          (!ids || ids.includes(i.id)) &&
          (!owners || owners.includes(i.owner)) &&
          matches(filters, { name: i.name, architecture: i.architecture, state: "available" }, fail),
      );
      return ec2Response(model, operation, {
        Images: found.map((i) => ({
          ImageId: i.id,
          Name: i.name,
          OwnerId: "898082745236",
          Architecture: i.architecture,
          CreationDate: i.created,
          State: "available",
          RootDeviceName: i.rootDevice,
          RootDeviceType: "ebs",
          BlockDeviceMappings: [
            {
              DeviceName: i.rootDevice,
              Ebs: { SnapshotId: "snap-0123456789abcdef0", VolumeSize: i.rootGb, VolumeType: "gp3" },
            },
          ],
        })),
      });
    }
    case "DescribeInstanceTypes": {
      const types = (input.InstanceTypes ?? []) as string[];
      const unknown = types.find((t) => !(t in world.instanceTypes));
      if (unknown)
        fail({
          status: 400,
          code: "InvalidInstanceType",
          message: `The following supplied instance types do not exist: [${unknown}]`,
        });
      return ec2Response(model, operation, {
        InstanceTypes: types.map((t) => ({
          InstanceType: t,
          VCpuInfo: { DefaultVCpus: world.instanceTypes[t] },
        })),
      });
    }
    case "DescribeSubnets": {
      const ids = input.SubnetIds as string[] | undefined;
      for (const id of ids ?? [])
        if (!inRegion(world.subnets).some((s) => s.id === id))
          fail({ status: 400, code: "InvalidSubnetID.NotFound", message: `The subnet ID '${id}' does not exist` });
      const found = inRegion(world.subnets).filter(
        (s) =>
          (!ids || ids.includes(s.id)) &&
          matches(
            filters,
            { "default-for-az": String(s.defaultForAz), "availability-zone": s.zone, "vpc-id": s.vpc },
            fail,
          ),
      );
      return ec2Response(model, operation, {
        Subnets: found.map((s) => ({
          SubnetId: s.id,
          VpcId: s.vpc,
          AvailabilityZone: s.zone,
          DefaultForAz: s.defaultForAz,
          MapPublicIpOnLaunch: s.mapPublicIp,
          State: "available",
        })),
      });
    }
    case "DescribeRouteTables": {
      const found = inRegion(world.routeTables).filter((t) => matches(filters, { "vpc-id": t.vpc }, fail));
      return ec2Response(model, operation, {
        RouteTables: found.map((t) => ({
          RouteTableId: t.id,
          VpcId: t.vpc,
          Associations: [
            ...(t.main
              ? [{ Main: true, RouteTableId: t.id, RouteTableAssociationId: `rtbassoc-${t.id.slice(4)}` }]
              : []),
            ...t.subnets.map((subnet, n) => ({
              Main: false,
              RouteTableId: t.id,
              SubnetId: subnet,
              RouteTableAssociationId: `rtbassoc-${n}${t.id.slice(4)}`,
            })),
          ],
          Routes: [
            { DestinationCidrBlock: "172.31.0.0/16", GatewayId: "local", State: "active", Origin: "CreateRouteTable" },
            ...(t.defaultRoute
              ? [
                  {
                    DestinationCidrBlock: "0.0.0.0/0",
                    ...(t.defaultRoute.startsWith("nat-")
                      ? { NatGatewayId: t.defaultRoute }
                      : t.defaultRoute.startsWith("tgw-")
                        ? { TransitGatewayId: t.defaultRoute }
                        : { GatewayId: t.defaultRoute }),
                    State: "active",
                    Origin: "CreateRoute",
                  },
                ]
              : []),
          ],
        })),
      });
    }
    default:
      return undefined;
  }
}

/** What the SSM, IAM and Service Quotas stand-ins need of aws.ts: record the call (and throw a fault asked for). */
export type Called = (
  service: "ssm" | "iam" | "service-quotas",
  operation: string,
  request: Request,
  input: Record<string, unknown>,
) => string;

/** The models of the services beside EC2 that the preflight asks. */
export function preflightModels(): Record<"ssm" | "iam" | "service-quotas", ServiceModel> {
  return { ssm: serviceModel("ssm"), iam: serviceModel("iam"), "service-quotas": serviceModel("service-quotas") };
}

/** An AwsError as thrown by aws.ts's handlers (its AwsFault), or another error. */
type AsFault = (error: unknown) => AwsError;

/** SSM, IAM and Service Quotas, each on its own port. */
export async function preflightServers(
  world: PreflightWorld,
  called: Called,
  fail: Fail,
  asFault: AsFault,
): Promise<{ ssm: Listening; iam: Listening; quotas: Listening }> {
  const models = preflightModels();
  const jsonAnswer = (body: string): Answer => ({
    status: 200,
    headers: { "content-type": "application/x-amz-json-1.1" },
    body,
  });
  const jsonError = (error: unknown): Answer => {
    const fault = asFault(error);
    return {
      status: fault.status,
      headers: { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": fault.code },
      body: JSON.stringify({ __type: fault.code, message: fault.message }),
    };
  };
  const ssm = await listen((request) => {
    try {
      const model = models.ssm;
      const { operation, input } = readJsonRequest(model, request.headers, request.body.toString("utf8"));
      const region = called("ssm", operation, request, input);
      if (operation !== "GetParameter")
        fail({ status: 400, code: "ValidationException", message: `not implemented: ${operation}` });
      const found = world.parameters.find((p) => p.region === region && p.name === input.Name);
      if (!found) fail({ status: 400, code: "ParameterNotFound", message: "" });
      return jsonAnswer(
        jsonResponse(model, operation, {
          Parameter: {
            Name: found!.name,
            Type: "String",
            Value: found!.value,
            Version: 1,
            DataType: "text",
            ARN: `arn:aws:ssm:${region}::parameter${found!.name}`,
          },
        }),
      );
    } catch (error) {
      return jsonError(error);
    }
  });
  const quotas = await listen((request) => {
    try {
      const model = models["service-quotas"];
      const { operation, input } = readJsonRequest(model, request.headers, request.body.toString("utf8"));
      const region = called("service-quotas", operation, request, input);
      if (operation !== "GetServiceQuota")
        fail({ status: 400, code: "ValidationException", message: `not implemented: ${operation}` });
      const found = world.quotas.find(
        (q) => q.region === region && input.ServiceCode === "ec2" && q.code === input.QuotaCode,
      );
      if (!found)
        fail({
          status: 400,
          code: "NoSuchResourceException",
          message: `The request failed because the specified quota does not exist.`,
        });
      return jsonAnswer(
        jsonResponse(model, operation, {
          Quota: {
            ServiceCode: "ec2",
            ServiceName: "Amazon Elastic Compute Cloud (Amazon EC2)",
            QuotaArn: `arn:aws:servicequotas:${region}:123456789012:ec2/${found!.code}`,
            QuotaCode: found!.code,
            QuotaName: found!.name,
            Value: found!.value,
            Unit: "None",
            Adjustable: true,
            GlobalQuota: false,
            UsageMetric: {
              MetricNamespace: "AWS/Usage",
              MetricName: "ResourceCount",
              MetricDimensions: { Class: found!.usageClass, Resource: "vCPU", Service: "EC2", Type: "Resource" },
              MetricStatisticRecommendation: "Maximum",
            },
          },
        }),
      );
    } catch (error) {
      return jsonError(error);
    }
  });
  const iam = await listen((request) => {
    try {
      const model = models.iam;
      const { operation, input } = readQueryRequest(model, request.body.toString("utf8"));
      called("iam", operation, request, input);
      if (operation !== "GetRole")
        fail({ status: 400, code: "InvalidAction", message: `not implemented: ${operation}` });
      if (!world.roles.includes(String(input.RoleName)))
        fail({ status: 404, code: "NoSuchEntity", message: `The role with name ${input.RoleName} cannot be found.` });
      const name = String(input.RoleName);
      return {
        status: 200,
        headers: { "content-type": "text/xml" },
        body: queryResponse(model, operation, {
          Role: {
            Path: "/aws-service-role/spot.amazonaws.com/",
            RoleName: name,
            RoleId: "AROA0123456789EXAMPLE",
            Arn: `arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/${name}`,
            CreateDate: new Date("2026-01-01T00:00:00Z"),
          },
        }),
      };
    } catch (error) {
      const fault = asFault(error);
      return {
        status: fault.status,
        headers: { "content-type": "text/xml" },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${fault.message}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`,
      };
    }
  });
  return { ssm, iam, quotas };
}
