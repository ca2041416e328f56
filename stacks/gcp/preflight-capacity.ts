// The Compute Engine preflight's capacity questions: whether the zone offers the machine (or its GPU), and whether the
// region's and the project's GPU quotas hold count x its GPUs. Apart because they are this candidate's alone.
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import { gcpCatalog } from "./catalog.ts";
import type { GcpConfig } from "./config.ts";
import {
  carriedAccelerator,
  jsonObject,
  judgeAllRegions,
  judgeQuota,
  refusal,
  regionQuotas,
} from "./preflight-answers.ts";
import { gcloud, unanswered } from "./preflight-gcloud.ts";

/**
 * Whether the zone offers the machine type (accelerator-optimized types carry their GPUs) or, for N1, the GPU
 * attached to it, and the region's quota for that GPU. `gcloud compute machine-types describe` and
 * `accelerator-types describe` (`gcloud compute ... describe --help`: NAME, --zone) are machineTypes.get and
 * acceleratorTypes.get; `gcloud compute regions describe` is regions.get, whose Region.quotas[] holds metric, limit
 * and usage (compute v1 discovery, as the Cloud SDK ships it); `gcloud compute project-info describe` is projects.get,
 * whose Project.quotas[] has the same shape.
 */
export async function offerAndQuota(config: GcpConfig, request: PreflightRequest, run: CommandRunner) {
  const where = ["--zone", config.zone, "--project", config.project, "--format=json"];
  const [kind, name] = config.gpu ? ["accelerator-types", config.gpu.type] : ["machine-types", config.machineType];
  const [offered, region, project] = await Promise.all([
    gcloud(run, ["compute", kind, "describe", name, ...where]),
    gcloud(run, ["compute", "regions", "describe", config.region, "--project", config.project, "--format=json"]),
    // projects.get: Project.quotas[] holds the project-wide GPUS_ALL_REGIONS (judged on demand only).
    config.spot
      ? undefined
      : gcloud(run, ["compute", "project-info", "describe", "--project", config.project, "--format=json"]),
  ]);
  const findings: PreflightFinding[] = [];
  const offerCheck = `${config.gpu ? `GPU ${name}` : `machine type ${name}`} offered in ${config.zone}`;
  const described = offered.exitCode === 0 ? jsonObject(offered.stdout) : undefined;
  if (offered.exitCode !== 0 && refusal(offered).kind === "not-found")
    findings.push({
      check: offerCheck,
      status: "failed",
      detail: `Compute Engine has no ${name} in ${config.zone}`,
      fix: `choose a zone that offers it (gcloud compute ${kind} list --filter="name=${name}")`,
      scope: "candidate",
    });
  else if (!described)
    findings.push(
      offered.exitCode === 0
        ? { check: offerCheck, status: "unchecked", detail: "gcloud printed no JSON object", scope: "candidate" }
        : unanswered(
            offerCheck,
            offered,
            "candidate",
            `compute.${config.gpu ? "acceleratorTypes" : "machineTypes"}.get`,
          ),
    );
  else findings.push({ check: offerCheck, status: "ok", detail: `offered in ${config.zone}`, scope: "candidate" });

  // The GPU and how many one machine carries: attached to N1 as asked; otherwise as Compute Engine describes the
  // type (MachineType.accelerators[]: guestAcceleratorType, guestAcceleratorCount), else by its family and catalog.
  const carried = (Array.isArray(described?.accelerators) ? described.accelerators : []) as {
    guestAcceleratorType?: unknown;
    guestAcceleratorCount?: unknown;
  }[];
  const accelerator =
    config.gpu?.type ??
    (typeof carried[0]?.guestAcceleratorType === "string" ? carried[0].guestAcceleratorType : undefined) ??
    carriedAccelerator(config.machineType);
  const describedCount = carried.reduce(
    (n, a) => n + (typeof a.guestAcceleratorCount === "number" ? a.guestAcceleratorCount : 0),
    0,
  );
  const gpusPerMachine = config.gpu?.count ?? (describedCount || gcpCatalog.gpus(config).count);
  // A machine without a GPU (expected-gpus: 0) needs no GPU quota.
  if (!accelerator || !gpusPerMachine) return findings;
  const quotaCheck = `GPU quota for ${request.count * gpusPerMachine} x ${accelerator}${config.spot ? " (Spot)" : ""} in ${config.region}`;
  const regionJson = region.exitCode === 0 ? jsonObject(region.stdout) : undefined;
  if (!regionJson)
    findings.push(
      region.exitCode === 0
        ? { check: quotaCheck, status: "unchecked", detail: "gcloud printed no JSON object", scope: "candidate" }
        : unanswered(quotaCheck, region, "candidate", "compute.regions.get"),
    );
  else
    findings.push(
      judgeQuota(
        { region: config.region, accelerator, spot: config.spot, machines: request.count, gpusPerMachine },
        regionQuotas(regionJson),
      ),
    );
  if (project) {
    const projectJson = project.exitCode === 0 ? jsonObject(project.stdout) : undefined;
    const allCheck = `GPU quota for ${request.count * gpusPerMachine} GPU(s) in all regions`;
    findings.push(
      projectJson
        ? judgeAllRegions(request.count, gpusPerMachine, regionQuotas(projectJson))
        : project.exitCode === 0
          ? { check: allCheck, status: "unchecked", detail: "gcloud printed no JSON object", scope: "candidate" }
          : unanswered(allCheck, project, "candidate", "compute.projects.get"),
    );
  }
  return findings;
}
