// The AWS preflight (stacks/aws/preflight.ts) through the real `aws` CLI, against the local stand-in of EC2, SSM,
// IAM and Service Quotas (test/kit/cloud-apis/aws.ts, aws-preflight.ts), which reads every request through
// botocore's own models: each check's answer when all is well, each kind of failure with its fix, what cannot be
// asked (unchecked), and a candidate dropped by its quota while another passes. One stand-in serves the file; each
// test sets the faults it needs, for as many calls as it makes. Then the pure readers (preflight-answers.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { AwsConfig } from "../../../stacks/aws/config.ts";
import { awsCloud } from "../../../stacks/aws/index.ts";
import { awsPreflight, SPOT_ROLE } from "../../../stacks/aws/preflight.ts";
import {
  deniedPermission,
  judgeRoute,
  readAnswer,
  statementFor,
  vcpuQuotaOf,
} from "../../../stacks/aws/preflight-answers.ts";
import type { CommandRunner } from "../../../stacks/cloud-command.ts";
import { judgePreflight, type PreflightFinding, type PreflightRequest } from "../../../stacks/preflight.ts";
import { type AwsStandIn, startAwsStandIn } from "../../kit/cloud-apis/aws.ts";
import { PREFLIGHT_ERRORS } from "../../kit/cloud-apis/aws-preflight.ts";
import { AWS_CLI, realRunner, requireCli } from "../../kit/cloud-apis/clis.ts";
import { recorder } from "../../kit/command-recorder.ts";
import { commandCalls } from "./calls.ts";
import { type Call, evaluate, type Policy } from "./iam.ts";

const REGION = "eu-west-1";
const LABEL = "gpu-42-1-0a1b2c3d";
const DEFAULT_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id";

const TAGS = {
  team: "ml",
  "gpu-runner-managed-by": "ephemeral-gpu-runner",
  "gpu-runner-repository": "example-org/example-repo",
  "gpu-runner-repository-id": "612345678",
  "gpu-runner-run-id": "42",
  "gpu-runner-run-attempt": "1",
  "gpu-runner-label": LABEL,
  "gpu-runner-max-lifetime": "360",
};
/** EC2 TagSpecification, as the stand-in reads it from the request. */
type TagSpec = { ResourceType: string; Tags: { Key: string; Value: string }[] };
const request = (count: number): PreflightRequest => ({ count, tags: TAGS });

/** The first run of docs/aws.md: the default image in the default VPC, with a public IP. */
const BASE: AwsConfig = {
  region: REGION,
  instanceType: "g5.xlarge",
  fallbackInstanceTypes: [],
  image: { kind: "default" },
  diskSizeGb: 100,
  diskType: "gp3",
  fallbackSubnetIds: [],
  fallbackZones: [],
  securityGroupIds: [],
  publicIp: true,
  spot: false,
};
const config = (changes: Partial<AwsConfig>): AwsConfig => ({ ...BASE, ...changes });

let aws: AwsStandIn;
let run: CommandRunner;

before(async () => {
  requireCli(AWS_CLI);
  aws = await startAwsStandIn();
  run = realRunner({ ...aws.env, AWS_REGION: REGION }, awsCloud.environment);
  const world = aws.preflight;
  world.images.push(
    {
      id: "ami-0d1a2b3c4d5e6f708",
      region: REGION,
      name: "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261201",
      owner: "amazon",
      architecture: "x86_64",
      created: "2026-12-01T00:00:00.000Z",
      rootDevice: "/dev/sda1",
      rootGb: 75,
    },
    {
      id: "ami-0a1b2c3d4e5f60700",
      region: REGION,
      name: "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261101",
      owner: "amazon",
      architecture: "x86_64",
      created: "2026-11-01T00:00:00.000Z",
      rootDevice: "/dev/sda1",
      rootGb: 75,
    },
  );
  world.parameters.push({ region: REGION, name: DEFAULT_PARAMETER, value: "ami-0d1a2b3c4d5e6f708" });
  Object.assign(world.instanceTypes, { "g5.xlarge": 4, "g6.xlarge": 4, "p5.48xlarge": 192 });
  world.subnets.push(
    {
      id: "subnet-0aaaaaaaaaaaaaaa1",
      region: REGION,
      vpc: "vpc-0default00000001",
      zone: "eu-west-1a",
      defaultForAz: true,
      mapPublicIp: true,
    },
    {
      id: "subnet-0aaaaaaaaaaaaaaa2",
      region: REGION,
      vpc: "vpc-0default00000001",
      zone: "eu-west-1b",
      defaultForAz: true,
      mapPublicIp: true,
    },
    {
      id: "subnet-0bbbbbbbbbbbbbbb1",
      region: REGION,
      vpc: "vpc-0private00000001",
      zone: "eu-west-1a",
      defaultForAz: false,
      mapPublicIp: false,
    },
    {
      id: "subnet-0ccccccccccccccc1",
      region: REGION,
      vpc: "vpc-0private00000001",
      zone: "eu-west-1b",
      defaultForAz: false,
      mapPublicIp: false,
    },
  );
  world.routeTables.push(
    {
      id: "rtb-0default0000001",
      region: REGION,
      vpc: "vpc-0default00000001",
      main: true,
      subnets: [],
      defaultRoute: "igw-0default0000001",
    },
    // The private VPC's main table reaches out through a NAT gateway; one subnet has a table of its own without any.
    {
      id: "rtb-0private0000001",
      region: REGION,
      vpc: "vpc-0private00000001",
      main: true,
      subnets: [],
      defaultRoute: "nat-0private0000001",
    },
    {
      id: "rtb-0isolated000001",
      region: REGION,
      vpc: "vpc-0private00000001",
      main: false,
      subnets: ["subnet-0ccccccccccccccc1"],
    },
  );
  world.roles.push(SPOT_ROLE);
  world.quotas.push(
    {
      region: REGION,
      code: "L-DB2E81BA",
      name: "Running On-Demand G and VT instances",
      value: 8,
      usageClass: "G/OnDemand",
    },
    { region: REGION, code: "L-3819A6DF", name: "All G and VT Spot Instance Requests", value: 4, usageClass: "G/Spot" },
    { region: REGION, code: "L-417A185B", name: "Running On-Demand P instances", value: 0, usageClass: "P/OnDemand" },
  );
});

after(async () => {
  assert.deepEqual(aws.problems, [], "the stand-in refused a request its model does not allow");
  await aws.close();
});

const byCheck = (findings: PreflightFinding[], pattern: RegExp): PreflightFinding => {
  const found = findings.find((f) => pattern.test(f.check));
  assert.ok(found, `no check matches ${pattern}: ${findings.map((f) => f.check).join("; ")}`);
  return found;
};
const callsOf = (operation: string) => aws.calls.filter((c) => c.operation === operation);

describe("aws preflight, through the real aws CLI", () => {
  it("the default path: every check ok, each asked as the stack would do it", async () => {
    aws.calls.length = 0;
    const started = performance.now();
    const findings = await awsPreflight(BASE, request(2), run);
    const took = Math.round(performance.now() - started);
    for (const f of findings) assert.equal(f.status, "ok", `${f.check}: ${f.detail} (${took} ms)`);
    assert.deepEqual(
      findings.map((f) => f.check.replace(/ \(.*$/, "")),
      [
        `image parameter ${DEFAULT_PARAMETER}`,
        "image ami-0d1a2b3c4d5e6f708",
        "EC2 dry run of run-instances",
        "route to GitHub from the default subnets of eu-west-1",
        "EC2 dry run of create-security-group",
        'vCPU quota "Running On-Demand G and VT instances"',
      ],
    );
    assert.match(byCheck(findings, /quota/).detail, /^2 x 4 vCPUs = 8 of 8/);
    assert.equal(byCheck(findings, /quota/).scope, "candidate");
    // The dry run is the stack's launch: the resolved image, IMDSv2, the encrypted root volume on the image's root
    // device, and every tag on the instance and its volumes.
    const [launch] = callsOf("RunInstances");
    assert.ok(launch);
    const input = launch.input as Record<string, unknown> & { TagSpecifications: TagSpec[] };
    assert.equal(launch.region, REGION);
    assert.equal(input.DryRun, true);
    assert.equal(input.ImageId, "ami-0d1a2b3c4d5e6f708");
    assert.equal(input.InstanceType, "g5.xlarge");
    assert.deepEqual(input.MetadataOptions, {
      HttpEndpoint: "enabled",
      HttpTokens: "required",
      HttpPutResponseHopLimit: 1,
    });
    assert.deepEqual(input.BlockDeviceMappings, [
      {
        DeviceName: "/dev/sda1",
        Ebs: { VolumeSize: 100, VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true },
      },
    ]);
    assert.equal(input.InstanceInitiatedShutdownBehavior, "terminate");
    assert.equal(input.InstanceMarketOptions, undefined);
    assert.deepEqual(
      input.TagSpecifications.map((t) => t.ResourceType),
      ["instance", "volume"],
    );
    for (const spec of input.TagSpecifications)
      assert.deepEqual(Object.fromEntries(spec.Tags.map((t) => [t.Key, t.Value])), {
        ...TAGS,
        Name: `${LABEL}-0`,
      });
    const [group] = callsOf("CreateSecurityGroup");
    assert.ok(group);
    assert.equal(group.input.DryRun, true);
    assert.equal(group.input.VpcId, "vpc-0default00000001");
    assert.deepEqual((group.input.TagSpecifications as TagSpec[])[0]?.ResourceType, "security-group");
    // Read-only: nothing but dry runs and reads reached the cloud.
    for (const call of aws.calls)
      assert.ok(
        /^(Describe|Get)/.test(call.operation) || call.input.DryRun === true,
        `${call.operation} is neither a read nor a dry run`,
      );
    assert.deepEqual(callsOf("GetRole"), [], "no Spot role asked without spot");
    console.log(`preflight of one candidate: ${aws.calls.length} calls, ${took} ms`);
  });

  it("spot: the Spot role missing fails the start with the command that creates it; the Spot quota short drops the candidate", async () => {
    aws.preflight.roles.length = 0;
    try {
      aws.calls.length = 0;
      const findings = await awsPreflight(config({ spot: true }), request(2), run);
      const role = byCheck(findings, /Spot service-linked role/);
      assert.equal(role.status, "failed");
      assert.equal(role.scope, "start");
      assert.match(role.fix ?? "", /aws iam create-service-linked-role --aws-service-name spot\.amazonaws\.com/);
      const quota = byCheck(findings, /quota/);
      assert.equal(quota.status, "failed");
      assert.equal(quota.scope, "candidate");
      assert.match(quota.check, /All G and VT Spot Instance Requests.*L-3819A6DF/);
      assert.match(quota.detail, /8 needed, the quota is 4/);
      assert.match(quota.fix ?? "", /--quota-code L-3819A6DF --desired-value 8/);
      const [launch] = callsOf("RunInstances");
      assert.deepEqual(launch?.input.InstanceMarketOptions, {
        MarketType: "spot",
        SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" },
      });
      assert.equal(
        byCheck(findings, /run-instances/).check,
        `EC2 dry run of run-instances (g5.xlarge, Spot, ${REGION})`,
      );
    } finally {
      aws.preflight.roles.push(SPOT_ROLE);
    }
    const findings = await awsPreflight(config({ spot: true }), request(1), run);
    assert.equal(byCheck(findings, /Spot service-linked role/).status, "ok");
    assert.equal(byCheck(findings, /quota/).status, "ok");
  });

  it("a denied launch names the permission EC2 reports and the statement of the start policy that grants it", async () => {
    aws.fail(
      "RunInstances",
      PREFLIGHT_ERRORS.unauthorized("ec2:RunInstances", `arn:aws:ec2:${REGION}:123456789012:volume/*`),
      1,
    );
    aws.fail(
      "CreateSecurityGroup",
      PREFLIGHT_ERRORS.unauthorized(
        "ec2:CreateSecurityGroup",
        `arn:aws:ec2:${REGION}:123456789012:vpc/vpc-0default00000001`,
      ),
      1,
    );
    const findings = await awsPreflight(BASE, request(1), run);
    const launch = byCheck(findings, /run-instances/);
    assert.equal(launch.status, "failed");
    assert.equal(launch.scope, "start");
    assert.match(
      launch.detail,
      /UnauthorizedOperation: the role may not ec2:RunInstances on arn:aws:ec2:eu-west-1:123456789012:volume\/\*/,
    );
    assert.match(launch.fix ?? "", /"CreateTagged" of docs\/policies\/aws-start\.json/);
    const group = byCheck(findings, /create-security-group/);
    assert.equal(group.status, "failed");
    assert.match(group.fix ?? "", /"SecurityGroupInVpc"/);
    const verdict = judgePreflight([{ candidate: "g5.xlarge", findings }]);
    assert.equal(verdict.failed, true);
    assert.equal(verdict.reasons.length, 2);
  });

  it("a denial that names no permission (only the encoded message) says so, and guesses no statement", async () => {
    aws.fail(
      "RunInstances",
      {
        status: 403,
        code: "UnauthorizedOperation",
        message: "You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf0123",
      },
      1,
    );
    const launch = byCheck(await awsPreflight(BASE, request(1), run), /run-instances/);
    assert.equal(launch.status, "failed");
    assert.match(
      launch.fix ?? "",
      /EC2 did not name the permission: give the start's role every statement of docs\/policies\/aws-start\.json/,
    );
    assert.doesNotMatch(launch.fix ?? "", /"CreateTagged"/);
  });

  it("a denied ec2:DescribeInstanceTypes fails the start: the stack reads the type at apply", async () => {
    aws.fail("DescribeInstanceTypes", PREFLIGHT_ERRORS.unauthorized("ec2:DescribeInstanceTypes", "*"), 1);
    const found = byCheck(await awsPreflight(BASE, request(1), run), /vCPU quota/);
    assert.equal(found.status, "failed");
    assert.equal(found.scope, "start");
    assert.match(found.fix ?? "", /"Describe" of docs\/policies\/aws-start\.json/);
  });

  it("a denied iam:PassRole of the instance profile names its statement", async () => {
    aws.fail(
      "RunInstances",
      PREFLIGHT_ERRORS.unauthorized("iam:PassRole", "arn:aws:iam::123456789012:role/gpu-runner-instance"),
      1,
    );
    const findings = await awsPreflight(config({ instanceProfile: "gpu-runner-instance" }), request(1), run);
    const launch = byCheck(findings, /run-instances/);
    assert.equal(launch.status, "failed");
    assert.match(launch.fix ?? "", /iam:PassRole.*"PassInstanceProfileRole"/);
    assert.deepEqual(callsOf("RunInstances").at(-1)?.input.IamInstanceProfile, { Name: "gpu-runner-instance" });
  });

  it("an image parameter that does not exist, or an AMI EC2 does not know, fails the start before any dry run", async () => {
    aws.calls.length = 0;
    const missing = await awsPreflight(config({ image: { kind: "ssm", parameter: "/team/gpu/ami" } }), request(1), run);
    const parameter = byCheck(missing, /image parameter/);
    assert.equal(parameter.status, "failed");
    assert.match(parameter.detail, /ParameterNotFound/);
    assert.deepEqual(callsOf("RunInstances"), [], "no dry run without an image");
    const unknown = await awsPreflight(config({ image: { kind: "id", id: "ami-0fffffffffffffff0" } }), request(1), run);
    const image = byCheck(unknown, /^image ami-/);
    assert.equal(image.status, "failed");
    assert.match(image.detail, /InvalidAMIID\.NotFound/);
  });

  it("the newest image of a name pattern is the one dry-run", async () => {
    aws.calls.length = 0;
    const findings = await awsPreflight(
      config({
        image: {
          kind: "name",
          owner: "amazon",
          pattern: "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *",
        },
      }),
      request(1),
      run,
    );
    assert.equal(byCheck(findings, /^image amazon\//).status, "ok");
    assert.equal(callsOf("RunInstances")[0]?.input.ImageId, "ami-0d1a2b3c4d5e6f708");
  });

  it("a disk smaller than the image's root snapshot fails the start with the size to set", async () => {
    const findings = await awsPreflight(config({ diskSizeGb: 30 }), request(1), run);
    const disk = byCheck(findings, /^disk-size/);
    assert.equal(disk.status, "failed");
    assert.match(disk.detail, /disk-size is 30 GB, and the image's root snapshot is 75 GB/);
    assert.equal(disk.fix, "set disk-size to 75 or more");
  });

  it("subnets: a NAT gateway reaches GitHub, a table without 0.0.0.0/0 does not; a given group makes no group dry run", async () => {
    aws.calls.length = 0;
    const nat = await awsPreflight(
      config({ subnetId: "subnet-0bbbbbbbbbbbbbbb1", publicIp: false, securityGroupIds: ["sg-0123456789abcdef0"] }),
      request(1),
      run,
    );
    const routed = byCheck(nat, /route to GitHub/);
    assert.equal(routed.status, "ok");
    assert.match(routed.detail, /nat-0private0000001/);
    assert.deepEqual(callsOf("CreateSecurityGroup"), []);
    const launch = callsOf("RunInstances")[0]!.input;
    assert.equal(launch.SubnetId, "subnet-0bbbbbbbbbbbbbbb1");
    assert.deepEqual(launch.SecurityGroupIds, ["sg-0123456789abcdef0"]);
    const isolated = await awsPreflight(
      config({ subnetId: "subnet-0ccccccccccccccc1", publicIp: true }),
      request(1),
      run,
    );
    const cut = byCheck(isolated, /route to GitHub/);
    assert.equal(cut.status, "failed");
    assert.match(cut.detail, /no active 0\.0\.0\.0\/0 route/);
    // public-ip with a subnet: the network interface asks for the address, as the provider sends it.
    assert.deepEqual(callsOf("RunInstances").at(-1)?.input.NetworkInterfaces, [
      { DeviceIndex: 0, SubnetId: "subnet-0ccccccccccccccc1", AssociatePublicIpAddress: true },
    ]);
  });

  it("what cannot be asked is unchecked, never failed: quotas not readable, route tables not readable, throttled", async () => {
    aws.fail(
      "GetServiceQuota",
      PREFLIGHT_ERRORS.accessDenied("AccessDeniedException", "servicequotas:GetServiceQuota"),
      1,
    );
    aws.fail("DescribeRouteTables", PREFLIGHT_ERRORS.unauthorized("ec2:DescribeRouteTables", "*"), 1);
    const findings = await awsPreflight(BASE, request(1), run);
    const quota = byCheck(findings, /quota/);
    assert.equal(quota.status, "unchecked");
    assert.match(quota.fix ?? "", /servicequotas:GetServiceQuota.*"PreflightQuotas"/);
    assert.equal(byCheck(findings, /route to GitHub/).status, "unchecked");
    const verdict = judgePreflight([{ candidate: "g5.xlarge", findings }]);
    assert.equal(verdict.failed, false);
    assert.equal(verdict.warnings.length, 2);
  });

  it("a quota whose answer counts another class than the family's is unchecked, never a pass", async () => {
    const quota = aws.preflight.quotas.find((q) => q.code === "L-DB2E81BA")!;
    quota.usageClass = "P/OnDemand";
    try {
      const found = byCheck(await awsPreflight(BASE, request(1), run), /quota/);
      assert.equal(found.status, "unchecked");
      assert.match(found.detail, /counts P\/OnDemand, not G\/OnDemand/);
    } finally {
      quota.usageClass = "G/OnDemand";
    }
  });

  it("one candidate dropped by its quota while another passes: the start goes on, with a warning", async () => {
    aws.calls.length = 0;
    const plan = awsCloud.plan(config({ fallbackInstanceTypes: ["p5.48xlarge"] }));
    const candidates = await Promise.all(
      plan.alternatives().map(async (candidate) => ({
        candidate: candidate.summary().machineType,
        findings: await candidate.preflight(request(1), run),
      })),
    );
    assert.deepEqual(
      candidates.map((c) => c.candidate),
      ["g5.xlarge", "p5.48xlarge"],
    );
    const p5 = byCheck(candidates[1]!.findings, /quota/);
    assert.equal(p5.status, "failed");
    assert.match(p5.check, /Running On-Demand P instances.*L-417A185B/);
    assert.match(p5.detail, /192 needed, the quota is 0/);
    const verdict = judgePreflight(candidates);
    assert.equal(verdict.failed, false);
    assert.ok(
      verdict.warnings.some((w) => /^p5\.48xlarge would be skipped/.test(w)),
      verdict.warnings.join("\n"),
    );
    // Asked at once, the candidates share the questions they have in common: one process each, not one per candidate.
    for (const shared of [
      "GetParameter",
      "DescribeImages",
      "DescribeSubnets",
      "DescribeRouteTables",
      "CreateSecurityGroup",
    ])
      assert.equal(callsOf(shared).length, 1, shared);
    for (const own of ["RunInstances", "DescribeInstanceTypes", "GetServiceQuota"])
      assert.equal(callsOf(own).length, 2, own);
    // Alone, that candidate fails the start.
    assert.equal(judgePreflight([candidates[1]!]).failed, true);
  });
});

describe("aws preflight without the CLI", () => {
  it("exit 127 (no aws CLI) makes every question unchecked, and throws nothing", async () => {
    const missing: CommandRunner = async () => ({ exitCode: 127, stdout: "", stderr: "aws: not found" });
    const findings = await awsPreflight(config({ spot: true }), request(1), missing);
    assert.ok(findings.length >= 4);
    for (const f of findings) assert.equal(f.status, "unchecked", f.check);
    assert.equal(judgePreflight([{ candidate: "x", findings }]).failed, false);
  });

  it("a runner that throws (spawn failed) makes the questions unchecked too", async () => {
    const broken: CommandRunner = () => {
      throw new Error("spawn aws EACCES");
    };
    const findings = await awsPreflight(BASE, request(1), broken);
    for (const f of findings) assert.equal(f.status, "unchecked", f.check);
    assert.match(findings[0]!.detail, /spawn aws EACCES/);
  });
});

describe("aws preflight answers", () => {
  it("reads the CLI's error line, and sorts throttling from refusals", () => {
    const error = (stderr: string) => readAnswer({ exitCode: 255, stdout: "", stderr });
    assert.deepEqual(
      error(
        "\nAn error occurred (DryRunOperation) when calling the RunInstances operation: Request would have succeeded, but DryRun flag is set.\n",
      ),
      { kind: "error", code: "DryRunOperation", message: "Request would have succeeded, but DryRun flag is set." },
    );
    assert.equal(
      error("An error occurred (RequestLimitExceeded) when calling the RunInstances operation: Request limit exceeded.")
        .kind,
      "unasked",
    );
    assert.equal(error("An error occurred (NoSuchEntity) when calling the GetRole operation: nope").kind, "error");
    assert.equal(error("Could not connect to the endpoint URL").kind, "unasked");
    assert.equal(readAnswer({ exitCode: 127, stdout: "", stderr: "" }).kind, "unasked");
  });

  it("names the permission a denial reports, and the statement that grants it", () => {
    assert.deepEqual(
      deniedPermission(PREFLIGHT_ERRORS.unauthorized("ec2:CreateTags", "arn:aws:ec2:eu-west-1:1:instance/*").message),
      { action: "ec2:CreateTags", resource: "arn:aws:ec2:eu-west-1:1:instance/*" },
    );
    assert.deepEqual(
      deniedPermission("You are not authorized to perform this operation. Encoded authorization failure message: x"),
      {
        action: undefined,
        resource: undefined,
      },
    );
    assert.equal(statementFor("ec2:CreateTags"), "TagOnCreate");
    assert.equal(statementFor("ec2:DescribeImages"), "Describe");
    assert.equal(statementFor("ssm:GetParameter"), "DefaultImage");
    assert.equal(statementFor("ec2:RunInstances"), undefined, "no statement guessed when EC2 names no resource");
    assert.equal(statementFor("ec2:RunInstances", "arn:aws:ec2:r:1:instance/*"), "CreateTagged");
    assert.equal(statementFor("ec2:RunInstances", "arn:aws:ec2:r::image/ami-1"), "RunInstancesOnSharedResources");
    assert.equal(
      statementFor("ec2:RunInstances", "arn:aws:ec2:r:1:spot-instances-request/*"),
      "RunInstancesOnSharedResources",
    );
    assert.equal(statementFor("ec2:CreateSecurityGroup", "arn:aws:ec2:r:1:vpc/vpc-1"), "SecurityGroupInVpc");
    assert.equal(statementFor("ec2:CreateSecurityGroup", "arn:aws:ec2:r:1:security-group/*"), "CreateTagged");
  });

  it("knows the vCPU quota of each family, on demand and Spot, and none for families it has no code of", () => {
    const code = (type: string, spot: boolean) => vcpuQuotaOf(type, spot)?.code;
    assert.equal(code("g4dn.xlarge", false), "L-DB2E81BA");
    assert.equal(code("g6e.12xlarge", true), "L-3819A6DF");
    assert.equal(code("gr6.4xlarge", false), "L-DB2E81BA");
    assert.equal(code("p5.48xlarge", false), "L-417A185B");
    assert.equal(code("p4d.24xlarge", true), "L-7212CCBC");
    assert.equal(code("m5.xlarge", false), "L-1216C47A");
    assert.equal(code("c7i.2xlarge", true), "L-34B43A08");
    for (const other of [
      "inf2.xlarge",
      "trn1.2xlarge",
      "dl1.24xlarge",
      "hpc7g.4xlarge",
      "x2idn.16xlarge",
      "f1.2xlarge",
      "mac2.metal",
    ])
      assert.equal(code(other, false), undefined, other);
  });

  it("judges a route: NAT always, an internet gateway only with a public IP, other targets unknown", () => {
    const via = (target: Record<string, string>) => [{ DestinationCidrBlock: "0.0.0.0/0", State: "active", ...target }];
    assert.equal(judgeRoute(via({ NatGatewayId: "nat-1" }), false).status, "ok");
    assert.equal(judgeRoute(via({ GatewayId: "igw-1" }), true).status, "ok");
    assert.equal(judgeRoute(via({ GatewayId: "igw-1" }), false).status, "failed");
    assert.equal(judgeRoute(via({ TransitGatewayId: "tgw-1" }), false).status, "unchecked");
    assert.equal(
      judgeRoute([{ DestinationCidrBlock: "0.0.0.0/0", State: "blackhole", NatGatewayId: "nat-1" }], true).status,
      "failed",
    );
    assert.equal(judgeRoute([], true).status, "failed");
  });
});

// ---- the start policy allows every question the preflight asks -----------------------------------------------

const START = JSON.parse(
  readFileSync(new URL("../../../docs/policies/aws-start.json", import.meta.url), "utf8"),
) as Policy;
/** aws.md's first run: the start policy without the instance-profile statement. */
const FIRST_RUN: Policy = {
  ...START,
  Statement: START.Statement.filter((s) => (s as { Sid?: string }).Sid !== "PassInstanceProfileRole"),
};

/** The command lines of one preflight, with EC2's, SSM's, IAM's and Service Quotas' answers recorded. */
async function preflightCommands(changes: Partial<AwsConfig>): Promise<string[]> {
  const dryRun = {
    exitCode: 254,
    stderr:
      "An error occurred (DryRunOperation) when calling the RunInstances operation: Request would have succeeded, but DryRun flag is set.",
  };
  const { run: recorded, calls } = recorder({
    "aws ssm get-parameter": { stdout: '"ami-0d1a2b3c4d5e6f708"' },
    "aws ec2 describe-images": {
      stdout: JSON.stringify([
        {
          id: "ami-0d1a2b3c4d5e6f708",
          root: "/dev/sda1",
          mappings: [{ DeviceName: "/dev/sda1", Ebs: { VolumeSize: 75 } }],
        },
      ]),
    },
    "aws ec2 describe-subnets": {
      stdout: JSON.stringify([{ id: "subnet-0aaaaaaaaaaaaaaa1", vpc: "vpc-0default00000001", publicIp: true }]),
    },
    "aws ec2 describe-route-tables": {
      stdout: JSON.stringify([
        { main: [true], subnets: [], routes: [{ DestinationCidrBlock: "0.0.0.0/0", GatewayId: "igw-1" }] },
      ]),
    },
    "aws ec2 describe-instance-types": { stdout: "4" },
    "aws service-quotas get-service-quota": { stdout: JSON.stringify({ value: 64 }) },
    "aws ec2 run-instances": dryRun,
    "aws ec2 create-security-group": dryRun,
    "aws iam get-role": { stdout: '"arn"' },
  });
  const findings = await awsPreflight(config(changes), request(2), recorded);
  for (const f of findings) assert.equal(f.status, "ok", `${f.check}: ${f.detail}`);
  return calls;
}

const WORLD = { tags: TAGS };
async function refused(calls: readonly Call[], policy: Policy): Promise<string[]> {
  const problems: string[] = [];
  for (const call of calls)
    for (const line of (await evaluate(call, [policy])).denied) problems.push(`${call.why}: ${call.action}: ${line}`);
  return problems;
}

describe("aws preflight: docs/policies/aws-start.json allows every call it makes", () => {
  it("the first run (default VPC, default image, a group made) under aws.md's first-run policy", async () => {
    const lines = await preflightCommands({});
    assert.ok(lines.some((l) => l.startsWith("aws ec2 create-security-group ")));
    assert.deepEqual(
      await refused(
        lines.flatMap((l) => commandCalls(l, WORLD)),
        FIRST_RUN,
      ),
      [],
    );
  });

  it("Spot, an instance profile, a subnet with public IP and the user's group, under the start policy", async () => {
    const lines = await preflightCommands({
      spot: true,
      instanceProfile: "gpu-runner-instance",
      subnetId: "subnet-0aaaaaaaaaaaaaaa1",
      securityGroupIds: ["sg-0123456789abcdef0"],
    });
    assert.ok(lines.some((l) => l.startsWith("aws iam get-role ")));
    const calls = lines.flatMap((l) => commandCalls(l, WORLD));
    assert.ok(calls.some((c) => c.action === "iam:PassRole"));
    assert.ok(calls.some((c) => c.touches.some((t) => t.type === "spot-instances-request")));
    assert.deepEqual(await refused(calls, START), []);
  });

  it("a dry run without the ownership tags is denied: the dry run asks what apply asks", async () => {
    const lines = await preflightCommands({});
    const untagged = lines
      .flatMap((l) => commandCalls(l, WORLD))
      .filter((c) => c.action === "ec2:RunInstances" || c.action === "ec2:CreateSecurityGroup")
      .map((c) => ({ ...c, touches: c.touches.map((t) => ({ ...t, requestTags: t.requestTags && {} })) }));
    assert.equal(untagged.length, 2);
    for (const call of untagged) assert.equal((await evaluate(call, [START])).allowed, false, call.action);
  });

  it("without the preflight's statements, reading the quota and the Spot role is denied (so the test can fail)", async () => {
    const lines = await preflightCommands({ spot: true });
    const bare: Policy = {
      ...START,
      Statement: START.Statement.filter((s) => !/^Preflight/.test((s as { Sid?: string }).Sid ?? "")),
    };
    const problems = await refused(
      lines.flatMap((l) => commandCalls(l, WORLD)),
      bare,
    );
    assert.ok(
      problems.some((p) => p.includes("servicequotas:GetServiceQuota")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.includes("iam:GetRole")),
      problems.join("\n"),
    );
  });
});
