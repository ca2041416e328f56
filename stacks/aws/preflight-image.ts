// The AWS preflight's image questions: the AMI id the stack resolves (given, or read from SSM) and EC2's description
// of the image, with the disk against its root snapshot. Apart from the launch, which only needs their answer.
import type { PreflightFinding } from "../preflight.ts";
import { architectureOf, defaultImageParameter } from "./catalog.ts";
import type { AwsConfig } from "./config.ts";
import { START_POLICY } from "./preflight-answers.ts";
import { type Asker, json } from "./preflight-ask.ts";
import { refused, unchecked } from "./preflight-findings.ts";

type Finding = PreflightFinding;

/** The image the stack would launch from, as EC2 describes it. */
export interface Image {
  id: string;
  rootDevice?: string;
  /** The root snapshot's size in GiB: a smaller root volume is refused at apply. */
  rootGb?: number;
}

const IMAGE_QUERY =
  "Images[].{id: ImageId, created: CreationDate, root: RootDeviceName, mappings: BlockDeviceMappings}";

interface DescribedImage {
  id?: unknown;
  created?: unknown;
  root?: unknown;
  mappings?: { DeviceName?: string; Ebs?: { VolumeSize?: number } }[] | null;
}

function imageOf(item: DescribedImage): Image | undefined {
  if (typeof item.id !== "string") return undefined;
  const root = typeof item.root === "string" ? item.root : undefined;
  const size = item.mappings?.find((m) => m.DeviceName === root)?.Ebs?.VolumeSize;
  return { id: item.id, rootDevice: root, rootGb: typeof size === "number" ? size : undefined };
}

/** The AMI id the stack resolves: an SSM parameter read (as its aws_ssm_parameter data source reads it) or given. */
export async function imageId(config: AwsConfig, ask: Asker): Promise<{ findings: Finding[]; id?: string }> {
  const image = config.image;
  if (image.kind === "id") return { findings: [], id: image.id };
  if (image.kind === "name") return { findings: [] };
  // Resolved here rather than sent as resolve:ssm:NAME: EC2 would then read it with the caller's ssm:GetParameters,
  // a permission the start does not otherwise need (the stack reads it with ssm:GetParameter at apply).
  const parameter = image.kind === "ssm" ? image.parameter : defaultImageParameter(config.instanceType);
  const check = `image parameter ${parameter}`;
  const answer = await ask.ask("ssm", "get-parameter", [
    "--name",
    parameter,
    "--query",
    "Parameter.Value",
    "--output",
    "json",
  ]);
  if (answer.kind === "unasked") return { findings: [unchecked(check, answer.why)] };
  if (answer.kind === "error") {
    if (answer.code === "ParameterNotFound")
      return {
        findings: [
          {
            check,
            status: "failed",
            detail: `ParameterNotFound: no such parameter in ${config.region}`,
            fix:
              image.kind === "default"
                ? `the default image is not published in ${config.region}: choose another region, or set image`
                : "set image to a parameter that exists in this region",
            scope: "start",
          },
        ],
      };
    const finding = refused(
      check,
      answer,
      "ssm:GetParameter",
      "the stack reads the image's id from this parameter",
      "start",
    );
    if (finding.fix && image.kind === "ssm")
      finding.fix = `Allow ssm:GetParameter on arn:aws:ssm:${config.region}:<account>:parameter${parameter.startsWith("/") ? "" : "/"}${parameter} to the start's role (the statement "DefaultImage" of ${START_POLICY} covers only the default image's)`;
    return { findings: [finding] };
  }
  const value = json(answer.stdout);
  if (typeof value !== "string" || !/^ami-[0-9a-f]{8,17}$/.test(value))
    return {
      findings: [
        { check, status: "failed", detail: `it holds ${JSON.stringify(value)}, not an AMI id`, scope: "start" },
      ],
    };
  return { findings: [{ check, status: "ok", detail: `holds ${value}`, scope: "start" }], id: value };
}

/** EC2's description of the image (by id, or the newest matching the name pattern), and the disk against its snapshot. */
export async function describeImage(
  config: AwsConfig,
  ask: Asker,
  id: string | undefined,
): Promise<{ findings: Finding[]; image?: Image }> {
  const image = config.image;
  const byName = image.kind === "name" ? image : undefined;
  const check = byName ? `image ${byName.owner}/${byName.pattern}` : `image ${id}`;
  const args = byName
    ? [
        "--owners",
        byName.owner,
        "--filters",
        `Name=name,Values=${byName.pattern}`,
        `Name=architecture,Values=${architectureOf(config.instanceType)}`,
        "Name=state,Values=available",
      ]
    : ["--image-ids", id!];
  const answer = await ask.ask("ec2", "describe-images", [...args, "--query", IMAGE_QUERY, "--output", "json"]);
  if (answer.kind === "unasked") return { findings: [unchecked(check, answer.why)] };
  if (answer.kind === "error") {
    if (/^InvalidAMIID\./.test(answer.code))
      return {
        findings: [
          {
            check,
            status: "failed",
            detail: `${answer.code}: ${answer.message}`,
            fix: "set image to an AMI of this region",
            scope: "start",
          },
        ],
      };
    return { findings: [refused(check, answer, "ec2:DescribeImages", "the stack reads the image's root device")] };
  }
  const listed = json(answer.stdout);
  const found = (Array.isArray(listed) ? (listed as DescribedImage[]) : [])
    .filter((i) => typeof i.id === "string")
    .sort((a, b) => String(b.created ?? "").localeCompare(String(a.created ?? "")));
  const described = found[0] && imageOf(found[0]);
  if (!described)
    return {
      findings: [
        {
          check,
          status: "failed",
          detail: `EC2 finds no such image in ${config.region}`,
          fix: "set image to an AMI this account can launch in this region",
          scope: "start",
        },
      ],
    };
  const findings: Finding[] = [];
  if (described.rootGb !== undefined && described.rootGb > config.diskSizeGb)
    findings.push({
      check: `disk-size against image ${described.id}`,
      status: "failed",
      detail: `disk-size is ${config.diskSizeGb} GB, and the image's root snapshot is ${described.rootGb} GB: EC2 refuses a smaller root volume`,
      fix: `set disk-size to ${described.rootGb} or more`,
      scope: "start",
    });
  else
    findings.push({
      check,
      status: "ok",
      detail: `${described.id}${described.rootGb === undefined ? "" : `, root snapshot ${described.rootGb} GB`}`,
      scope: "start",
    });
  return { findings, image: described };
}
