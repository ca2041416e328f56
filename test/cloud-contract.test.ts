// What every registered cloud promises, checked on its own example configuration the way a reviewer would
// synthesize it (reviewEnvironment + parseInputs + the action's one synthesis path). Each cloud's test folder says
// where it keeps its machines, tags and boot script (test/clouds/<name>/cases.ts); a cloud added to the registry
// without one fails, so a new cloud cannot skip the contract.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../stacks/names.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { readRunContext } from "../scripts/settings/run-context.ts";
import { newLabel } from "../scripts/settings/label.ts";
import { reviewEnvironment, reviewVariable } from "../scripts/dev/review-env.ts";
import { STACK_ID, synthesizeLoaded } from "../scripts/phases/synthesize.ts";
import { allClouds, cloudNames, registerCloud } from "../stacks/clouds.ts";
import { localCloud } from "./kit/local-cloud/local.ts";
import { type CloudContract, casesOf, type Json, type NotApplicable } from "./kit/cloud-cases.ts";
import { localContract } from "./kit/local-cloud/contract.ts";

// The test kit's local kind keeps the same contract (as far as it applies): registered here as its hook would.
registerCloud(localCloud);
// The provider bindings load lazily (the action prunes unused ones); synthesis needs them loaded.
for (const cloud of allClouds()) await cloud.terraform.load();
const CLOUD_NAMES = cloudNames();
const CONTRACTS = new Map<string, CloudContract>();
for (const name of CLOUD_NAMES)
  CONTRACTS.set(name, name === localCloud.name ? localContract : (await casesOf(name)).contract);

const FAKE_TOKEN = "planted-fake-token-0123456789abcdefXYZ";
const FAKE_PASSPHRASE = "planted-passphrase-0f9e8d7c6b5a";
const MAX_LIFETIME_MINUTES = 95;
/**
 * How much later than max-lifetime a cloud's own cap may fire: a cap set as a point in time leaves a margin for
 * apply and boot, so that the machine's own timer (counted from boot) acts first. Never earlier than max-lifetime.
 */
const CLOUD_CAP_MARGIN_LIMIT_SECONDS = 15 * 60;
/** The synthesis clock, fixed, so a cap set as a point in time can be measured. */
const SYNTHESIZED_AT = Date.parse("2026-03-01T12:00:00Z");
/** A JIT config is a few KiB of base64; this is the size the boot script must leave room for. */
const JIT_CONFIG_STAND_IN = "QUJD".repeat(1024);

const workdir = mkdtempSync(join(tmpdir(), "cloud-contract-"));
after(() => rmSync(workdir, { recursive: true, force: true }));
let synths = 0;

function reviewEnv(cloud: string, contract: CloudContract): Record<string, string | undefined> {
  const base: Record<string, string | undefined> = {
    ...contract.env,
    GITHUB_REPOSITORY: "Example-Org/Example.Repo",
    GITHUB_REPOSITORY_ID: "7654321",
    GITHUB_RUN_ID: "31337",
    GITHUB_RUN_ATTEMPT: "3",
  };
  const inputs = {
    cloud,
    count: "2",
    "max-lifetime": String(MAX_LIFETIME_MINUTES),
    "github-token": FAKE_TOKEN,
    "state-passphrase": FAKE_PASSPHRASE,
  };
  for (const [input, value] of Object.entries(inputs)) base[reviewVariable(input)] = value;
  return reviewEnvironment(base);
}

function synthExample(
  cloud: string,
  contract: CloudContract,
): { label: string; text: string; json: Json; inputs: StartInputs } {
  const env = reviewEnv(cloud, contract);
  const inputs = parseInputs(env);
  assert.equal(inputs.mode, "start");
  const context = readRunContext(env, workdir);
  const label = newLabel(context);
  const outdir = join(workdir, `synth-${synths++}`);
  const { stackJsonPath } = synthesizeLoaded(
    { inputs, context, label, now: () => SYNTHESIZED_AT },
    inputs.plan,
    outdir,
  );
  const text = readFileSync(stackJsonPath, "utf8");
  return { label, text, json: JSON.parse(text) as Json, inputs };
}

function isNotApplicable(value: unknown): value is NotApplicable {
  return typeof value === "object" && value !== null && "notApplicable" in value;
}

/** Label-safe form of a tag value, so AWS tags and GCE labels compare alike. */
function normalise(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "_")
    .slice(0, 63);
}

/** The boot script as the machine receives it: Terraform's escapes undone, a JIT config of realistic size in. */

function renderedBootScript(terraformString: string): string {
  return terraformString
    .replace(/(?<!\$)\$\{var\.jit_config_\d+\}/g, JIT_CONFIG_STAND_IN)
    .replace(/\$\$\{/g, "${")
    .replace(/%%\{/g, "%{");
}

test("every registered cloud has a contract", () => {
  assert.ok(CLOUD_NAMES.length > 1);
  for (const name of CLOUD_NAMES) assert.ok(CONTRACTS.get(name), `cloud '${name}' is registered but has no contract`);
});

for (const name of CLOUD_NAMES) {
  describe(`cloud ${name}`, () => {
    const contract = CONTRACTS.get(name)!;

    const first = synthExample(name, contract);
    const second = synthExample(name, contract);
    const machines = contract.machines(first.json);

    test("the example synthesizes two machines, one per runner", () => {
      assert.equal(first.inputs.cloud.name, name);
      assert.equal(machines.length, 2);
    });

    test("every start has its own label, machine names and tags", () => {
      assert.notEqual(first.label, second.label);
      const names = (json: Json) => contract.machines(json).map((m) => m.name);
      assert.deepEqual(names(first.json), [`${first.label}-0`, `${first.label}-1`]);
      assert.deepEqual(names(second.json), [`${second.label}-0`, `${second.label}-1`]);
      assert.ok(first.text.includes(first.label) && !first.text.includes(second.label));
      assert.ok(second.text.includes(second.label) && !second.text.includes(first.label));
    });

    test("every machine resource carries the ownership keys", (t) => {
      if (isNotApplicable(contract.ownership)) return t.skip(contract.ownership.notApplicable);
      const expected = {
        [OWNERSHIP_KEYS.managedBy]: MANAGED_BY_VALUE,
        [OWNERSHIP_KEYS.repository]: "Example-Org/Example.Repo",
        [OWNERSHIP_KEYS.repositoryId]: "7654321",
        [OWNERSHIP_KEYS.runId]: "31337",
        [OWNERSHIP_KEYS.runAttempt]: "3",
        [OWNERSHIP_KEYS.label]: first.label,
      };
      for (const machine of machines) {
        assert.ok(Object.keys(machine.tagSets).length > 0, `${machine.name} has tag sets`);
        for (const [carrier, tags] of Object.entries(machine.tagSets)) {
          assert.ok(tags, `${machine.name} has ${carrier}`);
          for (const [key, value] of Object.entries(expected)) {
            assert.equal(normalise(tags[key] ?? "<missing>"), normalise(value), `${machine.name} ${carrier} ${key}`);
          }
        }
      }
    });

    test("a lifetime cap: the boot script's timer, and the cloud's own where it has one", () => {
      for (const machine of machines) {
        assert.match(
          machine.bootScript,
          new RegExp(`^export GR_MAX_LIFETIME_MINUTES='${MAX_LIFETIME_MINUTES}'$`, "m"),
          machine.name,
        );
        const seconds = contract.cloudLifetimeSeconds(machine, first.json, SYNTHESIZED_AT);
        if (isNotApplicable(seconds)) continue;
        assert.ok(
          seconds >= MAX_LIFETIME_MINUTES * 60,
          `${machine.name}: the cloud's cap (${seconds} s) comes no earlier than max-lifetime`,
        );
        assert.ok(
          seconds <= MAX_LIFETIME_MINUTES * 60 + CLOUD_CAP_MARGIN_LIMIT_SECONDS,
          `${machine.name}: the cloud's cap (${seconds} s) comes at most 15 min after max-lifetime`,
        );
      }
    });

    test("machines end rather than stop", (t) => {
      const check = contract.endsRatherThanStops;
      if (isNotApplicable(check)) return t.skip(check.notApplicable);
      for (const machine of machines) check(machine);
    });

    test("no secret in the synthesized configuration", () => {
      for (const { text } of [first, second]) {
        assert.ok(!text.includes(FAKE_TOKEN), "the github-token is not in cdk.tf.json");
        assert.ok(!text.includes(FAKE_PASSPHRASE), "the state-passphrase is not in cdk.tf.json");
      }
      for (const variable of Object.values(first.json.variable as Record<string, Json>)) {
        assert.equal(variable.sensitive, true);
        assert.equal(variable.default, undefined);
      }
    });

    test("the boot script is present, references its own JIT variable once, and fits with a 4 KiB JIT config", () => {
      machines.forEach((machine, index) => {
        assert.equal(typeof machine.bootScript, "string", `${machine.name} has a boot script`);
        assert.ok(machine.bootScript.startsWith("#!/bin/bash\n"), machine.name);
        const refs = [...machine.bootScript.matchAll(/(?<!\$)\$\{var\.jit_config_(\d+)\}/g)].map((m) => m[1]);
        assert.deepEqual(refs, [String(index)], machine.name);
        const bytes = contract.deliveredBytes(renderedBootScript(machine.bootScript));
        assert.ok(
          bytes < first.inputs.cloud.terraform.userDataLimitBytes,
          `${machine.name}: ${bytes} bytes of boot script, limit ${first.inputs.cloud.terraform.userDataLimitBytes}`,
        );
      });
    });

    test("the cdktf app synthesizes the example from the environment alone", async () => {
      const outdir = join(workdir, `app-${name}`);
      const env: Record<string, string | undefined> = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...contract.env,
        CDKTF_OUTDIR: outdir,
        [reviewVariable("cloud")]: name,
      };
      await promisify(execFile)(process.execPath, ["--import", "tsx/esm", "scripts/dev/cdktf-app.ts"], {
        env,
        cwd: fileURLToPath(new URL("..", import.meta.url)),
      });
      const json = JSON.parse(readFileSync(join(outdir, "stacks", STACK_ID, "cdk.tf.json"), "utf8")) as Json;
      assert.equal(contract.machines(json).length, 1, "one machine: the example's default count");
      assert.ok(json.variable.jit_config_0);
    });
  });
}
