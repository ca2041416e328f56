// The registry: `cloud` input value -> its definition. Adding a cloud is one file plus one line here.
import { awsCloud } from "./aws.ts";
import type { CloudDefinition } from "./cloud.ts";
import { gcpCloud } from "./gcp.ts";
import { localCloud } from "../test/kit/local-cloud/local.ts";

export const CLOUDS: Readonly<Record<string, CloudDefinition<unknown>>> = {
  aws: awsCloud,
  gcp: gcpCloud,
  // Tests and demos only: the boot script as a local process (see test/kit/local-cloud/local.ts).
  local: localCloud,
};

export const CLOUD_NAMES = Object.keys(CLOUDS);

/** Every input that belongs to one cloud only, with the cloud that owns it. */
export function cloudOnlyInputs(): Map<string, string> {
  const owners = new Map<string, string>();
  for (const cloud of Object.values(CLOUDS)) for (const input of cloud.inputs) owners.set(input, cloud.name);
  return owners;
}
