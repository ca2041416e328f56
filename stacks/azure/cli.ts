// What the az CLI does that Terraform cannot: read a VM's boot log, and find and delete this action's VMs (and what
// their starts made beside them) by their ownership tags, without Terraform state.
import { type CloudCli, type CommandRunner, type FoundMachine, jsonList, runChecked } from "../cloud.ts";
import type { Env } from "../input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import type { AzureConfig } from "./config.ts";

function subscriptionArgs(env: Env): string[] {
  const subscription = env.ARM_SUBSCRIPTION_ID || env.AZURE_SUBSCRIPTION_ID;
  return subscription ? ["--subscription", subscription] : [];
}

const VM_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[\w().-]{1,90}\/providers\/Microsoft\.Compute\/virtualMachines\/[\w.-]{1,64}$/i;

/** `az vm list --show-details`, projected: power states "VM running", "VM stopped", "VM deallocated"... */
function parseVms(json: string): (FoundMachine & { tags: Record<string, string> })[] {
  const listed = jsonList(json, "az vm list");
  const machines: (FoundMachine & { tags: Record<string, string> })[] = [];
  for (const item of listed as {
    id?: unknown;
    name?: unknown;
    location?: unknown;
    zones?: unknown;
    power?: unknown;
    created?: unknown;
    tags?: Record<string, string> | null;
  }[]) {
    if (typeof item.id !== "string" || !VM_ID.test(item.id) || typeof item.name !== "string") continue;
    const tags = item.tags ?? {};
    const lifetime = Number(tags[OWNERSHIP_KEYS.maxLifetime]);
    const zone = Array.isArray(item.zones) && typeof item.zones[0] === "string" ? ` zone ${item.zones[0]}` : "";
    machines.push({
      id: item.id,
      name: item.name,
      label: tags[OWNERSHIP_KEYS.label] ?? "",
      // Stopped (still allocated and billed) and deallocated (its disk billed) alike: done, to be deleted.
      state:
        typeof item.power === "string" && /\b(stopp(ed|ing)|deallocat(ed|ing))\b/i.test(item.power)
          ? "stopped"
          : "running",
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
    "resource",
    "list",
    "--tag",
    `${OWNERSHIP_KEYS.label}=${label}`,
    ...subscriptionArgs(env),
    "--query",
    "[].{id: id, type: type, name: name}",
    "--output",
    "json",
  ]);
  const resources = jsonList(listed, "az resource list") as { id?: unknown; type?: unknown; name?: unknown }[];
  const deleted: string[] = [];
  for (const [type, what] of LEFTOVER_ORDER) {
    const found = resources.filter(
      (r) => typeof r.id === "string" && typeof r.type === "string" && r.type.toLowerCase() === type.toLowerCase(),
    );
    if (found.length === 0) continue;
    await runChecked(run, "az", ["resource", "delete", "--ids", ...found.map((r) => String(r.id))]);
    deleted.push(...found.map((r) => `${what} ${String(r.name ?? r.id)}`));
  }
  return deleted;
}

export const azureCli: CloudCli<AzureConfig> = {
  async bootConsole(_config, machine, run) {
    return runChecked(run, "az", ["vm", "boot-diagnostics", "get-boot-log", "--ids", machine.id]);
  },
  async findMachines(filter, env, run) {
    const found = await runChecked(run, "az", [
      "vm",
      "list",
      "--show-details",
      ...subscriptionArgs(env),
      "--query",
      `[?tags."${OWNERSHIP_KEYS.managedBy}"=='${MANAGED_BY_VALUE}'].{id: id, name: name, location: location, zones: zones, power: powerState, created: timeCreated, tags: tags}`,
      "--output",
      "json",
    ]);
    const [key, value] =
      "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
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
};
