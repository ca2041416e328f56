// Azure Resource Manager's own description of its APIs as the az CLI ships it: the Azure SDK for Python, generated
// from the azure-rest-api-specs, one package per API version (azure/mgmt/<rp>/v<yyyy_mm_dd>/operations/*.py), each
// operation a `build_<name>_request` function that names its HTTP method, its URL template, its api-version and its
// query parameters. A request to the ARM stand-in is matched to the operation of its api-version whose method and
// template fit, and every query parameter must be that operation's.
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { AZ_CLI, requireCli } from "./clis.ts";

export interface ArmOperation {
  /** package/version/function, e.g. compute/v2020_06_01/_virtual_machines_operations.build_delete_request */
  id: string;
  /** The operation group and operation, e.g. virtual_machines_delete, resources_list. */
  name: string;
  method: string;
  template: string;
  /** undefined where the caller gives it (generic resource operations take the resource type's). */
  apiVersion?: string;
  query: string[];
}

/** A request the description does not allow. */
export class ArmViolation extends Error {}

/** The azure/mgmt folder of the Python that runs the installed az (Debian's python3, or Microsoft's /opt/az). */
export function azureMgmtDir(): string {
  const az = realpathSync(requireCli(AZ_CLI));
  const candidates = [
    "/usr/lib/python3/dist-packages/azure/mgmt",
    join(dirname(az), "..", "lib", "python3", "dist-packages", "azure", "mgmt"),
    ...["/opt/az/lib", join(dirname(az), "..", "lib")].flatMap((lib) =>
      existsSync(lib)
        ? readdirSync(lib)
            .filter((d) => d.startsWith("python3"))
            .map((d) => join(lib, d, "site-packages", "azure", "mgmt"))
        : [],
    ),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, "compute")));
  if (!found)
    throw new Error(`the Azure SDK that az runs on was not found (${candidates.join(", ")}): ${AZ_CLI.howToGet}`);
  return found;
}

const cache = new Map<string, ArmOperation[]>();

/** The operations of one package at one api-version (e.g. "compute", "2020-06-01"); none when az ships no such version. */
function operationsOf(pkg: string, apiVersion: string): ArmOperation[] {
  const key = `${pkg}@${apiVersion}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const version = `v${apiVersion.replace(/-/g, "_")}`;
  const dir = join(azureMgmtDir(), pkg, version, "operations");
  const operations: ArmOperation[] = [];
  if (existsSync(dir)) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".py"))) {
      const text = readFileSync(join(dir, file), "utf8");
      // One file per operation group (_virtual_machines_operations.py: build_delete_request), or one for all of
      // them (_operations.py: build_resources_list_request).
      const group = /^_(\w+)_operations\.py$/.exec(file)?.[1];
      for (const block of text.split(/\ndef (?=build_\w+_request\()/).slice(1)) {
        const name = /^(build_\w+_request)/.exec(block)![1]!;
        const operation = name.replace(/^build_|_request$/g, "");
        const template = /"template_url",\s*"([^"]+)"/.exec(block)?.[1];
        const method = /method="(\w+)"/.exec(block)?.[1];
        if (!template || !method) continue;
        operations.push({
          id: `${pkg}/${version}/${file.replace(/\.py$/, "")}.${name}`,
          name: group ? `${group}_${operation}` : operation,
          method,
          template,
          apiVersion: /_params\.pop\("api-version", "([\d-]+(?:-preview)?)"\)/.exec(block)?.[1],
          query: [...block.matchAll(/_params\["([^"]+)"\]/g)].map((m) => m[1]!),
        });
      }
    }
  }
  cache.set(key, operations);
  return operations;
}

function templateMatch(template: string, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  // A parent resource path (the SDK sends it unquoted: skip_quote=True) is zero or more whole segments: empty for a
  // top-level resource (an identity), "virtualNetworks/V/" for a subnet. Its slash goes with it.
  const source = template
    .replace("{parentResourcePath}/", "{parentResourcePath}")
    .replace(/\{(\w+)\}|[^{]+/g, (part, name: string) => {
      if (!name) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      names.push(name);
      // A whole resource id (generic resource operations) spans segments; any other parameter is one segment.
      if (name === "parentResourcePath") return "((?:[^/]+/)*)";
      return name === "resourceId" ? "(.+)" : "([^/]+)";
    });
  const match = new RegExp(`^${source}$`, "i").exec(path);
  return match ? Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)])) : undefined;
}

/**
 * The operation a request is, among `packages` (e.g. ["compute", "resource/resources"]) at the request's
 * api-version: its method and URL template fit, and every query parameter is one it sends.
 */
export function matchArmRequest(
  packages: string[],
  method: string,
  url: URL,
): { operation: ArmOperation; params: Record<string, string> } {
  const apiVersion = url.searchParams.get("api-version");
  if (!apiVersion) throw new ArmViolation(`${method} ${url.pathname} has no api-version`);
  const candidates: { operation: ArmOperation; params: Record<string, string> }[] = [];
  for (const pkg of packages) {
    for (const operation of operationsOf(pkg, apiVersion)) {
      if (operation.method !== method) continue;
      if (operation.apiVersion !== undefined && operation.apiVersion !== apiVersion) continue;
      const params = templateMatch(operation.template, url.pathname);
      if (params) candidates.push({ operation, params });
    }
  }
  // The most literal template wins: ".../virtualMachines/{vmName}" over "/{resourceId}".
  // Counted without the parameters' names: a parent resource path spans segments, so a generic resource template
  // (".../providers/{ns}/{parentResourcePath}/{type}/{name}") also fits a VM's path, with fewer literal characters.
  const literal = (t: string) => t.replace(/\{\w+\}/g, "").length;
  candidates.sort((a, b) => literal(b.operation.template) - literal(a.operation.template));
  const found = candidates[0];
  if (!found)
    throw new ArmViolation(`no operation of ${packages.join(", ")} at ${apiVersion} is ${method} ${url.pathname}`);
  for (const key of url.searchParams.keys())
    if (key !== "api-version" && !found.operation.query.includes(key))
      throw new ArmViolation(`${found.operation.id} has no query parameter ${key}`);
  return found;
}
