// The Azure cloud's capacity choices, and what the real az cannot show. Every command the action issues through az
// (find, delete, boot console) is tested through the real az against an Azure Resource Manager stand-in, in
// cli-real.test.ts; each case left here says why a real az cannot run it.
// (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { azureCloud as CLOUD } from "../../../stacks/azure/index.ts";
import type { AzureConfig } from "../../../stacks/azure/config.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";
const REPO_ID = "612345678";

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
  // Kept recorded: the stand-in serves managed boot diagnostics only (as the stack enables them); with a storage
  // account, az writes the blob to stdout as it is, not as JSON, which only a recorded answer gives here.
  it("azure reads the VM's serial log from its boot diagnostics", async () => {
    const { run, calls } = recorder({
      "az vm boot-diagnostics": { stdout: "[   12.0] cloud-init[900]: gpu-runner: booting\n" },
    });
    assert.equal(
      await CLOUD.plan(AZURE_CONFIG).bootConsole({ name: "r-0", id: azureVm("r-0") }, run),
      "[   12.0] cloud-init[900]: gpu-runner: booting\n",
    );
    assert.deepEqual(calls, [`az vm boot-diagnostics get-boot-log --ids ${azureVm("r-0")} --output json`]);
  });
});

describe("finding and deleting machines by their tags (stop without state, mode: sweep)", () => {
  const START = { repositoryId: REPO_ID, label: LABEL };
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
          "gpu-runner-repository-id": REPO_ID,
          "gpu-runner-max-lifetime": "120",
          ...vm.tags,
        },
      })),
    );

  // Kept recorded: the az here signs in with the 2020-09-01-hybrid profile (compute 2020-06-01, see
  // test/kit/cloud-apis/azure.ts), whose VirtualMachine has no timeCreated, so the real az drops it from its output.
  it("azure reads a VM's launch time from its timeCreated", async () => {
    const { run } = recorder({ "az vm list": { stdout: azureListing({ name: `${LABEL}-0` }) } });
    const found = await CLOUD.cli.findMachines(START, { ARM_SUBSCRIPTION_ID: AZURE_SUBSCRIPTION }, run);
    assert.deepEqual(
      found.map((m) => m.launchedAt?.toISOString()),
      ["2026-12-01T10:00:00.123Z"],
    );
  });

  // A plain unit test: refused before any command runs (the recorder only shows that nothing ran).
  it("azure never deletes by an empty label or without a repository id", async () => {
    const { run, calls } = recorder({ "az resource list": { stdout: "[]" } });
    for (const start of [
      { repositoryId: REPO_ID, label: "" },
      { repositoryId: "", label: LABEL },
    ]) {
      await assert.rejects(CLOUD.cli.deleteMachines([], [start], {}, run), /is not a/);
      await assert.rejects(CLOUD.cli.findMachines(start, {}, run), /is not a/);
    }
    assert.deepEqual(calls, []);
  });

  // Kept recorded: with --output json the real az prints JSON or fails; only a recorded answer prints anything else.
  it("a CLI that prints no JSON is an error", async () => {
    await assert.rejects(
      CLOUD.cli.findMachines(START, {}, recorder({ "az vm list": { stdout: "ERROR: Please run 'az login'" } }).run),
      /az vm list did not print JSON/,
    );
  });
});
