// The Compute Engine preflight (stacks/preflight.ts says why): before anything exists, gcloud asks whether the zone
// offers the machine (or the GPU attached to it), whether the region's GPU quota holds count x its GPUs, whether the
// image resolves and fits the disk, and which of the start's permissions the project grants. Read-only questions,
// asked at once; what cannot be asked is "unchecked", never a throw.
//
// This file asks one candidate's questions at once; each lives beside it: the zone's offer and the GPU quotas
// (preflight-capacity.ts), the image (preflight-image.ts), the start's permissions (preflight-permissions.ts), and
// the memo that asks each question once per preflight (preflight-gcloud.ts).
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { GcpConfig } from "./config.ts";
import { offerAndQuota } from "./preflight-capacity.ts";
import { once, roundOf } from "./preflight-gcloud.ts";
import { image } from "./preflight-image.ts";
import { permissions, startPermissions } from "./preflight-permissions.ts";

export { startPermissions } from "./preflight-permissions.ts";

/** One capacity candidate's answers; each question is asked at once, and each once per preflight. */
export async function preflight(
  config: GcpConfig,
  request: PreflightRequest,
  run: CommandRunner,
): Promise<PreflightFinding[]> {
  const round = roundOf(run, request);
  const [offer, img, perms] = await Promise.all([
    offerAndQuota(config, request, round),
    image(config, round),
    once(round, `permissions\0${JSON.stringify(startPermissions(config))}\0${config.project}`, () =>
      permissions(config, round),
    ),
  ]);
  return [...offer, img, ...perms];
}
