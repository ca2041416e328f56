// Every AWS API call a start, a stop, a sweep and the lifetime cap make, as IAM sees it: derived from the
// synthesized stack (each resource and data source type -> the calls the Terraform AWS provider makes for it) and
// from the commands the CLI seam runs. A type or a command this file does not know fails the policy test, so a new
// resource in the stack cannot go without one.
//
// What the provider calls comes from its source (hashicorp/terraform-provider-aws, internal/service/...):
// - ec2/ec2_instance.go: create is RunInstances with TagSpecifications for the instance (default_tags + tags) and
//   the volumes (volume_tags); then DescribeInstances, DescribeInstanceTypes, DescribeInstanceAttribute,
//   DescribeVolumes, and ModifyInstanceAttribute (instance_initiated_shutdown_behavior set on a new instance).
//   Delete: ModifyInstanceAttribute (disable_api_termination false), TerminateInstances, DescribeInstances (wait).
// - ec2/vpc_security_group.go: create is CreateSecurityGroup (TagSpecifications, VpcId), DescribeSecurityGroups,
//   RevokeSecurityGroupEgress of the default egress rules, AuthorizeSecurityGroupEgress of ours. Delete:
//   DescribeNetworkInterfaces (deleteLingeringENIs), DeleteSecurityGroup, DescribeSecurityGroups (wait).
// - ec2/vpc_data_source.go: DescribeVpcs, then DescribeVpcAttribute three times (an error fails the read), and
//   DescribeRouteTables for main_route_table_id (an error is only logged: left out of the policies).
// - scheduler/schedule.go: CreateSchedule (with the target's RoleArn: iam:PassRole), GetSchedule; DeleteSchedule.
// - the data sources aws_subnet, aws_ami, aws_ec2_instance_type, aws_ssm_parameter: DescribeSubnets,
//   DescribeImages, DescribeInstanceTypes, ssm:GetParameter.
// Tags in a create request reach IAM twice (EC2 User Guide, "Grant permission to tag on resource creation"): as
// aws:RequestTag on the creating action, and as ec2:CreateTags with ec2:CreateAction naming that action.
// Stop destroys with -refresh=false (scripts/adapters/terraform.ts): it reads no data source and refreshes nothing.
import type { Json } from "../../kit/stack-synth.ts";
import { ACCOUNT, type Call, REGION, type Tags, type Touch } from "./iam.ts";

export interface StackCalls {
  /** What terraform apply calls, and the start's own reads. */
  create: Call[];
  /** What terraform destroy calls (stop, and a failed start undoing itself). */
  destroy: Call[];
}

const ec2 = (kind: string, id: string): string => `arn:aws:ec2:${REGION}:${ACCOUNT}:${kind}/${id}`;
const describe = (action: string, why: string): Call => ({ action: `ec2:${action}`, touches: [], why });

interface Synthesized {
  json: Json;
  defaultTags: Tags;
}

/** The tags of the resource a `${aws_security_group.NAME.id}` reference names; none for a group given by id. */
function groupTouch(reference: string, { json, defaultTags }: Synthesized): Touch {
  const name = /^\$\{aws_security_group\.([\w-]+)\.id\}$/.exec(reference)?.[1];
  if (name === undefined) return { type: "security-group", arn: ec2("security-group", reference) };
  const group = json.resource.aws_security_group[name] as Json;
  return {
    type: "security-group",
    arn: ec2("security-group", "sg-0a1b2c3d4e5f60789"),
    resourceTags: merged(defaultTags, group.tags),
  };
}

const merged = (defaults: Tags, own: Tags | undefined): Tags => ({ ...defaults, ...(own ?? {}) });

/** The calls of one resource or data source, by its Terraform type. */
type CallsOf = (body: Json, stack: Synthesized) => StackCalls;

const RESOURCES: Record<string, CallsOf> = {
  aws_instance(vm, stack) {
    const instanceTags = merged(stack.defaultTags, vm.tags);
    // default_tags do not reach the volumes RunInstances creates: only volume_tags do.
    const volumeTags: Tags | undefined = vm.volume_tags;
    const instance = ec2("instance", "i-0a1b2c3d4e5f60789");
    const image = String(vm.ami).startsWith("ami-") ? vm.ami : "ami-0123456789abcdef0";
    const touches: Touch[] = [
      { type: "instance", arn: instance, requestTags: instanceTags },
      { type: "volume", arn: ec2("volume", "vol-0a1b2c3d4e5f60789"), requestTags: volumeTags },
      // Public AMIs (the Deep Learning AMIs) are owned by Amazon: no account in their ARN, no tag of ours.
      { type: "image", arn: `arn:aws:ec2:${REGION}::image/${image}` },
      { type: "subnet", arn: ec2("subnet", vm.subnet_id ?? "subnet-0default0000000001") },
      // The primary network interface is created with the instance and deleted with it; no tag is asked for it.
      { type: "network-interface", arn: ec2("network-interface", "eni-0a1b2c3d4e5f60789") },
      ...((vm.vpc_security_group_ids ?? []) as string[]).map((group) => groupTouch(group, stack)),
    ];
    // A Spot instance is asked for through a one-time Spot request that RunInstances creates, untagged, and that
    // RunInstances is then authorized on too (EC2 User Guide, "Example policies", "Work with Spot Instances").
    if (vm.instance_market_options?.market_type === "spot")
      touches.push({ type: "spot-instances-request", arn: ec2("spot-instances-request", "sir-0a1b2c3d") });
    const create: Call[] = [
      { action: "ec2:RunInstances", touches, why: "aws_instance create" },
      {
        action: "ec2:CreateTags",
        touches: [{ type: "instance", arn: instance, requestTags: instanceTags }],
        context: { "ec2:CreateAction": "RunInstances" },
        why: "aws_instance create: the instance's tags",
      },
      // With no volume_tags there is no TagSpecification for the volumes, and no CreateTags for them.
      ...(volumeTags
        ? [
            {
              action: "ec2:CreateTags",
              touches: [{ type: "volume", arn: ec2("volume", "vol-0a1b2c3d4e5f60789"), requestTags: volumeTags }],
              context: { "ec2:CreateAction": "RunInstances" },
              why: "aws_instance create: the volumes' tags",
            },
          ]
        : []),
      describe("DescribeInstances", "aws_instance read"),
      describe("DescribeInstanceTypes", "aws_instance read"),
      {
        action: "ec2:DescribeInstanceAttribute",
        touches: [{ type: "instance", arn: instance, resourceTags: instanceTags }],
        why: "aws_instance read: user data, shutdown behaviour, API termination and stop",
      },
      describe("DescribeVolumes", "aws_instance read: the root volume"),
      {
        action: "ec2:ModifyInstanceAttribute",
        touches: [{ type: "instance", arn: instance, resourceTags: instanceTags }],
        why: "aws_instance create: instance_initiated_shutdown_behavior",
      },
    ];
    if (vm.iam_instance_profile)
      create.push({
        action: "iam:PassRole",
        // The profile's role: docs/aws.md names it gpu-runner-instance.
        touches: [{ type: "role", arn: `arn:aws:iam::${ACCOUNT}:role/gpu-runner-instance` }],
        context: { "iam:PassedToService": "ec2.amazonaws.com" },
        why: "aws_instance create: iam_instance_profile",
      });
    const destroy: Call[] = [
      {
        action: "ec2:ModifyInstanceAttribute",
        touches: [{ type: "instance", arn: instance, resourceTags: instanceTags }],
        why: "aws_instance delete: disable_api_termination false",
      },
      {
        action: "ec2:TerminateInstances",
        touches: [{ type: "instance", arn: instance, resourceTags: instanceTags }],
        why: "aws_instance delete",
      },
      describe("DescribeInstances", "aws_instance delete: waits for terminated"),
    ];
    return { create, destroy };
  },
  aws_security_group(group, stack) {
    const tags = merged(stack.defaultTags, group.tags);
    const arn = ec2("security-group", "sg-0a1b2c3d4e5f60789");
    const vpc = /^\$\{data\.aws_vpc\./.test(group.vpc_id) ? "vpc-0default000000001" : "vpc-0a1b2c3d4e5f60789";
    const own: Touch = { type: "security-group", arn, resourceTags: tags };
    return {
      create: [
        {
          action: "ec2:CreateSecurityGroup",
          touches: [
            { type: "security-group", arn, requestTags: tags },
            // The VPC exists already and is not ours: no tag of ours, and the request's tags are not its tags.
            { type: "vpc", arn: ec2("vpc", vpc) },
          ],
          why: "aws_security_group create",
        },
        {
          action: "ec2:CreateTags",
          touches: [{ type: "security-group", arn, requestTags: tags }],
          context: { "ec2:CreateAction": "CreateSecurityGroup" },
          why: "aws_security_group create: its tags",
        },
        describe("DescribeSecurityGroups", "aws_security_group read"),
        { action: "ec2:RevokeSecurityGroupEgress", touches: [own], why: "aws_security_group create: default egress" },
        { action: "ec2:AuthorizeSecurityGroupEgress", touches: [own], why: "aws_security_group create: egress" },
      ],
      destroy: [
        describe("DescribeNetworkInterfaces", "aws_security_group delete: lingering network interfaces"),
        { action: "ec2:DeleteSecurityGroup", touches: [own], why: "aws_security_group delete" },
        describe("DescribeSecurityGroups", "aws_security_group delete: waits until gone"),
      ],
    };
  },
  aws_scheduler_schedule(schedule) {
    const arn = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${schedule.group_name}/${schedule.name}`;
    const touch: Touch = { type: "schedule", arn };
    return {
      create: [
        { action: "scheduler:CreateSchedule", touches: [touch], why: "aws_scheduler_schedule create" },
        {
          action: "iam:PassRole",
          touches: [{ type: "role", arn: schedule.target.role_arn }],
          context: { "iam:PassedToService": "scheduler.amazonaws.com" },
          why: "aws_scheduler_schedule create: the target's role",
        },
        { action: "scheduler:GetSchedule", touches: [touch], why: "aws_scheduler_schedule read" },
      ],
      destroy: [{ action: "scheduler:DeleteSchedule", touches: [touch], why: "aws_scheduler_schedule delete" }],
    };
  },
};

const DATA: Record<string, CallsOf> = {
  aws_vpc: () => ({
    create: [
      describe("DescribeVpcs", "data aws_vpc"),
      {
        action: "ec2:DescribeVpcAttribute",
        touches: [{ type: "vpc", arn: ec2("vpc", "vpc-0default000000001") }],
        why: "data aws_vpc: DNS and address usage attributes",
      },
    ],
    destroy: [],
  }),
  aws_subnet: () => ({ create: [describe("DescribeSubnets", "data aws_subnet")], destroy: [] }),
  aws_ami: () => ({ create: [describe("DescribeImages", "data aws_ami")], destroy: [] }),
  aws_ec2_instance_type: () => ({
    create: [describe("DescribeInstanceTypes", "data aws_ec2_instance_type")],
    destroy: [],
  }),
  aws_ssm_parameter: (parameter) => ({
    create: [
      {
        action: "ssm:GetParameter",
        // AWS's public parameters live in no account: arn:aws:ssm:REGION::parameter/aws/service/...
        touches: [{ type: "parameter", arn: `arn:aws:ssm:${REGION}::parameter${parameter.name}` }],
        why: "data aws_ssm_parameter: the default image",
      },
    ],
    destroy: [],
  }),
};

/** The calls of a synthesized stack; throws for a resource or data source type without its calls here. */
export function stackCalls(json: Json): StackCalls {
  const stack: Synthesized = { json, defaultTags: json.provider?.aws?.[0]?.default_tags?.[0]?.tags ?? {} };
  const calls: StackCalls = { create: [], destroy: [] };
  for (const [kind, table] of [
    ["resource", RESOURCES],
    ["data", DATA],
  ] as const) {
    for (const [type, instances] of Object.entries((json[kind] ?? {}) as Record<string, Record<string, Json>>)) {
      const callsOf = table[type];
      if (!callsOf)
        throw new Error(`${kind} ${type} has no IAM calls in test/clouds/aws/calls.ts: add them and test them`);
      for (const body of Object.values(instances)) {
        const found = callsOf(body, stack);
        calls.create.push(...found.create);
        calls.destroy.push(...found.destroy);
      }
    }
  }
  return calls;
}

/** Instance and group ids the CLI tests give, and what the cloud says they carry. */
export interface CliWorld {
  /** The tags of the instances and groups the commands name. */
  tags: Tags;
}

/** The IAM calls of one `aws ...` command line; throws for a command this file does not know. */
export function commandCalls(line: string, world: CliWorld): Call[] {
  const args = line.split(" ");
  if (args[0] !== "aws") throw new Error(`not an aws command: ${line}`);
  const [service, command] = [args[1], args[2]];
  const option = (name: string): string[] => {
    const at = args.indexOf(name);
    if (at < 0) return [];
    const values: string[] = [];
    for (const value of args.slice(at + 1)) {
      if (value.startsWith("--")) break;
      values.push(value);
    }
    return values;
  };
  const instances = (ids: string[]): Touch[] =>
    ids.map((id) => ({ type: "instance", arn: ec2("instance", id), resourceTags: world.tags }));
  const why = `${service} ${command}`;
  switch (`${service} ${command}`) {
    case "ec2 describe-instances":
    case "ec2 describe-security-groups":
      return [describe(command === "describe-instances" ? "DescribeInstances" : "DescribeSecurityGroups", why)];
    case "ec2 wait":
      // `aws ec2 wait instance-terminated` polls DescribeInstances.
      return [describe("DescribeInstances", why)];
    case "ec2 get-console-output":
      return [{ action: "ec2:GetConsoleOutput", touches: instances(option("--instance-id")), why }];
    case "ec2 terminate-instances":
      return [{ action: "ec2:TerminateInstances", touches: instances(option("--instance-ids")), why }];
    case "ec2 delete-security-group":
      return [
        {
          action: "ec2:DeleteSecurityGroup",
          touches: option("--group-id").map((id) => ({
            type: "security-group",
            arn: ec2("security-group", id),
            resourceTags: world.tags,
          })),
          why,
        },
      ];
    case "scheduler list-schedules":
      return [{ action: "scheduler:ListSchedules", touches: [], why }];
    case "scheduler get-schedule":
    case "scheduler delete-schedule": {
      const arn = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${option("--group-name")[0]}/${option("--name")[0]}`;
      const action = command === "get-schedule" ? "scheduler:GetSchedule" : "scheduler:DeleteSchedule";
      return [{ action, touches: [{ type: "schedule", arn }], why }];
    }
    case "s3 cp":
    case "s3 ls":
    case "s3 rm":
      return s3Calls(command!, args.slice(3), why);
    // The preflight (stacks/aws/preflight.ts): reads, and dry runs, which IAM judges as the calls themselves.
    case "ec2 describe-images":
    case "ec2 describe-subnets":
    case "ec2 describe-route-tables":
    case "ec2 describe-instance-types": {
      const actions: Record<string, string> = {
        "describe-images": "DescribeImages",
        "describe-subnets": "DescribeSubnets",
        "describe-route-tables": "DescribeRouteTables",
        "describe-instance-types": "DescribeInstanceTypes",
      };
      return [describe(actions[command!]!, why)];
    }
    case "ec2 run-instances":
    case "ec2 create-security-group":
      return dryRunCalls(command!, option, why);
    case "ssm get-parameter": {
      const name = option("--name")[0] ?? "";
      // AWS's public parameters live in no account (as the aws_ssm_parameter data source's call above).
      const account = name.startsWith("/aws/service/") ? "" : ACCOUNT;
      return [
        {
          action: "ssm:GetParameter",
          touches: [{ type: "parameter", arn: `arn:aws:ssm:${REGION}:${account}:parameter${name}` }],
          why,
        },
      ];
    }
    case "iam get-role": {
      // The Spot service-linked role lives under its service's path (EC2 User Guide, service-linked role for Spot).
      const name = option("--role-name")[0];
      const arn = `arn:aws:iam::${ACCOUNT}:role/aws-service-role/spot.amazonaws.com/${name}`;
      return [{ action: "iam:GetRole", touches: [{ type: "role", arn }], why }];
    }
    case "service-quotas get-service-quota": {
      const arn = `arn:aws:servicequotas:${REGION}:${ACCOUNT}:${option("--service-code")[0]}/${option("--quota-code")[0]}`;
      return [{ action: "servicequotas:GetServiceQuota", touches: [{ type: "quota", arn }], why }];
    }
    default:
      throw new Error(`${line}: no IAM calls in test/clouds/aws/calls.ts for "${service} ${command}": add them`);
  }
}

/** A JSON option of a recorded command line (the line was joined with single spaces, so joining its words restores it). */
// biome-ignore lint/suspicious/noExplicitAny: a command line's JSON, read by the callers for the fields they need
function jsonOption(option: (name: string) => string[], name: string): any {
  const words = option(name);
  return words.length === 0 ? undefined : JSON.parse(words.join(" "));
}

/** The tags a --tag-specifications option asks for one resource type; undefined when it asks none for it. */
function specifiedTags(option: (name: string) => string[], type: string): Tags | undefined {
  const specs = (jsonOption(option, "--tag-specifications") ?? []) as {
    ResourceType: string;
    Tags: { Key: string; Value: string }[];
  }[];
  const spec = specs.find((s) => s.ResourceType === type);
  return spec && Object.fromEntries(spec.Tags.map((t) => [t.Key, t.Value]));
}

/**
 * The preflight's `--dry-run` of run-instances and create-security-group: IAM authorizes a dry run as the call
 * itself (RunInstancesRequest.DryRun, ec2 service model), so these are the calls of aws_instance's and
 * aws_security_group's creation, with the tags the command line asks for.
 */
function dryRunCalls(command: string, option: (name: string) => string[], why: string): Call[] {
  if (command === "create-security-group") {
    const tags = specifiedTags(option, "security-group");
    const arn = ec2("security-group", "sg-0a1b2c3d4e5f60789");
    return [
      {
        action: "ec2:CreateSecurityGroup",
        touches: [
          { type: "security-group", arn, requestTags: tags },
          { type: "vpc", arn: ec2("vpc", option("--vpc-id")[0] ?? "") },
        ],
        why,
      },
      ...(tags
        ? [
            {
              action: "ec2:CreateTags",
              touches: [{ type: "security-group", arn, requestTags: tags }],
              context: { "ec2:CreateAction": "CreateSecurityGroup" },
              why,
            },
          ]
        : []),
    ];
  }
  const instanceTags = specifiedTags(option, "instance");
  const volumeTags = specifiedTags(option, "volume");
  const instance = ec2("instance", "i-0a1b2c3d4e5f60789");
  const volume = ec2("volume", "vol-0a1b2c3d4e5f60789");
  const nic = (jsonOption(option, "--network-interfaces") ?? [])[0] as
    | { SubnetId?: string; Groups?: string[] }
    | undefined;
  const subnet = option("--subnet-id")[0] ?? nic?.SubnetId ?? "subnet-0default0000000001";
  // Without groups EC2 takes the VPC's default group, which the call is then authorized on.
  const groups = [...option("--security-group-ids"), ...(nic?.Groups ?? [])];
  const touches: Touch[] = [
    { type: "instance", arn: instance, requestTags: instanceTags },
    { type: "volume", arn: volume, requestTags: volumeTags },
    { type: "image", arn: `arn:aws:ec2:${REGION}::image/${option("--image-id")[0]}` },
    { type: "subnet", arn: ec2("subnet", subnet) },
    { type: "network-interface", arn: ec2("network-interface", "eni-0a1b2c3d4e5f60789") },
    ...(groups.length > 0 ? groups : ["sg-0vpcdefault00001"]).map((id) => ({
      type: "security-group",
      arn: ec2("security-group", id),
    })),
  ];
  if (option("--instance-market-options").length > 0)
    touches.push({ type: "spot-instances-request", arn: ec2("spot-instances-request", "sir-0a1b2c3d") });
  const calls: Call[] = [{ action: "ec2:RunInstances", touches, why }];
  for (const [type, arn, tags] of [
    ["instance", instance, instanceTags],
    ["volume", volume, volumeTags],
  ] as const)
    if (tags)
      calls.push({
        action: "ec2:CreateTags",
        touches: [{ type, arn, requestTags: tags }],
        context: { "ec2:CreateAction": "RunInstances" },
        why,
      });
  if (option("--iam-instance-profile").length > 0)
    calls.push({
      action: "iam:PassRole",
      touches: [{ type: "role", arn: `arn:aws:iam::${ACCOUNT}:role/gpu-runner-instance` }],
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
      why,
    });
  return calls;
}

/** `aws s3 cp|ls|rm`: the object calls (a download's HeadObject and GetObject both need s3:GetObject). */
function s3Calls(command: string, operands: string[], why: string): Call[] {
  const urls = operands.filter((operand) => operand.startsWith("s3://"));
  const object = (url: string): Touch => ({ type: "object", arn: `arn:aws:s3:::${url.slice("s3://".length)}` });
  const [url] = urls;
  if (!url) throw new Error(`${why}: no s3:// operand`);
  if (command === "ls") {
    const [bucket, ...key] = url.slice("s3://".length).split("/");
    return [
      {
        action: "s3:ListBucket",
        touches: [{ type: "bucket", arn: `arn:aws:s3:::${bucket}`, context: { "s3:prefix": key.join("/") } }],
        why,
      },
    ];
  }
  if (command === "rm") return [{ action: "s3:DeleteObject", touches: [object(url)], why }];
  // cp: upload when the destination is the bucket, download when it is the source.
  const upload = operands.indexOf(url) > 0;
  return [{ action: upload ? "s3:PutObject" : "s3:GetObject", touches: [object(url)], why }];
}
