// The registry: `cloud` input value -> its definition. Adding a cloud is one file plus one line here.
import { awsCloud } from "./aws/index.ts";
import { azureCloud } from "./azure/index.ts";
import type { Cloud } from "./cloud.ts";
import { gcpCloud } from "./gcp/index.ts";

const REGISTERED: Cloud[] = [
  awsCloud, // the first is the default of the `cloud` input
  gcpCloud,
  azureCloud,
];

const clouds = new Map<string, Cloud>(REGISTERED.map((cloud) => [cloud.name, cloud]));

/** The cloud used when the `cloud` input is empty (review, the cdktf app); action.yml's default says the same. */
export const DEFAULT_CLOUD = REGISTERED[0]!.name;

export function cloudNamed(name: string): Cloud | undefined {
  return clouds.get(name);
}

/** The names the `cloud` input accepts, in registry order. */
export function cloudNames(): string[] {
  return [...clouds.keys()];
}

export function allClouds(): Cloud[] {
  return [...clouds.values()];
}

/**
 * Adds a machine kind that is not one of the product's clouds: the test kit's local kind, which runs the boot script
 * as a local process, is registered this way by a module preloaded with NODE_OPTIONS (CONTRIBUTING.md, "Driving
 * action.yml without a cloud"), never by anything the action runs.
 */
export function registerCloud(cloud: Cloud): void {
  if (clouds.has(cloud.name) && clouds.get(cloud.name) !== cloud)
    throw new Error(`a cloud named '${cloud.name}' is already registered`);
  clouds.set(cloud.name, cloud);
}
