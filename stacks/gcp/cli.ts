// What gcloud does that Terraform cannot: read a machine's serial port, and find and delete this action's machines
// by their ownership labels, without Terraform state.
import { type CloudCli, checkFilter, type FoundMachine } from "../cloud-cli.ts";
import { type CommandResult, jsonList, runChecked } from "../cloud-command.ts";
import type { Env } from "../input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import { type GcpConfig, ZONE } from "./config.ts";
import { PROJECT_SOURCE, PROJECT_VARIABLES, projectFromEnv } from "./inputs.ts";
import { toGcpLabels } from "./labels.ts";
import { preflight } from "./preflight.ts";

/**
 * A listing that Compute Engine refused in part still exits 0: gcloud's lister warns on stderr ("Some requests did
 * not succeed." and one " - <Google's message>" line per failed request: WarnIfPartialRequestFail in
 * googlecloudsdk/api_lib/compute/utils.py, called from lister.py) and prints what it did get, often "[]". Read as
 * "no machines", a stop or sweep whose credentials may not list would delete nothing and report nothing.
 */
function checkedListing(result: CommandResult, args: string[]): string {
  const partial = /Some requests did not succeed\.?((?:\n\s*-.*)*)/.exec(result.stderr);
  if (result.exitCode === 0 && partial) {
    const reasons = (partial[1] ?? "")
      .trim()
      .replace(/\s*\n\s*-\s*/g, "; ")
      .replace(/^-\s*/, "");
    throw new Error(
      `gcloud ${args.slice(0, 3).join(" ")} did not finish: ${reasons || "some requests did not succeed"}`,
    );
  }
  return result.stdout;
}

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
      repositoryId: item.labels?.[OWNERSHIP_KEYS.repositoryId] ?? "",
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
  preflight,
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
    const { repositoryId, label } = checkFilter(filter);
    // By the repository's numeric id, never its name: label values fold "md.sim" and "md_sim" (and every name
    // equal in its first 63 characters) into one, so a name would find another repository's machines. The values
    // are normalised as the stack normalised them (toGcpLabels), or nothing would match; digits and a start's
    // label (lower-case letters, digits, '-') pass through unchanged.
    const wanted = toGcpLabels({
      [OWNERSHIP_KEYS.managedBy]: MANAGED_BY_VALUE,
      [OWNERSHIP_KEYS.repositoryId]: repositoryId,
      ...(label === undefined ? {} : { [OWNERSHIP_KEYS.label]: label }),
    });
    // `gcloud topic filters`: `labels.KEY=VALUE` terms joined by AND must all hold.
    const args = [
      "compute",
      "instances",
      "list",
      "--project",
      project,
      `--filter=${Object.entries(wanted)
        .map(([key, value]) => `labels.${key}=${value}`)
        .join(" AND ")}`,
      "--format=json",
    ];
    // runChecked for a failing exit; checkedListing for the refusals gcloud reports with exit 0.
    const result = await run("gcloud", args);
    if (result.exitCode !== 0) await runChecked(async () => result, "gcloud", args);
    return parseInstances(checkedListing(result, args));
  },
  async findLeftovers(filter) {
    checkFilter(filter);
    // A start makes nothing beside its instances: the boot disk is created with the instance and deleted with it
    // (stack.ts, boot_disk auto_delete), and the no-inbound rule is the network's own. Nothing to look for.
    return { leftovers: [], unchecked: [] };
  },
  async deleteMachines(machines, starts, env, run) {
    // Everything of a start is its instances (boot disks go with them): nothing else to find by label.
    for (const start of starts) checkFilter(start);
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
