// The Azure stack: one azurerm_linux_virtual_machine per runner, with its NIC, in a resource group and subnet the
// user gives. Security and cost posture lives here: a network security group that denies all inbound traffic, a
// public IP only when asked, no password (an SSH key whose private half is never kept), no extension operations,
// Trusted Launch (vTPM) on the sizes Azure documents for it, the OS disk deleted with the VM, ownership tags on
// every resource. On Azure a power-off from inside the guest leaves the VM allocated and billed: with `identity`,
// the boot script deallocates its own VM through Azure Resource Manager before powering off, and (unless
// auto-shutdown is false) Azure's own auto-shutdown schedule deallocates it at max-lifetime from outside the VM.
import { Fn, TerraformLocal } from "cdktf";
import type { CloudTerraform } from "../cloud.ts";
import { lifetimeCapTime } from "../lifetime-cap.ts";
import { lazyBindings } from "../provider-bindings.ts";
import { RunnerStack, type RunnerSlot } from "../runner-stack.ts";
import { dailyTime, lifetimeScheduleFits } from "./auto-shutdown.ts";
import { supportsTrustedLaunch } from "./catalog.ts";
import { ADMIN_USER, type AzureConfig } from "./config.ts";
import { endCommand, vmResourceId } from "./end-command.ts";
import { unusableSshKey } from "./ssh-key.ts";

/** The provider bindings, imported on first use (deep paths), so the action can prune the other clouds' packages. */
const bindings = lazyBindings("azurerm", async () => {
  const [provider, vm, nic, nicNsg, nsg, rule, publicIp, schedule] = await Promise.all([
    import("@cdktf/provider-azurerm/lib/provider/index.js"),
    import("@cdktf/provider-azurerm/lib/linux-virtual-machine/index.js"),
    import("@cdktf/provider-azurerm/lib/network-interface/index.js"),
    import("@cdktf/provider-azurerm/lib/network-interface-security-group-association/index.js"),
    import("@cdktf/provider-azurerm/lib/network-security-group/index.js"),
    import("@cdktf/provider-azurerm/lib/network-security-rule/index.js"),
    import("@cdktf/provider-azurerm/lib/public-ip/index.js"),
    import("@cdktf/provider-azurerm/lib/dev-test-global-vm-shutdown-schedule/index.js"),
  ]);
  return {
    AzurermProvider: provider.AzurermProvider,
    LinuxVirtualMachine: vm.LinuxVirtualMachine,
    NetworkInterface: nic.NetworkInterface,
    NetworkInterfaceSecurityGroupAssociation: nicNsg.NetworkInterfaceSecurityGroupAssociation,
    NetworkSecurityGroup: nsg.NetworkSecurityGroup,
    NetworkSecurityRule: rule.NetworkSecurityRule,
    PublicIp: publicIp.PublicIp,
    DevTestGlobalVmShutdownSchedule: schedule.DevTestGlobalVmShutdownSchedule,
  };
});

export class AzureRunnerStack extends RunnerStack<AzureConfig> {
  protected override configureProvider(config: AzureConfig): AzureConfig {
    const { AzurermProvider, NetworkSecurityGroup, NetworkSecurityRule } = bindings.get();
    new AzurermProvider(this, "azurerm", {
      subscriptionId: config.subscription,
      // Register no resource provider: the workflow's role then needs no subscription-wide registration right
      // (docs/azure.md lists the providers to register once).
      resourceProviderRegistrations: "none",
      features: [
        {
          virtualMachine: [
            {
              // The OS disk goes with the VM on destroy (azurerm deletes it after the VM; also its default).
              deleteOsDiskOnDeletion: true,
            },
          ],
        },
      ],
    });
    // One group for the start's NICs. Azure's default rules allow inbound traffic from the whole virtual network
    // (and peered ones); this rule denies every inbound connection before them. Outbound stays open: the runner
    // dials out to GitHub. Responses to its own connections are allowed (the rules are stateful).
    const group = new NetworkSecurityGroup(this, "no-inbound", {
      name: `${this.shared.label}-no-inbound`,
      location: config.location,
      resourceGroupName: config.resourceGroup,
      tags: this.ownershipTags(),
    });
    new NetworkSecurityRule(this, "deny-all-inbound", {
      name: "deny-all-inbound",
      description: "Ephemeral GPU runner: no inbound connection of any kind",
      resourceGroupName: config.resourceGroup,
      networkSecurityGroupName: group.name,
      priority: 4096,
      direction: "Inbound",
      access: "Deny",
      protocol: "*",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "*",
    });
    return { ...config, networkSecurityGroupId: group.id };
  }

  /** The command the boot script runs right before its power-off: this VM deallocates itself (with `identity`). */
  protected override bootOverrides(config: AzureConfig, runner: RunnerSlot): Record<string, string> {
    if (!config.identity) return {};
    return {
      GR_END_COMMAND_B64: Buffer.from(endCommand(vmResourceId(config, runner.name), config.identity), "utf8").toString(
        "base64",
      ),
    };
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: AzureConfig): string {
    const { LinuxVirtualMachine, NetworkInterface, NetworkInterfaceSecurityGroupAssociation, PublicIp } =
      bindings.get();
    const tags = this.ownershipTags();
    const publicIp = config.publicIp
      ? new PublicIp(this, `public-ip-${runner.index}`, {
          name: `${runner.name}-ip`,
          location: config.location,
          resourceGroupName: config.resourceGroup,
          // Standard SKU (Basic is retired), which is static; in the VM's zone when it has one.
          sku: "Standard",
          allocationMethod: "Static",
          zones: config.zone ? [config.zone] : undefined,
          tags,
        })
      : undefined;
    const nic = new NetworkInterface(this, `nic-${runner.index}`, {
      name: `${runner.name}-nic`,
      location: config.location,
      resourceGroupName: config.resourceGroup,
      ipConfiguration: [
        {
          name: "primary",
          subnetId: config.subnetId,
          privateIpAddressAllocation: "Dynamic",
          publicIpAddressId: publicIp?.id,
        },
      ],
      tags,
    });
    new NetworkInterfaceSecurityGroupAssociation(this, `no-inbound-${runner.index}`, {
      networkInterfaceId: nic.id,
      networkSecurityGroupId: config.networkSecurityGroupId!,
    });
    const trustedLaunch = config.trustedLaunch && supportsTrustedLaunch(config.size);
    const vm = new LinuxVirtualMachine(this, `runner-${runner.index}`, {
      name: runner.name,
      location: config.location,
      resourceGroupName: config.resourceGroup,
      size: config.size,
      zone: config.zone,
      networkInterfaceIds: [nic.id],
      // Azure requires an administrator with a password or an SSH key. No password exists: a key whose private half
      // was discarded as it was made (a public key is no secret), so nobody can log in as it; and no inbound
      // connection reaches the VM anyway.
      adminUsername: ADMIN_USER,
      disablePasswordAuthentication: true,
      adminSshKey: [{ username: ADMIN_USER, publicKey: unusableSshKey() }],
      sourceImageReference: config.image.kind === "marketplace" ? { ...config.image } : undefined,
      sourceImageId: config.image.kind === "id" ? config.image.id : undefined,
      osDisk: {
        name: `${runner.name}-osdisk`,
        caching: "ReadWrite",
        storageAccountType: config.diskType,
        diskSizeGb: config.diskSizeGb,
      },
      // Spot with eviction policy Delete: an evicted CI machine is removed, never parked deallocated; -1: no price cap
      // (evicted for capacity only), so its price is at most the on-demand one.
      priority: config.spot ? "Spot" : "Regular",
      evictionPolicy: config.spot ? "Delete" : undefined,
      maxBidPrice: config.spot ? -1 : undefined,
      // The boot script as custom data (cloud-init runs it). A local keeps the JSON readable and unescaped twice.
      // IMDS does not serve custom data, but the machine keeps it on disk, base64-encoded, in the Linux guest agent's
      // directory: ovf-env.xml (which cloud-init's Azure datasource writes there) and, where the agent provisions,
      // CustomData. The boot script's scrub searches that directory (GR_AGENT_DIR, /var/lib/waagent by default) beside
      // cloud-init's and removes them before the runner starts; what that costs: docs/azure.md, section 11.
      customData: Fn.base64encode(new TerraformLocal(this, `boot_script_${runner.index}`, userData).asString),
      // Boot diagnostics in a storage account Azure manages: the serial log start reads when a runner stays offline.
      bootDiagnostics: {},
      // No VM extension (Run Command, Custom Script...) can be pushed onto a machine that runs the repository's jobs.
      allowExtensionOperations: false,
      // Trusted Launch where the size supports it: vTPM measures the boot. Secure Boot off: the NVIDIA kernel
      // modules of GPU images are not signed with a key the firmware trusts, so the driver would not load.
      vtpmEnabled: trustedLaunch ? true : undefined,
      secureBootEnabled: trustedLaunch ? false : undefined,
      identity: config.identity ? { type: "UserAssigned", identityIds: [config.identity] } : undefined,
      // The OS disk, created with the VM, takes the VM's tags at creation (ARM copies them; azurerm has no disk tags).
      tags,
    });
    if (config.autoShutdown) this.lifetimeSchedule(runner, vm.id, config);
    return vm.id;
  }

  /**
   * The cap outside the VM's reach. Azure has no maximum run duration for a VM; what it has is auto-shutdown, a
   * DevTest Labs schedule that deallocates the VM every day at a time of day. Set to max-lifetime after synthesis
   * (plus a margin, so the machine's own timer acts first), its first firing is the cap. It would fire before that
   * were the cap more than a day away: then no schedule is made, and the review and start say so (readAutoShutdown).
   */
  private lifetimeSchedule(runner: RunnerSlot, vmId: string, config: AzureConfig): void {
    const { boot, synthesizedAt } = this.shared;
    if (!lifetimeScheduleFits(boot.maxLifetimeMinutes)) return;
    const { DevTestGlobalVmShutdownSchedule } = bindings.get();
    new DevTestGlobalVmShutdownSchedule(this, `lifetime-${runner.index}`, {
      virtualMachineId: vmId,
      location: config.location,
      enabled: true,
      dailyRecurrenceTime: dailyTime(lifetimeCapTime(synthesizedAt, boot.maxLifetimeMinutes, "minute")),
      timezone: "UTC",
      notificationSettings: { enabled: false },
      tags: this.ownershipTags(),
    });
  }
}

/** Azure's answers that mean "no capacity (or quota) for this size here, now": another size, zone or Spot may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /\bSkuNotAvailable\b/,
  /\b(Zonal)?AllocationFailed\b/,
  /\bOverconstrained(Zonal)?AllocationRequest\b/,
  /\bAzureSpotIsNotSupportedForThisVMSize\b/,
  // "Operation could not be completed as it results in exceeding approved standardNCASv3_T4Family Cores quota" (or
  // LowPriorityCores for Spot): another size family, or on-demand after Spot, draws on another quota.
  /exceeding approved [\w ]*Cores quota/i,
];

export const azureTerraform: CloudTerraform<AzureConfig> = {
  load: bindings.load,
  providerPackages: ["@cdktf/provider-azurerm"],
  createStack: (scope, id, shared, config) => new AzureRunnerStack(scope, id, shared, config),
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that azure/login ran in this job (OIDC, a federated credential of the app) and the app's role on the resource group is the one in " +
    "docs/azure.md (with join rights on the subnet and, with identity, assign rights on the identity), that subscription names the " +
    "subscription it logged in to, that the Microsoft.Compute, Microsoft.Network and Microsoft.DevTestLab resource providers are " +
    "registered (the action registers none), and that the subscription's quota for this VM family in the location is not exhausted.",
  // Custom data is sent base64-encoded; Azure limits the decoded bytes to 65,535 (OSProfile.customData).
  userDataLimitBytes: 65_535,
  userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
};
