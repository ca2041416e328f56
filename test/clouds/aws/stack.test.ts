// The EC2 stack as Terraform will see it: inputs parsed from the environment as action.yml sets them, synthesized
// by cdktf to cdk.tf.json (test/kit/stack-synth.ts), and the JSON checked for the properties that carry security
// and cost.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { OWNERSHIP_KEYS } from "../../../stacks/names.ts";
import { InputError } from "../../../stacks/input-reader.ts";
import { parseInputs } from "../../../scripts/settings/inputs.ts";
import { synthesizeLoaded } from "../../../scripts/phases/synthesize.ts";
import { awsCloud } from "../../../stacks/aws/index.ts";
import { LIFETIME_CAP_MARGIN_MINUTES } from "../../../stacks/lifetime-cap.ts";
import { type BadInput, type Json, jitReferences, REPOSITORY_ID, stackKit, tf } from "../../kit/stack-synth.ts";

// The provider bindings load lazily (the action prunes unused ones); synthesis needs them loaded.
await awsCloud.terraform.load();

const LABEL = "gpu-777-1-89abcdef";
/** The synthesis clock, fixed: the lifetime schedule is a point in time counted from it. */
const SYNTHESIZED_AT = Date.parse("2026-03-01T12:00:00Z");
const LIFETIME_ROLE = "arn:aws:iam::123456789012:role/gpu-runner-lifetime";

const BASE: Record<string, string> = {
  mode: "start",
  cloud: "aws",
  "github-token": "ghs_not-a-real-token",
  region: "eu-west-1",
  "machine-type": "g5.xlarge",
  image: "ami-0123456789abcdef0",
};

const kit = stackKit({
  base: BASE,
  label: LABEL,
  repository: "example-org/example-repo",
  runId: "777",
  runAttempt: "1",
  synthesizedAt: SYNTHESIZED_AT,
});
const { envOf, prepare, synth, synthInputs, ownership: OWNERSHIP } = kit;

function instance(json: Json, index = 0): Json {
  const found = json.resource?.aws_instance?.[`runner-${index}`] as Json | undefined;
  assert.ok(found, `runner-${index} is an aws_instance`);
  return found;
}

describe("aws stack", () => {
  const json = synth({ count: "2", tags: JSON.stringify({ team: "md-sim", "cost center": "42" }) });

  test("one instance per runner, in the region, of the type and AMI asked for", () => {
    assert.equal(Object.keys(json.resource.aws_instance).length, 2);
    for (const index of [0, 1]) {
      const vm = instance(json, index);
      assert.equal(vm.ami, "ami-0123456789abcdef0");
      assert.equal(vm.instance_type, "g5.xlarge");
      assert.equal(vm.tags.Name, `${LABEL}-${index}`);
    }
    assert.equal(json.provider.aws[0].region, "eu-west-1");
  });

  test("IMDSv2 only, one hop", () => {
    for (const index of [0, 1]) {
      assert.deepEqual(instance(json, index).metadata_options, {
        http_endpoint: "enabled",
        http_tokens: "required",
        http_put_response_hop_limit: 1,
      });
    }
  });

  test("root volume encrypted and deleted with the instance", () => {
    const root = instance(synth({ "disk-size": "300" })).root_block_device;
    assert.deepEqual(root, { encrypted: true, delete_on_termination: true, volume_size: 300, volume_type: "gp3" });
  });

  test("power-off terminates the instance", () => {
    for (const index of [0, 1]) assert.equal(instance(json, index).instance_initiated_shutdown_behavior, "terminate");
  });

  test("tags and volume_tags carry the ownership keys and the user's tags; default_tags the ownership keys", () => {
    const expected = { ...OWNERSHIP, team: "md-sim", "cost center": "42" };
    for (const index of [0, 1]) {
      const vm = instance(json, index);
      assert.deepEqual(vm.tags, { ...expected, Name: `${LABEL}-${index}` });
      assert.deepEqual(vm.volume_tags, vm.tags);
    }
    const defaults = json.provider.aws[0].default_tags[0].tags;
    for (const [key, value] of Object.entries(OWNERSHIP)) assert.equal(defaults[key], value, key);
  });

  test("user tags cannot override the ownership keys, in the stack or at the input", () => {
    const { inputs, context } = prepare({});
    // Past the input checks (which refuse these keys): the stack itself must still let ownership win.
    const spoofed = synthInputs(
      { ...inputs, tags: { [OWNERSHIP_KEYS.label]: "spoof", [OWNERSHIP_KEYS.repository]: "evil/repo" } },
      context,
    );
    assert.equal(instance(spoofed).tags[OWNERSHIP_KEYS.label], LABEL);
    assert.equal(instance(spoofed).volume_tags[OWNERSHIP_KEYS.repository], "example-org/example-repo");
    assert.equal(spoofed.provider.aws[0].default_tags[0].tags[OWNERSHIP_KEYS.label], LABEL);
    assert.throws(
      () => parseInputs(envOf({ ...BASE, tags: JSON.stringify({ [OWNERSHIP_KEYS.label]: "spoof" }) })),
      (error: unknown) => error instanceof InputError && error.input === "tags",
    );
  });

  test("without a security group: one is created with no ingress, in the default VPC", () => {
    const groups = json.resource.aws_security_group;
    assert.deepEqual(Object.keys(groups), ["no-inbound"]);
    const group = groups["no-inbound"];
    assert.equal(group.ingress, undefined);
    assert.equal(group.vpc_id, tf("data.aws_vpc.default-vpc.id"));
    assert.deepEqual(group.tags, { ...OWNERSHIP, team: "md-sim", "cost center": "42" });
    assert.equal(json.data.aws_vpc["default-vpc"].default, true);
    for (const index of [0, 1])
      assert.deepEqual(instance(json, index).vpc_security_group_ids, [tf("aws_security_group.no-inbound.id")]);
  });

  test("with a subnet: the created group lives in the subnet's VPC", () => {
    const withSubnet = synth({ subnet: "subnet-0123456789abcdef0" });
    assert.equal(withSubnet.resource.aws_security_group["no-inbound"].vpc_id, tf("data.aws_subnet.subnet.vpc_id"));
    assert.equal(instance(withSubnet).subnet_id, "subnet-0123456789abcdef0");
    assert.equal(withSubnet.data.aws_vpc, undefined);
  });

  test("with security groups given: none is created", () => {
    const given = synth({ "security-group": "sg-0123456789abcdef0, sg-0fedcba9876543210" });
    assert.equal(given.resource.aws_security_group, undefined);
    assert.deepEqual(instance(given).vpc_security_group_ids, ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]);
  });

  test("no public IP unless asked", () => {
    assert.equal(instance(json).associate_public_ip_address, false);
    assert.equal(instance(synth({ "public-ip": "true" })).associate_public_ip_address, true);
  });

  test("on-demand unless spot is asked; spot is one-time and terminates on interruption", () => {
    assert.equal(instance(json).instance_market_options, undefined);
    assert.deepEqual(instance(synth({ spot: "true" })).instance_market_options, {
      market_type: "spot",
      spot_options: { instance_interruption_behavior: "terminate", spot_instance_type: "one-time" },
    });
  });

  test("instance profile only when given", () => {
    assert.equal(instance(json).iam_instance_profile, undefined);
    assert.equal(instance(synth({ "instance-profile": "gpu-runner" })).iam_instance_profile, "gpu-runner");
  });

  test("the JIT variables are sensitive, without default, validated as base64", () => {
    for (const index of [0, 1]) {
      const variable = json.variable[`jit_config_${index}`];
      assert.equal(variable.sensitive, true);
      assert.equal(variable.nullable, false);
      assert.equal(variable.default, undefined);
      assert.equal(variable.validation.length, 1);
      assert.equal(variable.validation[0].condition, `\${can(regex("^[A-Za-z0-9+/=]+$", var.jit_config_${index}))}`);
    }
    assert.deepEqual(Object.keys(json.variable).sort(), ["jit_config_0", "jit_config_1"]);
  });

  test("user data is its own gzipped boot script, holding its own JIT variable exactly once, replaced on change", () => {
    for (const index of [0, 1]) {
      const vm = instance(json, index);
      assert.equal(vm.user_data, undefined, "only the gzipped form is sent");
      assert.equal(vm.user_data_base64, `\${base64gzip(local.boot_script_${index})}`);
      const script: string = json.locals[`boot_script_${index}`];
      assert.ok(script.startsWith("#!/bin/bash\n"));
      assert.deepEqual(jitReferences(script), [String(index)]);
      assert.match(script, new RegExp(`^export GR_JIT_CONFIG='\\$\\{var\\.jit_config_${index}\\}'$`, "m"));
      assert.match(script, new RegExp(`^export GR_RUNNER_NAME='${LABEL}-${index}'$`, "m"));
      assert.match(
        script,
        /^export GR_EXPECTED_GPUS='\$\{sum\(concat\(\[0\], tolist\(data\.aws_ec2_instance_type\.machine-type\.gpus\)\[\*\]\.count\)\)\}'$/m,
        "EC2's count, read at apply",
      );
      assert.equal(vm.user_data_replace_on_change, true);
    }
  });

  test("state: local in the stack whatever state-backend says (a bucket keeps only the encrypted bundle)", () => {
    assert.deepEqual(json.terraform.backend, { local: { path: "terraform.tfstate" } });
    const s3 = synth({
      "state-backend": "s3",
      "state-bucket": "md-sim-tf-state",
      "state-prefix": "ci/gpu",
      "state-region": "eu-central-1",
    });
    assert.deepEqual(s3.terraform.backend, { local: { path: "terraform.tfstate" } });
  });

  test("the machines output maps runner names to instance ids", () => {
    assert.deepEqual(json.output.machines.value, {
      [`${LABEL}-0`]: tf("aws_instance.runner-0.id"),
      [`${LABEL}-1`]: tf("aws_instance.runner-1.id"),
    });
  });
});

describe("aws user-data limit", () => {
  // 8 KiB (the input's own limit) that gzip cannot shrink: with a runner's config, over EC2's 16 KiB of user-data.
  const incompressible = (bytes: number) =>
    Array.from(randomBytes(bytes), (b) => String.fromCharCode(33 + (b % 94))).join("");

  test("a boot script over EC2's 16 KiB with a real-sized runner config is refused at synthesis, naming pre-runner-script", () => {
    assert.throws(
      () => synth({ "pre-runner-script": incompressible(8192) }),
      (error: unknown) =>
        error instanceof InputError &&
        error.input === "pre-runner-script" &&
        /of the 16384 bytes aws accepts/.test(error.message),
    );
  });

  test("one that fits is synthesized", () => {
    assert.ok(instance(synth({ "pre-runner-script": incompressible(4096) })));
  });
});

describe("aws: the GPU count and the image, resolved at apply", () => {
  const SSM_X86 = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id";
  const GPU_SUM = tf("sum(concat([0], tolist(data.aws_ec2_instance_type.machine-type.gpus)[*].count))");
  const expectedGpusLine = (json: Json) =>
    json.locals.boot_script_0.split("\n").find((l: string) => l.startsWith("export GR_EXPECTED_GPUS="));

  test("no image: the Deep Learning Base AMI through its public SSM parameter, for the type's architecture", () => {
    const json = synth({ image: undefined });
    assert.deepEqual(Object.keys(json.data.aws_ssm_parameter), ["machine-image"]);
    assert.equal(json.data.aws_ssm_parameter["machine-image"].name, SSM_X86);
    assert.equal(instance(json).ami, tf("data.aws_ssm_parameter.machine-image.insecure_value"));
    const arm = synth({ image: undefined, "machine-type": "g5g.xlarge" });
    assert.equal(arm.data.aws_ssm_parameter["machine-image"].name, SSM_X86.replace("x86_64", "arm64"));
    // EC2's description must confirm the architecture the default image was chosen for, before anything exists.
    const checks = arm.data.aws_ec2_instance_type["machine-type"].lifecycle.postcondition;
    assert.deepEqual(
      checks.map((c: Json) => c.condition),
      [tf('contains(self.supported_architectures, "arm64")')],
    );
  });

  test("the instance-type data source feeds GR_EXPECTED_GPUS and the expected_gpus output", () => {
    const json = synth();
    assert.equal(json.data.aws_ec2_instance_type["machine-type"].instance_type, "g5.xlarge");
    assert.equal(expectedGpusLine(json), `export GR_EXPECTED_GPUS='${GPU_SUM}'`);
    assert.equal(json.output.expected_gpus.value, GPU_SUM);
    assert.equal(json.output.image.value, tf("aws_instance.runner-0.ami"));
  });

  test("expected-gpus wins: a fixed count, and no description read for it", () => {
    const json = synth({ "expected-gpus": "2" });
    assert.equal(expectedGpusLine(json), "export GR_EXPECTED_GPUS='2'");
    assert.equal(json.output.expected_gpus.value, 2);
    assert.equal(json.data.aws_ec2_instance_type, undefined, "an AMI id and no accelerator: nothing to check");
    assert.equal(expectedGpusLine(synth({ "expected-gpus": "0" })), "export GR_EXPECTED_GPUS='0'");
  });

  test("accelerator: EC2's description is held to the count asked for, before anything is created", () => {
    const json = synth({ "machine-type": undefined, accelerator: "l4:4" });
    assert.equal(instance(json).instance_type, "g6.12xlarge");
    assert.deepEqual(json.data.aws_ec2_instance_type["machine-type"].lifecycle.postcondition[0], {
      condition: tf("sum(concat([0], tolist(self.gpus)[*].count)) == 4"),
      error_message: "EC2 describes g6.12xlarge with another number of GPUs than accelerator l4:4 asks for.",
    });
  });

  test("image: resolve:ssm:NAME reads that parameter; OWNER/PATTERN the newest AMI of the type's architecture", () => {
    const ssm = synth({ image: "resolve:ssm:/my-org/gpu-runner/ami" });
    assert.equal(ssm.data.aws_ssm_parameter["machine-image"].name, "/my-org/gpu-runner/ami");
    const named = synth({ image: "amazon/Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *" });
    const ami = named.data.aws_ami["machine-image"];
    assert.equal(ami.most_recent, true);
    assert.deepEqual(ami.owners, ["amazon"]);
    assert.deepEqual(ami.filter, [
      { name: "name", values: ["Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"] },
      { name: "architecture", values: ["x86_64"] },
      { name: "state", values: ["available"] },
    ]);
    assert.equal(instance(named).ami, tf("data.aws_ami.machine-image.id"));
    assert.equal(synth().data.aws_ssm_parameter, undefined, "an AMI id is used as given");
  });

  test("disk: gp3 with IOPS and throughput, or io2 with IOPS", () => {
    assert.deepEqual(instance(synth({ "disk-iops": "6000", "disk-throughput": "500" })).root_block_device, {
      encrypted: true,
      delete_on_termination: true,
      volume_size: 100,
      volume_type: "gp3",
      iops: 6000,
      throughput: 500,
    });
    const io2 = instance(synth({ "disk-type": "io2", "disk-iops": "20000", "disk-size": "200" })).root_block_device;
    assert.deepEqual(io2, {
      encrypted: true,
      delete_on_termination: true,
      volume_size: 200,
      volume_type: "io2",
      iops: 20000,
    });
  });

  test("launch template: the base of the instance, whose own settings still win", () => {
    const vm = instance(synth({ "launch-template": "lt-0123456789abcdef0:7" }));
    assert.deepEqual(vm.launch_template, { id: "lt-0123456789abcdef0", version: "7" });
    assert.equal(vm.metadata_options.http_tokens, "required");
    assert.deepEqual(instance(synth({ "launch-template": "lt-0123456789abcdef0" })).launch_template, {
      id: "lt-0123456789abcdef0",
      version: "$Default",
    });
  });

  test("an Availability Zone of the default VPC places the instance there", () => {
    const vm = instance(synth({ "availability-zone": "eu-west-1b,eu-west-1c" }));
    assert.equal(vm.availability_zone, "eu-west-1b");
    assert.equal(vm.subnet_id, undefined);
  });
});

describe("aws inputs", () => {
  const bad: BadInput[] = [
    ["a GCE image path", { image: "projects/debian-cloud/global/images/family/debian-12" }, "image"],
    ["an AMI name without its owner", { image: "Deep Learning Base*" }, "image"],
    [
      "an SSM parameter without resolve:ssm:",
      { image: "/aws/service/deeplearning/ami/x86_64/x/latest/ami-id" },
      "image",
    ],
    ["a GCE machine type", { "machine-type": "n1-standard-4" }, "machine-type"],
    ["a zone as region", { region: "us-east-1a" }, "region"],
    ["a role name as lifetime-role", { "lifetime-role": "gpu-runner-lifetime" }, "lifetime-role"],
    ["a user ARN as lifetime-role", { "lifetime-role": "arn:aws:iam::123456789012:user/gpu-runner" }, "lifetime-role"],
    [
      "an instance profile ARN as lifetime-role",
      { "lifetime-role": "arn:aws:iam::123456789012:instance-profile/gpu-runner" },
      "lifetime-role",
    ],
    [
      "a short account id in lifetime-role",
      { "lifetime-role": "arn:aws:iam::12345:role/gpu-runner-lifetime" },
      "lifetime-role",
    ],
    ["a GCE disk type", { "disk-type": "pd-ssd" }, "disk-type"],
    ["io2 without IOPS", { "disk-type": "io2" }, "disk-iops"],
    ["io2 with a throughput", { "disk-type": "io2", "disk-iops": "1000", "disk-throughput": "500" }, "disk-throughput"],
    ["gp3 IOPS below its floor", { "disk-iops": "100" }, "disk-iops"],
    ["gp3 throughput above its ceiling", { "disk-throughput": "4000" }, "disk-throughput"],
    ["a region as availability zone", { "availability-zone": "eu-west-1" }, "availability-zone"],
    [
      "zones and subnets together",
      { "availability-zone": "eu-west-1a", subnet: "subnet-0123456789abcdef0" },
      "availability-zone",
    ],
    ["a launch template by name", { "launch-template": "my-template" }, "launch-template"],
    ["a launch template version that is not one", { "launch-template": "lt-0123456789abcdef0:v2" }, "launch-template"],
  ];
  kit.testRejections(bad);
});

/** The instant of an EventBridge Scheduler at() expression read in UTC, as epoch milliseconds. */
function atTime(expression: string): number {
  const match = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  assert.ok(match, `an at(yyyy-mm-ddThh:mm:ss) expression, got ${expression}`);
  return Date.parse(`${match[1]}Z`);
}

/** What Terraform makes of a schedule's input once the instance exists: the real binary evaluates it, offline. */
function evaluatedInput(input: string, instanceExpression: string, instanceId: string): unknown {
  const expression = input.slice(2, -1).replace(instanceExpression, JSON.stringify(instanceId));
  const dir = mkdtempSync(join(tmpdir(), "aws-input-"));
  try {
    const out = execFileSync("terraform", ["console"], {
      cwd: dir,
      input: expression,
      encoding: "utf8",
      env: { ...process.env, CHECKPOINT_DISABLE: "1" },
    });
    return JSON.parse(JSON.parse(out.trim()) as string);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("aws lifetime cap outside the machine (lifetime-role)", () => {
  const json = synth({ count: "2", "max-lifetime": "95", "lifetime-role": LIFETIME_ROLE });
  const schedules = (json.resource.aws_scheduler_schedule ?? {}) as Record<string, Json>;

  test("one schedule per instance, named after its runner in the default group", () => {
    assert.deepEqual(Object.keys(schedules).sort(), ["lifetime-0", "lifetime-1"]);
    for (const index of [0, 1]) {
      assert.equal(schedules[`lifetime-${index}`]!.name, `${LABEL}-${index}`);
      assert.equal(schedules[`lifetime-${index}`]!.group_name, "default");
      // A schedule takes no tags: its description names the repository id the sweep finds it by (schedule-owner.ts).
      assert.match(schedules[`lifetime-${index}`]!.description, new RegExp(`repository id ${REPOSITORY_ID}\\)$`));
    }
  });

  test("fires once, in UTC, max-lifetime plus the margin after synthesis, on time, then deletes itself", () => {
    assert.equal(LIFETIME_CAP_MARGIN_MINUTES, 10);
    for (const schedule of Object.values(schedules)) {
      assert.equal(schedule.schedule_expression, "at(2026-03-01T13:45:00)", "12:00 + 95 min + 10 min");
      assert.equal(atTime(schedule.schedule_expression) - SYNTHESIZED_AT, (95 + LIFETIME_CAP_MARGIN_MINUTES) * 60_000);
      assert.equal(schedule.schedule_expression_timezone, "UTC");
      assert.deepEqual(schedule.flexible_time_window, { mode: "OFF" });
      assert.equal(schedule.action_after_completion, "DELETE");
    }
  });

  test("follows the clock and max-lifetime it is given", () => {
    const { inputs, context } = prepare({ "max-lifetime": "30", "lifetime-role": LIFETIME_ROLE });
    const outdir = mkdtempSync(join(tmpdir(), "aws-stack-"));
    try {
      const later = Date.parse("2026-12-31T23:55:00.250Z");
      const { stackJsonPath } = synthesizeLoaded(
        { inputs, context, label: LABEL, now: () => later },
        inputs.plan,
        outdir,
      );
      const schedule = (JSON.parse(readFileSync(stackJsonPath, "utf8")) as Json).resource.aws_scheduler_schedule[
        "lifetime-0"
      ];
      // Up to the whole second, never before the cap: 23:55:00.250 + 40 min -> 00:35:01 the next year.
      assert.equal(schedule.schedule_expression, "at(2027-01-01T00:35:01)");
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test("terminates its own instance through EC2's universal target, with the role given, retrying", () => {
    for (const index of [0, 1]) {
      const target = schedules[`lifetime-${index}`]!.target;
      assert.equal(target.arn, "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances");
      assert.equal(target.role_arn, LIFETIME_ROLE);
      assert.equal(target.input, tf(`jsonencode({"InstanceIds" = [aws_instance.runner-${index}.id]})`));
      assert.deepEqual(evaluatedInput(target.input, `aws_instance.runner-${index}.id`, "i-0123456789abcdef0"), {
        InstanceIds: ["i-0123456789abcdef0"],
      });
      assert.deepEqual(target.retry_policy, { maximum_event_age_in_seconds: 86400, maximum_retry_attempts: 185 });
    }
  });

  test("the target's partition follows the role's", () => {
    const china = synth({
      region: "cn-north-1",
      "lifetime-role": "arn:aws-cn:iam::123456789012:role/ci/gpu-runner-lifetime",
    });
    assert.equal(
      china.resource.aws_scheduler_schedule["lifetime-0"].target.arn,
      "arn:aws-cn:scheduler:::aws-sdk:ec2:terminateInstances",
    );
  });

  test("the instance itself is unchanged: its own timer and terminate on power-off stay", () => {
    const without = synth({ count: "2", "max-lifetime": "95" });
    for (const index of [0, 1]) {
      assert.deepEqual(instance(json, index), instance(without, index));
      assert.match(json.locals[`boot_script_${index}`], /^export GR_MAX_LIFETIME_MINUTES='95'$/m);
    }
  });

  test("without lifetime-role: no schedule, and the plan says plainly what ends the machine", () => {
    const without = synth({ count: "2" });
    assert.equal(without.resource.aws_scheduler_schedule, undefined);
    const caveats = prepare({}).inputs.plan.summary().caveats ?? [];
    assert.equal(caveats.length, 1);
    assert.match(
      caveats[0]!,
      /lifetime-role is not set: on AWS only the machine's own timer .* and the stop job end the machine/,
    );
    assert.deepEqual(prepare({ "lifetime-role": LIFETIME_ROLE }).inputs.plan.summary().caveats, undefined);
  });

  test("every capacity alternative keeps the schedule", () => {
    const { inputs, context } = prepare({
      "machine-type": "g5.xlarge,g4dn.xlarge",
      spot: "true",
      "lifetime-role": LIFETIME_ROLE,
    });
    const alternatives = inputs.plan.alternatives();
    assert.equal(alternatives.length, 4);
    for (const plan of alternatives) assert.equal(awsCloud.configOf(plan)?.lifetimeRole, LIFETIME_ROLE);
    const fallback = synthInputs(inputs, context, alternatives.at(-1)!);
    assert.equal(instance(fallback).instance_type, "g4dn.xlarge");
    assert.equal(
      fallback.resource.aws_scheduler_schedule["lifetime-0"].target.input,
      tf(`jsonencode({"InstanceIds" = [aws_instance.runner-0.id]})`),
    );
  });
});
