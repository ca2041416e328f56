// The Azure preflight's capacity questions: whether the size is offered to the subscription in the location (and
// zone), and whether the vCPU quotas it draws on have room for count VMs. Apart because they are this candidate's.
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import type { AzureConfig } from "./config.ts";
import { judgeQuota, quotaNames, sizeOffer, usages } from "./preflight-answers.ts";
import { answerOf, ask, json, READ_FIX } from "./preflight-ask.ts";

/**
 * The size in the location: `az vm list-skus` with --all, since without it az drops the sizes restricted for the
 * subscription (azure-cli vm/custom.py, list_skus and is_sku_available), whose restrictions are the answer here.
 */
function askSize(config: AzureConfig, run: CommandRunner) {
  return ask(run, [
    ...["vm", "list-skus", "--location", config.location, "--size", config.size, "--all"],
    ...["--resource-type", "virtualMachines", "--subscription", config.subscription, ...json],
  ]);
}

/** The location's vCPU usages and quotas: `az vm list-usage` (Compute's Usage_List). */
function askUsage(config: AzureConfig, run: CommandRunner) {
  return ask(run, ["vm", "list-usage", "--location", config.location, "--subscription", config.subscription, ...json]);
}

export async function sizeAndQuota(
  config: AzureConfig,
  request: PreflightRequest,
  run: CommandRunner,
): Promise<PreflightFinding[]> {
  const where = `${config.location}${config.zone ? ` zone ${config.zone}` : ""}`;
  const offered = `${config.size}${config.spot ? " (Spot)" : ""} offered to the subscription in ${where}`;
  const quota = `vCPU quota for ${request.count} x ${config.size}${config.spot ? " (Spot)" : ""} in ${config.location}`;
  const [sizeAnswer, usageAnswer] = await Promise.all([
    answerOf(askSize(config, run)),
    answerOf(askUsage(config, run)),
  ]);
  if ("why" in sizeAnswer)
    return [
      {
        check: offered,
        status: "unchecked",
        detail: `az vm list-skus: ${sizeAnswer.why}`,
        fix: sizeAnswer.denied ? READ_FIX("Microsoft.Compute/skus/read") : undefined,
        scope: "candidate",
      },
      { check: quota, status: "unchecked", detail: "the size's family and vCPUs are not known", scope: "candidate" },
    ];
  const offer = sizeOffer(sizeAnswer.value, config.size, config.zone);
  if (offer === undefined)
    return [
      {
        check: offered,
        status: "unchecked",
        detail: "az vm list-skus printed no size's family and vCPUs",
        scope: "candidate",
      },
      { check: quota, status: "unchecked", detail: "the size's family and vCPUs are not known", scope: "candidate" },
    ];
  const another = `choose another size or location (az vm list-skus --location ${config.location} --size ${config.size} --all shows why)`;
  if (offer === "absent")
    return [
      {
        check: offered,
        status: "failed",
        detail: `Azure lists no ${config.size} in ${config.location}`,
        fix: another,
        scope: "candidate",
      },
    ];
  const findings: PreflightFinding[] = [];
  if (offer.restricted)
    findings.push({
      check: offered,
      status: "failed",
      detail: offer.restricted,
      fix: `${another}, or ask Azure support to enable ${config.size} for the subscription there`,
      scope: "candidate",
    });
  else if (config.spot && !offer.spotCapable)
    findings.push({
      check: offered,
      status: "failed",
      detail: `${config.size} cannot run as Spot (LowPriorityCapable is False)`,
      fix: "set spot: false, or choose a size that Spot offers",
      scope: "candidate",
    });
  else
    findings.push({
      check: offered,
      status: "ok",
      detail: `family ${offer.family}, ${offer.vcpus} vCPUs`,
      scope: "candidate",
    });

  const needed = request.count * offer.vcpus;
  if ("why" in usageAnswer) {
    findings.push({
      check: quota,
      status: "unchecked",
      detail: `az vm list-usage: ${usageAnswer.why}`,
      fix: usageAnswer.denied ? READ_FIX("Microsoft.Compute/locations/usages/read") : undefined,
      scope: "candidate",
    });
    return findings;
  }
  const listed = usages(usageAnswer.value);
  const verdict = listed
    ? judgeQuota(listed, quotaNames(offer.family, config.spot), needed)
    : { status: "unchecked" as const, detail: "az vm list-usage did not print a list" };
  findings.push({
    check: quota,
    status: verdict.status,
    detail: verdict.detail,
    fix: verdict.short
      ? `ask for at least ${verdict.short.current + needed} vCPUs of "${verdict.short.localizedName}" in ${config.location} (portal: Quotas, Compute), or lower count`
      : undefined,
    scope: "candidate",
  });
  return findings;
}
