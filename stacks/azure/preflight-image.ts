// The Azure preflight's image question: the Marketplace image (or image id) exists and has no purchase plan.
// Apart from the capacity questions, since it is the same for every candidate of a start.
import type { CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding } from "../preflight.ts";
import { describeImage } from "./catalog.ts";
import type { AzureConfig } from "./config.ts";
import { parseJson, refusal } from "./preflight-answers.ts";
import { ask, json, READ_FIX } from "./preflight-ask.ts";

/**
 * The image: a Marketplace image by `az vm image show --urn` (its latest version resolved as apply resolves it:
 * Compute's VirtualMachineImages_List, newest first, then _Get), an image or gallery image by `az resource show`.
 * A Marketplace image with a purchase plan cannot be started (the stack accepts no plan terms).
 */
export async function image(config: AzureConfig, run: CommandRunner): Promise<PreflightFinding> {
  const check = `image ${describeImage(config.image).split(" (")[0]} in ${config.location}`;
  const i = config.image;
  const args =
    i.kind === "marketplace"
      ? [
          ...["vm", "image", "show", "--urn", `${i.publisher}:${i.offer}:${i.sku}:${i.version}`],
          ...["--location", config.location, "--subscription", config.subscription, ...json],
        ]
      : ["resource", "show", "--ids", i.id, ...json];
  const result = await ask(run, args);
  if (result.exitCode !== 0) {
    const why = refusal(result);
    if (why.kind === "not-found")
      return {
        check,
        status: "failed",
        detail: why.message,
        fix:
          i.kind === "marketplace"
            ? `set image to one that exists in ${config.location} (az vm image list --location ${config.location} --publisher ${i.publisher} --offer ${i.offer} --sku ${i.sku} --all)`
            : `set image to the id of an image or gallery image version in ${config.location} that exists`,
        scope: "start",
      };
    if (why.kind === "denied" && i.kind === "id")
      return {
        check,
        status: "failed",
        detail: why.message,
        fix: `give the workflow's app ${why.action ?? "Microsoft.Compute/galleries/images/versions/read (or Microsoft.Compute/images/read)"} on the image (docs/azure.md, section 2)`,
        scope: "start",
      };
    return {
      check,
      status: "unchecked",
      detail: why.message,
      fix:
        why.kind === "denied"
          ? READ_FIX("Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read")
          : undefined,
      scope: "start",
    };
  }
  const answer = parseJson(result.stdout) as { plan?: unknown; name?: unknown } | undefined;
  if (answer === undefined || typeof answer !== "object")
    return { check, status: "unchecked", detail: "az printed no image", scope: "start" };
  if (answer.plan)
    return {
      check,
      status: "failed",
      detail: "the image has a purchase plan, which the action does not accept",
      fix: "set image to an image without a purchase plan (docs/azure.md, section 6)",
      scope: "start",
    };
  return {
    check,
    status: "ok",
    detail: typeof answer.name === "string" ? `found (version ${answer.name})` : "found",
    scope: "start",
  };
}
