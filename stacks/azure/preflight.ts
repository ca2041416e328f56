// The Azure preflight (stacks/preflight.ts says why): before anything exists, az asks Azure whether this candidate's
// size is offered to the subscription in its location (and zone), whether the vCPU quotas it draws on have room for
// `count` VMs, whether the image exists, and whether the workflow's role grants what the start does on the resource
// group, the subnet and the identity. Read-only questions, asked at once; preflight-answers.ts reads the answers.
//
// This file asks one candidate's questions at once; each lives beside it: the size and its quota
// (preflight-capacity.ts), the image (preflight-image.ts), the roles (preflight-roles.ts), and the memo that runs
// each distinct az command once (preflight-ask.ts).
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AzureConfig } from "./config.ts";
import { sizeAndQuota } from "./preflight-capacity.ts";
import { image } from "./preflight-image.ts";
import { roleChecks } from "./preflight-roles.ts";

/** Asks Azure about one capacity candidate: its size and quota (this candidate's), the image and the roles (the start's). */
export async function azurePreflight(
  config: AzureConfig,
  request: PreflightRequest,
  run: CommandRunner,
): Promise<PreflightFinding[]> {
  const [candidate, start] = await Promise.all([
    sizeAndQuota(config, request, run),
    Promise.all([image(config, run), ...roleChecks(config, run)]),
  ]);
  return [...candidate, ...start];
}
