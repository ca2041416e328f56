// The Azure size catalog: which VM sizes carry which GPU, how many, at what price, what each size supports (premium
// storage, Trusted Launch, the GRID driver), the default image, and the alternatives to try when Azure has no
// capacity. A price update is a diff of this file alone.
import { type CatalogMachine, formatAccelerator } from "../accelerator.ts";
import type { CapacityChoices } from "../capacity.ts";
import type { CloudCatalog } from "../cloud.ts";
import type { AzureConfig, AzureImage } from "./config.ts";

// When the figures below were taken: the Retail Prices API's eastus pay-as-you-go Linux prices of 2024, not re-read
// since (no month was recorded with them).
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
export const CATALOG: readonly CatalogMachine[] = [
  // NVIDIA T4
  size("Standard_NC4as_T4_v3", "t4", 1, 0.526),
  size("Standard_NC8as_T4_v3", "t4", 1, 0.752),
  size("Standard_NC16as_T4_v3", "t4", 1, 1.204),
  size("Standard_NC64as_T4_v3", "t4", 4, 4.352),
  // NVIDIA A10 (GRID driver only: see needsGridDriver)
  size("Standard_NV36ads_A10_v5", "a10", 1, 3.2),
  size("Standard_NV36adms_A10_v5", "a10", 1, 4.52),
  size("Standard_NV72ads_A10_v5", "a10", 2, 6.52),
  // NVIDIA A100 80 GB (NC A100 v4, NDm A100 v4) and 40 GB (ND A100 v4)
  size("Standard_NC24ads_A100_v4", "a100-80gb", 1, 3.673),
  size("Standard_NC48ads_A100_v4", "a100-80gb", 2, 7.346),
  size("Standard_NC96ads_A100_v4", "a100-80gb", 4, 14.692),
  size("Standard_ND96amsr_A100_v4", "a100-80gb", 8, 32.77),
  size("Standard_ND96asr_v4", "a100", 8, 27.197),
  // NVIDIA H100 (NVL in NCads H100 v5, SXM in ND H100 v5) and H200
  size("Standard_NC40ads_H100_v5", "h100", 1, 6.98),
  size("Standard_NC80adis_H100_v5", "h100", 2, 13.96),
  size("Standard_ND96isr_H100_v5", "h100", 8, 98.32),
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
export const SIZE = /^Standard_([A-Z]+)(\d+)(?:-\d+)?([a-z]*)(?:_[A-Za-z0-9]+)*$/;

export function supportsPremiumStorage(machineType: string): boolean {
  return (SIZE.exec(machineType)?.[3] ?? "").includes("s");
}

/** N families carry GPUs (or FPGAs); the others carry none. */
function isAcceleratedFamily(machineType: string): boolean {
  return (SIZE.exec(machineType)?.[1] ?? "").startsWith("N");
}

/**
 * Why a size carries no GPU, or undefined when it does (or may): Azure's GPU sizes are the N families (GPU
 * accelerated sizes: https://learn.microsoft.com/azure/virtual-machines/sizes/overview, "GPU accelerated"); D, E,
 * F, B, L, M and H sizes carry none.
 */
export function gpulessWhy(machineType: string): string | undefined {
  return isAcceleratedFamily(machineType)
    ? undefined
    : `${machineType} is not of Azure's N families, the GPU accelerated sizes`;
}

/**
 * The GPU series Azure documents for Trusted Launch (https://learn.microsoft.com/azure/virtual-machines/trusted-launch,
 * "Virtual machines sizes": NCasT4_v3, NVadsA10 v5, NC_A100_v4; the ND series are not supported). Other sizes start
 * with the standard security type.
 */
const TRUSTED_LAUNCH_SIZES = [
  /^Standard_NC\d+as_T4_v3$/i,
  /^Standard_NV\d+adm?s_A10_v5$/i,
  /^Standard_NC\d+ads_A100_v4$/i,
];

export function supportsTrustedLaunch(machineType: string): boolean {
  return TRUSTED_LAUNCH_SIZES.some((pattern) => pattern.test(machineType));
}

/** NVadsA10 v5 GPUs are virtual GPUs that need NVIDIA's GRID driver, which the default (HPC) image does not have. */
export function needsGridDriver(machineType: string): boolean {
  return /^Standard_NV\d+adm?s_A10_v5$/i.test(machineType);
}

/**
 * The image when `image` is empty: Microsoft's Ubuntu-HPC 24.04 image (NVIDIA datacenter driver, CUDA, NCCL,
 * Docker with the NVIDIA container toolkit), its latest version at apply (https://github.com/Azure/azhpc-images).
 */
export const DEFAULT_IMAGE = {
  kind: "marketplace",
  publisher: "microsoft-dsvm",
  offer: "ubuntu-hpc",
  sku: "2404",
  version: "latest",
} as const;

/**
 * The default image's OS disk, in GB: Ubuntu-HPC 24.04 is built with a 64 GB OS disk (its images' osDiskImage
 * size; users of microsoft-dsvm:ubuntu-hpc:2404 report its 64 GB root), and Azure refuses an OS disk smaller than
 * the image's ("The specified disk size ... is smaller than the size of the corresponding disk in the VM image").
 * A custom image's size is not known offline: docs/images.md says disk-size must be at least it.
 */
export const DEFAULT_IMAGE_DISK_GB = 64;

export function describeImage(image: AzureImage): string {
  if (image.kind === "id") return image.id;
  const urn = `${image.publisher}:${image.offer}:${image.sku}:${image.version}`;
  return image === DEFAULT_IMAGE
    ? `${urn} (the default: Ubuntu-HPC 24.04 with the NVIDIA driver, its latest version at apply)`
    : urn;
}

const NO_SELF_END = (usdPerHour: number | undefined) =>
  "identity is not set: on Azure a VM that powers itself off (after its job, when idle, at max-lifetime) stays allocated and billed " +
  `at the full price (${usdPerHour === undefined ? "unknown for this size" : `$${usdPerHour.toFixed(2)} per hour per VM, list price of ${PRICES_AS_OF}`}); ` +
  "only the stop job, mode: sweep and the auto-shutdown schedule end that. Set identity to a managed identity " +
  "that may deallocate the runners' VMs (docs/azure.md).";
const NO_OUTSIDE_CAP = (why: string) =>
  `${why}: nothing outside the VM enforces max-lifetime on Azure; only the machine's own timer (which a job with sudo can disarm) ` +
  "and the stop job end it (docs/azure.md).";

function capacity(config: AzureConfig): CapacityChoices<AzureConfig, string | undefined> {
  return {
    spot: config.spot,
    machineTypes: [config.size, ...config.fallbackSizes],
    // Without zones Azure places the VM in the location: one place, no zone.
    places: config.zone ? [config.zone, ...config.fallbackZones] : [undefined],
    candidate: (size, zone, spot) => ({ ...config, size, zone, spot, fallbackSizes: [], fallbackZones: [] }),
  };
}

export const azureCatalog: CloudCatalog<AzureConfig> = {
  gpus(config) {
    const known =
      config.accelerator?.count ??
      catalogEntry(config.size)?.gpus ??
      (isAcceleratedFamily(config.size) ? undefined : 0);
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
    if (!config.identity) caveats.push(NO_SELF_END(azureCatalog.hourlyPriceUsd(config)));
    if (!config.autoShutdown) caveats.push(NO_OUTSIDE_CAP(config.noCapReason ?? "auto-shutdown is false"));
    return {
      machineType: `${config.size}${config.spot ? " (spot)" : ""}`,
      location: [config.location, config.zone ? `zone ${config.zone}` : undefined, config.resourceGroup]
        .filter(Boolean)
        .join(", "),
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
  capacity,
};
