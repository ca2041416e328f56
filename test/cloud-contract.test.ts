// What every registered cloud promises, checked on its own example configuration the way a reviewer would
// synthesize it (reviewEnvironment + parseInputs + the action's one synthesis path). The per-cloud table below
// says where each cloud keeps its machines, tags and boot script; a cloud added to the registry without an entry
// here fails, so a new cloud cannot skip the contract.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { after, describe, test } from "node:test";
import { inputEnvName, MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../stacks/names.ts";
import type { Env } from "../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { readRunContext } from "../scripts/settings/run-context.ts";
import { newLabel } from "../scripts/settings/label.ts";
import { reviewEnvironment } from "../scripts/settings/review-env.ts";
import { STACK_ID, synthesizeLoaded } from "../scripts/phases/synthesize.ts";
import { allClouds, cloudNames, registerCloud } from "../stacks/clouds.ts";
import { localCloud } from "./kit/local-cloud/local.ts";
import { localKindNodeOptions } from "./kit/local-github/world.ts";

// The test kit's local kind keeps the same contract (as far as it applies): registered here as its hook would.
registerCloud(localCloud);
// The provider bindings load lazily (the action prunes unused ones); synthesis needs them loaded.
for (const cloud of allClouds()) await cloud.load();
const CLOUD_NAMES = cloudNames();

// biome-ignore lint/suspicious/noExplicitAny: parsed cdk.tf.json is walked freely; the assertions check its shape.
type Json = Record<string, any>;

/** One machine as the contract sees it, whatever the cloud calls its parts. */
interface Machine {
  /** The machine's name in the cloud (instance name, Name tag...). */
  name: string;
  /** The Terraform resource itself, for the cloud's own assertions. */
  resource: Json;
  /** The boot script as a Terraform string (literal `${` escaped as `$${`, the JIT config a `${var...}`). */
  bootScript: string;
  /** Every tag or label set this machine's resources carry (the machine, its disks...), by what carries it. */
  tagSets: Record<string, Record<string, string>>;
}

/** A promise a cloud cannot keep by its nature, with the reason: written down, never silently skipped. */
interface NotApplicable {
  notApplicable: string;
}

interface CloudContract {
  /** Variables the example needs beyond its inputs (a harness's settings), if any. */
  env?: Env;
  machines(json: Json): Machine[];
  /**
   * The cloud's own hard lifetime in seconds (enforced even if the machine hangs or its job disarms the machine's
   * timer), or why there is none: a duration the cloud counts from the machine's start, or a point in time
   * counted from `synthesizedAt` (epoch milliseconds).
   */
  cloudLifetimeSeconds(machine: Machine, json: Json, synthesizedAt: number): number | NotApplicable;
  /** Asserts that powering off (or reaching the cloud's lifetime) removes the machine rather than stopping it. */
  endsRatherThanStops: ((machine: Machine) => void) | NotApplicable;
  /** The bytes the cloud receives for a rendered boot script (compressed where the stack compresses it). */
  deliveredBytes(script: string): number;
  /** Whether the machines carry ownership tags at all. */
  ownership: true | NotApplicable;
}

/** The managed identity the Azure example deallocates its VMs with. */
const AZURE_IDENTITY = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/gpu-runners/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gpu-runner-deallocate";

const CONTRACTS: Record<string, CloudContract> = {
  aws: {
    // The example with a lifetime role, as a careful user sets it: the cap outside the machine is then a schedule.
    env: { [inputEnvName("lifetime-role")]: "arn:aws:iam::123456789012:role/gpu-runner-lifetime" },
    machines: (json) =>
      Object.values((json.resource?.aws_instance ?? {}) as Record<string, Json>).map((vm) => ({
        name: vm.tags?.Name,
        resource: vm,
        bootScript: bootScriptLocal(json, vm.user_data_base64),
        tagSets: { tags: vm.tags, volume_tags: vm.volume_tags },
      })),
    // EC2 has no run-time limit of its own: an EventBridge Scheduler schedule terminates the instance at a point in
    // time. The one whose TerminateInstances input names this machine's instance, and only that one.
    cloudLifetimeSeconds(machine, json, synthesizedAt) {
      const [key] = Object.entries(json.resource.aws_instance as Record<string, Json>).find(([, vm]) => vm === machine.resource) ?? [];
      const schedules = Object.values((json.resource?.aws_scheduler_schedule ?? {}) as Record<string, Json>);
      const mine = schedules.filter((s) => String(s.target?.input).includes(`aws_instance.${key}.id`));
      assert.equal(mine.length, 1, `${machine.name}: one schedule terminates it`);
      const schedule = mine[0]!;
      assert.equal(schedule.target.arn, "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances");
      assert.equal(schedule.schedule_expression_timezone, "UTC");
      assert.equal(schedule.action_after_completion, "DELETE");
      const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(schedule.schedule_expression)?.[1];
      assert.ok(at, `${machine.name}: a one-time at() schedule`);
      return (Date.parse(`${at}Z`) - synthesizedAt) / 1000;
    },
    endsRatherThanStops: (machine) => assert.equal(machine.resource.instance_initiated_shutdown_behavior, "terminate"),
    deliveredBytes: (script) => gzipSync(script).length,
    ownership: true,
  },
  gcp: {
    machines: (json) =>
      Object.values((json.resource?.google_compute_instance ?? {}) as Record<string, Json>).map((vm) => ({
        name: vm.name,
        resource: vm,
        bootScript: vm.metadata?.["startup-script"],
        tagSets: { labels: vm.labels, "boot_disk labels": vm.boot_disk?.initialize_params?.labels },
      })),
    cloudLifetimeSeconds: (machine) => machine.resource.scheduling?.max_run_duration?.seconds,
    // Compute Engine has no "terminate on guest power-off": a guest shutdown leaves a stopped instance (disk
    // still billed) until stop destroys it. What it does have is deletion at the hard lifetime and on preemption.
    endsRatherThanStops: (machine) => assert.equal(machine.resource.scheduling?.instance_termination_action, "DELETE"),
    deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
    ownership: true,
  },
  azure: {
    // The example with an identity, as a careful user sets it: the VM then deallocates itself when it powers off.
    env: { [inputEnvName("identity")]: AZURE_IDENTITY },
    machines: (json) =>
      Object.entries((json.resource?.azurerm_linux_virtual_machine ?? {}) as Record<string, Json>).map(([key, vm]) => {
        const index = /^runner-(\d+)$/.exec(key)?.[1];
        const nic = json.resource?.azurerm_network_interface?.[`nic-${index}`];
        return {
          name: vm.name,
          resource: vm,
          bootScript: bootScriptLocal(json, vm.custom_data, "base64encode"),
          // The OS disk takes the VM's tags when ARM creates it with the VM (azurerm has no tags of its own for it).
          tagSets: { tags: vm.tags, "NIC tags": nic?.tags, "security group tags": json.resource?.azurerm_network_security_group?.["no-inbound"]?.tags },
        };
      }),
    // Azure has no run-time limit for a VM: its auto-shutdown, a DevTest Labs schedule, deallocates the VM at a UTC
    // time of day. The one schedule that names this VM, at its first time after synthesis.
    cloudLifetimeSeconds(machine, json, synthesizedAt) {
      const [key] = Object.entries(json.resource.azurerm_linux_virtual_machine as Record<string, Json>).find(([, vm]) => vm === machine.resource) ?? [];
      const schedules = Object.values((json.resource?.azurerm_dev_test_global_vm_shutdown_schedule ?? {}) as Record<string, Json>);
      const mine = schedules.filter((s) => s.virtual_machine_id === `\${azurerm_linux_virtual_machine.${key}.id}`);
      assert.equal(mine.length, 1, `${machine.name}: one auto-shutdown schedule`);
      assert.equal(mine[0]!.timezone, "UTC");
      assert.equal(mine[0]!.enabled, true);
      const hhmm = /^(\d{2})(\d{2})$/.exec(mine[0]!.daily_recurrence_time);
      assert.ok(hhmm, `${machine.name}: a daily time HHmm`);
      const day = new Date(synthesizedAt).setUTCHours(0, 0, 0, 0);
      let at = day + (Number(hhmm[1]) * 60 + Number(hhmm[2])) * 60_000;
      if (at <= synthesizedAt) at += 86_400_000;
      return (at - synthesizedAt) / 1000;
    },
    // A power-off from inside leaves an Azure VM allocated and billed: the boot script runs the cloud's end command
    // first, which deallocates this very VM through Azure Resource Manager (compute billing ends; its disk is
    // billed until stop or sweep deletes it). Spot VMs are deleted on eviction.
    endsRatherThanStops: (machine) => {
      const b64 = /^export GR_END_COMMAND_B64='([A-Za-z0-9+/=]+)'$/m.exec(machine.bootScript)?.[1];
      assert.ok(b64, `${machine.name}: the boot script has an end command`);
      const command = Buffer.from(b64, "base64").toString("utf8");
      assert.match(command, new RegExp(`^VM_ID='/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.Compute/virtualMachines/${machine.name}'$`, "m"));
      assert.match(command, /"\$ARM\$VM_ID\/deallocate\?api-version=\$API_VERSION"/);
      assert.deepEqual(machine.resource.identity, { type: "UserAssigned", identity_ids: [AZURE_IDENTITY] });
    },
    deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
    ownership: true,
  },
  local: {
    env: {
      LOCAL_KIND_ROOT: join(tmpdir(), "cloud-contract-local"),
      LOCAL_KIND_RUNNER_URL: "http://127.0.0.1:9/runner",
      LOCAL_KIND_RUNNER_SHA256: "0".repeat(64),
      NODE_OPTIONS: localKindNodeOptions(),
    },
    machines: (json) =>
      Object.values((json.resource?.terraform_data ?? {}) as Record<string, Json>).map((data) => ({
        // Each "machine" is a directory named after its runner.
        name: basename(data.input?.dir ?? ""),
        resource: data,
        bootScript: (data.provisioner as Json[]).map((p) => p["local-exec"]?.environment?.GR_USER_DATA).find((s) => typeof s === "string") ?? "",
        tagSets: {},
      })),
    cloudLifetimeSeconds: () => ({ notApplicable: "a local process for tests; the boot script's timer is its only cap" }),
    endsRatherThanStops: { notApplicable: "a local process for tests; its destroy-time provisioner stops it" },
    deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
    ownership: { notApplicable: "terraform_data carries no tags; nothing is created in a cloud" },
  },
};

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
    GITHUB_RUN_ID: "31337",
    GITHUB_RUN_ATTEMPT: "3",
  };
  const inputs = { cloud, count: "2", "max-lifetime": String(MAX_LIFETIME_MINUTES), "github-token": FAKE_TOKEN, "state-passphrase": FAKE_PASSPHRASE };
  for (const [input, value] of Object.entries(inputs)) base[inputEnvName(input)] = value;
  return reviewEnvironment(base);
}

function synthExample(cloud: string, contract: CloudContract): { label: string; text: string; json: Json; inputs: StartInputs } {
  const env = reviewEnv(cloud, contract);
  const inputs = parseInputs(env);
  assert.equal(inputs.mode, "start");
  const context = readRunContext(env, workdir);
  const label = newLabel(context);
  const outdir = join(workdir, `synth-${synths++}`);
  const { stackJsonPath } = synthesizeLoaded({ inputs, context, label, now: () => SYNTHESIZED_AT }, inputs.plan, outdir);
  const text = readFileSync(stackJsonPath, "utf8");
  return { label, text, json: JSON.parse(text) as Json, inputs };
}

function isNotApplicable(value: unknown): value is NotApplicable {
  return typeof value === "object" && value !== null && "notApplicable" in value;
}

/** Label-safe form of a tag value, so AWS tags and GCE labels compare alike. */
function normalise(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 63);
}

/** The boot script as the machine receives it: Terraform's escapes undone, a JIT config of realistic size in. */
/** The EC2 user-data is `${base64gzip(local.boot_script_N)}` (Azure's custom data `${base64encode(...)}`): the script is that local. */
function bootScriptLocal(json: Json, userDataBase64: unknown, encoding = "base64gzip"): string {
  const match = new RegExp(`^\\$\\{${encoding}\\(local\\.(boot_script_\\d+)\\)\\}$`).exec(String(userDataBase64));
  assert.ok(match, `the user-data is the ${encoding} of a boot script local, got ${String(userDataBase64).slice(0, 80)}`);
  return json.locals?.[match[1] ?? ""];
}

function renderedBootScript(terraformString: string): string {
  return terraformString
    .replace(/(?<!\$)\$\{var\.jit_config_\d+\}/g, JIT_CONFIG_STAND_IN)
    .replace(/\$\$\{/g, "${")
    .replace(/%%\{/g, "%{");
}

test("every registered cloud has a contract entry", () => {
  assert.ok(CLOUD_NAMES.length > 0);
  for (const name of CLOUD_NAMES) assert.ok(CONTRACTS[name], `cloud '${name}' is registered but has no entry in CONTRACTS`);
});

for (const name of CLOUD_NAMES) {
  describe(`cloud ${name}`, () => {
    const contract = CONTRACTS[name];

    test("has a contract entry", () => assert.ok(contract, `add '${name}' to CONTRACTS in test/cloud-contract.test.ts`));
    if (!contract) return;

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
        assert.match(machine.bootScript, new RegExp(`^export GR_MAX_LIFETIME_MINUTES='${MAX_LIFETIME_MINUTES}'$`, "m"), machine.name);
        const seconds = contract.cloudLifetimeSeconds(machine, first.json, SYNTHESIZED_AT);
        if (isNotApplicable(seconds)) continue;
        assert.ok(seconds >= MAX_LIFETIME_MINUTES * 60, `${machine.name}: the cloud's cap (${seconds} s) comes no earlier than max-lifetime`);
        assert.ok(seconds <= MAX_LIFETIME_MINUTES * 60 + CLOUD_CAP_MARGIN_LIMIT_SECONDS, `${machine.name}: the cloud's cap (${seconds} s) comes at most 15 min after max-lifetime`);
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
        assert.ok(bytes < first.inputs.cloud.userDataLimitBytes, `${machine.name}: ${bytes} bytes of boot script, limit ${first.inputs.cloud.userDataLimitBytes}`);
      });
    });

    test("the cdktf app synthesizes the example from the environment alone", async () => {
      const outdir = join(workdir, `app-${name}`);
      const env: Record<string, string | undefined> = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...contract.env,
        CDKTF_OUTDIR: outdir,
        [inputEnvName("cloud")]: name,
      };
      await promisify(execFile)(process.execPath, ["--import", "tsx/esm", "scripts/dev/cdktf-app.ts"], { env, cwd: fileURLToPath(new URL("..", import.meta.url)) });
      const json = JSON.parse(readFileSync(join(outdir, "stacks", STACK_ID, "cdk.tf.json"), "utf8")) as Json;
      assert.equal(contract.machines(json).length, 1, "one machine: the example's default count");
      assert.ok(json.variable.jit_config_0);
    });
  });
}
