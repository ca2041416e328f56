// What the az CLI does that Terraform cannot: read a VM's boot log, and find and delete this action's VMs (and what
// their starts made beside them) by their ownership tags, without Terraform state.
import { type CloudCli, checkFilter, type FoundLeftover, type FoundMachine, type MachineFilter } from "../cloud-cli.ts";
import { type CommandRunner, jsonList, runChecked } from "../cloud-command.ts";
import type { Env } from "../input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import type { AzureConfig } from "./config.ts";
import { azurePreflight } from "./preflight.ts";

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
      repositoryId: tags[OWNERSHIP_KEYS.repositoryId] ?? "",
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

/**
 * What the filter's starts made beside their VMs (NICs, public IPs, the no-inbound group, OS disks, schedules), by
 * their own tags, whether or not their VM still exists. `az resource list --tag` takes one tag ('key[=value]',
 * learn.microsoft.com/cli/azure/resource#az-resource-list), so it asks for the repository id's and the rest is
 * checked here; the listing's id, type, name, location and tags are ARM's GenericResource fields.
 */
async function findLeftovers(filter: MachineFilter, env: Env, run: CommandRunner): Promise<FoundLeftover[]> {
  const { repositoryId, label } = checkFilter(filter);
  const listed = await runChecked(run, "az", [
    "resource",
    "list",
    "--tag",
    `${OWNERSHIP_KEYS.repositoryId}=${repositoryId}`,
    ...subscriptionArgs(env),
    "--query",
    "[].{id: id, type: type, name: name, location: location, tags: tags}",
    "--output",
    "json",
  ]);
  const leftovers: FoundLeftover[] = [];
  for (const r of jsonList(listed, "az resource list") as {
    id?: unknown;
    type?: unknown;
    name?: unknown;
    location?: unknown;
    tags?: Record<string, string> | null;
  }[]) {
    const tags = r.tags ?? {};
    if (typeof r.id !== "string" || typeof r.type !== "string") continue;
    if (tags[OWNERSHIP_KEYS.managedBy] !== MANAGED_BY_VALUE || tags[OWNERSHIP_KEYS.repositoryId] !== repositoryId)
      continue;
    if (label !== undefined && tags[OWNERSHIP_KEYS.label] !== label) continue;
    const type = (r.type as string).toLowerCase();
    const kind = LEFTOVER_ORDER.find(([t]) => t.toLowerCase() === type)?.[1];
    // The VMs are findMachines'; anything else is not a kind a start makes.
    if (!kind) continue;
    leftovers.push({
      kind,
      id: r.id,
      name: typeof r.name === "string" ? r.name : r.id,
      label: tags[OWNERSHIP_KEYS.label] ?? "",
      repositoryId,
      location: typeof r.location === "string" ? r.location : "?",
    });
  }
  // In the order they can be deleted: a NIC holds its IP and its group.
  const rank = (kind: string) => LEFTOVER_ORDER.findIndex(([, what]) => what === kind);
  return leftovers.sort((a, b) => rank(a.kind) - rank(b.kind));
}

export const azureCli: CloudCli<AzureConfig> = {
  preflight: azurePreflight,
  async bootConsole(_config, machine, run) {
    // With managed boot diagnostics (the stack's), az returns the log as the command's result, bytes, which its JSON
    // output prints as one JSON string, every newline escaped (and its tsv output as a Python bytes literal); with a
    // storage account of the user's it writes the log to stdout as it is (azure-cli's vm/custom.py get_boot_log; run
    // through the real az in test/clouds/azure/cli-real.test.ts). So: JSON, decoded when it is one string.
    const printed = await runChecked(run, "az", [
      "vm",
      "boot-diagnostics",
      "get-boot-log",
      "--ids",
      machine.id,
      "--output",
      "json",
    ]);
    return bootLogText(printed);
  },
  async findMachines(filter, env, run) {
    const { repositoryId, label } = checkFilter(filter);
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
    return parseVms(found)
      .filter((m) => m.repositoryId === repositoryId && (label === undefined || m.label === label))
      .map(({ tags: _tags, ...machine }) => machine);
  },
  async findLeftovers(filter, env, run) {
    return { leftovers: await findLeftovers(filter, env, run), unchecked: [] };
  },
  async deleteMachines(machines, starts, env, run) {
    for (const start of starts) checkFilter(start);
    const ids = machines.map((m) => m.id).filter((id) => VM_ID.test(id));
    const deleted: string[] = [];
    if (ids.length > 0) {
      // Waits until they are gone: their NICs and disks can only go after them.
      await runChecked(run, "az", ["vm", "delete", "--ids", ...ids, "--yes"]);
      deleted.push(...machines.filter((m) => ids.includes(m.id)).map((m) => `virtual machine ${m.name}`));
    }
    // Found again once the VMs are gone: what went with them (an OS disk deleted with its VM) is not asked for twice.
    for (const start of starts) {
      const leftovers = await findLeftovers(start, env, run);
      for (const [, what] of LEFTOVER_ORDER) {
        const found = leftovers.filter((r) => r.kind === what);
        if (found.length === 0) continue;
        await runChecked(run, "az", ["resource", "delete", "--ids", ...found.map((r) => r.id)]);
        deleted.push(...found.map((r) => `${what} ${r.name}`));
      }
    }
    return deleted;
  },
};

/** The boot log az printed: a JSON string decoded, anything else as it is. */
function bootLogText(printed: string): string {
  try {
    const decoded: unknown = JSON.parse(printed);
    if (typeof decoded === "string") return decoded;
  } catch {
    // Not JSON: the log itself.
  }
  return printed;
}
