// Microsoft Azure: one azurerm_linux_virtual_machine per runner, with its NIC, in a resource group and subnet the
// user gives. Security and cost posture lives here: a network security group that denies all inbound traffic, a
// public IP only when asked, no password (an SSH key whose private half is never kept), no extension operations,
// Trusted Launch (vTPM) on the sizes Azure documents for it, the OS disk deleted with the VM, ownership tags on
// every resource. On Azure a power-off from inside the guest leaves the VM allocated and billed: with `identity`,
// the boot script deallocates its own VM through Azure Resource Manager before powering off, and (unless
// auto-shutdown is false) Azure's own auto-shutdown schedule deallocates it at max-lifetime from outside the VM.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { Fn, TerraformLocal } from "cdktf";
import { type AcceleratorRequest, type CatalogMachine, formatAccelerator, machineTypesFor, readAccelerator } from "./accelerator.ts";
import { shellQuote } from "./boot-script.ts";
import { type CommandRunner, defineCloud, type FoundMachine, jsonList, runChecked } from "./cloud.ts";
import type { Env, InputReader } from "./input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "./names.ts";
import { RunnerStack, type RunnerSlot } from "./runner-stack.ts";

/** Where the VM's image comes from. */
export type AzureImage =
  /** A Marketplace image, as `az vm create --image` spells it: PUBLISHER:OFFER:SKU:VERSION. */
  | { kind: "marketplace"; publisher: string; offer: string; sku: string; version: string }
  /** An image or Azure Compute Gallery image (version) by its resource id. */
  | { kind: "id"; id: string };

export type AzureDiskType = (typeof DISK_TYPES)[number];

export interface AzureConfig {
  subscription: string;
  location: string;
  resourceGroup: string;
  /** The resource id of an existing subnet, in `location` and `subscription`. */
  subnetId: string;
  /** A VM size such as Standard_NC4as_T4_v3. */
  size: string;
  /** The accelerator input: every size carries it. */
  accelerator?: AcceleratorRequest;
  image: AzureImage;
  diskSizeGb: number;
  diskType: AzureDiskType;
  /** An availability zone of the location ("1", "2", "3"); undefined: Azure places the VM (regional). */
  zone?: string;
  publicIp: boolean;
  spot: boolean;
  /**
   * The resource id of a user-assigned managed identity that may deallocate the runners' VMs: with it the boot script
   * ends its VM's compute billing itself (endCommand). Undefined: only the stop job, mode: sweep and auto-shutdown do.
   */
  identity?: string;
  /** Azure's daily auto-shutdown (a DevTest Labs schedule) set at max-lifetime: the cap outside the VM. */
  autoShutdown: boolean;
  /** Why there is no such schedule, when autoShutdown is false (the review and start say it). */
  noCapReason?: string;
  /** vTPM (Trusted Launch, Secure Boot off) on the sizes that support it. */
  trustedLaunch: boolean;
  /** Sizes and zones to try next when Azure has no capacity (the rest of the machine-type and zones lists). */
  fallbackSizes: string[];
  fallbackZones: string[];
  /** The network security group the stack made (set by configureProvider). */
  networkSecurityGroupId?: string;
}

/** The provider bindings, imported on first use (deep paths), so the action can prune the other clouds' packages. */
async function loadBindings() {
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
}
let azurerm: Awaited<ReturnType<typeof loadBindings>> | undefined;

function bindings(): NonNullable<typeof azurerm> {
  if (!azurerm) throw new Error("the azurerm provider bindings are not loaded: await azureCloud.load() first");
  return azurerm;
}

/** The administrator Azure requires on a Linux VM. Never the runner's user (imageAccounts). */
const ADMIN_USER = "azureuser";

export class AzureRunnerStack extends RunnerStack<AzureConfig> {
  protected override configureProvider(config: AzureConfig): AzureConfig {
    const { AzurermProvider, NetworkSecurityGroup, NetworkSecurityRule } = bindings();
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
    return { GR_END_COMMAND_B64: Buffer.from(endCommand(vmResourceId(config, runner.name), config.identity), "utf8").toString("base64") };
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: AzureConfig): string {
    const { LinuxVirtualMachine, NetworkInterface, NetworkInterfaceSecurityGroupAssociation, PublicIp } = bindings();
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
    const { DevTestGlobalVmShutdownSchedule } = bindings();
    new DevTestGlobalVmShutdownSchedule(this, `lifetime-${runner.index}`, {
      virtualMachineId: vmId,
      location: config.location,
      enabled: true,
      dailyRecurrenceTime: dailyTime(lifetimeCapTime(synthesizedAt, boot.maxLifetimeMinutes)),
      timezone: "UTC",
      notificationSettings: { enabled: false },
      tags: this.ownershipTags(),
    });
  }
}

/**
 * How long after synthesis the outside cap fires beyond max-lifetime: the boot script's timer counts from boot,
 * which comes after apply and the VM's start, and powers off (deallocating, with identity) cleanly; the schedule
 * bounds the bill when that timer was disarmed or never armed.
 */
export const LIFETIME_CAP_MARGIN_MINUTES = 10;

/** The instant the outside cap fires: synthesis + max-lifetime + margin, up to the next whole minute (HHmm). */
export function lifetimeCapTime(synthesizedAt: Date, maxLifetimeMinutes: number): Date {
  const at = synthesizedAt.getTime() + (maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES) * 60_000;
  return new Date(Math.ceil(at / 60_000) * 60_000);
}

/**
 * A daily schedule is a cap only while its first firing after creation is the one at max-lifetime: with the cap
 * more than 23 hours away (an hour left for apply and boot), it would fire the same time-of-day a day early.
 */
export function lifetimeScheduleFits(maxLifetimeMinutes: number): boolean {
  return maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES <= 23 * 60;
}

/** DevTest Labs' daily_recurrence_time: HHmm, read in the schedule's time zone (UTC). */
function dailyTime(time: Date): string {
  return time.toISOString().slice(11, 16).replace(":", "");
}

/** The VM's resource id, known before it exists: what its own deallocation names. */
export function vmResourceId(config: Pick<AzureConfig, "subscription" | "resourceGroup">, name: string): string {
  return `/subscriptions/${config.subscription}/resourceGroups/${config.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

/** The services the end command calls; a test points them at 127.0.0.1. */
export interface AzureEndpoints {
  /** The Instance Metadata Service, which hands the VM's managed identity a token. */
  imds: string;
  /** Azure Resource Manager. */
  arm: string;
}

export const AZURE_ENDPOINTS: AzureEndpoints = { imds: "http://169.254.169.254", arm: "https://management.azure.com" };

/** The audience of the token: Azure Resource Manager (whatever endpoint the request itself goes to). */
const ARM_RESOURCE = "https://management.azure.com/";
/** Microsoft.Compute's API version for the deallocate call. */
export const COMPUTE_API_VERSION = "2024-07-01";

/** The script that deallocates the VM, a real file so that shellcheck and auditors read it as it runs. */
const DEALLOCATE_PATH = new URL("./azure/deallocate.sh", import.meta.url);
let deallocateBody: string | undefined;

/**
 * The command the boot script runs as root right before its power-off (GR_END_COMMAND_B64; bounded to 120 s there):
 * stacks/azure/deallocate.sh with its values above it. Deallocation, not deletion: it ends the compute bill at once
 * and leaves the VM for Terraform to destroy as planned, while deleting the VM through ARM would leave its OS disk,
 * NIC and public IP anyway (azurerm sets no delete option on them; it deletes the disk itself on destroy), so the bill
 * would be the same and Terraform's state wrong. The identity's role needs one action (docs/azure.md), and a job that
 * takes its token can deallocate, never delete, a VM of the group.
 */
export function endCommand(vmId: string, identityId: string, endpoints: AzureEndpoints = AZURE_ENDPOINTS): string {
  deallocateBody ??= readFileSync(DEALLOCATE_PATH, "utf8");
  const values: Record<string, string> = {
    IMDS: endpoints.imds,
    ARM: endpoints.arm,
    ARM_RESOURCE,
    API_VERSION: COMPUTE_API_VERSION,
    VM_ID: vmId,
    IDENTITY_ID: identityId,
  };
  const header = Object.entries(values).map(([name, value]) => `${name}=${shellQuote(value)}`);
  return ["#!/bin/bash", ...header, deallocateBody.slice(deallocateBody.indexOf("\n") + 1)].join("\n");
}

/** An OpenSSH ssh-rsa public key whose private key is discarded at once: made once per process, never written. */
let sshKey: string | undefined;
function unusableSshKey(): string {
  if (sshKey) return sshKey;
  const { n, e } = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
  // RFC 4253: string "ssh-rsa", mpint e, mpint n; each a 4-byte length and its bytes (an mpint with its sign bit clear).
  const field = (bytes: Buffer) => Buffer.concat([u32(bytes.length), bytes]);
  const mpint = (b64url: string) => {
    const raw = Buffer.from(b64url, "base64url");
    return field((raw[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  sshKey = `ssh-rsa ${Buffer.concat([field(Buffer.from("ssh-rsa")), mpint(e!), mpint(n!)]).toString("base64")} gpu-runner-no-login`;
  return sshKey;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}

const PRICES_AS_OF = "2024";
/** ND H200 v5 had no pay-as-you-go list price in the table used: estimates say "unknown". */
const UNLISTED = Number.POSITIVE_INFINITY;

function size(machineType: string, gpu: string, gpus: number, usdPerHour: number): CatalogMachine {
  return { machineType, gpu, gpus, usdPerHour };
}

/**
 * The sizes the accelerator input chooses from, the GPUs each carries (the size series pages under
 * https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/: NCasT4_v3, NVadsA10 v5, NC A100 v4,
 * ND A100 v4, NDm A100 v4, NCads H100 v5, ND H100 v5, ND H200 v5), and their pay-as-you-go Linux list price in USD
 * per hour in eastus (Azure Retail Prices API, https://prices.azure.com/api/retail/prices). Only whole GPUs: the
 * smaller NVadsA10 v5 sizes carry a fraction of one. Retired series (NCv3 V100, NC K80) are left out.
 */
const CATALOG: readonly CatalogMachine[] = [
  // NVIDIA T4
  size("Standard_NC4as_T4_v3", "t4", 1, 0.526), size("Standard_NC8as_T4_v3", "t4", 1, 0.752), size("Standard_NC16as_T4_v3", "t4", 1, 1.204),
  size("Standard_NC64as_T4_v3", "t4", 4, 4.352),
  // NVIDIA A10 (GRID driver only: see needsGridDriver)
  size("Standard_NV36ads_A10_v5", "a10", 1, 3.2), size("Standard_NV36adms_A10_v5", "a10", 1, 4.52), size("Standard_NV72ads_A10_v5", "a10", 2, 6.52),
  // NVIDIA A100 80 GB (NC A100 v4, NDm A100 v4) and 40 GB (ND A100 v4)
  size("Standard_NC24ads_A100_v4", "a100-80gb", 1, 3.673), size("Standard_NC48ads_A100_v4", "a100-80gb", 2, 7.346),
  size("Standard_NC96ads_A100_v4", "a100-80gb", 4, 14.692), size("Standard_ND96amsr_A100_v4", "a100-80gb", 8, 32.77),
  size("Standard_ND96asr_v4", "a100", 8, 27.197),
  // NVIDIA H100 (NVL in NCads H100 v5, SXM in ND H100 v5) and H200
  size("Standard_NC40ads_H100_v5", "h100", 1, 6.98), size("Standard_NC80adis_H100_v5", "h100", 2, 13.96), size("Standard_ND96isr_H100_v5", "h100", 8, 98.32),
  size("Standard_ND96isr_H200_v5", "h200", 8, UNLISTED),
];

const BY_SIZE = new Map(CATALOG.map((m) => [m.machineType.toLowerCase(), m]));

function catalogEntry(machineType: string): CatalogMachine | undefined {
  return BY_SIZE.get(machineType.toLowerCase());
}

/**
 * Azure's size names: Standard_ FAMILY vCPUs [-constrained] FEATURES [_ACCELERATOR] [_VERSION], where the lower-case
 * features include s for premium storage (https://learn.microsoft.com/azure/virtual-machines/vm-naming-conventions).
 */
const SIZE = /^Standard_([A-Z]+)(\d+)(?:-\d+)?([a-z]*)(?:_[A-Za-z0-9]+)*$/;

function supportsPremiumStorage(machineType: string): boolean {
  return (SIZE.exec(machineType)?.[3] ?? "").includes("s");
}

/** N families carry GPUs (or FPGAs); the others carry none. */
function isAcceleratedFamily(machineType: string): boolean {
  return (SIZE.exec(machineType)?.[1] ?? "").startsWith("N");
}

/**
 * The GPU series Azure documents for Trusted Launch (https://learn.microsoft.com/azure/virtual-machines/trusted-launch,
 * "Virtual machines sizes": NCasT4_v3, NVadsA10 v5, NC_A100_v4; the ND series are not supported). Other sizes start
 * with the standard security type.
 */
const TRUSTED_LAUNCH_SIZES = [/^Standard_NC\d+as_T4_v3$/i, /^Standard_NV\d+adm?s_A10_v5$/i, /^Standard_NC\d+ads_A100_v4$/i];

function supportsTrustedLaunch(machineType: string): boolean {
  return TRUSTED_LAUNCH_SIZES.some((pattern) => pattern.test(machineType));
}

/** NVadsA10 v5 GPUs are virtual GPUs that need NVIDIA's GRID driver, which the default (HPC) image does not have. */
function needsGridDriver(machineType: string): boolean {
  return /^Standard_NV\d+adm?s_A10_v5$/i.test(machineType);
}

/**
 * The image when `image` is empty: Microsoft's Ubuntu-HPC 24.04 image (NVIDIA datacenter driver, CUDA, NCCL,
 * Docker with the NVIDIA container toolkit), its latest version at apply (https://github.com/Azure/azhpc-images).
 */
const DEFAULT_IMAGE = { kind: "marketplace", publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2404", version: "latest" } as const;

function describeImage(image: AzureImage): string {
  if (image.kind === "id") return image.id;
  const urn = `${image.publisher}:${image.offer}:${image.sku}:${image.version}`;
  return image === DEFAULT_IMAGE ? `${urn} (the default: Ubuntu-HPC 24.04 with the NVIDIA driver, its latest version at apply)` : urn;
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

const SUBSCRIPTION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCATION = /^[a-z][a-z0-9]{2,31}$/;
/** Resource group names: up to 90 letters, digits, '_', '-', '.', '(' and ')', not ending in '.'. */
const RESOURCE_GROUP = /^[\w().-]{0,89}[\w()-]$/;
const SUBNET_ID =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Network\/virtualNetworks\/[A-Za-z0-9][\w.-]{0,62}[\w]\/subnets\/[A-Za-z0-9][\w.-]{0,78}[\w]?$/i;
const IDENTITY_ID = /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[A-Za-z0-9][\w-]{2,127}$/i;
const URN = /^([A-Za-z0-9][\w.-]*):([A-Za-z0-9][\w.-]*):([A-Za-z0-9][\w.-]*):(latest|\d+(\.\d+){2})$/;
const IMAGE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Compute\/(images\/[\w.-]{1,80}|galleries\/[\w.]{1,80}\/images\/[\w.-]{1,80}(\/versions\/(latest|\d+(\.\d+){2}))?)$/i;
const ZONE = /^[1-3]$/;
const DISK_TYPES = ["Premium_LRS", "StandardSSD_LRS", "Standard_LRS", "Premium_ZRS", "StandardSSD_ZRS"] as const;
/** Azure allows 50 tags per resource; the ownership tags are the action's. */
const AZURE_MAX_TAGS = 50;
const ACTION_TAGS = Object.keys(OWNERSHIP_KEYS).length;
/** Characters Azure refuses in tag names (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations). */
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

const NO_SELF_END =
  "identity is not set: on Azure a VM that powers itself off (after its job, when idle, at max-lifetime) stays allocated and billed " +
  "at the full price; only the stop job, mode: sweep and the auto-shutdown schedule end that. Set identity to a managed identity " +
  "that may deallocate the runners' VMs (docs/azure.md).";
const NO_OUTSIDE_CAP = (why: string) =>
  `${why}: nothing outside the VM enforces max-lifetime on Azure; only the machine's own timer (which a job with sudo can disarm) ` +
  "and the stop job end it (docs/azure.md).";

/** The sizes to try, in order: machine-type's list (each must carry the accelerator), or the accelerator's cheapest. */
function readSizes(read: InputReader, accelerator: AcceleratorRequest | undefined, spot: boolean): string[] {
  const sizes = read.list("machine-type", SIZE, "Azure VM sizes such as Standard_NC4as_T4_v3, comma-separated in order of preference", { max: 5 });
  return machineTypesFor(read, CATALOG, accelerator, sizes, { spot, cloud: "azure", example: "t4, a10, a100-80gb or h100, with an optional count (t4:4)", ignoreCase: true });
}

function readImage(read: InputReader, sizes: string[]): AzureImage {
  const value = read.raw("image");
  if (value === "") {
    const grid = sizes.filter(needsGridDriver);
    if (grid.length > 0) {
      read.fail(
        "image",
        `an image with NVIDIA's GRID driver for ${grid.join(", ")} (NVadsA10 v5 GPUs are virtual GPUs that the default image's ` +
          "datacenter driver does not drive; docs/azure.md shows how to build one)",
      );
    }
    return DEFAULT_IMAGE;
  }
  const urn = URN.exec(value);
  if (urn) return { kind: "marketplace", publisher: urn[1]!, offer: urn[2]!, sku: urn[3]!, version: urn[4]! };
  if (IMAGE_ID.test(value)) return { kind: "id", id: value };
  read.fail(
    "image",
    "a Marketplace image as PUBLISHER:OFFER:SKU:VERSION such as microsoft-dsvm:ubuntu-hpc:2404:latest, or the resource id of an " +
      "image or Azure Compute Gallery image (/subscriptions/.../providers/Microsoft.Compute/galleries/G/images/I[/versions/V]); " +
      `or nothing for the default, ${describeImage(DEFAULT_IMAGE)}`,
  );
}

/** The OS disk's storage: Premium SSD where every candidate size can take it, else Standard SSD. */
function readDiskType(read: InputReader, sizes: string[]): AzureDiskType {
  const premiumless = sizes.filter((s) => !supportsPremiumStorage(s));
  const type = read.oneOf("disk-type", DISK_TYPES, premiumless.length > 0 ? "StandardSSD_LRS" : "Premium_LRS");
  if (type.startsWith("Premium") && premiumless.length > 0) {
    read.fail("disk-type", `a Standard disk type (StandardSSD_LRS, Standard_LRS, StandardSSD_ZRS): ${premiumless.join(", ")} cannot attach Premium storage`);
  }
  return type;
}

/** Azure's tag rules beyond the action's own: 50 per resource, names without < > % & \ ? /, names case-insensitive. */
function checkTagsFit(read: InputReader): void {
  const tags = read.stringMap("tags", "a JSON object of string tags");
  const keys = Object.keys(tags);
  const max = AZURE_MAX_TAGS - ACTION_TAGS;
  if (keys.length > max) read.fail("tags", `at most ${max} tags with cloud azure (Azure allows ${AZURE_MAX_TAGS} per resource, ${ACTION_TAGS} are the action's)`);
  if (keys.some((key) => TAG_NAME_FORBIDDEN.test(key))) read.fail("tags", "tag names without < > % & \\ ? / (Azure refuses them)");
  if (new Set(keys.map((key) => key.toLowerCase())).size < keys.length) read.fail("tags", "tag names that differ in more than case (Azure's tag names are case-insensitive)");
}

function readSubscription(read: InputReader): string {
  const expected = "an Azure subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)";
  const fromEnv = read.env.ARM_SUBSCRIPTION_ID || read.env.AZURE_SUBSCRIPTION_ID || undefined;
  const subscription = read.matching("subscription", SUBSCRIPTION, `${expected}; azure/login sets none in the environment, so give the one it logged in to`, fromEnv);
  // The fallback comes from the environment unchecked.
  if (!SUBSCRIPTION.test(subscription)) read.fail("subscription", `${expected}; ARM_SUBSCRIPTION_ID (or AZURE_SUBSCRIPTION_ID) is not one`);
  return subscription.toLowerCase();
}

function readSubnet(read: InputReader, subscription: string): string {
  const subnetId = read.matching(
    "subnet-id",
    SUBNET_ID,
    "the resource id of an existing subnet, /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET",
  );
  const subnetSubscription = SUBNET_ID.exec(subnetId)![1]!.toLowerCase();
  if (subnetSubscription !== subscription) {
    read.fail("subnet-id", `a subnet of subscription ${subscription} (a VM's NIC joins only a virtual network of its own subscription)`);
  }
  return subnetId;
}

/**
 * auto-shutdown (default true), unless max-lifetime reaches past what a daily schedule can cap. max-lifetime itself
 * is the action's input, checked (and defaulted) before the cloud's inputs are read.
 */
function readAutoShutdown(read: InputReader): Pick<AzureConfig, "autoShutdown" | "noCapReason"> {
  if (!read.boolean("auto-shutdown", true)) return { autoShutdown: false, noCapReason: "auto-shutdown is false" };
  const lifetime = read.isSet("max-lifetime") ? Number(read.raw("max-lifetime")) : undefined;
  if (lifetime !== undefined && !lifetimeScheduleFits(lifetime)) {
    return {
      autoShutdown: false,
      noCapReason: `max-lifetime is ${lifetime} minutes: Azure's auto-shutdown fires at a time of day, which past 23 hours would come before max-lifetime, so none is set`,
    };
  }
  return { autoShutdown: true };
}

function subscriptionArgs(env: Env): string[] {
  const subscription = env.ARM_SUBSCRIPTION_ID || env.AZURE_SUBSCRIPTION_ID;
  return subscription ? ["--subscription", subscription] : [];
}

const VM_ID = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Compute\/virtualMachines\/[\w.-]{1,64}$/i;

/** `az vm list --show-details`, projected: power states "VM running", "VM stopped", "VM deallocated"... */
function parseVms(json: string): (FoundMachine & { tags: Record<string, string> })[] {
  const listed = jsonList(json, "az vm list");
  const machines: (FoundMachine & { tags: Record<string, string> })[] = [];
  for (const item of listed as { id?: unknown; name?: unknown; location?: unknown; zones?: unknown; power?: unknown; created?: unknown; tags?: Record<string, string> | null }[]) {
    if (typeof item.id !== "string" || !VM_ID.test(item.id) || typeof item.name !== "string") continue;
    const tags = item.tags ?? {};
    const lifetime = Number(tags[OWNERSHIP_KEYS.maxLifetime]);
    const zone = Array.isArray(item.zones) && typeof item.zones[0] === "string" ? ` zone ${item.zones[0]}` : "";
    machines.push({
      id: item.id,
      name: item.name,
      label: tags[OWNERSHIP_KEYS.label] ?? "",
      // Stopped (still allocated and billed) and deallocated (its disk billed) alike: done, to be deleted.
      state: typeof item.power === "string" && /\b(stopp(ed|ing)|deallocat(ed|ing))\b/i.test(item.power) ? "stopped" : "running",
      launchedAt: typeof item.created === "string" ? new Date(item.created) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: `${typeof item.location === "string" ? item.location : "?"}${zone}`,
      tags,
    });
  }
  return machines;
}

/** The resource types a start makes beside its VMs, in the order they can be deleted (a NIC holds its IP and group). */
const LEFTOVER_ORDER: readonly [type: string, what: string][] = [
  ["Microsoft.Network/networkInterfaces", "network interface"],
  ["Microsoft.Network/publicIPAddresses", "public IP"],
  ["Microsoft.Network/networkSecurityGroups", "network security group"],
  ["Microsoft.Compute/disks", "disk"],
  ["Microsoft.DevTestLab/schedules", "auto-shutdown schedule"],
];

/** What a start of `label` made beside its VMs, found by the label tag: NICs, public IPs, its group, OS disks, schedules. */
async function deleteLeftovers(label: string, env: Env, run: CommandRunner): Promise<string[]> {
  const listed = await runChecked(run, "az", [
    "resource", "list", "--tag", `${OWNERSHIP_KEYS.label}=${label}`, ...subscriptionArgs(env), "--query", "[].{id: id, type: type, name: name}", "--output", "json",
  ]);
  const resources = jsonList(listed, "az resource list") as { id?: unknown; type?: unknown; name?: unknown }[];
  const deleted: string[] = [];
  for (const [type, what] of LEFTOVER_ORDER) {
    const found = resources.filter((r) => typeof r.id === "string" && typeof r.type === "string" && r.type.toLowerCase() === type.toLowerCase());
    if (found.length === 0) continue;
    await runChecked(run, "az", ["resource", "delete", "--ids", ...found.map((r) => String(r.id))]);
    deleted.push(...found.map((r) => `${what} ${String(r.name ?? r.id)}`));
  }
  return deleted;
}

export const azureCloud = defineCloud<AzureConfig>({
  name: "azure",
  inputs: ["subscription", "location", "resource-group", "subnet-id", "zones", "identity", "auto-shutdown", "trusted-launch"],
  parse(read: InputReader): AzureConfig {
    checkTagsFit(read);
    const subscription = readSubscription(read);
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "azure");
    const [size, ...fallbackSizes] = readSizes(read, accelerator, spot) as [string, ...string[]];
    const [zone, ...fallbackZones] = read.list("zones", ZONE, "availability zones of the location, 1, 2 or 3, comma-separated in order of preference", { max: 3 });
    return {
      subscription,
      location: read.matching("location", LOCATION, "an Azure region name such as eastus or westeurope (az account list-locations)"),
      resourceGroup: read.matching("resource-group", RESOURCE_GROUP, "the name of an existing resource group (letters, digits, '_', '-', '.', '(' and ')', at most 90)"),
      subnetId: readSubnet(read, subscription),
      size,
      fallbackSizes,
      ...(accelerator ? { accelerator } : {}),
      image: readImage(read, [size, ...fallbackSizes]),
      diskSizeGb: read.integer("disk-size", { min: 30, max: 4095, fallback: 100 }),
      diskType: readDiskType(read, [size, ...fallbackSizes]),
      zone,
      fallbackZones,
      publicIp: read.boolean("public-ip", false),
      spot,
      identity:
        read.matching(
          "identity",
          IDENTITY_ID,
          "the resource id of a user-assigned managed identity, /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME (docs/azure.md)",
          "",
        ) || undefined,
      ...readAutoShutdown(read),
      trustedLaunch: read.boolean("trusted-launch", true),
    };
  },
  load: async () => {
    azurerm ??= await loadBindings();
  },
  providerPackages: ["@cdktf/provider-azurerm"],
  createStack: (scope, id, shared, config) => new AzureRunnerStack(scope, id, shared, config),
  gpus(config) {
    const known = config.accelerator?.count ?? catalogEntry(config.size)?.gpus ?? (isAcceleratedFamily(config.size) ? undefined : 0);
    return {
      count: known,
      source: config.accelerator
        ? `accelerator ${formatAccelerator(config.accelerator)}`
        : known === undefined
          ? `${config.size} is not in the action's catalog`
          : isAcceleratedFamily(config.size)
            ? `the action's catalog of ${config.size}`
            : `${config.size} carries no GPU`,
    };
  },
  summary(config) {
    const caveats: string[] = [];
    if (!config.identity) caveats.push(NO_SELF_END);
    if (!config.autoShutdown) caveats.push(NO_OUTSIDE_CAP(config.noCapReason ?? "auto-shutdown is false"));
    return {
      machineType: `${config.size}${config.spot ? " (spot)" : ""}`,
      location: [config.location, config.zone ? `zone ${config.zone}` : undefined, config.resourceGroup].filter(Boolean).join(", "),
      image: describeImage(config.image),
      spot: config.spot,
      caveats: caveats.length > 0 ? caveats : undefined,
    };
  },
  // Spot prices move; the pay-as-you-go price is what a Spot VM (max price -1) costs at most.
  hourlyPriceUsd: (config) => {
    const price = catalogEntry(config.size)?.usdPerHour;
    return price !== undefined && Number.isFinite(price) ? price : undefined;
  },
  pricesAsOf: PRICES_AS_OF,
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that azure/login ran in this job (OIDC, a federated credential of the app) and the app's role on the resource group is the one in " +
    "docs/azure.md (with join rights on the subnet and, with identity, assign rights on the identity), that subscription names the " +
    "subscription it logged in to, that the Microsoft.Compute, Microsoft.Network and Microsoft.DevTestLab resource providers are " +
    "registered (the action registers none), and that the subscription's quota for this VM family in the location is not exhausted.",
  // Azure reserves tag names starting with microsoft, azure and windows (any case).
  reservedTagPrefixes: ["microsoft", "azure", "windows"],
  // The administrator the stack creates (the runner must be another user).
  imageAccounts: [ADMIN_USER],
  example: {
    subscription: "00000000-0000-0000-0000-000000000000",
    location: "eastus",
    "resource-group": "gpu-runners",
    "subnet-id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/gpu-runners/providers/Microsoft.Network/virtualNetworks/gpu-runners/subnets/runners",
    accelerator: "t4",
  },
  // Custom data is sent base64-encoded; Azure limits the decoded bytes to 65,535 (OSProfile.customData).
  userDataLimitBytes: 65_535,
  userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
  // The azurerm provider reads ARM_*; the az CLI (logged in by azure/login, its tokens under HOME) reads AZURE_*.
  environment: [/^(ARM|AZURE)_[A-Z0-9_]+$/],
  async bootConsole(_config, machine, run) {
    return runChecked(run, "az", ["vm", "boot-diagnostics", "get-boot-log", "--ids", machine.id]);
  },
  async findMachines(filter, env, run) {
    const found = await runChecked(run, "az", [
      "vm", "list", "--show-details", ...subscriptionArgs(env),
      "--query", `[?tags."${OWNERSHIP_KEYS.managedBy}"=='${MANAGED_BY_VALUE}'].{id: id, name: name, location: location, zones: zones, power: powerState, created: timeCreated, tags: tags}`,
      "--output", "json",
    ]);
    const [key, value] = "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
    return parseVms(found)
      .filter((machine) => machine.tags[key] === value)
      .map(({ tags: _tags, ...machine }) => machine);
  },
  async deleteMachines(machines, labels, env, run) {
    const ids = machines.map((m) => m.id).filter((id) => VM_ID.test(id));
    const deleted: string[] = [];
    if (ids.length > 0) {
      // Waits until they are gone: their NICs and disks can only go after them.
      await runChecked(run, "az", ["vm", "delete", "--ids", ...ids, "--yes"]);
      deleted.push(...machines.filter((m) => ids.includes(m.id)).map((m) => `virtual machine ${m.name}`));
    }
    for (const label of labels) deleted.push(...(await deleteLeftovers(label, env, run)));
    return deleted;
  },
  alternatives(config) {
    const sizes = [config.size, ...config.fallbackSizes];
    const zones = config.zone ? [config.zone, ...config.fallbackZones] : [undefined];
    const candidates: AzureConfig[] = [];
    // Spot everywhere first (the user asked for the cheaper capacity), then regular as the fallback.
    for (const spot of config.spot ? [true, false] : [false]) {
      for (const size of sizes) {
        for (const zone of zones) candidates.push({ ...config, size, zone, spot, fallbackSizes: [], fallbackZones: [] });
      }
    }
    return candidates;
  },
});
