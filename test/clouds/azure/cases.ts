// The azure cloud's part of the shared tests: its contract (test/cloud-contract.test.ts), its words (test/layers.test.ts)
// and what it makes of each accelerator (test/accelerators.test.ts).
import assert from "node:assert/strict";
import { reviewVariable } from "../../../scripts/dev/review-env.ts";
import { type CloudCases, bootScriptLocal, type Json } from "../../kit/cloud-cases.ts";

/** The managed identity the Azure example deallocates its VMs with. */
const AZURE_IDENTITY =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/gpu-runners/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gpu-runner-deallocate";

export const cases: CloudCases = {
  contract: {
    // The example with an identity, as a careful user sets it: the VM then deallocates itself when it powers off.
    env: { [reviewVariable("identity")]: AZURE_IDENTITY },
    machines: (json) =>
      Object.entries((json.resource?.azurerm_linux_virtual_machine ?? {}) as Record<string, Json>).map(([key, vm]) => {
        const index = /^runner-(\d+)$/.exec(key)?.[1];
        const nic = json.resource?.azurerm_network_interface?.[`nic-${index}`];
        return {
          name: vm.name,
          resource: vm,
          bootScript: bootScriptLocal(json, vm.custom_data, "base64encode"),
          // The OS disk takes the VM's tags when ARM creates it with the VM (azurerm has no tags of its own for it).
          tagSets: {
            tags: vm.tags,
            "NIC tags": nic?.tags,
            "security group tags": json.resource?.azurerm_network_security_group?.["no-inbound"]?.tags,
          },
        };
      }),
    // Azure has no run-time limit for a VM: its auto-shutdown, a DevTest Labs schedule, deallocates the VM at a UTC
    // time of day. The one schedule that names this VM, at its first time after synthesis.
    cloudLifetimeSeconds(machine, json, synthesizedAt) {
      const [key] =
        Object.entries(json.resource.azurerm_linux_virtual_machine as Record<string, Json>).find(
          ([, vm]) => vm === machine.resource,
        ) ?? [];
      const schedules = Object.values(
        (json.resource?.azurerm_dev_test_global_vm_shutdown_schedule ?? {}) as Record<string, Json>,
      );
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
      assert.match(
        command,
        new RegExp(
          `^VM_ID='/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.Compute/virtualMachines/${machine.name}'$`,
          "m",
        ),
      );
      assert.match(command, /"\$ARM\$VM_ID\/deallocate\?api-version=\$API_VERSION"/);
      assert.deepEqual(machine.resource.identity, { type: "UserAssigned", identity_ids: [AZURE_IDENTITY] });
    },
    deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
    ownership: true,
  },
  // No production file outside stacks/azure/ names the cloud (its services, its CLI, its image names).
  words: /\b(azure|azurerm|microsoft|entra|devtestlab)\b/i,
  oidcLogin: "azure/login",
  accelerators: {
    defaultImage: () => "microsoft-dsvm:ubuntu-hpc:2404:latest",
    rows: [
      { accelerator: "t4", want: "Standard_NC4as_T4_v3" },
      { accelerator: "T4:1", want: "Standard_NC4as_T4_v3" },
      { accelerator: "t4:2", want: /t4 in a count that one azure machine carries, 1 or 4/ },
      { accelerator: "t4:4", want: "Standard_NC64as_T4_v3" },
      { accelerator: "t4:8", want: /1 or 4/ },
      { accelerator: "t4g", want: /a GPU that azure offers/ },
      { accelerator: "a10g", want: /a GPU that azure offers/ },
      { accelerator: "l4", want: /a GPU that azure offers/ },
      { accelerator: "l4:2", want: /a GPU that azure offers/ },
      { accelerator: "l4:8", want: /a GPU that azure offers/ },
      { accelerator: "l40s", want: /a GPU that azure offers/ },
      { accelerator: "v100:8", want: /a GPU that azure offers/ },
      { accelerator: "a100", want: /a100 in a count that one azure machine carries, 8/ },
      { accelerator: "a100:8", want: "Standard_ND96asr_v4" },
      { accelerator: "a100:16", want: /a100 in a count that one azure machine carries, 8/ },
      { accelerator: "a100-80gb:8", want: "Standard_ND96amsr_A100_v4" },
      { accelerator: "h100", want: "Standard_NC40ads_H100_v5" },
      { accelerator: "h100", want: "Standard_NC40ads_H100_v5 (spot)", inputs: { spot: "true" } },
      { accelerator: "h100:8", want: "Standard_ND96isr_H100_v5" },
      { accelerator: "h200:8", want: "Standard_ND96isr_H200_v5", unpriced: true },
    ],
    wrongValues: [
      { input: "disk-type", value: "pd-ssd", expected: /one of Premium_LRS, StandardSSD_LRS/ },
      {
        input: "image",
        value: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
        expected: /PUBLISHER:OFFER:SKU:VERSION/,
      },
      { input: "machine-type", value: "g4dn.xlarge", expected: /Azure VM sizes/ },
    ],
  },
};
