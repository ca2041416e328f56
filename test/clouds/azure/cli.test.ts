// The Azure cloud's CLI seam and capacity choices: the exact commands it issues to find, delete and read machines,
// and the order of the configurations it tries. (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { azureCloud as CLOUD } from "../../../stacks/azure/index.ts";
import type { AzureConfig } from "../../../stacks/azure/config.ts";
import type { CommandRunner } from "../../../stacks/cloud.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";

const AZURE_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
const AZURE_CONFIG: AzureConfig = {
  subscription: AZURE_SUBSCRIPTION,
  location: "westeurope",
  resourceGroup: "gpu-runners",
  subnetId: `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/ci/subnets/runners`,
  size: "Standard_NC24ads_A100_v4",
  fallbackSizes: ["Standard_NC40ads_H100_v5"],
  image: { kind: "marketplace", publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2404", version: "latest" },
  diskSizeGb: 100,
  diskType: "Premium_LRS",
  zone: "1",
  fallbackZones: ["2"],
  publicIp: false,
  spot: true,
  autoShutdown: true,
  trustedLaunch: true,
};
const azureVm = (name: string) =>
  `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/gpu-runners/providers/Microsoft.Compute/virtualMachines/${name}`;

describe("capacity alternatives", () => {
  it("azure: Spot over every size and zone first, then regular, the user's order kept", () => {
    const tried = CLOUD.plan(AZURE_CONFIG)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.spot ? "spot" : "regular"} ${c.size} ${c.zone}`);
    assert.deepEqual(tried, [
      "spot Standard_NC24ads_A100_v4 1",
      "spot Standard_NC24ads_A100_v4 2",
      "spot Standard_NC40ads_H100_v5 1",
      "spot Standard_NC40ads_H100_v5 2",
      "regular Standard_NC24ads_A100_v4 1",
      "regular Standard_NC24ads_A100_v4 2",
      "regular Standard_NC40ads_H100_v5 1",
      "regular Standard_NC40ads_H100_v5 2",
    ]);
  });

  it("azure: without zones, Azure places each candidate in the region", () => {
    const regional = { ...AZURE_CONFIG, spot: false, zone: undefined, fallbackZones: [] };
    const tried = CLOUD.plan(regional)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.size} ${c.zone}`);
    assert.deepEqual(tried, ["Standard_NC24ads_A100_v4 undefined", "Standard_NC40ads_H100_v5 undefined"]);
  });

  it("azure: only Azure's no-capacity answers move on", () => {
    const capacity = [
      "Code=\"SkuNotAvailable\" Message=\"The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_NC24ads_A100_v4' is currently not available in location 'westeurope' zones '1'",
      'Code="AllocationFailed" Message="Allocation failed. We do not have sufficient capacity for the requested VM size in this region."',
      'Code="ZonalAllocationFailed" Message="Allocation failed. We do not have sufficient capacity for the requested VM size in this zone."',
      'Code="OverconstrainedAllocationRequest" Message="Allocation failed. VM(s) with the following constraints cannot be allocated"',
      'Code="OperationNotAllowed" Message="Operation could not be completed as it results in exceeding approved LowPriorityCores quota."',
      'Code="OperationNotAllowed" Message="Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota."',
    ];
    const other = [
      'Code="AuthorizationFailed" Message="The client does not have authorization to perform action \'Microsoft.Compute/virtualMachines/write\'"',
      'Code="InvalidParameter" Message="The value of parameter imageReference.sku is invalid."',
      'Code="MissingSubscriptionRegistration" Message="The subscription is not registered to use namespace \'Microsoft.DevTestLab\'."',
    ];
    for (const message of capacity)
      assert.ok(
        CLOUD.terraform.capacityErrors.some((e) => e.test(message)),
        message,
      );
    for (const message of other) assert.ok(!CLOUD.terraform.capacityErrors.some((e) => e.test(message)), message);
  });
});

describe("boot console", () => {
  it("azure reads the VM's serial log from its boot diagnostics", async () => {
    const { run, calls } = recorder({
      "az vm boot-diagnostics": { stdout: "[   12.0] cloud-init[900]: gpu-runner: booting\n" },
    });
    assert.equal(
      await CLOUD.plan(AZURE_CONFIG).bootConsole({ name: "r-0", id: azureVm("r-0") }, run),
      "[   12.0] cloud-init[900]: gpu-runner: booting\n",
    );
    assert.deepEqual(calls, [`az vm boot-diagnostics get-boot-log --ids ${azureVm("r-0")}`]);
  });
});

describe("finding and deleting machines by their tags (stop without state, mode: sweep)", () => {
  /** A sweep by label, as stop does it without state: find, then delete what was found and the label's leftovers. */
  const sweep = async (env: Record<string, string>, run: CommandRunner) =>
    CLOUD.cli.deleteMachines(await CLOUD.cli.findMachines({ label: LABEL }, env, run), [LABEL], env, run);
  const azureListing = (...vms: { name: string; power?: string; tags?: Record<string, string> }[]) =>
    JSON.stringify(
      vms.map((vm) => ({
        id: azureVm(vm.name),
        name: vm.name,
        location: "westeurope",
        zones: ["1"],
        power: vm.power ?? "VM running",
        created: "2026-12-01T10:00:00.1234567+00:00",
        tags: {
          "gpu-runner-managed-by": "ephemeral-gpu-runner",
          "gpu-runner-label": LABEL,
          "gpu-runner-repository": "octo-org/md-sim",
          "gpu-runner-max-lifetime": "120",
          ...vm.tags,
        },
      })),
    );

  it("azure finds the label's VMs (stopped and deallocated ones too), deletes them, then what they left by tag, NICs first", async () => {
    const leftovers = JSON.stringify([
      {
        id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d0",
        type: "Microsoft.Compute/disks",
        name: `${LABEL}-0-osdisk`,
      },
      {
        id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n",
        type: "Microsoft.Network/networkSecurityGroups",
        name: `${LABEL}-no-inbound`,
      },
      {
        id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/i0",
        type: "Microsoft.Network/networkInterfaces",
        name: `${LABEL}-0-nic`,
      },
      {
        id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/publicIPAddresses/p0",
        type: "Microsoft.Network/publicIPAddresses",
        name: `${LABEL}-0-ip`,
      },
      {
        id: "/subscriptions/s/resourceGroups/g/providers/microsoft.devtestlab/schedules/shutdown-computevm-x",
        type: "microsoft.devtestlab/schedules",
        name: "shutdown-computevm-x",
      },
    ]);
    const { run, calls } = recorder({
      "az vm list": {
        stdout: azureListing(
          { name: `${LABEL}-0`, power: "VM deallocated" },
          { name: `${LABEL}-1`, power: "VM stopped" },
          { name: "gpu-1-1-ffffffff-0", tags: { "gpu-runner-label": "gpu-1-1-ffffffff" } },
        ),
      },
      "az resource list": { stdout: leftovers },
    });
    const env = { ARM_SUBSCRIPTION_ID: AZURE_SUBSCRIPTION };
    const found = await CLOUD.cli.findMachines({ label: LABEL }, env, run);
    assert.deepEqual(found, [
      {
        id: azureVm(`${LABEL}-0`),
        name: `${LABEL}-0`,
        label: LABEL,
        state: "stopped",
        launchedAt: new Date("2026-12-01T10:00:00.123Z"),
        maxLifetimeMinutes: 120,
        location: "westeurope zone 1",
      },
      {
        id: azureVm(`${LABEL}-1`),
        name: `${LABEL}-1`,
        label: LABEL,
        state: "stopped",
        launchedAt: new Date("2026-12-01T10:00:00.123Z"),
        maxLifetimeMinutes: 120,
        location: "westeurope zone 1",
      },
    ]);
    const deleted = await CLOUD.cli.deleteMachines(found, [LABEL], env, run);
    assert.deepEqual(deleted, [
      `virtual machine ${LABEL}-0`,
      `virtual machine ${LABEL}-1`,
      `network interface ${LABEL}-0-nic`,
      `public IP ${LABEL}-0-ip`,
      `network security group ${LABEL}-no-inbound`,
      `disk ${LABEL}-0-osdisk`,
      "auto-shutdown schedule shutdown-computevm-x",
    ]);
    assert.deepEqual(calls, [
      `az vm list --show-details --subscription ${AZURE_SUBSCRIPTION} --query [?tags."gpu-runner-managed-by"=='ephemeral-gpu-runner'].{id: id, name: name, location: location, zones: zones, power: powerState, created: timeCreated, tags: tags} --output json`,
      `az vm delete --ids ${azureVm(`${LABEL}-0`)} ${azureVm(`${LABEL}-1`)} --yes`,
      `az resource list --tag gpu-runner-label=${LABEL} --subscription ${AZURE_SUBSCRIPTION} --query [].{id: id, type: type, name: name} --output json`,
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/i0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/publicIPAddresses/p0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/microsoft.devtestlab/schedules/shutdown-computevm-x",
    ]);
  });

  it("azure finds a repository's VMs by its tag, running ones as running; the CLI's own subscription without ARM_SUBSCRIPTION_ID", async () => {
    const { run, calls } = recorder({
      "az vm list": {
        stdout: azureListing(
          { name: `${LABEL}-0` },
          { name: "other-0", tags: { "gpu-runner-repository": "octo-org/other" } },
        ),
      },
    });
    const found = await CLOUD.cli.findMachines({ repository: "octo-org/md-sim" }, {}, run);
    assert.deepEqual(
      found.map((m) => [m.name, m.state]),
      [[`${LABEL}-0`, "running"]],
    );
    assert.ok(!calls[0]?.includes("--subscription"), calls[0]);
  });

  it("azure with nothing tagged deletes nothing; a CLI that prints no JSON is an error", async () => {
    const { run, calls } = recorder({ "az vm list": { stdout: "[]" }, "az resource list": { stdout: "[]" } });
    assert.deepEqual(await sweep({}, run), []);
    assert.ok(!calls.some((c) => c.includes(" delete ")));
    await assert.rejects(
      CLOUD.cli.findMachines(
        { label: LABEL },
        {},
        recorder({ "az vm list": { stdout: "ERROR: Please run 'az login'" } }).run,
      ),
      /az vm list did not print JSON/,
    );
  });
});
