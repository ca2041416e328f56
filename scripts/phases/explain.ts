// The last thing a failed step prints: what happened, then one paragraph on what to check next. Most users meet
// this action's errors in a CI log, far from its code.
import type { Cloud } from "../../stacks/cloud.ts";
import { ForkRefusedError } from "./fork-guard.ts";
import { GitHubApiError } from "../adapters/github/errors.ts";
import { InputError } from "../../stacks/input-reader.ts";
import { NoCapacityError } from "./provision.ts";
import { StartError } from "./start.ts";
import { StopError } from "./stop.ts";
import { SweepError } from "./sweep.ts";
import { TerraformError } from "../adapters/terraform.ts";
import { RunnersNotOnlineError } from "./wait-online.ts";

const TROUBLESHOOTING = "docs/troubleshooting.md in the action's repository";

/** `cloud`: the chosen cloud, when the inputs named a known one; its own hint says what to check when Terraform fails. */
export function explainFailure(
  error: unknown,
  cloud?: Pick<Cloud["terraform"], "credentialsHint" | "applyErrorHints">,
): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof StartError && error.cancelled) return message;
  const hint = nextStep(error instanceof StartError ? error.cause : error, cloud);
  return hint ? `${message}\n\nWhat to check next: ${hint}` : message;
}

function nextStep(
  error: unknown,
  cloud: Pick<Cloud["terraform"], "credentialsHint" | "applyErrorHints"> | undefined,
): string | undefined {
  if (error instanceof InputError) {
    return `the input '${error.input}' in the step's with: block (the README's inputs table lists every input, its default and the modes that read it).`;
  }
  if (error instanceof ForkRefusedError) return undefined; // its message is the explanation
  if (error instanceof GitHubApiError) {
    return error.status === 401 || error.status === 403 || error.status === 404
      ? "the github-token: that the secret is set for this event (fork pull requests and Dependabot runs get no secrets), that it has not expired, and that it is allowed on this repository (docs/tokens.md)."
      : `GitHub's status page, then re-run: the API kept failing after bounded retries (${TROUBLESHOOTING}).`;
  }
  if (error instanceof NoCapacityError) return undefined; // it lists what was tried and what to change
  if (error instanceof RunnersNotOnlineError) {
    return `the boot lines printed above (one group per machine): they say how far the machine got. ${TROUBLESHOOTING} explains each line.`;
  }
  if (error instanceof TerraformError) {
    const known = cloud?.applyErrorHints?.find((hint) => hint.pattern.test(error.message));
    if (known) return known.hint;
    return `the terraform output in the group above. Most often the cloud's credentials step did not run in this job or lacks a permission: check ${
      cloud?.credentialsHint ??
      "that the cloud's credentials step ran in this job and has the permissions its docs page lists."
    }`;
  }
  if (error instanceof SweepError) {
    return "the failed deletions above (the cloud role needs to delete what the action tagged: docs/sweep.md), then re-run the sweep: it finds what is left.";
  }
  if (error instanceof StopError) {
    return `the failed cleanup above, then re-run the stop job; anything left carries the tag or label gpu-runner-label with this state-id as its value (${TROUBLESHOOTING}).`;
  }
  return undefined;
}
