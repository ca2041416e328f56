// The IAM policies docs/aws.md gives (docs/policies/aws-*.json), evaluated with AWS's published authorization data
// (test/clouds/aws/iam.ts) for every call a start, a stop, a sweep and the lifetime cap make (test/clouds/aws/
// calls.ts: derived from the synthesized stack and from the commands the CLI seam runs): each one is allowed, and
// creating, changing or ending anything untagged, or tagged for another owner, is denied.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { AwsConfig } from "../../../stacks/aws/config.ts";
import { awsCloud } from "../../../stacks/aws/index.ts";
import type { FoundMachine } from "../../../stacks/cloud-cli.ts";
import { InputReader } from "../../../stacks/input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../../../stacks/names.ts";
import { recorder } from "../../kit/command-recorder.ts";
import { inputEnv } from "../../kit/env.ts";
import { type Json, REPOSITORY_ID, stackKit } from "../../kit/stack-synth.ts";
import { commandCalls, type StackCalls, stackCalls } from "./calls.ts";
import { ACCOUNT, type Call, evaluate, type Policy, REGION, type Tags } from "./iam.ts";

await awsCloud.terraform.load();

const POLICIES = new URL("../../../docs/policies/", import.meta.url);
const policyFile = (name: string): Json => JSON.parse(readFileSync(new URL(name, POLICIES), "utf8"));

const START = policyFile("aws-start.json") as Policy;
const STOP = policyFile("aws-stop.json") as Policy;
const LIFETIME = policyFile("aws-lifetime.json") as Policy;
const START_LIFETIME = policyFile("aws-start-lifetime.json") as unknown[];
const STOP_LIFETIME = policyFile("aws-stop-lifetime.json") as unknown[];
const STATE = policyFile("aws-state-s3.json");

const withStatements = (policy: Policy, ...statements: unknown[]): Policy => ({
  ...policy,
  Statement: [...policy.Statement, ...statements],
});
const withoutStatement = (policy: Policy, sid: string): Policy => ({
  ...policy,
  Statement: policy.Statement.filter((statement) => (statement as { Sid?: string }).Sid !== sid),
});

/** The roles as docs/aws.md builds them: each base policy with the statements it says to add. */
const ROLES = {
  start: withStatements(START, ...START_LIFETIME, STATE),
  stop: withStatements(STOP, ...STOP_LIFETIME, STATE),
  lifetime: LIFETIME,
};
/** The first run's one role (aws.md, "First GPU run"): the start policy without the instance-profile statement. */
const FIRST_RUN = withoutStatement(START, "PassInstanceProfileRole");

const LABEL = "gpu-777-1-89abcdef";
const kit = stackKit({
  base: {
    mode: "start",
    cloud: "aws",
    "github-token": "ghs_not-a-real-token",
    region: REGION,
    "machine-type": "g5.xlarge",
  },
  label: LABEL,
  repository: "example-org/example-repo",
  runId: "777",
  runAttempt: "1",
});
const OWNERSHIP: Tags = kit.ownership;

interface Scenario {
  what: string;
  inputs: Record<string, string>;
  start: Policy;
  stop: Policy;
}

/** Every resource and data source the stack makes appears in at least one of these (checked below). */
const SCENARIOS: Scenario[] = [
  {
    what: "default VPC (a security group made), default image, Spot, lifetime-role, instance-profile",
    inputs: {
      spot: "true",
      "public-ip": "true",
      "lifetime-role": `arn:aws:iam::${ACCOUNT}:role/gpu-runner-lifetime`,
      "instance-profile": "gpu-runner-instance",
      count: "2",
    },
    start: ROLES.start,
    stop: ROLES.stop,
  },
  {
    what: "a subnet, an image by name, no lifetime-role: the base policies alone",
    inputs: { subnet: "subnet-0a1b2c3d4e5f60789", image: "amazon/Deep Learning Base OSS Nvidia Driver GPU AMI *" },
    start: withoutStatement(START, "PassInstanceProfileRole"),
    stop: STOP,
  },
  {
    what: "the user's own security group and AMI",
    inputs: {
      "security-group": "sg-0fedcba9876543210",
      image: "ami-0123456789abcdef0",
      subnet: "subnet-0a1b2c3d4e5f60789",
    },
    start: START,
    stop: STOP,
  },
  {
    what: "aws.md's first run (accelerator t4, public-ip, the default VPC) with its one role",
    inputs: { accelerator: "t4", "machine-type": "", "public-ip": "true", "max-lifetime": "60" },
    start: FIRST_RUN,
    stop: FIRST_RUN,
  },
];

const synthesized = new Map<Scenario, { json: Json; calls: StackCalls }>();
const stackOf = (scenario: Scenario) => {
  let found = synthesized.get(scenario);
  if (!found) {
    const json = kit.synth(scenario.inputs);
    found = { json, calls: stackCalls(json) };
    synthesized.set(scenario, found);
  }
  return found;
};

/** The denied resources of each call that `policies` refuse, as "why: action: resource: decision" lines. */
async function refused(calls: readonly Call[], policies: readonly Policy[]): Promise<string[]> {
  const problems: string[] = [];
  for (const call of calls) {
    const { denied } = await evaluate(call, policies);
    for (const line of denied) problems.push(`${call.why}: ${call.action}: ${line}`);
  }
  return problems;
}

// ---- the CLI's calls: stop without state, the sweep, the boot console, the state bucket --------------------

const MACHINE_TAGS = { ...OWNERSHIP, Name: `${LABEL}-0` };
const asTagList = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** What the CLI seam runs to find and delete one start's leftovers, and to read a console, with EC2's answers. */
async function cliCommands(scheduleDescription: string): Promise<{ start: string[]; stop: string[] }> {
  const { run, calls } = recorder({
    "aws ec2 describe-instances": {
      stdout: JSON.stringify([
        {
          id: "i-0a1b2c3d4e5f60789",
          state: "running",
          launched: "2026-03-01T12:00:00Z",
          tags: asTagList(MACHINE_TAGS),
        },
      ]),
    },
    "aws ec2 describe-security-groups": {
      stdout: JSON.stringify([{ id: "sg-0a1b2c3d4e5f60789", name: `${LABEL}-x`, tags: asTagList(OWNERSHIP) }]),
    },
    "aws scheduler list-schedules": { stdout: JSON.stringify([`${LABEL}-0`]) },
    "aws scheduler get-schedule": { stdout: JSON.stringify(scheduleDescription) },
  });
  const env = { AWS_REGION: REGION };
  const start = { repositoryId: REPOSITORY_ID, label: LABEL };
  const machines: FoundMachine[] = await awsCloud.cli.findMachines(start, env, run);
  await awsCloud.cli.findLeftovers({ repositoryId: REPOSITORY_ID }, env, run);
  await awsCloud.cli.deleteMachines(machines, [start], env, run);
  const stop = calls.splice(0);
  const config: AwsConfig = {
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
  await awsCloud.plan(config).bootConsole({ name: `${LABEL}-0`, id: "i-0a1b2c3d4e5f60789" }, run);
  return { start: calls.splice(0), stop };
}

/** What the state store runs: start writes the bundle, stop reads and removes it. */
async function stateCommands(): Promise<{ start: string[]; stop: string[] }> {
  const store = awsCloud.stateStore!.parse(
    new InputReader(inputEnv({ "state-bucket": "my-org-gpu-runner-state", "state-region": REGION })),
  );
  const { run, calls } = recorder({});
  await store.put(LABEL, "/tmp/state.bin", run);
  const start = calls.splice(0);
  await store.get(LABEL, "/tmp/state.bin", run);
  await store.remove(LABEL, run);
  return { start, stop: calls.splice(0) };
}

const CLI_WORLD = { tags: MACHINE_TAGS };
const callsOfCommands = (lines: string[]): Call[] => lines.flatMap((line) => commandCalls(line, CLI_WORLD));

// ---- the tests ---------------------------------------------------------------------------------------------

describe("aws policies: every call of a start and a stop is allowed", () => {
  for (const scenario of SCENARIOS) {
    describe(scenario.what, () => {
      it("start: terraform apply, and its destroy when the start undoes itself", async () => {
        const { calls } = stackOf(scenario);
        assert.deepEqual(await refused([...calls.create, ...calls.destroy], [scenario.start]), []);
      });
      it("stop: terraform destroy", async () => {
        assert.deepEqual(await refused(stackOf(scenario).calls.destroy, [scenario.stop]), []);
      });
    });
  }

  it("the scenarios make every resource and data source type the stack has (so none goes untested)", () => {
    const types = (json: Json) => [
      ...Object.keys(json.resource ?? {}).map((type) => `resource ${type}`),
      ...Object.keys(json.data ?? {}).map((type) => `data ${type}`),
    ];
    const seen = new Set(SCENARIOS.flatMap((scenario) => types(stackOf(scenario).json)));
    for (const expected of [
      "resource aws_instance",
      "resource aws_security_group",
      "resource aws_scheduler_schedule",
      "data aws_vpc",
      "data aws_subnet",
      "data aws_ami",
      "data aws_ssm_parameter",
      "data aws_ec2_instance_type",
    ])
      assert.ok(seen.has(expected), `${expected} is in a scenario`);
  });

  it("stop without state and the sweep (the stop role): find, terminate, delete the group and the schedule", async () => {
    const schedule = Object.values(
      stackOf(SCENARIOS[0]!).json.resource.aws_scheduler_schedule as Record<string, Json>,
    )[0]!;
    const { stop } = await cliCommands(schedule.description);
    for (const command of ["terminate-instances", "delete-security-group", "delete-schedule"])
      assert.ok(
        stop.some((line) => line.includes(` ${command} `)),
        `the CLI ran ${command}`,
      );
    assert.deepEqual(await refused(callsOfCommands(stop), [ROLES.stop]), []);
  });

  it("start: the boot console of a runner that did not come online", async () => {
    const { start } = await cliCommands("");
    assert.equal(start.length, 1);
    assert.deepEqual(await refused(callsOfCommands(start), [ROLES.start]), []);
    assert.deepEqual(await refused(callsOfCommands(start), [FIRST_RUN]), []);
  });

  it("state-backend: s3: start writes the bundle, stop reads and removes it", async () => {
    const { start, stop } = await stateCommands();
    assert.deepEqual(await refused(callsOfCommands(start), [ROLES.start]), []);
    assert.deepEqual(await refused(callsOfCommands(stop), [ROLES.stop]), []);
  });

  it("the lifetime role terminates the instance its schedule names", async () => {
    const call: Call = {
      action: "ec2:TerminateInstances",
      touches: [
        {
          type: "instance",
          arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0a1b2c3d4e5f60789`,
          resourceTags: MACHINE_TAGS,
        },
      ],
      why: "the lifetime schedule fires",
    };
    assert.deepEqual(await refused([call], [ROLES.lifetime]), []);
  });
});

// ---- what must be denied ------------------------------------------------------------------------------------

/** Actions that create, change or end something: each must need the ownership tag. */
const GUARDED = new Set([
  "ec2:RunInstances",
  "ec2:CreateSecurityGroup",
  "ec2:CreateTags",
  "ec2:TerminateInstances",
  "ec2:DeleteSecurityGroup",
  "ec2:ModifyInstanceAttribute",
  "ec2:AuthorizeSecurityGroupEgress",
  "ec2:RevokeSecurityGroupEgress",
]);

const OTHER_OWNER: Tags = { ...OWNERSHIP, [OWNERSHIP_KEYS.managedBy]: "someone-else" };

/** `call` with the tags of everything it touches replaced: what a request for something not ours looks like. */
function retagged(call: Call, tags: Tags): Call {
  return {
    ...call,
    touches: call.touches.map((touch) => ({
      ...touch,
      requestTags: touch.requestTags && tags,
      resourceTags: touch.resourceTags && tags,
    })),
  };
}

/** Every guarded call of every scenario and of the CLI, untagged and tagged for another owner, that some role allows. */
async function allowedForOthers(roles: readonly Policy[]): Promise<string[]> {
  const schedule = Object.values(
    stackOf(SCENARIOS[0]!).json.resource.aws_scheduler_schedule as Record<string, Json>,
  )[0]!;
  const cli = await cliCommands(schedule.description);
  const calls = [
    ...SCENARIOS.flatMap((scenario) => [...stackOf(scenario).calls.create, ...stackOf(scenario).calls.destroy]),
    ...callsOfCommands([...cli.stop, ...cli.start]),
  ].filter((call) => GUARDED.has(call.action));
  assert.ok(calls.length >= 10, `found ${calls.length} guarded calls`);
  const problems: string[] = [];
  for (const call of calls) {
    for (const [what, tags] of [
      ["untagged", {}],
      ["tagged for another owner", OTHER_OWNER],
    ] as const) {
      for (const role of roles) {
        if ((await evaluate(retagged(call, tags), [role])).allowed)
          problems.push(`${call.why}: ${call.action} ${what} is allowed`);
      }
    }
  }
  return problems;
}

/** Requests that are not a start's at all, which no role may make. */
const FOREIGN: Call[] = [
  {
    // Tagging an existing instance with the ownership tag would make it the stop role's to terminate.
    action: "ec2:CreateTags",
    touches: [
      {
        type: "instance",
        arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0fedcba9876543210`,
        requestTags: { [OWNERSHIP_KEYS.managedBy]: MANAGED_BY_VALUE },
        resourceTags: { team: "databases" },
      },
    ],
    why: "retagging someone's instance as the action's",
  },
  {
    action: "scheduler:DeleteSchedule",
    touches: [{ type: "schedule", arn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/nightly-backup` }],
    why: "deleting a schedule that is not a runner's",
  },
  {
    action: "iam:PassRole",
    touches: [{ type: "role", arn: `arn:aws:iam::${ACCOUNT}:role/admin` }],
    context: { "iam:PassedToService": "ec2.amazonaws.com" },
    why: "handing another role to a machine",
  },
  {
    action: "s3:GetObject",
    touches: [{ type: "object", arn: "arn:aws:s3:::my-org-gpu-runner-state/other/secrets.bin" }],
    why: "reading the bucket outside the state prefix",
  },
];

async function foreignAllowed(roles: readonly Policy[]): Promise<string[]> {
  const problems: string[] = [];
  for (const call of FOREIGN)
    for (const role of roles) if ((await evaluate(call, [role])).allowed) problems.push(`${call.why} is allowed`);
  return problems;
}

describe("aws policies: nothing untagged, or tagged for another owner, is created, changed or ended", () => {
  const roles = [ROLES.start, ROLES.stop, ROLES.lifetime];

  it("every guarded call of a start, a stop and the sweep, with the tags removed or another owner's", async () => {
    assert.deepEqual(await allowedForOthers(roles), []);
  });

  it("requests that are no start's: retagging, others' schedules and roles, the bucket outside the prefix", async () => {
    assert.deepEqual(await foreignAllowed(roles), []);
  });
});

// ---- the checks above catch the slips they guard against --------------------------------------------------

const mutate = (policy: Policy, sid: string, change: (statement: Json) => Json): Policy => {
  assert.ok(
    policy.Statement.some((statement) => (statement as Json).Sid === sid),
    `${sid} is a statement of the policy`,
  );
  return {
    ...policy,
    Statement: policy.Statement.map((statement) =>
      (statement as Json).Sid === sid ? change(structuredClone(statement as Json)) : statement,
    ),
  };
};

describe("aws policies: each check catches a broken policy", () => {
  const defaultVpc = SCENARIOS[0]!;

  it("without the VPC statement, a start in the default VPC cannot create its security group (issue 21)", async () => {
    const broken = withStatements(withoutStatement(START, "SecurityGroupInVpc"), ...START_LIFETIME);
    const problems = await refused(stackOf(defaultVpc).calls.create, [broken]);
    assert.ok(
      problems.some((line) => /ec2:CreateSecurityGroup: vpc .*ImplicitlyDenied/.test(line)),
      problems.join("\n"),
    );
  });

  it("with the creation statement's tag condition on the VPC too (the documented policy before the fix)", async () => {
    const broken = mutate(withoutStatement(START, "SecurityGroupInVpc"), "CreateTagged", (statement) => ({
      ...statement,
      Resource: "*",
    }));
    assert.ok((await refused(stackOf(defaultVpc).calls.create, [broken])).length > 0, "the start is denied");
  });

  it("without the Spot request among the shared resources, a Spot start is denied", async () => {
    const broken = mutate(START, "RunInstancesOnSharedResources", (statement) => ({
      ...statement,
      Resource: (statement.Resource as string[]).filter((arn) => !arn.includes("spot-instances-request")),
    }));
    const problems = await refused(stackOf(defaultVpc).calls.create, [withStatements(broken, ...START_LIFETIME)]);
    assert.ok(
      problems.some((line) => line.includes("spot-instances-request")),
      problems.join("\n"),
    );
  });

  it("CreateTags without ec2:CreateAction lets the start role retag anything as its own", async () => {
    const broken = mutate(START, "TagOnCreate", (statement) => {
      delete statement.Condition.StringEquals["ec2:CreateAction"];
      return statement;
    });
    assert.ok((await foreignAllowed([broken])).length > 0, "retagging is allowed");
  });

  it("ManageOwnTagged without its condition ends anything", async () => {
    const broken = mutate(STOP, "ManageOwnTagged", (statement) => {
      delete statement.Condition;
      return statement;
    });
    assert.ok((await allowedForOthers([broken])).length > 0, "ending what is not ours is allowed");
  });

  it("volumes among the shared resources: a machine's disk could be created untagged", async () => {
    const broken = mutate(START, "RunInstancesOnSharedResources", (statement) => ({
      ...statement,
      Resource: [...(statement.Resource as string[]), "arn:aws:ec2:*:*:volume/*"],
    }));
    const instanceTagged: Call = (() => {
      const run = stackOf(SCENARIOS[2]!).calls.create.find((call) => call.action === "ec2:RunInstances")!;
      return { ...run, touches: run.touches.map((t) => (t.type === "volume" ? { ...t, requestTags: {} } : t)) };
    })();
    assert.equal((await evaluate(instanceTagged, [broken])).allowed, true);
    assert.equal((await evaluate(instanceTagged, [START])).allowed, false);
  });

  it("a stack resource type without its calls fails, rather than going untested", () => {
    const json = structuredClone(stackOf(SCENARIOS[2]!).json);
    json.resource.aws_eip = { ip: {} };
    assert.throws(() => stackCalls(json), /resource aws_eip has no IAM calls/);
  });

  it("a CLI command without its calls fails, rather than going untested", () => {
    assert.throws(() => commandCalls("aws ec2 delete-volume --volume-id vol-1", CLI_WORLD), /no IAM calls/);
  });

  it("a request context key the authorization data does not list for that resource is refused", async () => {
    const call: Call = {
      action: "ec2:CreateSecurityGroup",
      touches: [
        { type: "security-group", arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-1`, requestTags: OWNERSHIP },
        { type: "vpc", arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/vpc-1`, context: { "aws:RequestTag/x": "y" } },
      ],
      why: "a made-up context",
    };
    await assert.rejects(evaluate(call, [START]), /lists no aws:RequestTag\/x for vpc of ec2:CreateSecurityGroup/);
  });

  it("a call that leaves out a resource the action is always authorized on is refused", async () => {
    const call: Call = {
      action: "ec2:RunInstances",
      touches: [{ type: "instance", arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-1`, requestTags: OWNERSHIP }],
      why: "RunInstances on the instance alone",
    };
    await assert.rejects(evaluate(call, [START]), /always authorized on .*image/);
  });
});

// ---- the docs show these files -----------------------------------------------------------------------------

describe("aws policies: the docs show the files the tests read", () => {
  const ROOT = new URL("../../../", import.meta.url);
  const jsonBlocks = (file: string): unknown[] =>
    [...readFileSync(new URL(file, ROOT), "utf8").matchAll(/```json\n([\s\S]*?)```/g)].map(([, body]) =>
      JSON.parse(body!),
    );
  const aws = jsonBlocks("docs/aws.md");

  for (const name of [
    "aws-start.json",
    "aws-stop.json",
    "aws-lifetime.json",
    "aws-start-lifetime.json",
    "aws-stop-lifetime.json",
    "aws-state-s3.json",
  ]) {
    it(`docs/aws.md shows docs/policies/${name} as it is`, () => {
      const file = policyFile(name);
      assert.ok(
        aws.some((block) => JSON.stringify(block) === JSON.stringify(file)),
        `no JSON block of docs/aws.md equals docs/policies/${name}`,
      );
    });
  }

  it("the README's AWS policy is docs/policies/aws-start.json", () => {
    assert.ok(
      jsonBlocks("README.md").some((block) => JSON.stringify(block) === JSON.stringify(START)),
      "no JSON block of README.md equals docs/policies/aws-start.json",
    );
  });
});
