// The Azure inputs: subscription, location, resource group, subnet, sizes, zones, image, disk, identity,
// auto-shutdown. Each error names the input, what was given and what is expected, before anything exists.
import { type AcceleratorRequest, machineTypesFor, readAccelerator, refuseGpuless } from "../accelerator.ts";
import type { CloudInputs } from "../cloud.ts";
import type { InputReader } from "../input-reader.ts";
import { lifetimeScheduleFits } from "./auto-shutdown.ts";
import {
  CATALOG,
  DEFAULT_IMAGE,
  DEFAULT_IMAGE_DISK_GB,
  describeImage,
  gpulessWhy,
  needsGridDriver,
  SIZE,
  supportsPremiumStorage,
} from "./catalog.ts";
import { ADMIN_USER, type AzureConfig, type AzureDiskType, type AzureImage, DISK_TYPES } from "./config.ts";

const SUBSCRIPTION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCATION = /^[a-z][a-z0-9]{2,31}$/;
/** Resource group names: up to 90 letters, digits, '_', '-', '.', '(' and ')', not ending in '.'. */
const RESOURCE_GROUP = /^[\w().-]{0,89}[\w()-]$/;
const SUBNET_ID =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Network\/virtualNetworks\/[A-Za-z0-9][\w.-]{0,62}[\w]\/subnets\/[A-Za-z0-9][\w.-]{0,78}[\w]?$/i;
const IDENTITY_ID =
  /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[A-Za-z0-9][\w-]{2,127}$/i;
const URN = /^([A-Za-z0-9][\w.-]*):([A-Za-z0-9][\w.-]*):([A-Za-z0-9][\w.-]*):(latest|\d+(\.\d+){2})$/;
const IMAGE_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Compute\/(images\/[\w.-]{1,80}|galleries\/[\w.]{1,80}\/images\/[\w.-]{1,80}(\/versions\/(latest|\d+(\.\d+){2}))?)$/i;
const ZONE = /^[1-3]$/;
/** Characters Azure refuses in tag names (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations). */
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

/** The sizes to try, in order: machine-type's list (each must carry the accelerator), or the accelerator's cheapest. */
function readSizes(read: InputReader, accelerator: AcceleratorRequest | undefined, spot: boolean): string[] {
  const sizes = read.list(
    "machine-type",
    SIZE,
    "Azure VM sizes such as Standard_NC4as_T4_v3, comma-separated in order of preference",
    { max: 5 },
  );
  const chosen = machineTypesFor(read, CATALOG, accelerator, sizes, {
    spot,
    cloud: "azure",
    example: "t4, a10, a100-80gb or h100, with an optional count (t4:4)",
    ignoreCase: true,
  });
  refuseGpuless(read, chosen, gpulessWhy);
  return chosen;
}

/** disk-size: at least the default image's OS disk when it boots that image (a custom image's size is not known). */
function readDiskSize(read: InputReader, image: AzureImage): number {
  const rule = { min: 30, max: 4095, fallback: 100, unit: "GB" };
  if (image !== DEFAULT_IMAGE) return read.integer("disk-size", rule);
  return read.integer("disk-size", {
    ...rule,
    dependency: {
      says: `at least ${DEFAULT_IMAGE_DISK_GB} with the default image`,
      holds: (gb) => gb >= DEFAULT_IMAGE_DISK_GB,
      why: "the size of Ubuntu-HPC 24.04's OS disk (Azure refuses an OS disk smaller than its image's)",
    },
  });
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
    read.fail(
      "disk-type",
      `a Standard disk type (StandardSSD_LRS, Standard_LRS, StandardSSD_ZRS): ${premiumless.join(", ")} cannot attach Premium storage`,
    );
  }
  return type;
}

function readSubscription(read: InputReader): string {
  const expected = "an Azure subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)";
  const fromEnv = read.env.ARM_SUBSCRIPTION_ID || read.env.AZURE_SUBSCRIPTION_ID || undefined;
  const subscription = read.matching(
    "subscription",
    SUBSCRIPTION,
    `${expected}; azure/login sets none in the environment, so give the one it logged in to`,
    fromEnv,
  );
  // The fallback comes from the environment unchecked.
  if (!SUBSCRIPTION.test(subscription))
    read.fail("subscription", `${expected}; ARM_SUBSCRIPTION_ID (or AZURE_SUBSCRIPTION_ID) is not one`);
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
    read.fail(
      "subnet-id",
      `a subnet of subscription ${subscription} (a VM's NIC joins only a virtual network of its own subscription)`,
    );
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
export const azureInputs: CloudInputs<AzureConfig> = {
  names: [
    "subscription",
    "location",
    "resource-group",
    "subnet-id",
    "zones",
    "identity",
    "auto-shutdown",
    "trusted-launch",
  ],
  example: {
    subscription: "00000000-0000-0000-0000-000000000000",
    location: "eastus",
    "resource-group": "gpu-runners",
    "subnet-id":
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/gpu-runners/providers/Microsoft.Network/virtualNetworks/gpu-runners/subnets/runners",
    accelerator: "t4",
  },
  parse(read: InputReader): AzureConfig {
    const subscription = readSubscription(read);
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "azure");
    const [size, ...fallbackSizes] = readSizes(read, accelerator, spot) as [string, ...string[]];
    const image = readImage(read, [size, ...fallbackSizes]);
    const [zone, ...fallbackZones] = read.list(
      "zones",
      ZONE,
      "availability zones of the location, 1, 2 or 3, comma-separated in order of preference",
      { max: 3 },
    );
    return {
      subscription,
      location: read.matching(
        "location",
        LOCATION,
        "an Azure region name such as eastus or westeurope (az account list-locations)",
      ),
      resourceGroup: read.matching(
        "resource-group",
        RESOURCE_GROUP,
        "the name of an existing resource group (letters, digits, '_', '-', '.', '(' and ')', at most 90)",
      ),
      subnetId: readSubnet(read, subscription),
      size,
      fallbackSizes,
      ...(accelerator ? { accelerator } : {}),
      image,
      diskSizeGb: readDiskSize(read, image),
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
  tags: {
    // Azure allows 50 tags per resource; the ownership tags are the action's. Azure reserves tag names starting with
    // microsoft, azure and windows (any case).
    max: 50,
    limitOf: "Azure",
    noun: "tags",
    setByStack: 0,
    reservedPrefixes: ["microsoft", "azure", "windows"],
    check: (tags) => {
      const keys = Object.keys(tags);
      if (keys.some((key) => TAG_NAME_FORBIDDEN.test(key)))
        return "tag names without < > % & \\ ? / (Azure refuses them)";
      if (new Set(keys.map((key) => key.toLowerCase())).size < keys.length)
        return "tag names that differ in more than case (Azure's tag names are case-insensitive)";
      return undefined;
    },
  },
  // The administrator the stack creates (the runner must be another user).
  imageAccounts: [ADMIN_USER],
};
