import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { awsCloud } from "../stacks/aws/index.ts";
import { gcpCloud } from "../stacks/gcp/index.ts";
import { cloudNames } from "../stacks/clouds.ts";
import {
  decodeInputs,
  InputError,
  InputReader,
  InputsVariableError,
  MIN_SECRET_LENGTH,
  readInputs,
  SECRET_INPUTS,
} from "../stacks/input-reader.ts";
import { INPUTS_VARIABLE } from "../stacks/names.ts";
import { realClock } from "../scripts/adapters/action-io.ts";
import { main } from "../scripts/main.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { readRunContext } from "../scripts/settings/run-context.ts";
import { readActionFile } from "./kit/action-file.ts";
import { AWS_START, FAKE_TOKEN, inputEnv, LOCAL_KIND_ENV, RUN_CONTEXT_ENV } from "./kit/env.ts";
import { recordingIO } from "./kit/io.ts";
import { evaluate } from "./kit/local-github/expressions.ts";

/** A valid Azure start: the one product cloud without a state store of its own. */
const AZURE_START: Readonly<Record<string, string>> = {
  mode: "start",
  cloud: "azure",
  "github-token": FAKE_TOKEN,
  subscription: "00000000-0000-0000-0000-000000000000",
  location: "eastus",
  "resource-group": "gpu-runners",
  "subnet-id":
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/ci/subnets/runners",
  accelerator: "t4",
};

function parseStart(overrides: Record<string, string>): StartInputs {
  const inputs = parseInputs(inputEnv({ ...AWS_START, ...overrides }));
  assert.equal(inputs.mode, "start");
  return inputs as StartInputs;
}

describe("parseInputs: the cloud", () => {
  it("refuses cloud: local, the test kit's kind, like any unknown cloud, listing the clouds of the product", () => {
    assert.throws(
      () => parseInputs(inputEnv({ ...AWS_START, cloud: "local" }, LOCAL_KIND_ENV)),
      (error: unknown) =>
        error instanceof InputError &&
        error.input === "cloud" &&
        error.message === `Input 'cloud': got "local"; expected one of ${cloudNames().join(", ")}.`,
    );
  });

  it("defaults to the registry's first cloud", () => {
    assert.equal(parseStart({ cloud: "" }).cloud.name, "aws");
  });
});

describe("parseInputs: a valid start", () => {
  it("applies the documented defaults", () => {
    const inputs = parseStart({});
    assert.equal(inputs.cloud.name, "aws");
    assert.equal(inputs.count, 1);
    assert.deepEqual(inputs.extraLabels, []);
    assert.equal(inputs.runnerGroupId, 1);
    assert.equal(inputs.runnerTimeoutMinutes, 10);
    assert.equal(inputs.maxLifetimeMinutes, 360);
    assert.equal(inputs.idleTimeoutMinutes, 30);
    assert.equal(inputs.expectedGpus, undefined);
    assert.equal(inputs.runnerUser, "runner");
    assert.equal(inputs.runnerSudo, true);
    assert.equal(inputs.runnerPreinstalled, false, "the runner is downloaded unless the image says it has one");
    assert.equal(inputs.allowForks, false);
    assert.equal(inputs.dryRun, false);
    assert.equal(inputs.runnerScope, "repository", "runners are registered to the repository unless asked otherwise");
    assert.equal(inputs.stateStore, undefined, "the encrypted state travels as a workflow artifact");
    // The passphrase falls back to the token, so start and stop agree without extra setup.
    assert.equal(inputs.statePassphrase, FAKE_TOKEN);
    assert.deepEqual(awsCloud.configOf(inputs.plan), {
      region: "us-east-1",
      instanceType: "g4dn.xlarge",
      image: { kind: "id", id: "ami-0123456789abcdef0" },
      diskSizeGb: 100,
      diskType: "gp3",
      diskIops: undefined,
      diskThroughput: undefined,
      subnetId: undefined,
      availabilityZone: undefined,
      securityGroupIds: [],
      instanceProfile: undefined,
      launchTemplate: undefined,
      publicIp: false,
      spot: false,
      fallbackInstanceTypes: [],
      fallbackSubnetIds: [],
      lifetimeRole: undefined,
      fallbackZones: [],
    });
    assert.deepEqual(inputs.notices, []);
  });

  it("reads every start input", () => {
    const inputs = parseStart({
      count: "3",
      labels: "cuda-12, a100\nlarge",
      "runner-group-id": "7",
      "runner-timeout": "15",
      "max-lifetime": "120",
      "idle-timeout": "20",
      "expected-gpus": "4",
      "pre-runner-script": "echo hi",
      "runner-user": "ci",
      "runner-sudo": "false",
      "runner-preinstalled": "true",
      tags: '{"team": "md-sim", "cost-center": "42"}',
      "state-passphrase": "another passphrase",
      "dry-run": "TRUE",
      subnet: "subnet-0123456789abcdef0",
      "security-group": "sg-0123456789abcdef0,sg-00000000",
      "instance-profile": "gpu-runner",
      "lifetime-role": "arn:aws:iam::123456789012:role/gpu-runner-lifetime",
      "public-ip": "true",
      "disk-size": "200",
      spot: "true",
    });
    assert.equal(inputs.count, 3);
    assert.deepEqual(inputs.extraLabels, ["cuda-12", "a100", "large"]);
    assert.equal(inputs.runnerGroupId, 7);
    assert.equal(inputs.runnerTimeoutMinutes, 15);
    assert.equal(inputs.maxLifetimeMinutes, 120);
    assert.equal(inputs.idleTimeoutMinutes, 20);
    assert.equal(inputs.expectedGpus, 4);
    assert.equal(inputs.preRunnerScript, "echo hi");
    assert.equal(inputs.runnerUser, "ci");
    assert.equal(inputs.runnerSudo, false);
    assert.equal(inputs.runnerPreinstalled, true);
    assert.deepEqual(inputs.tags, { team: "md-sim", "cost-center": "42" });
    assert.equal(inputs.statePassphrase, "another passphrase");
    assert.equal(inputs.dryRun, true);
    assert.deepEqual(awsCloud.configOf(inputs.plan), {
      region: "us-east-1",
      instanceType: "g4dn.xlarge",
      image: { kind: "id", id: "ami-0123456789abcdef0" },
      diskSizeGb: 200,
      diskType: "gp3",
      diskIops: undefined,
      diskThroughput: undefined,
      subnetId: "subnet-0123456789abcdef0",
      availabilityZone: undefined,
      securityGroupIds: ["sg-0123456789abcdef0", "sg-00000000"],
      instanceProfile: "gpu-runner",
      launchTemplate: undefined,
      publicIp: true,
      spot: true,
      fallbackInstanceTypes: [],
      fallbackSubnetIds: [],
      lifetimeRole: "arn:aws:iam::123456789012:role/gpu-runner-lifetime",
      fallbackZones: [],
    });
  });

  it("takes the region from AWS_REGION when the input is empty", () => {
    const env = inputEnv({ ...AWS_START, region: "" }, { AWS_REGION: "eu-west-1" });
    const inputs = parseInputs(env) as StartInputs;
    assert.equal(awsCloud.configOf(inputs.plan)?.region, "eu-west-1");
  });

  // The same variables, in the same order, as the CLI's look-ups (test/clouds/aws/cli-real.test.ts).
  it("then from AWS_DEFAULT_REGION, an empty AWS_REGION being unset; the input wins over both", () => {
    const regionOf = (region: string, env: Record<string, string>) =>
      awsCloud.configOf((parseInputs(inputEnv({ ...AWS_START, region }, env)) as StartInputs).plan)?.region;
    assert.equal(regionOf("", { AWS_REGION: "", AWS_DEFAULT_REGION: "eu-north-1" }), "eu-north-1");
    assert.equal(regionOf("", { AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "eu-north-1" }), "eu-west-1");
    assert.equal(regionOf("us-west-2", { AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "eu-north-1" }), "us-west-2");
  });

  it("offers the chosen cloud's own state store, and only that one", () => {
    const s3 = parseStart({
      "state-backend": "s3",
      "state-bucket": "my-tf-state",
      "state-region": "us-west-2",
    }).stateStore;
    assert.equal(s3?.kind, "s3");
    assert.equal(s3?.description, "s3://my-tf-state/gpu-runner/ (us-west-2)");
    const gcp = {
      ...AWS_START,
      cloud: "gcp",
      region: "",
      zone: "us-central1-a",
      project: "my-project-123",
      "machine-type": "g2-standard-4",
      image: "projects/p-12345/global/images/family/f",
    };
    const gcs = (
      parseInputs(
        inputEnv({ ...gcp, "state-backend": "gcs", "state-bucket": "my-tf-state", "state-prefix": "ci/gpu" }),
      ) as StartInputs
    ).stateStore;
    assert.equal(gcs?.kind, "gcs");
    assert.equal(gcs?.description, "gs://my-tf-state/ci/gpu/");
    assert.throws(
      () => parseStart({ "state-backend": "gcs", "state-bucket": "my-tf-state" }),
      /Input 'state-backend': got "gcs"; expected one of artifact, s3\./,
    );
  });

  it("with a cloud that has no state store (azure), artifact is still the one choice, by default or by name", () => {
    const azure = { ...AZURE_START };
    assert.equal((parseInputs(inputEnv(azure)) as StartInputs).stateStore, undefined);
    assert.equal(
      (parseInputs(inputEnv({ ...azure, "state-backend": "artifact" })) as StartInputs).stateStore,
      undefined,
    );
    assert.throws(
      () => parseInputs(inputEnv({ ...azure, "state-backend": "blob" })),
      (error: unknown) =>
        error instanceof InputError && error.message === `Input 'state-backend': got "blob"; expected one of artifact.`,
    );
  });
});

describe("parseInputs: runner scope and candidates", () => {
  it("reads an organization runner group by name, and candidate lists in order", () => {
    const inputs = parseStart({
      "runner-scope": "organization",
      "runner-group": "GPU pool",
      "machine-type": "g5.xlarge, g4dn.xlarge",
      subnet: "subnet-00000001,subnet-00000002",
    });
    assert.equal(inputs.runnerScope, "organization");
    assert.equal(inputs.runnerGroupName, "GPU pool");
    const config = awsCloud.configOf(inputs.plan)!;
    assert.equal(config.instanceType, "g5.xlarge");
    assert.deepEqual(config.fallbackInstanceTypes, ["g4dn.xlarge"]);
    assert.equal(config.subnetId, "subnet-00000001");
    assert.deepEqual(config.fallbackSubnetIds, ["subnet-00000002"]);
  });
});

describe("parseInputs: a valid stop", () => {
  it("needs only mode, token and state-id", () => {
    const inputs = parseInputs(
      inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-id": "gpu-987654321-2-0a1b2c3d" }),
    );
    assert.equal(inputs.mode, "stop");
    assert.equal(inputs.mode === "stop" && inputs.stateId, "gpu-987654321-2-0a1b2c3d");
  });

  // A re-run's attempt number has more than one digit by the tenth attempt; run ids have grown past 10 digits.
  for (const stateId of ["gpu-1-12-0a1b2c3d", "gpu-12345678901234567890-1234-ffffffff"]) {
    it(`takes state-id ${stateId}, whatever the length of its run id and attempt`, () => {
      const inputs = parseInputs(inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-id": stateId }));
      assert.equal(inputs.mode === "stop" && inputs.stateId, stateId);
    });
  }
});

describe("parseInputs: a valid sweep", () => {
  it("needs only mode and token, and reads none of a start's inputs", () => {
    // No machine-type, accelerator nor region: a start would refuse this, a sweep has no machine to describe.
    const inputs = parseInputs(inputEnv({ mode: "sweep", "github-token": FAKE_TOKEN }));
    assert.equal(inputs.mode, "sweep");
    assert.deepEqual(Object.keys(inputs).sort(), [
      "cloud",
      "dryRun",
      "githubToken",
      "mode",
      "runnerScope",
      "statePassphrase",
      "stateStore",
    ]);
    assert.equal(inputs.mode === "sweep" && inputs.dryRun, false, "a sweep deletes unless dry-run is asked for");
    assert.equal(inputs.cloud.name, "aws");
    assert.equal(inputs.githubToken, FAKE_TOKEN);
    assert.equal(inputs.runnerScope, "repository");
  });

  it("reads dry-run: list what would be deleted, delete nothing", () => {
    const inputs = parseInputs(inputEnv({ mode: "sweep", "github-token": FAKE_TOKEN, "dry-run": "true" }));
    assert.equal(inputs.mode === "sweep" && inputs.dryRun, true);
  });
});

// Each bad input must be refused with an error that names it; the message must also say what is expected.
const BAD_START_INPUTS: { input: string; value: string; expected: RegExp; extra?: Record<string, string> }[] = [
  { input: "mode", value: "restart", expected: /one of start, stop/ },
  { input: "mode", value: "", expected: /one of start, stop/ },
  { input: "cloud", value: "oracle", expected: new RegExp(`one of ${cloudNames().join(", ")}\\.`) },
  { input: "github-token", value: "", expected: /Administration: write/ },
  { input: "count", value: "0", expected: /from 1 to 10/ },
  { input: "count", value: "11", expected: /from 1 to 10/ },
  { input: "count", value: "100", expected: /from 1 to 10/ },
  { input: "count", value: "two", expected: /whole number/ },
  { input: "count", value: "1.5", expected: /whole number/ },
  { input: "count", value: "-1", expected: /whole number/ },
  { input: "count", value: "$(reboot)", expected: /whole number/ },
  { input: "runner-group-id", value: "0", expected: /whole number/ },
  { input: "runner-scope", value: "enterprise", expected: /one of repository, organization/ },
  { input: "runner-group", value: "gpu-pool", expected: /organization feature/ },
  {
    input: "runner-group",
    value: "gpu-pool",
    expected: /name the group one way/,
    extra: { "runner-scope": "organization", "runner-group-id": "3" },
  },
  {
    input: "runner-group",
    value: "gpu;pool",
    expected: /runner group name/,
    extra: { "runner-scope": "organization" },
  },
  {
    input: "machine-type",
    value: "g5.xlarge,g4dn.xlarge,g6.xlarge,g5.2xlarge,g6.2xlarge,g4dn.2xlarge",
    expected: /at most 5 items/,
  },
  { input: "machine-type", value: "g5.xlarge, not a type", expected: /EC2 instance types/ },
  { input: "subnet", value: "subnet-00000001,subnet-nope", expected: /subnet ids/ },
  { input: "runner-timeout", value: "0", expected: /from 1 to 60/ },
  { input: "runner-timeout", value: "61", expected: /from 1 to 60/ },
  { input: "max-lifetime", value: "5", expected: /from 10/ },
  { input: "max-lifetime", value: "99999", expected: /to 10080/ },
  {
    input: "max-lifetime",
    value: "10",
    expected: /more than runner-timeout \(15\)/,
    extra: { "runner-timeout": "15" },
  },
  { input: "idle-timeout", value: "400", expected: /at most max-lifetime \(360\)/ },
  { input: "idle-timeout", value: "61", expected: /at most max-lifetime \(60\)/, extra: { "max-lifetime": "60" } },
  { input: "expected-gpus", value: "17", expected: /from 0 to 16/ },
  { input: "labels", value: "gpu;reboot", expected: /comma-separated labels/ },
  { input: "labels", value: "$(curl evil)", expected: /comma-separated labels/ },
  { input: "labels", value: "a'b", expected: /comma-separated labels/ },
  { input: "labels", value: "has space", expected: /comma-separated labels/ },
  { input: "labels", value: "x".repeat(101), expected: /comma-separated labels/ },
  { input: "pre-runner-script", value: "echo hello\n".repeat(1000), expected: /at most 8192 bytes/ },
  // The limit is on bytes (what the user-data carries), not characters: 4097 two-byte characters are 8194 bytes.
  { input: "pre-runner-script", value: "ü".repeat(4097), expected: /at most 8192 bytes/ },
  { input: "runner-group-id", value: "2147483648", expected: /from 1 to 2147483647\./ },
  { input: "runner-user", value: "root; rm -rf /", expected: /Linux user name/ },
  { input: "runner-user", value: "Runner", expected: /Linux user name/ },
  // Accounts the image already has would keep their own rights (root's, an admin's sudo): refused before anything exists.
  { input: "runner-user", value: "root", expected: /a new user for the runner, not root/ },
  { input: "runner-user", value: "daemon", expected: /a new user for the runner/ },
  { input: "runner-user", value: "ubuntu", expected: /ubuntu would keep its own rights/ },
  { input: "runner-user", value: "ec2-user", expected: /a new user for the runner/ },
  { input: "runner-user", value: "systemd-network", expected: /a new user for the runner/ },
  { input: "runner-user", value: "_apt", expected: /a new user for the runner/ },
  // Labels any queued job may ask for would let another workflow's job take the runner.
  { input: "labels", value: "self-hosted", expected: /self-hosted would let any queued job/ },
  { input: "labels", value: "cuda, Linux", expected: /Linux would let any queued job/ },
  { input: "labels", value: "X64", expected: /X64 would let/ },
  { input: "labels", value: "ARM64", expected: /ARM64 would let/ },
  { input: "labels", value: "ubuntu-latest", expected: /ubuntu-latest would let/ },
  { input: "labels", value: "ubuntu-24.04", expected: /ubuntu-24\.04 would let/ },
  { input: "labels", value: "gpu-123-1-0a1b2c3d", expected: /gpu-123-1-0a1b2c3d would let/ },
  // Another start's label from its tenth attempt on, and a runner's name (label and index) past the tenth runner.
  { input: "labels", value: "gpu-123-12-0a1b2c3d", expected: /gpu-123-12-0a1b2c3d would let/ },
  { input: "labels", value: "gpu-123-1-0a1b2c3d-12", expected: /gpu-123-1-0a1b2c3d-12 would let/ },
  { input: "labels", value: "gpu-123-1-0a1b2c3d-3", expected: /gpu-123-1-0a1b2c3d-3 would let/ },
  // A short explicit passphrase is guessed offline from the artifact anyone signed in can download.
  { input: "state-passphrase", value: "a", expected: /at least 16 characters/ },
  { input: "state-passphrase", value: "fifteen chars!!", expected: /at least 16 characters/ },
  // Values that differ from their trimmed form are refused, not trimmed: action.yml's conditions read them raw.
  { input: "mode", value: " start", expected: /without leading or trailing spaces/ },
  { input: "mode", value: "start\n", expected: /without leading or trailing spaces/ },
  { input: "cloud", value: "aws ", expected: /without leading or trailing spaces/ },
  { input: "cloud", value: "AWS", expected: new RegExp(`one of ${cloudNames().join(", ")}\\.`) },
  { input: "count", value: " 2", expected: /without leading or trailing spaces/ },
  { input: "dry-run", value: "true\n", expected: /without leading or trailing spaces/ },
  { input: "runner-sudo", value: "yes", expected: /true or false/ },
  { input: "allow-forks", value: "1", expected: /true or false/ },
  { input: "dry-run", value: "maybe", expected: /true or false/ },
  { input: "tags", value: "{not json", expected: /JSON object/ },
  { input: "tags", value: '["a"]', expected: /JSON object/ },
  { input: "tags", value: '{"a": 1}', expected: /JSON object/ },
  // Valid JSON that is not an object: null, a string (whose characters would become tags "0", "1"...) and a number.
  { input: "tags", value: "null", expected: /JSON object/ },
  { input: "tags", value: '"md-sim"', expected: /JSON object/ },
  { input: "tags", value: "42", expected: /JSON object/ },
  { input: "tags", value: '{"gpu-runner-label": "x"}', expected: /reserved/ },
  { input: "tags", value: '{"aws:cloudformation": "x"}', expected: /reserved/ },
  { input: "tags", value: '{"team": "$(whoami)"}', expected: /letters, digits/ },
  { input: "tags", value: '{"team": "a\\nb"}', expected: /letters, digits/ },
  { input: "tags", value: `{"${"k".repeat(129)}": "v"}`, expected: /at most 128/ },
  // EC2 takes 50 tags per resource and the action sets 8: the 43rd user tag fails here, not at EC2 after registration.
  {
    input: "tags",
    value: JSON.stringify(Object.fromEntries(Array.from({ length: 43 }, (_, i) => [`t${i}`, "v"]))),
    expected: /at most 42 tags with cloud aws/,
  },
  { input: "state-backend", value: "ftp", expected: /one of artifact, s3\b/ },
  { input: "state-bucket", value: "", expected: /S3 bucket/, extra: { "state-backend": "s3" } },
  { input: "state-bucket", value: "Bad_Bucket!", expected: /S3 bucket/, extra: { "state-backend": "s3" } },
  {
    input: "state-prefix",
    value: "../up",
    expected: /key prefix/,
    extra: { "state-backend": "s3", "state-bucket": "b-1" },
  },
  {
    input: "accelerator",
    value: "",
    expected: /a GPU such as t4, .* or a machine-type/,
    extra: { "machine-type": "" },
  },
  {
    input: "accelerator",
    value: "t4:2",
    expected:
      /t4 in a count that one aws machine carries, 1, 4 or 8 \(aws offers t4 \(1, 4 or 8\), t4g \(1 or 2\), a10g/,
  },
  {
    input: "accelerator",
    value: "t4",
    expected: /\(g5\.xlarge carries a10g:1; t4:1 comes with g4dn\.xlarge, g4dn\.2xlarge, /,
    extra: { "machine-type": "g5.xlarge" },
  },
  {
    input: "accelerator",
    value: "t4",
    expected: /c5\.xlarge is not in the action's catalog, so that cannot be checked/,
    extra: { "machine-type": "c5.xlarge" },
  },
  { input: "machine-type", value: "g4dn.xlarge; reboot", expected: /EC2 instance types/ },
  { input: "image", value: "ubuntu-22.04", expected: /AMI id .*resolve:ssm:.*OWNER\/NAME-PATTERN/ },
  { input: "image", value: "projects/deeplearning-platform-release/global/images/family/x", expected: /AMI id/ },
  { input: "region", value: "us east 1", expected: /AWS region/ },
  { input: "disk-size", value: "4", expected: /from 8/ },
  { input: "subnet", value: "subnet-xyz", expected: /subnet ids/ },
  { input: "security-group", value: "default", expected: /security group ids/ },
  { input: "instance-profile", value: "a b", expected: /instance profile/ },
  { input: "public-ip", value: "on", expected: /true or false/ },
];

describe("parseInputs: bad start inputs are refused, naming the input", () => {
  for (const { input, value, expected, extra } of BAD_START_INPUTS) {
    it(`${input} = ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`, () => {
      assert.throws(
        () => parseInputs(inputEnv({ ...AWS_START, ...extra, [input]: value })),
        (error: unknown) => {
          assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
          assert.equal(error.input, input);
          assert.match(error.message, new RegExp(`^Input '${input}': got `));
          assert.match(error.message, expected);
          return true;
        },
      );
    });
  }
});

// The values at the very edge of each range are valid: a limit written as "<" where "<=" was meant refuses them.
describe("parseInputs: the limits themselves are accepted", () => {
  const twentyLabels = Array.from({ length: 20 }, (_, i) => `label-${i}`);
  const cases: { name: string; inputs: Record<string, string>; check: (inputs: StartInputs) => void }[] = [
    { name: "count 10", inputs: { count: "10" }, check: (i) => assert.equal(i.count, 10) },
    {
      name: "runner-group-id 2^31-1",
      inputs: { "runner-group-id": "2147483647" },
      check: (i) => assert.equal(i.runnerGroupId, 2147483647),
    },
    {
      name: "idle-timeout equal to max-lifetime",
      inputs: { "max-lifetime": "60", "idle-timeout": "60" },
      check: (i) => assert.equal(i.idleTimeoutMinutes, 60),
    },
    {
      name: "a github-token of 8 characters (masked: test/inputs.test.ts, the secret inputs)",
      inputs: { "github-token": "12345678" },
      check: (i) => assert.equal(i.githubToken, "12345678"),
    },
    {
      name: "max-lifetime one minute over runner-timeout",
      inputs: { "runner-timeout": "10", "max-lifetime": "11" },
      check: (i) => assert.equal(i.maxLifetimeMinutes, 11),
    },
    {
      name: "a passphrase of exactly 16 characters",
      inputs: { "state-passphrase": "sixteen chars!!!" },
      check: (i) => assert.equal(i.statePassphrase, "sixteen chars!!!"),
    },
    {
      name: "20 labels",
      inputs: { labels: twentyLabels.join(",") },
      check: (i) => assert.deepEqual(i.extraLabels, twentyLabels),
    },
    {
      name: "a pre-runner-script of exactly 8192 bytes",
      inputs: { "pre-runner-script": "x".repeat(8192) },
      check: (i) => assert.equal(i.preRunnerScript.length, 8192),
    },
    {
      name: "expected-gpus 0 (a CPU-only check of the pipeline)",
      inputs: { "expected-gpus": "0" },
      check: (i) => assert.equal(i.expectedGpus, 0),
    },
  ];
  for (const { name, inputs, check } of cases) {
    it(name, () => check(parseStart(inputs)));
  }
});

// Lists and scripts are often YAML block scalars: blank items and the surrounding newlines are not values.
describe("parseInputs: blank parts of a value are not values", () => {
  it("drops empty list items", () => {
    assert.deepEqual(parseStart({ labels: "cuda-12,,a100,\n\nlarge" }).extraLabels, ["cuda-12", "a100", "large"]);
  });

  it("trims a block scalar's trailing newline off a script", () => {
    assert.equal(parseStart({ "pre-runner-script": "echo hi\n" }).preRunnerScript, "echo hi");
  });

  it("reads an input of only spaces and newlines as unset", () => {
    const inputs = parseStart({ "expected-gpus": " \n", "state-passphrase": "  ", "runner-group": " " });
    assert.equal(inputs.expectedGpus, undefined);
    assert.equal(inputs.statePassphrase, FAKE_TOKEN, "a blank passphrase falls back to the token, like an unset one");
    assert.equal(inputs.runnerGroupName, undefined);
  });
});

// GitHub compares labels whole: only a label equal to a generic one is refused, not one that merely contains it.
describe("parseInputs: labels that contain a generic label are still the user's own", () => {
  for (const label of [
    "my-linux",
    "linux-cuda",
    "armada",
    "x64-build",
    "gpu-123-1-0a1b2c3d-x",
    "ci-gpu-123-1-0a1b2c3d",
  ]) {
    it(label, () => {
      assert.deepEqual(parseStart({ labels: label }).extraLabels, [label]);
    });
  }
});

// Every account the action knows an image to have keeps its own rights: each must be refused as runner-user.
describe("parseInputs: runner-user is never an account images already have", () => {
  const accounts = [
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "messagebus",
    "syslog",
    "sshd",
    "lxd",
    "uuidd",
    "tcpdump",
    "tss",
    "landscape",
    "pollinate",
    "polkitd",
    "chrony",
    "dnsmasq",
    "usbmux",
    "ntp",
    "postfix",
    "docker",
    "ubuntu",
    "debian",
    "admin",
    "centos",
    "rocky",
    "almalinux",
    "fedora",
    "cloud-user",
  ];
  for (const user of accounts) {
    it(user, () => {
      assert.throws(
        () => parseStart({ "runner-user": user }),
        (error: unknown) =>
          error instanceof InputError &&
          error.message ===
            `Input 'runner-user': got "${user}"; expected a new user for the runner, not root nor an account images already have (${user} would keep its own rights, sudo included): the boot script creates it.`,
      );
    });
  }
});

// The message is the user's whole interface to a refusal: it names the input, shows what was given (never a secret,
// and not 10 KB of script) and says what is expected. These are written out in full.
describe("parseInputs: error messages, word for word", () => {
  const withoutMode: Record<string, string> = { ...AWS_START };
  delete withoutMode.mode;
  const cases: { name: string; env: Record<string, string>; message: string }[] = [
    {
      name: "an input absent from the environment is nothing",
      env: inputEnv(withoutMode),
      message: "Input 'mode': got nothing; expected one of start, stop, sweep.",
    },
    {
      name: "an input of only spaces is nothing, not a value with spaces around it",
      env: inputEnv({ ...AWS_START, mode: "  " }),
      message: "Input 'mode': got nothing; expected one of start, stop, sweep.",
    },
    {
      name: "a required number that is unset says so (io2 needs its IOPS)",
      env: inputEnv({ ...AWS_START, "disk-type": "io2" }),
      message: "Input 'disk-iops': got nothing; expected a whole number of IOPS from 100 to 256000, for disk-type io2.",
    },
    {
      name: "a boolean with a trailing newline",
      env: inputEnv({ ...AWS_START, "dry-run": "true\n" }),
      message: String.raw`Input 'dry-run': got "true\n"; expected true or false, without leading or trailing spaces or newlines.`,
    },
    {
      name: "a short passphrase is not shown",
      env: inputEnv({ ...AWS_START, "state-passphrase": "hunter2" }),
      message: `Input 'state-passphrase': got "(a secret, not shown)"; expected a passphrase of at least 16 characters (or none: the github-token is then the key).`,
    },
    {
      name: "a value of 80 characters is shown whole",
      env: inputEnv({ ...AWS_START, "runner-user": "A".repeat(80) }),
      message: `Input 'runner-user': got "${"A".repeat(80)}"; expected a Linux user name (lower-case letters, digits, '_' and '-', at most 32 characters).`,
    },
    {
      name: "a value of 81 characters is cut to 77 and an ellipsis",
      env: inputEnv({ ...AWS_START, "runner-user": "A".repeat(81) }),
      message: `Input 'runner-user': got "${"A".repeat(77)}..."; expected a Linux user name (lower-case letters, digits, '_' and '-', at most 32 characters).`,
    },
    {
      name: "max-lifetime equal to runner-timeout",
      env: inputEnv({ ...AWS_START, "max-lifetime": "10", "runner-timeout": "10" }),
      message: `Input 'max-lifetime': got "10"; expected a whole number of minutes from 10 to 10080, more than runner-timeout (10), or the machine powers off before its runner can come online.`,
    },
    {
      name: "max-lifetime out of its range says its unit and what it depends on",
      env: inputEnv({ ...AWS_START, "max-lifetime": "5" }),
      message: `Input 'max-lifetime': got "5"; expected a whole number of minutes from 10 to 10080, more than runner-timeout (10).`,
    },
    {
      name: "idle-timeout over max-lifetime",
      env: inputEnv({ ...AWS_START, "max-lifetime": "120", "idle-timeout": "121" }),
      message: `Input 'idle-timeout': got "121"; expected a whole number of minutes from 1 to 10080, at most max-lifetime (120), which powers the machine off, idle or not.`,
    },
    {
      name: "runner-timeout in minutes",
      env: inputEnv({ ...AWS_START, "runner-timeout": "90" }),
      message: `Input 'runner-timeout': got "90"; expected a whole number of minutes from 1 to 60.`,
    },
    {
      name: "count in machines",
      env: inputEnv({ ...AWS_START, count: "two" }),
      message: `Input 'count': got "two"; expected a whole number of machines from 1 to 10.`,
    },
    {
      name: "expected-gpus per machine",
      env: inputEnv({ ...AWS_START, "expected-gpus": "17" }),
      message: `Input 'expected-gpus': got "17"; expected a whole number of GPUs per machine from 0 to 16.`,
    },
    {
      name: "disk-size in GB",
      env: inputEnv({ ...AWS_START, "disk-size": "4" }),
      message: `Input 'disk-size': got "4"; expected a whole number of GB from 8 to 16384.`,
    },
    {
      name: "gp3 IOPS and throughput name their disk-type",
      env: inputEnv({ ...AWS_START, "disk-iops": "3000", "disk-throughput": "2000" }),
      message: `Input 'disk-throughput': got "2000"; expected a whole number of MiB/s from 125 to 1000, for disk-type gp3.`,
    },
    {
      name: "an id has no unit",
      env: inputEnv({ ...AWS_START, "runner-group-id": "0" }),
      message: `Input 'runner-group-id': got "0"; expected a whole number from 1 to 2147483647.`,
    },
    {
      name: "an empty github-token is said to be empty, not hidden",
      env: inputEnv({ ...AWS_START, "github-token": " " }),
      message: `Input 'github-token': got nothing; expected a token with repository Administration: write (fine-grained PAT or GitHub App).`,
    },
    {
      name: "a github-token too short to be one is refused, not shown",
      env: inputEnv({ ...AWS_START, "github-token": "x" }),
      message: `Input 'github-token': got "(a secret, not shown)"; expected a token with repository Administration: write (fine-grained PAT or GitHub App), of at least 8 characters (GitHub's are some 40 and more).`,
    },
    {
      name: "no region anywhere names the input, the variables and the step that sets them",
      env: inputEnv({ ...AWS_START, region: "" }),
      message:
        "Input 'region': got nothing; expected an AWS region such as us-east-1, or AWS_REGION or AWS_DEFAULT_REGION set in the environment: " +
        "aws-actions/configure-aws-credentials sets both from its aws-region input.",
    },
    {
      name: "21 labels",
      env: inputEnv({
        ...AWS_START,
        labels: "l0,l1,l2,l3,l4,l5,l6,l7,l8,l9,l10,l11,l12,l13,l14,l15,l16,l17,l18,l19,l20",
      }),
      message: `Input 'labels': got "l0,l1,l2,l3,l4,l5,l6,l7,l8,l9,l10,l11,l12,l13,l14,l15,l16,l17,l18,l19,l20"; expected comma-separated labels of letters, digits, '.', '_' and '-' (at most 100 characters each), at most 20 items.`,
    },
    {
      name: "every generic label is named, and the way out is said",
      env: inputEnv({ ...AWS_START, labels: "self-hosted, cuda, linux" }),
      message:
        `Input 'labels': got "self-hosted, cuda, linux"; expected labels only your jobs ask for: self-hosted, linux would let any queued job that asks for it (another workflow's) take the runner; ` +
        "runs-on: the label output is enough, add labels such as a100-80gb or md-sim-gpu only to tell jobs apart.",
    },
    {
      name: "a reserved tag prefix names the cloud's prefixes and the key",
      env: inputEnv({ ...AWS_START, tags: '{"aws:x": "y"}' }),
      message: String.raw`Input 'tags': got "{\"aws:x\": \"y\"}"; expected keys that do not start with aws:, which are reserved by EC2 (aws:x does).`,
    },
    {
      name: "the action's own prefix is reserved on every cloud",
      env: inputEnv({ ...AWS_START, tags: '{"gpu-runner-x": "y"}' }),
      message: String.raw`Input 'tags': got "{\"gpu-runner-x\": \"y\"}"; expected a JSON object of string tags, such as {"team": "md-sim"}; keys starting with gpu-runner- are reserved (ownership tags such as gpu-runner-label are set by the action).`,
    },
  ];
  for (const { name, env, message } of cases) {
    it(name, () => {
      assert.throws(
        () => parseInputs(env),
        (error: unknown) => {
          assert.ok(error instanceof InputError, String(error));
          assert.equal(error.name, "InputError", "what the action's top level prints before the message");
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("InputReader", () => {
  // parseInputs fails on the token only when it is empty; the reader must mask it for any caller, however it fails.
  for (const input of ["github-token", "state-passphrase"]) {
    it(`never shows ${input} in a failure, whatever its value`, () => {
      const read = new InputReader(inputEnv({ [input]: FAKE_TOKEN }));
      assert.throws(
        () => read.fail(input, "something else"),
        (error: unknown) =>
          error instanceof InputError &&
          error.message === `Input '${input}': got "(a secret, not shown)"; expected something else.`,
      );
    });
  }

  it("says an empty secret input is empty: nothing there to hide", () => {
    for (const value of ["", " \n"]) {
      const read = new InputReader(inputEnv({ "github-token": value }));
      assert.throws(
        () => read.fail("github-token", "a token"),
        (error: unknown) => {
          assert.ok(error instanceof InputError, String(error));
          assert.equal(error.message, "Input 'github-token': got nothing; expected a token.");
          return true;
        },
      );
    }
  });

  it("shows any other input's value", () => {
    const read = new InputReader(inputEnv({ region: "us-east-1" }));
    assert.throws(
      () => read.fail("region", "another region"),
      (error: unknown) =>
        error instanceof InputError && error.message === `Input 'region': got "us-east-1"; expected another region.`,
    );
  });
});

describe("parseInputs: secrets", () => {
  it("never echoes a secret input back in an error", () => {
    // A github-token can only fail by being empty, so check the passphrase path through a reader failure.
    try {
      parseInputs(inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-id": "not-a-state-id" }));
      assert.fail("expected an error");
    } catch (error) {
      // Every assert.ok here has a message: without one, node builds it by parsing this TypeScript file, which can
      // hang (a failing mutant then times out instead of failing).
      assert.ok(error instanceof InputError, String(error));
      assert.equal(error.input, "state-id");
      assert.ok(!error.message.includes(FAKE_TOKEN), "the token is not in the message");
    }
  });
});

describe("parseInputs: stop", () => {
  // The state id names a file and a cloud's resources: nothing before gpu-, no attempt over 4 digits nor run id over 20.
  for (const stateId of [
    "",
    "gpu-1-1",
    "gpu-1-1-XYZ12345",
    "../../etc",
    "gpu-1-1-0a1b2c3d; rm -rf /",
    "../gpu-1-1-0a1b2c3d",
    "gpu-1-12345-0a1b2c3d",
    `gpu-${"1".repeat(21)}-1-0a1b2c3d`,
  ]) {
    it(`refuses state-id ${JSON.stringify(stateId)}`, () => {
      assert.throws(
        () => parseInputs(inputEnv({ mode: "stop", "github-token": FAKE_TOKEN, "state-id": stateId })),
        (error: unknown) =>
          error instanceof InputError &&
          error.input === "state-id" &&
          /state-id output of the start step/.test(error.message),
      );
    });
  }
});

describe("readRunContext", () => {
  it("reads the run's facts and strips a trailing slash from the API URL", () => {
    const context = readRunContext(
      { ...RUN_CONTEXT_ENV, GITHUB_API_URL: "https://ghe.example.com/api/v3/", RUNNER_TEMP: "/runner/tmp" },
      "/fallback",
    );
    assert.equal(context.owner, "octo-org");
    assert.equal(context.repo, "md-sim");
    assert.equal(context.repositoryId, "612345678");
    assert.equal(context.runId, "987654321");
    assert.equal(context.runAttempt, "2");
    assert.equal(context.apiUrl, "https://ghe.example.com/api/v3");
    assert.equal(context.tempDir, "/runner/tmp");
  });

  for (const [name, value] of [
    ["GITHUB_REPOSITORY", "not a repo"],
    ["GITHUB_RUN_ID", "abc"],
    ["GITHUB_REPOSITORY_ID", ""],
    ["GITHUB_REPOSITORY_ID", "octo-org/md-sim"],
    ["GITHUB_RUN_ATTEMPT", "x"],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)}`, () => {
      assert.throws(
        () => readRunContext({ ...RUN_CONTEXT_ENV, [name]: value }, "/tmp"),
        (error: unknown) => error instanceof InputError && error.input === name,
      );
    });
  }
});

describe("the inputs variable (GPU_RUNNER_INPUTS = toJSON(inputs))", () => {
  it("reads what GitHub's evaluator writes for toJSON(inputs): pretty-printed, names as the with: block spells them", () => {
    // The composite step's inputs context: strings only, an input under the caller's spelling (names ignore case).
    const context = {
      Mode: "stop",
      "github-token": FAKE_TOKEN,
      "state-id": "gpu-1-1-0a1b2c3d",
      "pre-runner-script": "echo \"a\\b\" 'c'\nexit 0",
      count: "1",
    };
    const text = String(
      evaluate("toJSON(inputs)", { contexts: { inputs: context }, status: { failed: false, cancelled: false } }),
    );
    assert.match(text, /^\{\n {2}"Mode": "stop",\n/, "pretty-printed, as GitHub's toJSON writes it");
    const env = { ...RUN_CONTEXT_ENV, [INPUTS_VARIABLE]: text };
    assert.deepEqual(
      { ...decodeInputs(env) },
      {
        mode: "stop",
        "github-token": FAKE_TOKEN,
        "state-id": "gpu-1-1-0a1b2c3d",
        "pre-runner-script": context["pre-runner-script"],
        count: "1",
      },
    );
    const inputs = parseInputs(env);
    assert.equal(inputs.mode === "stop" && inputs.stateId, "gpu-1-1-0a1b2c3d");
  });

  // Malformed means action.yml is broken: a clear error that names the variable, never a silent "no inputs", and never
  // the text itself (JSON.parse's own message quotes it, and it holds the secret inputs).
  const secret = "ghp_must-never-be-shown-0123456789";
  const malformed: [string, string | undefined, RegExp][] = [
    ["unset", undefined, /is not set/],
    ["empty", "", /is not set/],
    ["cut short", `{"github-token": "${secret}", "mode": "st`, /is not valid JSON/],
    ["a bare value", secret, /is not valid JSON/],
    ["YAML, not JSON", `github-token: ${secret}`, /is not valid JSON/],
    ["an array", `["${secret}"]`, /is an array, not an object/],
    ["null", "null", /is null, not an object/],
    ["a string", JSON.stringify(secret), /is a string, not an object/],
    ["a number value", `{"github-token": "${secret}", "count": 2}`, /gives input 'count' as a number, not a string/],
    [
      "an object value",
      `{"github-token": {"value": "${secret}"}}`,
      /gives input 'github-token' as an object, not a string/,
    ],
    ["one input twice", `{"github-token": "${secret}", "mode": "start", "MODE": "stop"}`, /gives input 'mode' twice/],
  ];
  for (const [what, value, why] of malformed) {
    it(`refuses ${what}, naming the variable and showing none of it`, () => {
      const env = { ...RUN_CONTEXT_ENV, [INPUTS_VARIABLE]: value };
      const masked: string[] = [];
      for (const read of [() => parseInputs(env), () => readInputs(env, (s) => masked.push(s))]) {
        assert.throws(read, (error: unknown) => {
          assert.ok(error instanceof InputsVariableError, String(error));
          assert.equal(error.name, "InputsVariableError", "the log names what broke: action.yml, not an input");
          assert.match(error.message, why);
          assert.ok(error.message.startsWith(`${INPUTS_VARIABLE} `), error.message);
          assert.ok(
            !error.message.includes(secret) && !error.message.includes("ghp_"),
            "no part of the value in the message",
          );
          return true;
        });
      }
      assert.deepEqual(masked, [], "nothing decoded, nothing to mask");
    });
  }

  it("a variable without the secret inputs (an action.yml that declares none) masks nothing and decodes", () => {
    const masked: string[] = [];
    const values = readInputs({ [INPUTS_VARIABLE]: '{"mode": "start", "github-token": " "}' }, (s) => masked.push(s));
    assert.equal(values.mode, "start");
    assert.deepEqual(masked, [], "no secret given, none masked; a blank one is no secret either");
  });

  it("the reader reads only inputs that are there: an Object method's name is no input", () => {
    const read = new InputReader(inputEnv({ mode: "start" }));
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"])
      assert.equal(read.raw(name), "", name);
    assert.equal(read.raw("mode"), "start");
  });
});

describe("the secret inputs are masked before anything can print them", () => {
  const PASSPHRASE = "a passphrase of more than sixteen characters";
  const JOB_TOKEN = "ghs_job-token-not-real";

  it("readInputs hands github-token and state-passphrase (trimmed) to mask before returning, and nothing else", () => {
    const masked: string[] = [];
    const values = readInputs(
      inputEnv({ ...AWS_START, "github-token": ` ${FAKE_TOKEN}\n`, "state-passphrase": PASSPHRASE, "state-id": "" }),
      (s) => masked.push(s),
    );
    assert.deepEqual(masked, [FAKE_TOKEN, PASSPHRASE]);
    assert.equal(values.region, "us-east-1");
    const none: string[] = [];
    readInputs(inputEnv({ mode: "stop", "github-token": " ", "state-passphrase": "" }), (s) => none.push(s));
    assert.deepEqual(none, [], "an empty value is no secret (masking it would mask everything)");
  });

  // A value shorter than MIN_SECRET_LENGTH is not masked, which is safe only because the parser refuses it.
  for (const input of SECRET_INPUTS) {
    it(`${input}: a value too short to mask is refused; the shortest masked one is`, () => {
      const short = "s".repeat(MIN_SECRET_LENGTH - 1);
      const env = inputEnv({ ...AWS_START, [input]: short });
      const masked: string[] = [];
      readInputs(env, (s) => masked.push(s));
      assert.deepEqual(masked, input === "github-token" ? [] : [FAKE_TOKEN], "the short value is not masked");
      assert.throws(
        () => parseInputs(env),
        (error: unknown) => error instanceof InputError && error.input === input && !error.message.includes(short),
      );
      const shortest: string[] = [];
      readInputs(inputEnv({ [input]: "s".repeat(MIN_SECRET_LENGTH) }), (s) => shortest.push(s));
      assert.deepEqual(shortest, ["s".repeat(MIN_SECRET_LENGTH)]);
    });
  }

  it("every secret input is declared in action.yml, and every declared input named like a secret is masked", () => {
    const declared = Object.keys(readActionFile().inputs);
    for (const input of SECRET_INPUTS)
      assert.ok(
        declared.includes(input),
        `${input} is not an input of action.yml: masking it would silently mask nothing`,
      );
    const secretLooking = declared.filter((input) =>
      /token|passphrase|password|secret|private-key|credential/.test(input),
    );
    assert.deepEqual(
      secretLooking.filter((input) => !SECRET_INPUTS.includes(input)),
      [],
      "inputs that look like secrets but are not masked",
    );
  });

  it("main masks the job token and the secret inputs before its first notice, and before it fails", async () => {
    const io = recordingIO();
    const knownAtNotice: string[][] = [];
    io.notice = (line) => {
      knownAtNotice.push([...io.secrets]);
      io.notices.push(line);
    };
    // A valid start with another cloud's input (a notice), in a run whose context is broken (then a failure).
    const env = inputEnv(
      { ...AWS_START, "state-passphrase": PASSPHRASE, zone: "us-central1-a" },
      { JOB_GITHUB_TOKEN: JOB_TOKEN, GITHUB_REPOSITORY: "not a repository" },
    );
    await assert.rejects(
      main({ env, io, clock: realClock }),
      (error: unknown) => error instanceof InputError && error.input === "GITHUB_REPOSITORY",
    );
    assert.deepEqual(io.secrets, [JOB_TOKEN, FAKE_TOKEN, PASSPHRASE]);
    assert.deepEqual(io.notices, ["Input 'zone' is read only with cloud gcp; ignored with cloud aws."]);
    assert.deepEqual(
      knownAtNotice,
      [[JOB_TOKEN, FAKE_TOKEN, PASSPHRASE]],
      "the notice was printed after every secret was masked",
    );
  });

  // The runner's masker has no minimum length: a one-character secret would turn that character into *** everywhere.
  it("main refuses a one-character github-token in words a masker leaves whole", async () => {
    const io = recordingIO();
    await assert.rejects(
      main({ env: inputEnv({ ...AWS_START, "github-token": "e" }), io, clock: realClock }),
      (error: unknown) => {
        assert.ok(error instanceof InputError && error.input === "github-token", String(error));
        const shown = io.secrets.reduce((line, secret) => line.replaceAll(secret, "***"), error.message);
        assert.equal(shown, error.message, "the message as the log shows it");
        assert.match(error.message, /^Input 'github-token': got "\(a secret, not shown\)"; expected a token /);
        return true;
      },
    );
    assert.deepEqual(io.secrets, []);
  });

  it("main masks a secret input that is itself wrong before refusing it, and the refusal does not show it", async () => {
    const io = recordingIO();
    const short = "too-short-phrase"; // 16 characters: the limit; one fewer is refused
    const env = inputEnv({ ...AWS_START, "state-passphrase": short.slice(1) });
    await assert.rejects(main({ env, io, clock: realClock }), (error: unknown) => {
      assert.ok(error instanceof InputError && error.input === "state-passphrase", String(error));
      assert.ok(!error.message.includes(short.slice(1)), "the passphrase is not in the message");
      return true;
    });
    assert.deepEqual(io.secrets, [FAKE_TOKEN, short.slice(1)]);
  });
});

// Issue 21's cloud facts that would fail, or bill for nothing, on a first run: each refused before anything exists,
// naming the input, what was given and what to do. Each case has its twin that passes, so a refusal that fired for
// everything would fail too.
describe("parseInputs: the first run's facts", () => {
  const GCP_START = {
    mode: "start",
    cloud: "gcp",
    "github-token": FAKE_TOKEN,
    project: "example-project",
    zone: "us-central1-a",
  };
  const refusal = (inputs: Record<string, string>, extra: Record<string, string> = {}): InputError | undefined => {
    try {
      parseInputs(inputEnv(inputs, extra));
    } catch (error) {
      assert.ok(error instanceof InputError, String(error));
      return error;
    }
    return undefined;
  };

  it("a machine type without a GPU is refused on every cloud unless expected-gpus is 0", () => {
    for (const [base, machineType, why] of [
      [AWS_START, "m5.xlarge", /m5\.xlarge is not of EC2's G or P families/],
      [AWS_START, "g4dn.xlarge,c5.xlarge", /c5\.xlarge is not of EC2's G or P families/],
      [AWS_START, "inf2.xlarge", /inf2\.xlarge is not of EC2's G or P/],
      [GCP_START, "n2-standard-4", /n2-standard-4 is not of the accelerator-optimized A or G series/],
      [GCP_START, "n1-standard-4", /n1-standard-4 is N1 with no GPU attached: set accelerator to t4, p4, p100 or v100/],
      [AZURE_START, "Standard_D4s_v5", /Standard_D4s_v5 is not of Azure's N families/],
    ] as const) {
      const inputs = { ...base, accelerator: "", "machine-type": machineType };
      const error = refusal(inputs);
      assert.equal(error?.input, "machine-type", `${machineType}: ${String(error)}`);
      assert.match(error.message, new RegExp(`^Input 'machine-type': got "${machineType.replaceAll(".", "\\.")}"; `));
      assert.match(error.message, why);
      assert.match(error.message, /the accelerator input instead, or expected-gpus: 0 for a machine without one\.$/);
      assert.equal(refusal({ ...inputs, "expected-gpus": "0" }), undefined, `${machineType} with expected-gpus: 0`);
      // Any other count still expects GPUs: only 0 says a CPU machine is meant.
      assert.equal(refusal({ ...inputs, "expected-gpus": "1" })?.input, "machine-type", machineType);
    }
    // GPU types outside the catalog are not refused: their family says GPU, and the cloud's description decides at apply.
    for (const [base, machineType] of [
      [AWS_START, "g4ad.xlarge"],
      [AWS_START, "p6-b200.48xlarge"],
      [GCP_START, "a4-highgpu-8g"],
      [AZURE_START, "Standard_NC24ads_A100_v4"],
    ] as const)
      assert.equal(refusal({ ...base, accelerator: "", "machine-type": machineType }), undefined, machineType);
  });

  it("AWS v100 (p3) with the default image is refused on image, naming what drives Volta; with an image it starts", () => {
    for (const inputs of [
      { accelerator: "v100:8", "machine-type": "" },
      { accelerator: "", "machine-type": "p3.2xlarge" },
      { accelerator: "", "machine-type": "g4dn.xlarge,p3.2xlarge" },
    ]) {
      const error = refusal({ ...AWS_START, image: "", ...inputs });
      assert.equal(error?.input, "image", JSON.stringify(inputs));
      assert.match(
        error.message,
        /^Input 'image': got nothing; expected an AMI whose NVIDIA driver drives V100 \(Volta\) GPUs for p3\./,
      );
      assert.match(error.message, /open kernel modules, which drive Turing and later GPUs only/);
      assert.match(error.message, /proprietary kernel modules of a driver branch up to R580/);
    }
    const chosen = parseStart({ image: "ami-0123456789abcdef0", accelerator: "v100:8", "machine-type": "" });
    assert.equal(awsCloud.configOf(chosen.plan)?.instanceType, "p3.16xlarge");
    // Turing and later keep the default image.
    assert.equal(refusal({ ...AWS_START, image: "", "machine-type": "g4dn.xlarge" }), undefined);
  });

  it("GCP h200 comes only as Spot, on a Hyperdisk boot disk", () => {
    const onDemand = refusal({ ...GCP_START, accelerator: "h200:8" });
    assert.equal(onDemand?.input, "accelerator");
    assert.match(onDemand.message, /h200:8 comes only as Spot capacity \(a3-ultragpu-8g\); set spot: true/);
    const named = refusal({ ...GCP_START, "machine-type": "a3-ultragpu-8g" });
    assert.equal(named?.input, "machine-type");
    assert.match(named.message, /a3-ultragpu-8g is sold only as Spot or flex-start capacity/);
    const spot = parseInputs(inputEnv({ ...GCP_START, accelerator: "h200:8", spot: "true" })) as StartInputs;
    assert.equal(spot.plan.summary().machineType, "a3-ultragpu-8g (spot)");
    // A3 Ultra boots only from Hyperdisk: the default follows, and a Persistent Disk is refused.
    assert.equal(gcpCloud.configOf(spot.plan)?.diskType, "hyperdisk-balanced");
    const pd = refusal({ ...GCP_START, accelerator: "h200:8", spot: "true", "disk-type": "pd-balanced" });
    assert.equal(pd?.input, "disk-type");
    assert.match(
      pd.message,
      /^Input 'disk-type': got "pd-balanced"; expected hyperdisk-balanced \(the default for them\): a3-ultragpu-8g boot only from Hyperdisk\.$/,
    );
    // Other types keep pd-balanced as their default (N1 cannot boot from Hyperdisk at all).
    const t4 = parseInputs(inputEnv({ ...GCP_START, accelerator: "t4" })) as StartInputs;
    assert.equal(gcpCloud.configOf(t4.plan)?.diskType, "pd-balanced");
  });

  it("Azure's default image needs a disk of at least its 64 GB; a custom image is not held to it", () => {
    const small = refusal({ ...AZURE_START, "disk-size": "63" });
    assert.equal(small?.input, "disk-size");
    assert.equal(
      small.message,
      `Input 'disk-size': got "63"; expected a whole number of GB from 30 to 4095, at least 64 with the default image, the size of Ubuntu-HPC 24.04's OS disk (Azure refuses an OS disk smaller than its image's).`,
    );
    assert.equal(refusal({ ...AZURE_START, "disk-size": "64" }), undefined);
    assert.equal(
      refusal({ ...AZURE_START, "disk-size": "30", image: "Canonical:ubuntu-24_04-lts:server:latest" }),
      undefined,
    );
  });

  it("GCP refuses the workflow's own service account for the machine, found in auth's credentials file", () => {
    const dir = mkdtempSync(join(tmpdir(), "gcp-creds-"));
    try {
      const wif = join(dir, "wif.json");
      writeFileSync(
        wif,
        JSON.stringify({
          type: "external_account",
          service_account_impersonation_url:
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/gpu-starter@my-project.iam.gserviceaccount.com:generateAccessToken",
          credential_source: { headers: { Authorization: "Bearer not-a-real-request-token" } },
        }),
      );
      const key = join(dir, "key.json");
      writeFileSync(
        key,
        JSON.stringify({ type: "service_account", client_email: "Keyed@my-project.iam.gserviceaccount.com" }),
      );
      const start = (account: string, variable: string, file: string) =>
        refusal({ ...GCP_START, accelerator: "t4", "service-account": account }, { [variable]: file });
      for (const [account, variable, file] of [
        ["gpu-starter@my-project.iam.gserviceaccount.com", "GOOGLE_GHA_CREDS_PATH", wif],
        ["gpu-starter@my-project.iam.gserviceaccount.com", "GOOGLE_APPLICATION_CREDENTIALS", wif],
        ["keyed@my-project.iam.gserviceaccount.com", "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", key],
      ] as const) {
        const error = start(account, variable, file);
        assert.equal(error?.input, "service-account", `${account} via ${variable}`);
        assert.match(error.message, new RegExp(`a service account other than the workflow's own \\(${variable} names`));
        assert.ok(!error.message.includes("not-a-real-request-token"), "nothing of the file but its account is shown");
      }
      // Direct federation (no service account in the file), another account, an unreadable or a non-JSON file, or no
      // file at all: nothing provable, so nothing refused.
      const direct = join(dir, "direct.json");
      writeFileSync(direct, JSON.stringify({ type: "external_account", audience: "//iam.googleapis.com/projects/1" }));
      assert.equal(start("gpu-starter@my-project.iam.gserviceaccount.com", "GOOGLE_GHA_CREDS_PATH", direct), undefined);
      const garbled = join(dir, "garbled.json");
      writeFileSync(garbled, "gpu-starter@my-project.iam.gserviceaccount.com");
      assert.equal(
        start("gpu-starter@my-project.iam.gserviceaccount.com", "GOOGLE_GHA_CREDS_PATH", garbled),
        undefined,
      );
      assert.equal(start("runner@my-project.iam.gserviceaccount.com", "GOOGLE_GHA_CREDS_PATH", wif), undefined);
      assert.equal(
        start("gpu-starter@my-project.iam.gserviceaccount.com", "GOOGLE_GHA_CREDS_PATH", join(dir, "gone.json")),
        undefined,
      );
      assert.equal(
        refusal({
          ...GCP_START,
          accelerator: "t4",
          "service-account": "gpu-starter@my-project.iam.gserviceaccount.com",
        }),
        undefined,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parseInputs: max-cost", () => {
  const refusal = (overrides: Record<string, string>): InputError => {
    try {
      parseStart(overrides);
    } catch (error) {
      if (error instanceof InputError) return error;
      throw error;
    }
    return assert.fail("not refused");
  };

  it("unset: no limit; set: dollars, within the worst case (price x count x max-lifetime hours)", () => {
    assert.equal(parseStart({}).maxCostUsd, undefined);
    // g4dn.xlarge at $0.526 per hour, 2 machines, 6 hours: $6.312.
    assert.equal(parseStart({ count: "2", "max-cost": "6.32" }).maxCostUsd, 6.32);
    assert.equal(parseStart({ "max-cost": "250" }).maxCostUsd, 250);
  });

  it("a worst case over max-cost is refused before anything exists, naming both figures", () => {
    const error = refusal({ count: "2", "max-cost": "6.31" });
    assert.equal(error.input, "max-cost");
    assert.equal(
      error.message,
      `Input 'max-cost': got "6.31"; expected at least $6.32, this start's worst case: $6.32 = $0.526 per hour ` +
        "(g4dn.xlarge in us-east-1) x 2 machine(s) x 6 h max-lifetime; or a lower count, max-lifetime or machine type " +
        "(every capacity candidate counts) to fit $6.31.",
    );
    // A shorter max-lifetime brings it under: 2 x $0.526 x 5 h = $5.26.
    assert.equal(parseStart({ count: "2", "max-lifetime": "300", "max-cost": "6.31" }).maxCostUsd, 6.31);
  });

  it("the highest price among the capacity candidates counts, not the first's", () => {
    // g4dn.xlarge ($0.526) first, g5.xlarge ($1.006) if it has no capacity: 1 x $1.006 x 6 h = $6.036.
    assert.equal(parseStart({ "machine-type": "g4dn.xlarge,g5.xlarge", "max-cost": "6.04" }).maxCostUsd, 6.04);
    assert.match(
      refusal({ "machine-type": "g4dn.xlarge,g5.xlarge", "max-cost": "6" }).message,
      /expected at least \$6\.04, this start's worst case: \$6\.04 = \$1\.006 per hour \(g5\.xlarge in us-east-1, the highest of 2 capacity candidates\)/,
    );
  });

  it("a machine type without a known price is refused when max-cost is set, and only then", () => {
    const unpriced = { "machine-type": "g4dn.xlarge,g7.xlarge", "expected-gpus": "1" };
    assert.equal(parseStart(unpriced).maxCostUsd, undefined);
    const error = refusal({ ...unpriced, "max-cost": "1000" });
    assert.equal(error.input, "max-cost");
    assert.match(
      error.message,
      /^Input 'max-cost': got "1000"; expected no max-cost, or a machine type with a list price: the worst case cannot be checked without one, and the action's price table \(of [0-9-]+\) has none for g7\.xlarge in us-east-1\.$/,
    );
  });

  for (const bad of ["0", "0.00", "-5", "5$", "$5", "1e3", "12.345", " 5", "five", "12345678"]) {
    it(`refuses max-cost ${JSON.stringify(bad)}`, () => {
      const error = refusal({ "max-cost": bad });
      assert.equal(error.input, "max-cost");
      assert.match(error.message, /expected an amount of US dollars greater than 0, such as 25 or 12\.50/);
    });
  }
});
