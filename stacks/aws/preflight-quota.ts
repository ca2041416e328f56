// The AWS preflight's quota question: the family's vCPU quota (Service Quotas) against count x the type's vCPUs.
// Apart because it is judged per candidate, from two answers asked side by side.
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AwsConfig } from "./config.ts";
import { isDenied, START_POLICY, vcpuQuotaOf } from "./preflight-answers.ts";
import { type Asker, json } from "./preflight-ask.ts";
import { refused, unchecked } from "./preflight-findings.ts";

type Finding = PreflightFinding;

export async function quota(config: AwsConfig, request: PreflightRequest, ask: Asker): Promise<Finding[]> {
  const wanted = vcpuQuotaOf(config.instanceType, config.spot);
  const base = `vCPU quota of ${config.instanceType}${config.spot ? " (Spot)" : ""} in ${config.region}`;
  if (!wanted)
    return [
      unchecked(base, `the action knows no Service Quotas code for ${config.instanceType}'s family`, "candidate"),
    ];
  const check = `vCPU quota "${wanted.name}" (${wanted.code}, ${config.region})`;
  const [types, limit] = await Promise.all([
    ask.ask("ec2", "describe-instance-types", [
      "--instance-types",
      config.instanceType,
      "--query",
      "InstanceTypes[0].VCpuInfo.DefaultVCpus",
      "--output",
      "json",
    ]),
    ask.ask("service-quotas", "get-service-quota", [
      "--service-code",
      "ec2",
      "--quota-code",
      wanted.code,
      "--query",
      "Quota.{value: Value, code: QuotaCode, usageClass: UsageMetric.MetricDimensions.Class}",
      "--output",
      "json",
    ]),
  ]);
  // The stack reads the type's description at apply (its aws_ec2_instance_type data source, and the instance's
  // own read): a denial here is the start's.
  if (types.kind === "error" && isDenied(types.code))
    return [
      refused(base, types, "ec2:DescribeInstanceTypes", "the stack reads the instance type's description", "start"),
    ];
  if (types.kind === "error" && /^InvalidInstanceType/.test(types.code))
    return [
      {
        check: base,
        status: "failed",
        detail: `${types.code}: EC2 offers no ${config.instanceType} in ${config.region}`,
        scope: "candidate",
      },
    ];
  const vcpus = types.kind === "ok" ? json(types.stdout) : undefined;
  if (typeof vcpus !== "number" || !Number.isInteger(vcpus) || vcpus < 1)
    return [
      unchecked(
        check,
        types.kind === "ok"
          ? "EC2 did not say how many vCPUs the type has"
          : types.kind === "error"
            ? `${types.code}: ${types.message}`
            : types.why,
        "candidate",
      ),
    ];
  // GetServiceQuota gives the applied value, or NoSuchResourceException where there is none (service-quotas model):
  // then, as when it is denied, the quota is unchecked.
  if (limit.kind === "unasked") return [unchecked(check, limit.why, "candidate")];
  if (limit.kind === "error")
    return [
      {
        ...unchecked(check, `${limit.code}: ${limit.message}`, "candidate"),
        ...(isDenied(limit.code)
          ? {
              fix: `Allow servicequotas:GetServiceQuota (the statement "PreflightQuotas" of ${START_POLICY}) for this check`,
            }
          : {}),
      },
    ];
  const read = json(limit.stdout) as { value?: unknown; code?: unknown; usageClass?: unknown } | undefined;
  if (typeof read?.value !== "number" || (read.code !== undefined && read.code !== wanted.code))
    return [unchecked(check, "Service Quotas did not say the quota's value", "candidate")];
  if (read.usageClass !== undefined && read.usageClass !== null && read.usageClass !== wanted.usageClass)
    return [unchecked(check, `the quota counts ${String(read.usageClass)}, not ${wanted.usageClass}`, "candidate")];
  const needed = request.count * vcpus;
  if (needed > read.value)
    return [
      {
        check,
        status: "failed",
        detail: `${request.count} x ${vcpus} vCPUs = ${needed} needed, the quota is ${read.value}`,
        fix: `ask for ${needed} or more: aws service-quotas request-service-quota-increase --region ${config.region} --service-code ec2 --quota-code ${wanted.code} --desired-value ${needed}`,
        scope: "candidate",
      },
    ];
  return [
    {
      check,
      status: "ok",
      detail: `${request.count} x ${vcpus} vCPUs = ${needed} of ${read.value} (instances already running count against it too)`,
      scope: "candidate",
    },
  ];
}
