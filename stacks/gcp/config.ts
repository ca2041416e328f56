// The configuration one Compute Engine start is made from: what inputs.ts reads, what catalog.ts prices, what
// stack.ts builds; and the shape of a zone's name, which says its region.
import type { AcceleratorRequest } from "../accelerator.ts";

export interface GcpGpu {
  /** Accelerator type, e.g. nvidia-tesla-t4. */
  type: string;
  count: number;
}

export interface GcpConfig {
  project: string;
  zone: string;
  /** The zone's region (us-central1-a -> us-central1). */
  region: string;
  machineType: string;
  /** The accelerator input: every machine type carries it (or, for N1, gets it attached). */
  accelerator?: AcceleratorRequest;
  /** GPUs attached to an N1 machine; undefined for accelerator-optimized types (they carry theirs) and CPU machines. */
  gpu?: GcpGpu;
  /** projects/P/global/images/NAME or projects/P/global/images/family/F (or the same as a full self-link). */
  image: string;
  diskSizeGb: number;
  diskType: string;
  spot: boolean;
  /** Undefined: the instance gets no service account at all, so nothing on it can obtain Google credentials. */
  serviceAccount?: { email: string; scopes: string[] };
  /** Undefined when a subnetwork is given: Compute Engine infers the network from it. */
  network?: string;
  subnetwork?: string;
  publicIp: boolean;
  /** Zones and machine types to try next when Compute Engine has no capacity (the rest of the zone/machine-type lists). */
  fallbackZones: string[];
  fallbackMachineTypes: string[];
}

/** A zone: its region, then a letter (us-central1-a is in us-central1). */
export const ZONE = /^([a-z]+-[a-z]+\d+)-[a-z]$/;

export function regionOf(zone: string): string {
  return ZONE.exec(zone)![1]!;
}
