// What gcloud does that Terraform cannot: read a machine's serial port, and find and delete this action's machines
// by their ownership labels, without Terraform state.
import { type CloudCli, type FoundMachine, jsonList, runChecked } from "../cloud.ts";
import type { Env } from "../input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import { type GcpConfig, ZONE } from "./config.ts";
import { PROJECT_SOURCE, PROJECT_VARIABLES, projectFromEnv } from "./inputs.ts";
import { toGcpLabels } from "./labels.ts";

/** The project of the start's parse (PROJECT_VARIABLES): sweep and stop have no project input. */
function projectOf(env: Env): string {
  const found = projectFromEnv(env);
  if (!found)
    throw new Error(
      `${PROJECT_VARIABLES.join(" and ")} are not set: ${PROJECT_SOURCE}; without one the machines cannot be looked up`,
    );
  return found.project;
}

/**
 * `gcloud compute instances list --format=json`: TERMINATED is Compute Engine's word for a stopped instance (its
 * disk still billed); everything else that is listed still runs or is about to.
 */
function parseInstances(json: string): FoundMachine[] {
  const machines: FoundMachine[] = [];
  for (const item of jsonList(json, "gcloud compute instances list") as {
    name?: unknown;
    zone?: unknown;
    status?: unknown;
    creationTimestamp?: unknown;
    labels?: Record<string, string>;
  }[]) {
    const zone = typeof item.zone === "string" ? (item.zone.split("/").pop() ?? "") : "";
    if (typeof item.name !== "string" || !ZONE.test(zone)) continue;
    const lifetime = Number(item.labels?.[OWNERSHIP_KEYS.maxLifetime]);
    machines.push({
      id: item.name,
      name: item.name,
      label: item.labels?.[OWNERSHIP_KEYS.label] ?? "",
      state:
        item.status === "TERMINATED" || item.status === "STOPPING" || item.status === "SUSPENDED"
          ? "stopped"
          : "running",
      launchedAt: typeof item.creationTimestamp === "string" ? new Date(item.creationTimestamp) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: zone,
    });
  }
  return machines;
}

export const gcpCli: CloudCli<GcpConfig> = {
  async bootConsole(config, machine, run) {
    return runChecked(run, "gcloud", [
      "compute",
      "instances",
      "get-serial-port-output",
      machine.name,
      "--zone",
      config.zone,
      "--project",
      config.project,
    ]);
  },
  async findMachines(filter, env, run) {
    const project = projectOf(env);
    const [key, value] =
      "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
    // Label values are normalised as the stack normalised them (toGcpLabels), or nothing would match.
    const wanted = toGcpLabels({ [key]: value })[key];
    const found = await runChecked(run, "gcloud", [
      "compute",
      "instances",
      "list",
      "--project",
      project,
      `--filter=labels.${OWNERSHIP_KEYS.managedBy}=${MANAGED_BY_VALUE} AND labels.${key}=${wanted}`,
      "--format=json",
    ]);
    return parseInstances(found);
  },
  async deleteMachines(machines, _labels, env, run) {
    // Everything of a start is its instances (boot disks go with them): nothing else to find by label.
    const project = projectOf(env);
    const deleted: string[] = [];
    for (const machine of machines) {
      await runChecked(run, "gcloud", [
        "compute",
        "instances",
        "delete",
        machine.name,
        "--zone",
        machine.location,
        "--project",
        project,
        "--quiet",
      ]);
      deleted.push(`instance ${machine.name} (${machine.location})`);
    }
    return deleted;
  },
};
