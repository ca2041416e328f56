// The Azure preflight's role questions: whether the workflow's roles grant what the start does on the resource
// group, the subnet and the identity (the Permissions API). Apart because they read roles, not the subscription's offer.
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding } from "../preflight.ts";
import type { AzureConfig } from "./config.ts";
import {
  IDENTITY_ASSIGN,
  missingActions,
  permissions,
  resourceGroupActions,
  SUBNET_JOIN,
} from "./preflight-answers.ts";
import { answerOf, ask, json } from "./preflight-ask.ts";

/** The Permissions API version asked (azure-mgmt-authorization ships it: v2022_04_01, Permissions_ListForResourceGroup). */
const PERMISSIONS_API = "2022-04-01";

/**
 * Which of `needed` the workflow's roles grant at `scope`: the Permissions API lists, per role assigned at or above
 * the scope, its actions and notActions (Microsoft.Authorization Permissions_ListForResourceGroup and
 * _ListForResource: GET {scope}/providers/Microsoft.Authorization/permissions), asked through `az rest`, which
 * signs the request and prefixes a path with the cloud's Resource Manager endpoint.
 */
async function granted(
  run: CommandRunner,
  scope: string,
  needed: readonly string[],
  check: string,
  fix: (missing: string[]) => string,
): Promise<PreflightFinding> {
  const answer = await answerOf(
    ask(run, [
      ...["rest", "--method", "get", "--url"],
      `${scope}/providers/Microsoft.Authorization/permissions?api-version=${PERMISSIONS_API}`,
      ...json,
    ]),
  );
  if ("why" in answer) return { check, status: "unchecked", detail: `az rest: ${answer.why}`, scope: "start" };
  const listed = permissions(answer.value);
  if (!listed) return { check, status: "unchecked", detail: "the permissions answer has no list", scope: "start" };
  const missing = missingActions(listed.list, needed);
  if (missing.length === 0)
    return { check, status: "ok", detail: `all ${needed.length} actions granted`, scope: "start" };
  // A next page may hold the role that grants them: unknown, not denied.
  if (listed.more)
    return {
      check,
      status: "unchecked",
      detail: `not on the first page of permissions: ${missing.join(", ")}`,
      scope: "start",
    };
  return { check, status: "failed", detail: `not granted: ${missing.join(", ")}`, fix: fix(missing), scope: "start" };
}

export function roleChecks(config: AzureConfig, run: CommandRunner): Promise<PreflightFinding>[] {
  const group = `/subscriptions/${config.subscription}/resourceGroups/${config.resourceGroup}`;
  const checks = [
    granted(
      run,
      group,
      resourceGroupActions(config),
      `the workflow's role on resource group ${config.resourceGroup}`,
      (missing) =>
        `add ${missing.join(", ")} to the role of the workflow's app on resource group ${config.resourceGroup} (docs/azure.md, section 2: the GPU runner operator role)`,
    ),
    granted(
      run,
      config.subnetId,
      [SUBNET_JOIN],
      "the workflow's role on the subnet",
      () =>
        `give the workflow's app ${SUBNET_JOIN} on the subnet ${config.subnetId} (docs/azure.md, section 2; the built-in Network Contributor on the subnet has it)`,
    ),
  ];
  if (config.identity)
    checks.push(
      granted(
        run,
        config.identity,
        [IDENTITY_ASSIGN],
        "the workflow's role on the identity",
        () =>
          `give the workflow's app ${IDENTITY_ASSIGN} on the identity ${config.identity} (the built-in Managed Identity Operator role; docs/azure.md, section 4)`,
      ),
    );
  return checks;
}
