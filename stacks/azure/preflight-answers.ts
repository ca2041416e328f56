// How the preflight reads az's answers (preflight.ts asks the questions): what a failed command means, a size's
// family, vCPUs and restrictions, the vCPU quotas a start draws on, and which of the actions a start needs a role's
// permissions grant. Pure, so that each rule is tested on its own.
import type { CommandResult } from "../cloud-command.ts";
import type { AzureConfig } from "./config.ts";

/** What an az command's failure says: the thing is not there, the caller may not ask, or something else. */
export type Refusal =
  | { kind: "not-found"; message: string }
  | { kind: "denied"; message: string; action?: string }
  | { kind: "other"; message: string };

/**
 * az prints ARM's error as "ERROR: (Code) message" (azure-cli-core's azclierror, from the SDK's HttpResponseError), or,
 * for `az rest`, as "ERROR: Forbidden({json})" / "Not Found({json})"; a denied call's code is AuthorizationFailed and
 * its message names the action ("does not have authorization to perform action 'X' over scope ..."). A missing CLI is
 * the runner's exit 127.
 */
export function refusal(result: CommandResult): Refusal {
  if (result.exitCode === 127) return { kind: "other", message: "the az CLI is not installed (exit 127)" };
  const text = result.stderr;
  const line =
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("ERROR:"))
      ?.replace(/^ERROR:\s*/, "") ??
    text.trim().split("\n").at(-1) ??
    "";
  const message = (line || `exit ${result.exitCode}`).slice(0, 300);
  if (/AuthorizationFailed|\bForbidden\b|\b403\b/.test(text))
    return { kind: "denied", message, action: /perform action '([^']+)'/.exec(text)?.[1] };
  if (
    /\b(Resource|Image|Gallery|Subscription)?NotFound\b|Not Found|\b404\b|was not found|Can't resolve the version/.test(
      text,
    )
  )
    return { kind: "not-found", message };
  return { kind: "other", message };
}

/** A command's JSON, or undefined when it printed none. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What the preflight needs of one VM size in one location: `az vm list-skus --all` (ResourceSku). */
export interface SizeOffer {
  /** The quota family, e.g. standardNCASv3_T4Family: the name of its usage in `az vm list-usage`. */
  family: string;
  vcpus: number;
  /** The location's zones the size is offered in (locationInfo[0].zones); empty for a location without zones. */
  zones: string[];
  /** False when the size cannot run as Spot (the LowPriorityCapable capability is "False"). */
  spotCapable: boolean;
  /** Why the subscription may not create it here (in this zone), or undefined. */
  restricted?: string;
}

interface Sku {
  name?: unknown;
  resourceType?: unknown;
  family?: unknown;
  locationInfo?: { location?: unknown; zones?: unknown }[];
  capabilities?: { name?: unknown; value?: unknown }[];
  restrictions?: { type?: unknown; values?: unknown; reasonCode?: unknown; restrictionInfo?: { zones?: unknown } }[];
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

/**
 * The size's offer from `az vm list-skus --location L --size S --all --resource-type virtualMachines`: undefined
 * when the listing is not a list (the question failed), "absent" when the size is not offered in the location at all.
 * az's --size matches part of a name (azure-cli vm/custom.py, list_skus), so the exact name is picked here. The
 * fields are the ResourceSku model's (azure-mgmt-compute, v2019_04_01 ResourceSku, ResourceSkuLocationInfo,
 * ResourceSkuRestrictions; azure-rest-api-specs, Microsoft.Compute/Skus: capabilities "vCPUs", "LowPriorityCapable").
 * A restriction with reasonCode NotAvailableForSubscription of type Location bars the location; of type Zone, the
 * zones it names (azure-cli's is_sku_available reads them the same way).
 */
export function sizeOffer(listing: unknown, size: string, zone: string | undefined): SizeOffer | "absent" | undefined {
  if (!Array.isArray(listing)) return undefined;
  const sku = (listing as Sku[]).find(
    (s) =>
      typeof s?.name === "string" &&
      s.name.toLowerCase() === size.toLowerCase() &&
      (s.resourceType === undefined || s.resourceType === "virtualMachines"),
  );
  if (!sku) return "absent";
  const capability = (name: string) =>
    sku.capabilities?.find((c) => typeof c.name === "string" && c.name.toLowerCase() === name.toLowerCase())?.value;
  const vcpus = Number(capability("vCPUs"));
  if (typeof sku.family !== "string" || !Number.isInteger(vcpus) || vcpus <= 0) return undefined;
  const zones = strings(sku.locationInfo?.[0]?.zones);
  let restricted: string | undefined;
  for (const r of sku.restrictions ?? []) {
    if (r.reasonCode !== "NotAvailableForSubscription") continue;
    if (r.type === "Location") restricted = `${size} is not available to the subscription in this location`;
    else if (r.type === "Zone" && zone !== undefined && strings(r.restrictionInfo?.zones).includes(zone))
      restricted ??= `${size} is not available to the subscription in zone ${zone}`;
  }
  if (!restricted && zone !== undefined && zones.length > 0 && !zones.includes(zone))
    restricted = `${size} is not offered in zone ${zone} (its zones here: ${zones.join(", ")})`;
  return {
    family: sku.family,
    vcpus,
    zones,
    spotCapable: String(capability("LowPriorityCapable") ?? "True").toLowerCase() !== "false",
    restricted,
  };
}

/** One vCPU quota of the location: `az vm list-usage` (Usage: name.value, name.localizedValue, currentValue, limit). */
export interface Usage {
  name: string;
  localizedName: string;
  current: number;
  limit: number;
}

export function usages(listing: unknown): Usage[] | undefined {
  if (!Array.isArray(listing)) return undefined;
  const found: Usage[] = [];
  for (const u of listing as {
    name?: { value?: unknown; localizedValue?: unknown };
    currentValue?: unknown;
    limit?: unknown;
  }[]) {
    const name = u?.name?.value;
    const current = Number(u?.currentValue);
    const limit = Number(u?.limit);
    if (typeof name !== "string" || !Number.isFinite(current) || !Number.isFinite(limit)) continue;
    found.push({
      name,
      localizedName: typeof u.name?.localizedValue === "string" ? u.name.localizedValue : name,
      current,
      limit,
    });
  }
  return found;
}

/**
 * The usages a VM draws on: on-demand, its size family's vCPUs and the location's total regional vCPUs ("cores");
 * Spot, the location's low-priority vCPUs ("lowPriorityCores") alone. Azure checks a new VM against each
 * (https://learn.microsoft.com/azure/virtual-machines/quotas: "the vCPUs for the virtual machine must not exceed the
 * vCPU quota for the VM size family or the total regional vCPU quota"; Spot:
 * https://learn.microsoft.com/azure/virtual-machines/spot-vms, "Spot VMs ... have a separate quota": Total Regional
 * Low-priority vCPUs). The usage names are the Usage model's name.value as az vm list-usage prints them; a family's
 * is the ResourceSku's family (standardNCASv3_T4Family).
 */
export function quotaNames(family: string, spot: boolean): string[] {
  return spot ? ["lowPriorityCores"] : [family, "cores"];
}

export type QuotaVerdict = { status: "ok" | "failed" | "unchecked"; detail: string; short?: Usage };

/** Whether each usage the VM draws on has `needed` vCPUs left; a usage the listing lacks cannot be judged. */
export function judgeQuota(listed: readonly Usage[], names: readonly string[], needed: number): QuotaVerdict {
  const lines: string[] = [];
  for (const name of names) {
    const usage = listed.find((u) => u.name.toLowerCase() === name.toLowerCase());
    if (!usage) return { status: "unchecked", detail: `az vm list-usage lists no quota named ${name}` };
    const free = usage.limit - usage.current;
    const line = `${usage.localizedName}: ${usage.current} of ${usage.limit} used, ${needed} needed`;
    if (free < needed) return { status: "failed", detail: line, short: usage };
    lines.push(line);
  }
  return { status: "ok", detail: lines.join("; ") };
}

/** One entry of the Permissions API's answer (Microsoft.Authorization Permission: actions, notActions). */
export interface Permission {
  actions: string[];
  notActions: string[];
}

/**
 * The entries of `GET {scope}/providers/Microsoft.Authorization/permissions` (azure-mgmt-authorization v2022_04_01,
 * PermissionGetResult: value, nextLink), one per role assigned at or above the scope; undefined when not that shape.
 */
export function permissions(answer: unknown): { list: Permission[]; more: boolean } | undefined {
  const value = (answer as { value?: unknown } | undefined)?.value;
  if (!Array.isArray(value)) return undefined;
  return {
    list: value.map((p: { actions?: unknown; notActions?: unknown }) => ({
      actions: strings(p?.actions),
      notActions: strings(p?.notActions),
    })),
    more: typeof (answer as { nextLink?: unknown }).nextLink === "string",
  };
}

/**
 * Azure RBAC's action patterns: case-insensitive, "*" stands for any characters ("*", "Microsoft.Compute/*",
 * "*\/read"), and a "/*\/" segment also for none: the Managed Identity Operator role's
 * "Microsoft.ManagedIdentity/userAssignedIdentities/*\/assign/action" is what grants the
 * ".../userAssignedIdentities/assign/action" that ARM checks when a VM is given an identity (its LinkedAuthorizationFailed
 * errors name that action; Azure/aad-pod-identity issues 443 and 613).
 */
export function actionMatches(pattern: string, action: string): boolean {
  const toPattern = (part: string) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&").replace(/\*/g, ".*");
  const source = pattern.split("/*/").map(toPattern).join("/(?:.*/)?");
  return new RegExp(`^${source}$`, "i").test(action);
}

/**
 * An action is granted when one role's permission lists it (or a pattern of it) in actions and not in its notActions
 * (https://learn.microsoft.com/azure/role-based-access-control/role-definitions, "NotActions": a subtraction from that
 * role's Actions, not a deny). Deny assignments are not in this answer: apply can still be denied by one.
 */
export function missingActions(granted: readonly Permission[], needed: readonly string[]): string[] {
  return needed.filter(
    (action) =>
      !granted.some(
        (p) => p.actions.some((a) => actionMatches(a, action)) && !p.notActions.some((a) => actionMatches(a, action)),
      ),
  );
}

/**
 * What a start does to the resource group, from what stack.ts synthesizes (the azurerm resources' ARM types) and what
 * start does after it (Terraform reads what it made; a failed attempt is destroyed before the next candidate): the
 * no-inbound network security group and its rule, each runner's NIC (associated with the group: a join on the group)
 * and VM (which references its NIC: a join on the NIC; and creates its OS disk), the public IP when public-ip (joined
 * by the NIC), the auto-shutdown schedule when auto-shutdown. Terraform's provider powers a VM off before deleting it.
 * docs/azure.md's "GPU runner operator" role grants them all.
 */
export function resourceGroupActions(config: Pick<AzureConfig, "publicIp" | "autoShutdown">): string[] {
  const crud = (type: string) => ["read", "write", "delete"].map((verb) => `${type}/${verb}`);
  return [
    ...crud("Microsoft.Network/networkSecurityGroups"),
    ...crud("Microsoft.Network/networkSecurityGroups/securityRules"),
    "Microsoft.Network/networkSecurityGroups/join/action",
    ...crud("Microsoft.Network/networkInterfaces"),
    "Microsoft.Network/networkInterfaces/join/action",
    ...(config.publicIp
      ? [...crud("Microsoft.Network/publicIPAddresses"), "Microsoft.Network/publicIPAddresses/join/action"]
      : []),
    ...crud("Microsoft.Compute/virtualMachines"),
    "Microsoft.Compute/virtualMachines/powerOff/action",
    ...crud("Microsoft.Compute/disks"),
    ...(config.autoShutdown ? crud("Microsoft.DevTestLab/schedules") : []),
  ];
}

/** A NIC joins the user's subnet: a linked access check on the subnet (docs/azure.md, section 2). */
export const SUBNET_JOIN = "Microsoft.Network/virtualNetworks/subnets/join/action";
/** A VM given a user-assigned identity: a linked access check on the identity (the Managed Identity Operator role). */
export const IDENTITY_ASSIGN = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
