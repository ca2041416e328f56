// How the preflight reads gcloud's answers (preflight.ts asks the questions): what a failed describe means, the
// region's GPU quota against what a start needs, and which of the start's permissions the project grants. Pure, so
// that each rule is tested on its own.
import type { CommandResult } from "../cloud-command.ts";
import type { PreflightFinding } from "../preflight.ts";

/** What a gcloud command's failure says: the resource is not there, the caller may not ask, or something else. */
export type Refusal =
  | { kind: "not-found"; message: string }
  | { kind: "denied"; message: string; permission?: string }
  | { kind: "other"; message: string };

/**
 * gcloud prints Compute Engine's error under "Could not fetch resource:" as " - <Google's message>"
 * (googlecloudsdk/api_lib/compute/utils.py, RaiseToolException): 404s say "The resource '...' was not found", 403s
 * "Required 'PERMISSION' permission for '...'". A missing CLI is the runner's exit 127.
 */
export function refusal(result: CommandResult): Refusal {
  if (result.exitCode === 127) return { kind: "other", message: "the gcloud CLI is not installed (exit 127)" };
  const lines = result.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const google = lines.find((l) => l.startsWith("- "))?.slice(2);
  const message = (google ?? lines.at(-1) ?? `exit ${result.exitCode}`).slice(0, 300);
  if (/was not found|NOT_FOUND|\b404\b/.test(result.stderr)) return { kind: "not-found", message };
  const permission = /Required '([a-zA-Z0-9.]+)' permission/.exec(result.stderr)?.[1];
  if (permission || /PERMISSION_DENIED|\b403\b|forbidden/i.test(result.stderr))
    return { kind: "denied", message, permission };
  return { kind: "other", message };
}

/** A command's JSON object, or undefined when it printed none. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The regional quota metric of each accelerator type (Compute Engine's Quota.metric enum, as the Cloud SDK's
 * compute v1 client describes it: googlecloudsdk/generated_clients/apis/compute/v1/compute_v1_messages.py,
 * Quota.MetricValueValuesEnum; the accelerator types as https://cloud.google.com/compute/docs/gpus names them).
 * Spot machines count against PREEMPTIBLE_<metric>. That enum has NVIDIA_T4/P4/P100/V100/L4/A100/A100_80GB_GPUS and
 * their PREEMPTIBLE_ twins, but for H100 only PREEMPTIBLE_NVIDIA_H100_GPUS, and nothing for H100 Mega or H200: their
 * on-demand quota lives only in Cloud Quotas (GPUS-PER-GPU-FAMILY-per-project-region, dimension gpu_family), which
 * `regions describe` does not list (dstack found the same: dstackai/dstack PR 3100, "B200, H100 and H100_MEGA quotas
 * are not returned by regions_client.list").
 */
export const GPU_QUOTA_METRIC: Readonly<Record<string, string>> = {
  "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
  "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
  "nvidia-tesla-p100": "NVIDIA_P100_GPUS",
  "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
  "nvidia-l4": "NVIDIA_L4_GPUS",
  "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
  "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
  "nvidia-h100-80gb": "NVIDIA_H100_GPUS",
  "nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS",
  "nvidia-h200-141gb": "NVIDIA_H200_GPUS",
};

/** The accelerator-optimized families and the GPU each carries (https://cloud.google.com/compute/docs/gpus). */
const CARRIED_ACCELERATOR: readonly [RegExp, string][] = [
  [/^g2-/, "nvidia-l4"],
  [/^a2-(highgpu|megagpu)-/, "nvidia-tesla-a100"],
  [/^a2-ultragpu-/, "nvidia-a100-80gb"],
  [/^a3-(highgpu|edgegpu)-/, "nvidia-h100-80gb"],
  [/^a3-megagpu-/, "nvidia-h100-mega-80gb"],
  [/^a3-ultragpu-/, "nvidia-h200-141gb"],
];

/** The accelerator type a machine type carries, by its family, when Compute Engine's description did not say. */
export function carriedAccelerator(machineType: string): string | undefined {
  return CARRIED_ACCELERATOR.find(([family]) => family.test(machineType))?.[1];
}

interface QuotaEntry {
  metric: string;
  limit: number;
  usage: number;
}

/** The quotas[] of `gcloud compute regions describe` or `project-info describe` (Region/Project.quotas). */
export function regionQuotas(region: Record<string, unknown>): QuotaEntry[] {
  const quotas = Array.isArray(region.quotas) ? region.quotas : [];
  return quotas.flatMap((q: { metric?: unknown; limit?: unknown; usage?: unknown }) =>
    typeof q.metric === "string" && typeof q.limit === "number"
      ? [{ metric: q.metric, limit: q.limit, usage: typeof q.usage === "number" ? q.usage : 0 }]
      : [],
  );
}

export interface QuotaQuestion {
  region: string;
  accelerator: string;
  spot: boolean;
  machines: number;
  gpusPerMachine: number;
}

/**
 * The region's GPU quota against count x GPUs per machine. Spot counts against the PREEMPTIBLE_ metric; where the
 * region grants none (limit 0 or not listed), Spot machines consume the standard quota ("To prevent Spot VMs from
 * consuming your quotas for standard VMs' CPUs, GPUs, and disks, consider requesting preemptible quota":
 * https://cloud.google.com/compute/docs/instances/create-use-spot, Before you begin), so that one is judged instead.
 */
export function judgeQuota(q: QuotaQuestion, quotas: readonly QuotaEntry[]): PreflightFinding {
  const base = GPU_QUOTA_METRIC[q.accelerator];
  const needed = q.machines * q.gpusPerMachine;
  const check = `GPU quota for ${needed} x ${q.accelerator}${q.spot ? " (Spot)" : ""} in ${q.region}`;
  if (!base)
    return {
      check,
      status: "unchecked",
      detail: `the action knows no quota metric for ${q.accelerator}`,
      scope: "candidate",
    };
  const find = (metric: string) => quotas.find((e) => e.metric === metric);
  const preemptible = q.spot ? find(`PREEMPTIBLE_${base}`) : undefined;
  const entry = preemptible && preemptible.limit > 0 ? preemptible : find(base);
  if (!entry)
    return {
      check,
      status: "unchecked",
      detail: `${q.region} lists no ${q.spot ? `PREEMPTIBLE_${base} or ` : ""}${base} quota: Compute Engine keeps this GPU's quota in Cloud Quotas (GPUS-PER-GPU-FAMILY-per-project-region), which gcloud compute regions describe does not show`,
      fix: `see IAM & Admin > Quotas for ${q.accelerator} in ${q.region}`,
      scope: "candidate",
    };
  const free = Math.max(0, entry.limit - entry.usage);
  const detail = `${entry.metric} in ${q.region}: limit ${entry.limit}, in use ${entry.usage}, ${free} free; ${q.machines} machine(s) x ${q.gpusPerMachine} GPU(s) need ${needed}`;
  if (free >= needed) return { check, status: "ok", detail, scope: "candidate" };
  return {
    check,
    status: "failed",
    detail,
    fix: `raise ${entry.metric} in ${q.region} to at least ${entry.usage + needed} (IAM & Admin > Quotas), lower count, or use another region`,
    scope: "candidate",
  };
}

/**
 * The project's GPUS_ALL_REGIONS quota (Project.quotas[] of `gcloud compute project-info describe`, a metric of the
 * same enum) against what an on-demand start needs: new projects often have 0 (docs/gcp.md, "First GPU run"). Spot
 * is not judged by it: whether Spot GPUs count against it is not said in the material at hand.
 */
export function judgeAllRegions(machines: number, gpusPerMachine: number, quotas: readonly QuotaEntry[]) {
  const needed = machines * gpusPerMachine;
  const check = `GPU quota for ${needed} GPU(s) in all regions`;
  const entry = quotas.find((e) => e.metric === "GPUS_ALL_REGIONS");
  if (!entry)
    return {
      check,
      status: "unchecked" as const,
      detail: "the project lists no GPUS_ALL_REGIONS quota",
      scope: "candidate" as const,
    };
  const free = Math.max(0, entry.limit - entry.usage);
  const detail = `GPUS_ALL_REGIONS: limit ${entry.limit}, in use ${entry.usage}, ${free} free; ${needed} needed`;
  return free >= needed
    ? { check, status: "ok" as const, detail, scope: "candidate" as const }
    : {
        check,
        status: "failed" as const,
        detail,
        fix: `raise GPUS_ALL_REGIONS to at least ${entry.usage + needed} (IAM & Admin > Quotas), or lower count`,
        scope: "candidate" as const,
      };
}

/** Where a start's permission may be granted below the project, so that a test on the project cannot see it. */
export interface PermissionNeed {
  permission: string;
  /** Why: what of the stack needs it. */
  why: string;
  /**
   * "project": granted on the project (the look-ups of docs/gcp.md's gpuRunnerLookups role, or a predefined role).
   * "named": docs/gcp.md grants it under an IAM condition on the runners' names, which a test on the project does
   * not meet. "resource": it may be granted on one resource only (the subnetwork, the machine's service account).
   */
  grant: "project" | "named" | "resource";
  /** What grants it, when not the workflow's roles of docs/gcp.md (e.g. a role on the service account itself). */
  grantedBy?: string;
}

/** The role that grants all of a start's project permissions, for the fix text. */
const ROLE_FIX =
  "grant the workflow's service account roles/compute.instanceAdmin.v1, or add it to the custom roles of docs/gcp.md (section 2)";

/**
 * The answer of projects.testIamPermissions (the permissions granted among those asked), judged: a project-wide
 * permission missing fails the start; one docs/gcp.md grants under a name condition is unseen, not missing, when the
 * project grants none of them (that is how such a condition answers a test on the project), and missing when the
 * project grants some of them but not it; one that may be granted on a single resource is unchecked when missing.
 */
export function judgePermissions(
  project: string,
  needs: readonly PermissionNeed[],
  granted: readonly string[],
): PreflightFinding[] {
  const check = `permissions of the start on project ${project}`;
  const has = new Set(granted);
  const missing = needs.filter((n) => !has.has(n.permission));
  const named = needs.filter((n) => n.grant === "named");
  const conditioned = named.length > 0 && named.every((n) => !has.has(n.permission));
  const failed = missing.filter((n) => n.grant === "project" || (n.grant === "named" && !conditioned));
  const unseen = missing.filter((n) => n.grant === "resource" || (n.grant === "named" && conditioned));
  const list = (ns: readonly PermissionNeed[]) => ns.map((n) => `${n.permission} (${n.why})`).join(", ");
  const findings: PreflightFinding[] = [];
  if (failed.length > 0)
    findings.push({
      check,
      status: "failed",
      detail: `not granted: ${list(failed)}`,
      fix: `${ROLE_FIX}: ${failed.map((n) => n.permission).join(", ")}`,
      scope: "start",
    });
  if (unseen.length > 0)
    findings.push({
      check,
      status: "unchecked",
      detail: `not granted on the whole project, which may be right: ${list(unseen)}; ${
        conditioned && unseen.some((n) => n.grant === "named")
          ? "docs/gcp.md grants the machines' permissions under an IAM condition on the runners' names, which a test on the project does not meet"
          : "they may be granted on the resource itself"
      }`,
      fix: `if the start fails at apply for one of them: ${[
        ...new Set(unseen.map((n) => (n.grantedBy ? `${n.permission}: ${n.grantedBy}` : ROLE_FIX))),
      ].join("; ")}`,
      scope: "start",
    });
  if (findings.length === 0)
    findings.push({ check, status: "ok", detail: `all ${needs.length} granted`, scope: "start" });
  return findings;
}
