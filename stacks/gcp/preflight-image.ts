// The Compute Engine preflight's image question: the image (or its family) resolves, is READY and fits the disk.
// Apart from the capacity questions, since it is the same for every candidate of a start.
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding } from "../preflight.ts";
import type { GcpConfig } from "./config.ts";
import { jsonObject, refusal } from "./preflight-answers.ts";
import { gcloud, unanswered } from "./preflight-gcloud.ts";

/** projects/P/global/images/NAME or .../images/family/F (inputs.ts IMAGE), optionally a full self-link. */
export const IMAGE_PATH = /projects\/([^/]+)\/global\/images\/(family\/)?([^/]+)$/;

/**
 * The image resolves, is READY and fits the disk: `gcloud compute images describe-from-family FAMILY --project P`
 * (images.getFromFamily) or `gcloud compute images describe NAME --project P` (images.get), whose Image has status,
 * diskSizeGb and deprecated.state. The provider resolves a family the same way at apply, with the same permission.
 */
export async function image(config: GcpConfig, run: CommandRunner): Promise<PreflightFinding> {
  const [, project, family, name] = IMAGE_PATH.exec(config.image) ?? [];
  const check = `image ${config.image}`;
  if (!project || !name)
    return { check, status: "unchecked", detail: "not an image path the preflight can read", scope: "start" };
  const result = await gcloud(run, [
    "compute",
    "images",
    family ? "describe-from-family" : "describe",
    name,
    "--project",
    project,
    "--format=json",
  ]);
  if (result.exitCode !== 0) {
    const why = refusal(result);
    if (why.kind === "not-found")
      return {
        check,
        status: "failed",
        detail: `Compute Engine finds no image ${family ? "family " : ""}${name} in project ${project}`,
        fix: `set image to an existing image or family (gcloud compute images list --project ${project} --no-standard-images)`,
        scope: "start",
      };
    if (why.kind === "denied")
      return {
        check,
        status: "failed",
        detail: why.message,
        fix: `grant the workflow's service account roles/compute.imageUser on project ${project} (compute.images.get, getFromFamily, useReadOnly): the start reads the image the same way`,
        scope: "start",
      };
    return unanswered(check, result, "start", "compute.images.get");
  }
  const found = jsonObject(result.stdout);
  if (!found) return { check, status: "unchecked", detail: "gcloud printed no JSON object", scope: "start" };
  const size = Number(found.diskSizeGb);
  const state = (found.deprecated as { state?: unknown } | undefined)?.state;
  const detail = `${String(found.name)}: ${String(found.status)}, ${Number.isFinite(size) ? `${size} GB` : "size unknown"}`;
  if (found.status !== undefined && found.status !== "READY")
    return { check, status: "failed", detail, fix: "choose an image that is READY", scope: "start" };
  if (state === "OBSOLETE" || state === "DELETED")
    return { check, status: "failed", detail: `${detail}, ${state}`, fix: "choose a current image", scope: "start" };
  if (Number.isFinite(size) && size > config.diskSizeGb)
    return {
      check,
      status: "failed",
      detail: `${detail}: larger than disk-size ${config.diskSizeGb} GB`,
      fix: `set disk-size to at least ${size}`,
      scope: "start",
    };
  return { check, status: "ok", detail, scope: "start" };
}
