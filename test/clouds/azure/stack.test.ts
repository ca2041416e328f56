// The Azure stack as Terraform will see it: inputs parsed from the environment as action.yml sets them, synthesized
// by cdktf to cdk.tf.json (test/kit/stack-synth.ts), and the JSON checked for the properties that carry security
// and cost. Then the machine's own way out of its bill: the boot script, run for real in the boot sandbox,
// deallocating its VM through a stand-in for the Instance Metadata Service and Azure Resource Manager on 127.0.0.1.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { OWNERSHIP_KEYS } from "../../../stacks/names.ts";
import { InputError } from "../../../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../../../scripts/settings/inputs.ts";
import { azureCloud } from "../../../stacks/azure/index.ts";
import { COMPUTE_API_VERSION, endCommand, vmResourceId } from "../../../stacks/azure/end-command.ts";
import { LIFETIME_CAP_MARGIN_MINUTES } from "../../../stacks/lifetime-cap.ts";
import { BootSandbox, killAllSandboxes, ReleaseServer, type RunResult } from "../../kit/boot-sandbox.ts";
import { type BadInput, type Json, jitReferences, stackKit, tf } from "../../kit/stack-synth.ts";

// The provider bindings load lazily (the action prunes unused ones); synthesis needs them loaded.
await azureCloud.terraform.load();

const LABEL = "gpu-555-3-0a1b2c3d";
/** The synthesis clock, fixed: the auto-shutdown time is counted from it. */
const SYNTHESIZED_AT = Date.parse("2026-03-01T12:00:00Z");
const SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
const SUBNET = `/subscriptions/${SUBSCRIPTION}/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/ci-vnet/subnets/runners`;
const IDENTITY = `/subscriptions/${SUBSCRIPTION}/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gpu-runner-deallocate`;

const BASE: Record<string, string> = {
  mode: "start",
  cloud: "azure",
  "github-token": "ghs_not-a-real-token",
  subscription: SUBSCRIPTION,
  location: "westeurope",
  "resource-group": "gpu-runners",
  "subnet-id": SUBNET,
  accelerator: "t4",
};

const kit = stackKit({
  base: BASE,
  label: LABEL,
  repository: "Example-Org/Example.Repo",
  runId: "555",
  runAttempt: "3",
  synthesizedAt: SYNTHESIZED_AT,
});
const { envOf, prepare, synth, ownership: OWNERSHIP } = kit;

const resources = (json: Json, type: string): Record<string, Json> =>
  (json.resource?.[type] ?? {}) as Record<string, Json>;

function vm(json: Json, index = 0): Json {
  const found = resources(json, "azurerm_linux_virtual_machine")[`runner-${index}`];
  assert.ok(found, `runner-${index} is an azurerm_linux_virtual_machine`);
  return found;
}

/** The boot script's value of a header variable (its `export NAME='value'` line). */
function header(script: string, name: string): string | undefined {
  return new RegExp(`^export ${name}='([^']*)'$`, "m").exec(script)?.[1];
}

/**
 * The custom data exactly as Azure receives it: the real terraform evaluates the stack's own locals (JSON syntax,
 * no provider needed) with a JIT config of realistic size, and the base64 is decoded here.
 */
function customDataBytes(json: Json, index: number, jitConfig: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "azure-custom-data-"));
  try {
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ variable: json.variable, locals: json.locals }));
    // The JIT variable is sensitive: console would print "(sensitive value)".
    const expression = `nonsensitive(${vm(json, index).custom_data.slice(2, -1)})`;
    const out = execFileSync("terraform", ["console"], {
      cwd: dir,
      input: expression,
      encoding: "utf8",
      env: { ...process.env, CHECKPOINT_DISABLE: "1", [`TF_VAR_jit_config_${index}`]: jitConfig },
    });
    return Buffer.from(JSON.parse(out.trim()) as string, "base64");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("azure stack", () => {
  const json = synth({ count: "2", tags: JSON.stringify({ team: "md-sim", "cost center": "42" }) });
  const tagged = { ...OWNERSHIP, team: "md-sim", "cost center": "42" };

  test("one Linux VM per runner, named after it, in the resource group and location, of the size asked for", () => {
    assert.deepEqual(Object.keys(resources(json, "azurerm_linux_virtual_machine")).sort(), ["runner-0", "runner-1"]);
    for (const index of [0, 1]) {
      const machine = vm(json, index);
      assert.equal(machine.name, `${LABEL}-${index}`);
      assert.equal(machine.resource_group_name, "gpu-runners");
      assert.equal(machine.location, "westeurope");
      assert.equal(machine.size, "Standard_NC4as_T4_v3");
      assert.deepEqual(machine.network_interface_ids, [tf(`azurerm_network_interface.nic-${index}.id`)]);
    }
    assert.deepEqual(json.output.machines.value, {
      [`${LABEL}-0`]: tf("azurerm_linux_virtual_machine.runner-0.id"),
      [`${LABEL}-1`]: tf("azurerm_linux_virtual_machine.runner-1.id"),
    });
  });

  test("the provider: the subscription asked for, features set, no resource provider registered", () => {
    assert.deepEqual(json.provider.azurerm, [
      {
        subscription_id: SUBSCRIPTION,
        resource_provider_registrations: "none",
        features: [{ virtual_machine: [{ delete_os_disk_on_deletion: true }] }],
      },
    ]);
  });

  test("the only resources are the machines, their NICs, one security group with its deny rule, and their schedules", () => {
    assert.deepEqual(Object.keys(json.resource).sort(), [
      "azurerm_dev_test_global_vm_shutdown_schedule",
      "azurerm_linux_virtual_machine",
      "azurerm_network_interface",
      "azurerm_network_interface_security_group_association",
      "azurerm_network_security_group",
      "azurerm_network_security_rule",
    ]);
  });

  test("no inbound traffic: one rule, denying all of it before Azure's defaults; every NIC in that group", () => {
    const groups = resources(json, "azurerm_network_security_group");
    assert.deepEqual(Object.keys(groups), ["no-inbound"]);
    assert.equal(groups["no-inbound"]!.security_rule, undefined, "no inline rule");
    const rules = Object.values(resources(json, "azurerm_network_security_rule"));
    assert.equal(
      rules.filter((r) => r.direction === "Inbound" && r.access === "Allow").length,
      0,
      "no inbound allow rule",
    );
    assert.deepEqual(
      rules.map(({ "//": _, description: __, ...rule }) => rule),
      [
        {
          name: "deny-all-inbound",
          resource_group_name: "gpu-runners",
          network_security_group_name: tf("azurerm_network_security_group.no-inbound.name"),
          // Lower numbers win; Azure's own AllowVnetInBound is 65000.
          priority: 4096,
          direction: "Inbound",
          access: "Deny",
          protocol: "*",
          source_address_prefix: "*",
          source_port_range: "*",
          destination_address_prefix: "*",
          destination_port_range: "*",
        },
      ],
    );
    const associations = Object.values(resources(json, "azurerm_network_interface_security_group_association"));
    assert.deepEqual(
      associations.map((a) => [a.network_interface_id, a.network_security_group_id]),
      [0, 1].map((i) => [
        tf(`azurerm_network_interface.nic-${i}.id`),
        tf("azurerm_network_security_group.no-inbound.id"),
      ]),
    );
  });

  test("NICs in the subnet given, with no public IP unless asked", () => {
    for (const index of [0, 1]) {
      const nic = resources(json, "azurerm_network_interface")[`nic-${index}`]!;
      assert.deepEqual(nic.ip_configuration, [
        { name: "primary", subnet_id: SUBNET, private_ip_address_allocation: "Dynamic" },
      ]);
    }
    assert.equal(json.resource.azurerm_public_ip, undefined);
  });

  test("public-ip: a static Standard IP per NIC, in the VM's zone, tagged", () => {
    const open = synth({ "public-ip": "true", zones: "2" });
    const ip = resources(open, "azurerm_public_ip")["public-ip-0"]!;
    assert.deepEqual([ip.sku, ip.allocation_method, ip.zones, ip.name], ["Standard", "Static", ["2"], `${LABEL}-0-ip`]);
    assert.deepEqual(ip.tags, OWNERSHIP);
    assert.equal(
      resources(open, "azurerm_network_interface")["nic-0"]!.ip_configuration[0].public_ip_address_id,
      tf("azurerm_public_ip.public-ip-0.id"),
    );
    assert.equal(vm(open).zone, "2");
  });

  test("ownership tags (and the user's) on every resource that takes tags; the OS disk takes the VM's", () => {
    const open = synth({ "public-ip": "true", tags: JSON.stringify({ team: "md-sim", "cost center": "42" }) });
    let carriers = 0;
    for (const [type, byName] of Object.entries(open.resource as Record<string, Record<string, Json>>)) {
      // A rule belongs to its group and an association to its NIC: Azure has no tags on either.
      if (type === "azurerm_network_security_rule" || type === "azurerm_network_interface_security_group_association")
        continue;
      for (const [name, resource] of Object.entries(byName)) {
        assert.deepEqual(resource.tags, tagged, `${type}.${name}`);
        carriers++;
      }
    }
    assert.equal(carriers, 1 + 3 * 1 + 1, "the group, and per runner its VM, NIC and public IP, and its schedule");
  });

  test("the OS disk: named after the runner, Premium SSD of the size asked for; destroyed with the VM", () => {
    assert.deepEqual(vm(json).os_disk, {
      name: `${LABEL}-0-osdisk`,
      caching: "ReadWrite",
      storage_account_type: "Premium_LRS",
      disk_size_gb: 100,
    });
    assert.deepEqual(vm(synth({ "disk-size": "256", "disk-type": "StandardSSD_LRS" })).os_disk.disk_size_gb, 256);
    assert.equal(vm(synth({ "disk-type": "StandardSSD_ZRS" })).os_disk.storage_account_type, "StandardSSD_ZRS");
    assert.equal(json.provider.azurerm[0].features[0].virtual_machine[0].delete_os_disk_on_deletion, true);
  });

  test("no password anywhere; an SSH key nobody holds the private half of; no extension operations", () => {
    const machine = vm(json);
    assert.equal(machine.disable_password_authentication, true);
    assert.equal(machine.admin_password, undefined);
    assert.equal(machine.admin_username, "azureuser");
    assert.equal(machine.allow_extension_operations, false);
    const [key] = machine.admin_ssh_key as { username: string; public_key: string }[];
    assert.equal(key?.username, "azureuser");
    // A well-formed OpenSSH RSA key of 2048 bits: Node parses it as the JWK it was made from.
    const [kind, blob] = key!.public_key.split(" ");
    assert.equal(kind, "ssh-rsa");
    const bytes = Buffer.from(blob!, "base64");
    const fields: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const length = bytes.readUInt32BE(at);
      fields.push(bytes.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    assert.equal(fields[0]?.toString(), "ssh-rsa");
    const strip = (b: Buffer) => (b[0] === 0 ? b.subarray(1) : b);
    const parsed = createPublicKey({
      key: { kty: "RSA", e: strip(fields[1]!).toString("base64url"), n: strip(fields[2]!).toString("base64url") },
      format: "jwk",
    });
    assert.equal(parsed.asymmetricKeyDetails?.modulusLength, 2048);
    assert.doesNotMatch(JSON.stringify(json), /PRIVATE KEY|ghs_not-a-real-token/);
  });

  test("boot diagnostics in managed storage (start reads the serial log of a runner that stays offline)", () => {
    assert.deepEqual(vm(json).boot_diagnostics, {});
  });

  test("custom data: each VM's own boot script, holding its own JIT variable once, within Azure's 65,535 bytes", () => {
    const jit = "QUJD".repeat(1024);
    for (const index of [0, 1]) {
      const machine = vm(json, index);
      assert.equal(machine.custom_data, tf(`base64encode(local.boot_script_${index})`));
      assert.equal(
        machine.user_data,
        undefined,
        "userData is served by the metadata service to every process: not used",
      );
      const script: string = json.locals[`boot_script_${index}`];
      assert.deepEqual(jitReferences(script), [String(index)]);
      const delivered = customDataBytes(json, index, jit);
      assert.ok(delivered.toString("utf8").startsWith("#!/bin/bash\n"));
      assert.equal(header(delivered.toString("utf8"), "GR_RUNNER_NAME"), `${LABEL}-${index}`);
      assert.equal(header(delivered.toString("utf8"), "GR_JIT_CONFIG"), jit);
      assert.ok(delivered.length < azureCloud.terraform.userDataLimitBytes, `${delivered.length} bytes`);
    }
  });

  test("custom data is counted in bytes of UTF-8, not in characters", () => {
    // "é" is one character and two bytes; "€" three bytes.
    assert.equal(azureCloud.terraform.userDataBytes("#!/bin/bash\n"), 12);
    assert.equal(azureCloud.terraform.userDataBytes("#!/bin/bash\n# é €\n"), 12 + 9);
  });

  test("the largest pre-runner script the action takes still fits Azure's custom data, with an identity", () => {
    const big = synth({
      "pre-runner-script": `#!/bin/bash\n${"echo 0123456789abcdef\n".repeat(400)}`.slice(0, 8 * 1024),
      identity: IDENTITY,
    });
    const delivered = customDataBytes(big, 0, "QUJD".repeat(1024));
    assert.ok(
      delivered.length < azureCloud.terraform.userDataLimitBytes,
      `${delivered.length} bytes of ${azureCloud.terraform.userDataLimitBytes}`,
    );
  });

  test("regular priority unless spot; Spot is evicted by deletion, with no price cap below on-demand", () => {
    assert.equal(vm(json).priority, "Regular");
    assert.equal(vm(json).eviction_policy, undefined);
    const spot = vm(synth({ spot: "true" }));
    assert.deepEqual([spot.priority, spot.eviction_policy, spot.max_bid_price], ["Spot", "Delete", -1]);
  });

  test("Trusted Launch (vTPM on, Secure Boot off) on sizes that support it; standard elsewhere or when turned off", () => {
    assert.deepEqual([vm(json).vtpm_enabled, vm(json).secure_boot_enabled], [true, false]);
    for (const overrides of [{ accelerator: "h100:8" }, { "trusted-launch": "false" }, { accelerator: "a100:8" }]) {
      const machine = vm(synth(overrides));
      assert.deepEqual(
        [machine.vtpm_enabled, machine.secure_boot_enabled],
        [undefined, undefined],
        JSON.stringify(overrides),
      );
    }
  });

  test("the default image is Ubuntu-HPC 24.04 with the NVIDIA driver; a URN or an image id when given", () => {
    assert.deepEqual(vm(json).source_image_reference, {
      publisher: "microsoft-dsvm",
      offer: "ubuntu-hpc",
      sku: "2404",
      version: "latest",
    });
    assert.deepEqual(vm(synth({ image: "Canonical:ubuntu-24_04-lts:server:24.04.202501140" })).source_image_reference, {
      publisher: "Canonical",
      offer: "ubuntu-24_04-lts",
      sku: "server",
      version: "24.04.202501140",
    });
    const gallery = `/subscriptions/${SUBSCRIPTION}/resourceGroups/images/providers/Microsoft.Compute/galleries/ci/images/gpu-runner/versions/1.2.3`;
    const fromGallery = vm(synth({ image: gallery }));
    assert.equal(fromGallery.source_image_id, gallery);
    assert.equal(fromGallery.source_image_reference, undefined);
  });

  test("without identity: no end command, no identity on the VM, and the review says what that costs", () => {
    assert.equal(vm(json).identity, undefined);
    assert.equal(header(json.locals.boot_script_0, "GR_END_COMMAND_B64"), undefined);
    const { inputs } = prepare({});
    assert.match(inputs.plan.summary().caveats?.[0] ?? "", /^identity is not set: .* stays allocated and billed/);
  });

  test("with identity: the VM carries it, and its boot script deallocates that very VM before powering off", () => {
    const withIdentity = synth({ count: "2", identity: IDENTITY });
    for (const index of [0, 1]) {
      const machine = vm(withIdentity, index);
      assert.deepEqual(machine.identity, { type: "UserAssigned", identity_ids: [IDENTITY] });
      const command = Buffer.from(
        header(withIdentity.locals[`boot_script_${index}`], "GR_END_COMMAND_B64") ?? "",
        "base64",
      ).toString("utf8");
      const id = `/subscriptions/${SUBSCRIPTION}/resourceGroups/gpu-runners/providers/Microsoft.Compute/virtualMachines/${LABEL}-${index}`;
      // Written out by hand: the values it acts on, then stacks/azure/deallocate.sh below its shebang.
      const values = [
        "#!/bin/bash",
        "IMDS='http://169.254.169.254'",
        "ARM='https://management.azure.com'",
        "ARM_RESOURCE='https://management.azure.com/'",
        `API_VERSION='${COMPUTE_API_VERSION}'`,
        `VM_ID='${id}'`,
        `IDENTITY_ID='${IDENTITY}'`,
      ].join("\n");
      const body = readFileSync(new URL("../../../stacks/azure/deallocate.sh", import.meta.url), "utf8");
      assert.equal(command, `${values}\n${body.slice(body.indexOf("\n") + 1)}`);
    }
    const { inputs } = prepare({ identity: IDENTITY });
    assert.equal(inputs.plan.summary().caveats, undefined);
  });

  test("auto-shutdown: each VM deallocated by Azure at max-lifetime plus the margin after synthesis, in UTC", () => {
    const capped = synth({ count: "2", "max-lifetime": "95" });
    const schedules = resources(capped, "azurerm_dev_test_global_vm_shutdown_schedule");
    assert.deepEqual(Object.keys(schedules).sort(), ["lifetime-0", "lifetime-1"]);
    // 12:00 + 95 + 10 minutes.
    assert.equal(LIFETIME_CAP_MARGIN_MINUTES, 10);
    for (const index of [0, 1]) {
      const { "//": _, tags, ...schedule } = schedules[`lifetime-${index}`]!;
      assert.deepEqual(schedule, {
        virtual_machine_id: tf(`azurerm_linux_virtual_machine.runner-${index}.id`),
        location: "westeurope",
        enabled: true,
        daily_recurrence_time: "1345",
        timezone: "UTC",
        notification_settings: { enabled: false },
      });
      assert.equal(tags[OWNERSHIP_KEYS.label], LABEL);
    }
  });

  test("auto-shutdown: none when turned off, or when max-lifetime is too long for a daily time; both said", () => {
    for (const [overrides, why] of [
      [{ "auto-shutdown": "false" }, /^auto-shutdown is false: nothing outside the VM enforces max-lifetime/],
      [{ "max-lifetime": "1440" }, /^max-lifetime is 1440 minutes: Azure's auto-shutdown fires at a time of day/],
    ] as const) {
      assert.equal(
        synth(overrides).resource.azurerm_dev_test_global_vm_shutdown_schedule,
        undefined,
        JSON.stringify(overrides),
      );
      const caveats = prepare({ ...overrides, identity: IDENTITY }).inputs.plan.summary().caveats ?? [];
      assert.equal(caveats.length, 1);
      assert.match(caveats[0]!, why);
    }
    assert.ok(
      synth({ "max-lifetime": "1370" }).resource.azurerm_dev_test_global_vm_shutdown_schedule,
      "23 hours with the margin still fits",
    );
  });

  test("state: local in the stack; the JIT variables sensitive and validated", () => {
    assert.deepEqual(json.terraform.backend, { local: { path: "terraform.tfstate" } });
    for (const index of [0, 1]) {
      assert.equal(json.variable[`jit_config_${index}`].sensitive, true);
      assert.equal(json.variable[`jit_config_${index}`].default, undefined);
    }
  });
});

describe("azure inputs", () => {
  test("the parsed config", () => {
    const config = azureCloud.configOf(
      prepare({ zones: "1,3", "machine-type": "Standard_NC8as_T4_v3, Standard_NC16as_T4_v3", identity: IDENTITY })
        .inputs.plan,
    );
    assert.deepEqual(config, {
      subscription: SUBSCRIPTION,
      location: "westeurope",
      resourceGroup: "gpu-runners",
      subnetId: SUBNET,
      size: "Standard_NC8as_T4_v3",
      fallbackSizes: ["Standard_NC16as_T4_v3"],
      accelerator: { name: "t4", count: 1 },
      image: { kind: "marketplace", publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2404", version: "latest" },
      diskSizeGb: 100,
      diskType: "Premium_LRS",
      zone: "1",
      fallbackZones: ["3"],
      publicIp: false,
      spot: false,
      identity: IDENTITY,
      autoShutdown: true,
      trustedLaunch: true,
    });
  });

  test("subscription defaults to ARM_SUBSCRIPTION_ID, then AZURE_SUBSCRIPTION_ID; a bad one from there is refused", () => {
    const without = envOf({ ...BASE, subscription: undefined });
    for (const name of ["ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"]) {
      const inputs = parseInputs({ ...without, [name]: SUBSCRIPTION.toUpperCase() }) as StartInputs;
      assert.equal(azureCloud.configOf(inputs.plan)?.subscription, SUBSCRIPTION, name);
    }
    assert.throws(
      () => parseInputs({ ...without, ARM_SUBSCRIPTION_ID: "my-subscription" }),
      (error: unknown) =>
        error instanceof InputError &&
        error.input === "subscription" &&
        /ARM_SUBSCRIPTION_ID \(or AZURE_SUBSCRIPTION_ID\) is not one/.test(error.message),
    );
  });

  test("GPUs per machine, as known offline (the review's count); and the price of each", () => {
    for (const [overrides, gpus, price] of [
      [{}, 1, 0.526],
      [{ accelerator: "t4:4" }, 4, 4.352],
      [{ accelerator: "a100-80gb" }, 1, 3.673],
      [{ accelerator: "a100:8" }, 8, 27.197],
      [{ accelerator: "h100" }, 1, 6.98],
      [{ accelerator: "h100:8" }, 8, 98.32],
      [{ accelerator: "h200:8" }, 8, undefined],
      [{ accelerator: undefined, "machine-type": "Standard_ND96isr_H100_v5" }, 8, 98.32],
      [{ accelerator: undefined, "machine-type": "Standard_D4s_v5", "expected-gpus": "0" }, 0, undefined],
      [{ accelerator: undefined, "machine-type": "Standard_NC99zz_X1_v9" }, undefined, undefined],
    ] as const) {
      const { plan } = prepare(overrides).inputs;
      assert.equal(plan.gpus().count, gpus, JSON.stringify(overrides));
      assert.equal(plan.hourlyPriceUsd(), price, JSON.stringify(overrides));
    }
  });

  const bad: BadInput[] = [
    ["no subscription", { subscription: undefined }, "subscription", /azure\/login sets none in the environment/],
    ["a subscription name", { subscription: "Pay-As-You-Go" }, "subscription"],
    ["no location", { location: undefined }, "location"],
    ["a display name as location", { location: "West Europe" }, "location"],
    ["no resource group", { "resource-group": undefined }, "resource-group"],
    ["a resource group ending in '.'", { "resource-group": "runners." }, "resource-group"],
    ["no subnet", { "subnet-id": undefined }, "subnet-id"],
    ["a subnet name", { "subnet-id": "runners" }, "subnet-id", /resource id of an existing subnet/],
    ["an AWS subnet", { "subnet-id": "subnet-0123456789abcdef0" }, "subnet-id"],
    [
      "a subnet of another subscription",
      { "subnet-id": SUBNET.replace(SUBSCRIPTION, "99999999-2222-3333-4444-555555555555") },
      "subnet-id",
      /a subnet of subscription 11111111-2222-3333-4444-555555555555/,
    ],
    ["zone 4", { zones: "4" }, "zones"],
    ["a GCE zone", { zones: "us-central1-a" }, "zones"],
    ["four zones", { zones: "1,2,3,1" }, "zones"],
    [
      "a client id as identity",
      { identity: "00000000-0000-0000-0000-000000000000" },
      "identity",
      /userAssignedIdentities/,
    ],
    ["auto-shutdown as yes", { "auto-shutdown": "yes" }, "auto-shutdown"],
    ["trusted-launch as on", { "trusted-launch": "on" }, "trusted-launch"],
    ["an EC2 instance type", { "machine-type": "g4dn.xlarge" }, "machine-type", /Standard_NC4as_T4_v3/],
    ["a size without Standard_", { "machine-type": "NC4as_T4_v3" }, "machine-type"],
    [
      "a T4 on an A100 size",
      { "machine-type": "Standard_NC24ads_A100_v4" },
      "accelerator",
      /Standard_NC24ads_A100_v4 carries a100-80gb:1; t4:1 comes with Standard_NC4as_T4_v3/,
    ],
    [
      "two T4s (no size carries two)",
      { accelerator: "t4:2" },
      "accelerator",
      /t4 in a count that one azure machine carries, 1 or 4/,
    ],
    [
      "an L4, which azure does not offer",
      { accelerator: "l4" },
      "accelerator",
      /a GPU that azure offers: azure offers t4 \(1 or 4\), a10 \(1 or 2\)/,
    ],
    ["neither accelerator nor machine-type", { accelerator: undefined }, "accelerator", /or a machine-type/],
    [
      "an A10 with the default image (no GRID driver)",
      { accelerator: "a10" },
      "image",
      /GRID driver for Standard_NV36ads_A10_v5/,
    ],
    [
      "a GCE image",
      { image: "projects/debian-cloud/global/images/family/debian-12" },
      "image",
      /PUBLISHER:OFFER:SKU:VERSION/,
    ],
    ["an AMI", { image: "ami-0123456789abcdef0" }, "image"],
    ["a URN without version", { image: "microsoft-dsvm:ubuntu-hpc:2404" }, "image"],
    ["an EBS volume type", { "disk-type": "gp3" }, "disk-type", /Premium_LRS, StandardSSD_LRS/],
    [
      "Premium on a size that cannot take it",
      { accelerator: undefined, "machine-type": "Standard_NC6", "disk-type": "Premium_LRS" },
      "disk-type",
      /Standard_NC6 cannot attach Premium storage/,
    ],
    ["a tiny disk", { "disk-size": "20" }, "disk-size"],
    ["spot as yes", { spot: "yes" }, "spot"],
    ["a tag name with '/'", { tags: JSON.stringify({ "cost/center": "42" }) }, "tags", /without < > % & \\ \? \//],
    [
      "tag names that differ only in case",
      { tags: JSON.stringify({ Team: "a", team: "b" }) },
      "tags",
      /case-insensitive/,
    ],
    [
      "a tag name Azure reserves",
      { tags: JSON.stringify({ "Microsoft.Owner": "x" }) },
      "tags",
      /do not start with microsoft, azure, windows, which are reserved by Azure \(Microsoft\.Owner does\)/,
    ],
    [
      "more tags than Azure allows",
      { tags: JSON.stringify(Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`k${i}`, "v"]))) },
      "tags",
      /at most 43 tags with cloud azure/,
    ],
    ["the administrator as runner user", { "runner-user": "azureuser" }, "runner-user"],
  ];
  kit.testRejections(bad);

  test("an A10 with an image that has the GRID driver; A100 80 GB and H100 on their cheapest sizes", () => {
    const image = `/subscriptions/${SUBSCRIPTION}/resourceGroups/images/providers/Microsoft.Compute/images/ubuntu-grid`;
    assert.equal(
      azureCloud.configOf(prepare({ accelerator: "a10:2", image }).inputs.plan)?.size,
      "Standard_NV72ads_A10_v5",
    );
    assert.equal(
      azureCloud.configOf(prepare({ accelerator: "a100-80gb:8" }).inputs.plan)?.size,
      "Standard_ND96amsr_A100_v4",
    );
    assert.equal(
      azureCloud.configOf(prepare({ accelerator: "h100:2" }).inputs.plan)?.size,
      "Standard_NC80adis_H100_v5",
    );
    assert.equal(azureCloud.configOf(prepare({ accelerator: "h200:8" }).inputs.plan)?.size, "Standard_ND96isr_H200_v5");
  });

  test("a size without premium storage gets Standard SSD by default", () => {
    assert.equal(
      azureCloud.configOf(prepare({ accelerator: undefined, "machine-type": "Standard_NC6" }).inputs.plan)?.diskType,
      "StandardSSD_LRS",
    );
    assert.equal(
      azureCloud.configOf(prepare({ "machine-type": "Standard_NC4as_T4_v3,Standard_NC8as_T4_v3" }).inputs.plan)
        ?.diskType,
      "Premium_LRS",
    );
  });

  test("the aws- and gcp-only inputs are ignored with a notice, not refused", () => {
    const { inputs } = prepare({ region: "us-east-1", zone: "us-central1-a", project: "my-project" });
    assert.deepEqual(inputs.notices, [
      "Input 'region' is read only with cloud aws; ignored with cloud azure.",
      "Input 'project' is read only with cloud gcp; ignored with cloud azure.",
      "Input 'zone' is read only with cloud gcp; ignored with cloud azure.",
    ]);
  });

  test("the azure-only inputs are ignored with a notice on the other clouds", () => {
    const inputs = parseInputs(
      envOf({
        mode: "start",
        cloud: "aws",
        "github-token": "ghs_not-a-real-token",
        region: "us-east-1",
        accelerator: "t4",
        location: "eastus",
        zones: "1",
      }),
    ) as StartInputs;
    assert.deepEqual(inputs.notices, [
      "Input 'location' is read only with cloud azure; ignored with cloud aws.",
      "Input 'zones' is read only with cloud azure; ignored with cloud aws.",
    ]);
  });
});

// ---- the machine's own way out of its bill ---------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** Processes whose command line held the token while the request was in flight. */
  argvWithToken?: number;
}

/** Stands in for the Instance Metadata Service and Azure Resource Manager on 127.0.0.1; records every request. */
class AzureStandIn {
  readonly seen: Seen[] = [];
  readonly token = `eyJ0eXAiOiJKV1Qi.${"x".repeat(40)}.planted-token`;
  tokenStatus = 200;
  deallocateStatus = 202;
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        const entry: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
        this.seen.push(entry);
        if (entry.url.startsWith("/metadata/identity/oauth2/token?")) {
          if (this.tokenStatus !== 200) {
            res
              .writeHead(this.tokenStatus, { "content-type": "application/json" })
              .end('{"error":"invalid_request","error_description":"Identity not found"}');
            return;
          }
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              access_token: this.token,
              client_id: "c",
              expires_in: "86399",
              resource: "https://management.azure.com/",
              token_type: "Bearer",
            }),
          );
          return;
        }
        if (entry.method === "POST" && entry.url.includes("/deallocate?")) {
          entry.argvWithToken = processesHolding(this.token);
          if (this.deallocateStatus !== 202) {
            res
              .writeHead(this.deallocateStatus, { "content-type": "application/json" })
              .end('{"error":{"code":"AuthorizationFailed","message":"no deallocate/action"}}');
            return;
          }
          res.writeHead(202, { "content-length": "0" }).end();
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** How many processes have `needle` in their command line right now. */
function processesHolding(needle: string): number {
  let found = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) found++;
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe("azure: the boot script deallocates its own VM before powering off (boot sandbox)", () => {
  const release = new ReleaseServer();
  const azure = new AzureStandIn();
  const sandboxes: BootSandbox[] = [];
  const vmId = vmResourceId({ subscription: SUBSCRIPTION, resourceGroup: "gpu-runners" }, `${LABEL}-0`);

  before(async () => {
    await release.start();
    await azure.start();
  });
  after(async () => {
    killAllSandboxes();
    await Promise.all(sandboxes.map((s) => s.cleanup()));
    await release.close();
    await azure.close();
  });

  async function boot(): Promise<RunResult> {
    const command = endCommand(vmId, IDENTITY, { imds: azure.url, arm: azure.url });
    const sandbox = await BootSandbox.create({
      server: release,
      values: { GR_END_COMMAND_B64: Buffer.from(command).toString("base64") },
    });
    sandboxes.push(sandbox);
    const result = await sandbox.run();
    assert.deepEqual(
      sandbox.calls("power").filter((c) => c.startsWith("poweroff")),
      ["poweroff"],
      "the power-off follows, whatever the API said",
    );
    return result;
  }

  test("after the job: a token for the identity from the metadata service, then ARM's deallocate of this VM", async () => {
    azure.seen.length = 0;
    const result = await boot();
    const [tokenRequest, deallocate, ...rest] = azure.seen;
    assert.deepEqual(rest, []);
    const url = new URL(tokenRequest!.url, azure.url);
    assert.equal(tokenRequest!.method, "GET");
    assert.equal(url.pathname, "/metadata/identity/oauth2/token");
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      "api-version": "2018-02-01",
      resource: "https://management.azure.com/",
      msi_res_id: IDENTITY,
    });
    assert.equal(tokenRequest!.headers.metadata, "true");
    assert.equal(deallocate!.method, "POST");
    assert.equal(deallocate!.url, `${vmId}/deallocate?api-version=${COMPUTE_API_VERSION}`);
    assert.equal(deallocate!.headers.authorization, `Bearer ${azure.token}`);
    assert.equal(deallocate!.headers["content-length"], "0");
    assert.equal(deallocate!.argvWithToken, 0, "the token is in no process's command line while it is used");
    const lines = result.lines;
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    assert.ok(
      at("powering off: runner exited") >= 0 && at("powering off:") < at("ending the machine through the cloud's API"),
      result.stdout,
    );
    assert.ok(at("ended through the cloud's API") > at("ending the machine through the cloud's API"), result.stdout);
    assert.ok(!result.stdout.includes(azure.token), "the token is never logged");
  });

  test("an identity that is not on the VM: the metadata service's refusal is logged, and the VM still powers off", async () => {
    azure.seen.length = 0;
    azure.tokenStatus = 400;
    try {
      const result = await boot();
      assert.ok(
        result.lines.some((l) =>
          /ending through the cloud's API failed \(exit code 2\): no token for the identity \(HTTP 400; is it assigned to this VM\?\): Identity not found$/.test(
            l,
          ),
        ),
        result.stdout,
      );
      assert.ok(!azure.seen.some((s) => s.method === "POST"), "no deallocation without a token");
    } finally {
      azure.tokenStatus = 200;
    }
  });

  test("a role that may not deallocate: ARM's error is logged with its code, and the VM still powers off", async () => {
    azure.seen.length = 0;
    azure.deallocateStatus = 403;
    try {
      const result = await boot();
      assert.ok(
        result.lines.some((l) =>
          /ending through the cloud's API failed \(exit code 4\): Azure Resource Manager refused to deallocate \(HTTP 403\): AuthorizationFailed \(\/subscriptions\//.test(
            l,
          ),
        ),
        result.stdout,
      );
      assert.ok(!result.stdout.includes(azure.token));
    } finally {
      azure.deallocateStatus = 202;
    }
  });
});

describe("azure: without identity, the review and the job summary say what a powered-off VM costs", () => {
  test("the caveat carries the size's hourly list price, and both the review and the job summary show it", async () => {
    const { startSummary } = await import("../../../scripts/phases/job-summary.ts");
    const { describeStart } = await import("../../../scripts/phases/describe.ts");
    const { inputs } = prepare({});
    const usd = inputs.plan.hourlyPriceUsd();
    assert.ok(usd !== undefined && usd > 0, "t4 has a list price in the catalog");
    const caveat = inputs.plan.summary().caveats?.[0] ?? "";
    assert.ok(caveat.includes(`billed at the full price ($${usd.toFixed(2)} per hour per VM, list price of `), caveat);
    const review = describeStart(inputs, LABEL, inputs.plan, "cdk.tf.json");
    assert.ok(review.includes(`caveat`) && review.includes(caveat), review);
    const summary = startSummary({
      label: LABEL,
      runners: [{ name: `${LABEL}-0`, id: 1, machineId: "vm-0" }],
      machine: inputs.plan.summary(),
      gpusPerMachine: 1,
      gpuCheck: "1 per machine",
      maxLifetimeMinutes: 60,
      usdPerHour: usd,
      pricesAsOf: "2024",
    });
    assert.ok(summary.includes(`> [!WARNING]\n> ${caveat}`), summary);
    // With identity: no such warning anywhere.
    const withIdentity = prepare({ identity: IDENTITY }).inputs;
    assert.equal(withIdentity.plan.summary().caveats, undefined);
    assert.ok(
      !startSummary({
        label: LABEL,
        runners: [{ name: `${LABEL}-0`, id: 1, machineId: "vm-0" }],
        machine: withIdentity.plan.summary(),
        gpusPerMachine: 1,
        gpuCheck: "1 per machine",
        maxLifetimeMinutes: 60,
        usdPerHour: usd,
        pricesAsOf: "2024",
      }).includes("[!WARNING]"),
    );
  });
});
