// The Compute Engine machine catalog: which machine types carry (or, for N1, take) which GPU, how many, at what price,
// the default image, and the alternatives to try when a zone has no capacity. A price update is a diff of this file alone.
import type { CapacityChoices } from "../capacity.ts";
import { type CatalogMachine, formatAccelerator } from "../accelerator.ts";
import type { CloudCatalog } from "../cloud.ts";
import { type GcpConfig, regionOf } from "./config.ts";

/** Accelerator-optimized series carry their GPUs in the machine type; no guest_accelerator may be added. */
export const ACCELERATOR_OPTIMIZED = /^(a\d+x?|g\d+)-/;

interface GcpMachine extends CatalogMachine {
  /** The accelerator type attached to an N1 machine (guest_accelerator); none for types that carry their GPUs. */
  attach?: string;
}

// When the figures below were taken: Compute Engine's 2025 list (its GPU and VM instance pricing pages), not re-read
// since; no month is claimed because none was recorded with them. A later check moves this date with the figures.
const PRICES_AS_OF = "2025";

/** On-demand list prices of N1 hosts and of one GPU attached to them, USD per hour, us-central1. */
const N1_HOST_PRICE: Readonly<Record<string, number>> = {
  "n1-standard-4": 0.189999,
  "n1-standard-8": 0.379998,
  "n1-standard-16": 0.759996,
  "n1-standard-32": 1.519992,
};
const ATTACHED_GPU_PRICE: Readonly<Record<string, number>> = {
  "nvidia-tesla-t4": 0.35,
  "nvidia-tesla-p4": 0.6,
  "nvidia-tesla-p100": 1.46,
  "nvidia-tesla-v100": 2.48,
};

/** The GPUs that attach to N1 machines (https://cloud.google.com/compute/docs/gpus#n1-gpus), and how many one takes. */
export const N1_GPUS: Readonly<Record<string, { attach: string; counts: number[] }>> = {
  t4: { attach: "nvidia-tesla-t4", counts: [1, 2, 4] },
  p4: { attach: "nvidia-tesla-p4", counts: [1, 2, 4] },
  p100: { attach: "nvidia-tesla-p100", counts: [1, 2, 4] },
  v100: { attach: "nvidia-tesla-v100", counts: [1, 2, 4, 8] },
};

/** The N1 host the action picks for attached GPUs: 4 vCPUs and 15 GB of memory per GPU, within every GPU's limits. */
export const N1_HOST: Readonly<Record<number, string>> = {
  1: "n1-standard-4",
  2: "n1-standard-8",
  4: "n1-standard-16",
  8: "n1-standard-32",
};

function attached(gpu: string, count: number): GcpMachine {
  const { attach } = N1_GPUS[gpu]!;
  const host = N1_HOST[count]!;
  return {
    machineType: host,
    gpu,
    gpus: count,
    usdPerHour: N1_HOST_PRICE[host]! + ATTACHED_GPU_PRICE[attach]! * count,
    attach,
  };
}

function carried(machineType: string, gpu: string, gpus: number, usdPerHour: number, spotOnly?: boolean): GcpMachine {
  return spotOnly ? { machineType, gpu, gpus, usdPerHour, spotOnly } : { machineType, gpu, gpus, usdPerHour };
}

/**
 * The machines the accelerator input chooses from, the GPUs each carries (https://cloud.google.com/compute/docs/gpus,
 * https://cloud.google.com/compute/docs/accelerator-optimized-machines) and its on-demand list price in USD per hour,
 * us-central1 (https://cloud.google.com/compute/gpus-pricing, https://cloud.google.com/compute/vm-instance-pricing;
 * G2, A2 and A3 prices include their GPUs). At apply, Compute Engine's own description of the machine type is what
 * the GPU gate expects; this table is the review's offline fallback, and the price table.
 */
export const CATALOG: readonly GcpMachine[] = [
  ...Object.entries(N1_GPUS).flatMap(([gpu, { counts }]) => counts.map((count) => attached(gpu, count))),
  // NVIDIA L4: G2
  carried("g2-standard-4", "l4", 1, 0.70683),
  carried("g2-standard-8", "l4", 1, 0.85362),
  carried("g2-standard-12", "l4", 1, 1.00041),
  carried("g2-standard-16", "l4", 1, 1.1472),
  carried("g2-standard-32", "l4", 1, 1.73375),
  carried("g2-standard-24", "l4", 2, 2.000826),
  carried("g2-standard-48", "l4", 4, 4.001652),
  carried("g2-standard-96", "l4", 8, 8.003305),
  // NVIDIA A100 40 GB: A2 Standard; A100 80 GB: A2 Ultra
  carried("a2-highgpu-1g", "a100", 1, 3.673385),
  carried("a2-highgpu-2g", "a100", 2, 7.34677),
  carried("a2-highgpu-4g", "a100", 4, 14.69354),
  carried("a2-highgpu-8g", "a100", 8, 29.38708),
  carried("a2-megagpu-16g", "a100", 16, 55.739504),
  carried("a2-ultragpu-1g", "a100-80gb", 1, 5.068798),
  carried("a2-ultragpu-2g", "a100-80gb", 2, 10.137596),
  carried("a2-ultragpu-4g", "a100-80gb", 4, 20.275192),
  carried("a2-ultragpu-8g", "a100-80gb", 8, 40.550383),
  // NVIDIA H100 80 GB: A3 High. Its 1-, 2- and 4-GPU types come only as Spot or flex-start VMs.
  carried("a3-highgpu-1g", "h100", 1, 11.0612, true),
  carried("a3-highgpu-2g", "h100", 2, 22.1225, true),
  carried("a3-highgpu-4g", "h100", 4, 44.245, true),
  carried("a3-highgpu-8g", "h100", 8, 88.49),
  // NVIDIA H200 141 GB: A3 Ultra, sold through reservations, flex-start and Spot only: never plain on-demand (AI
  // Hypercomputer, "Choose a consumption option": https://cloud.google.com/ai-hypercomputer/docs/consumption-models).
  // Spot it is here. Its figure is the list price the table was given (2025), no on-demand offer: for Spot, an
  // upper bound, as for every Spot machine.
  carried("a3-ultragpu-8g", "h200", 8, 84.806908, true),
];

/**
 * Machine types that boot only from Hyperdisk: A3 Ultra supports Hyperdisk and no Persistent Disk (Compute Engine,
 * accelerator-optimized machines, A3 Ultra's supported disk types:
 * https://cloud.google.com/compute/docs/accelerator-optimized-machines; Vertex AI's DiskSpec defaults A3 Ultra's
 * boot disk to hyperdisk-balanced for the same reason: https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DiskSpec).
 */
export const HYPERDISK_ONLY = /^a3-ultragpu-/;

/**
 * Why a machine type with no GPU attached carries none, or undefined when it does (or may): Compute Engine's GPU
 * machines are the accelerator-optimized A and G series, and N1 with GPUs attached
 * (https://cloud.google.com/compute/docs/gpus); N2, E2, C3 and the other general-purpose and compute series take none.
 */
export function gpulessWhy(machineType: string): string | undefined {
  if (ACCELERATOR_OPTIMIZED.test(machineType)) return undefined;
  return machineType.startsWith("n1-")
    ? `${machineType} is N1 with no GPU attached: set accelerator to t4, p4, p100 or v100 to attach one`
    : `${machineType} is not of the accelerator-optimized A or G series, the ones with GPUs`;
}

export const BY_TYPE = new Map(CATALOG.filter((m) => !m.attach).map((m) => [m.machineType, m]));

/**
 * GPUs of accelerator-optimized types outside the catalog (no list price here), for the review's offline count:
 * A2/A3/A4 names end in the count (a3-megagpu-8g, a4-highgpu-8g), G4 (RTX PRO 6000) does not.
 */
function bundledGpus(machineType: string): number | undefined {
  const named = /^a\d+x?-[a-z]+gpu-(\d+)g(-[a-z]+)?$/.exec(machineType);
  if (named) return Number(named[1]);
  return (
    { "g4-standard-48": 1, "g4-standard-96": 2, "g4-standard-192": 4, "g4-standard-384": 8 } as Record<string, number>
  )[machineType];
}

/**
 * The image when `image` is empty: a Deep Learning VM image family, NVIDIA driver 580, CUDA 12.9, Ubuntu 24.04; a
 * family always boots its newest image (https://cloud.google.com/deep-learning-vm/docs/images lists the families).
 */
export const DEFAULT_IMAGE =
  "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580";

function capacity(config: GcpConfig): CapacityChoices<GcpConfig, string> {
  return {
    spot: config.spot,
    machineTypes: [config.machineType, ...config.fallbackMachineTypes],
    places: [config.zone, ...config.fallbackZones],
    spotOnly: (machineType) => BY_TYPE.get(machineType)?.spotOnly === true,
    candidate: (machineType, zone, spot) => ({
      ...config,
      machineType,
      zone,
      region: regionOf(zone),
      spot,
      fallbackZones: [],
      fallbackMachineTypes: [],
    }),
  };
}

/**
 * Without a service account the machine has no token to delete itself with (stacks/gcp/end-command.ts): powered off,
 * it stays a stopped instance, and Compute Engine clears max_run_duration's termination time when a VM stops.
 */
const NO_SELF_DELETE = (diskSizeGb: number) =>
  "service-account is not set: a machine that powers itself off (after its job, when idle, at max-lifetime) stays a " +
  `stopped instance, its ${diskSizeGb} GB disk billed, and max_run_duration no longer applies to it; only the stop job ` +
  "and mode: sweep delete it. Set service-account to one whose role may delete the action's machines (docs/gcp.md).";

export const gcpCatalog: CloudCatalog<GcpConfig> = {
  gpus(config) {
    const type = config.machineType;
    // Attached to N1: the count asked for is the count (an N1 type carries none of its own).
    if (config.gpu) {
      const asked = config.accelerator
        ? formatAccelerator(config.accelerator)
        : `${config.gpu.type}:${config.gpu.count}`;
      return { count: config.gpu.count, source: `accelerator ${asked}, attached to ${type}` };
    }
    const known =
      config.accelerator?.count ??
      BY_TYPE.get(type)?.gpus ??
      bundledGpus(type) ??
      (ACCELERATOR_OPTIMIZED.test(type) ? undefined : 0);
    return {
      count: known,
      source: config.accelerator
        ? `accelerator ${formatAccelerator(config.accelerator)}`
        : known === undefined
          ? `${type} is not in the action's catalog`
          : ACCELERATOR_OPTIMIZED.test(type)
            ? `the action's catalog of ${type}`
            : `${type} carries no GPU and none is attached`,
      atApply: `Compute Engine's description of ${type}`,
    };
  },
  // On-demand list prices; for Spot, what the machine costs at most.
  hourlyPriceUsd(config) {
    const host = N1_HOST_PRICE[config.machineType];
    if (config.gpu)
      return host === undefined ? undefined : host + ATTACHED_GPU_PRICE[config.gpu.type]! * config.gpu.count;
    return BY_TYPE.get(config.machineType)?.usdPerHour ?? host;
  },
  pricesAsOf: PRICES_AS_OF,
  summary: (config) => ({
    machineType: `${config.gpu ? `${config.machineType} + ${config.gpu.count} x ${config.gpu.type}` : config.machineType}${config.spot ? " (spot)" : ""}`,
    location: config.zone,
    image:
      config.image === DEFAULT_IMAGE
        ? `${DEFAULT_IMAGE} (the default Deep Learning VM family: its newest image at apply)`
        : config.image,
    spot: config.spot,
    caveats: config.serviceAccount ? undefined : [NO_SELF_DELETE(config.diskSizeGb)],
  }),
  capacity,
};
