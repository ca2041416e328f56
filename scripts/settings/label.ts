// The label a start's runners share, which is also its state id. The run id and attempt make it readable in the
// GitHub UI; the random part makes it unique across the jobs of a matrix and across re-runs.
import { randomBytes } from "node:crypto";
import { LABEL_PREFIX } from "../../stacks/names.ts";
import type { RunContext } from "./run-context.ts";

export function newLabel(
  context: Pick<RunContext, "runId" | "runAttempt">,
  random: () => Buffer = () => randomBytes(4),
): string {
  return `${LABEL_PREFIX}${context.runId}-${context.runAttempt}-${random().toString("hex").slice(0, 8)}`;
}

/** Runner (and machine) names: the label plus the runner's position, so a stop can find them by prefix. */
export function runnerName(label: string, index: number): string {
  return `${label}-${index}`;
}

/** The workflow run a label (or a runner name made from one) belongs to; undefined for a name of another shape. */
export function runOfLabel(labelOrName: string): { runId: string; runAttempt: string } | undefined {
  const match = /^gpu-(\d{1,20})-(\d{1,4})-[0-9a-f]{8}(-\d+)?$/.exec(labelOrName);
  return match ? { runId: match[1]!, runAttempt: match[2]! } : undefined;
}

/**
 * The runner label that says which repository registered a start's runners: an organization's runner list mixes
 * every repository's, named alike, and GitHub's runner object names no repository. It begins with the start's own
 * label, because a label is also what a job's `runs-on` picks runners by: a job that asks for this one knows the
 * start's label already (which alone lets it take the runner), so it opens no way in that was not there. A label
 * of the repository id alone would let any job of the organization that asks for it take every runner of ours.
 */
export function ownerLabel(label: string, repositoryId: string): string {
  return `${label}-repository-${repositoryId}`;
}

/** The labels a start registers its runners with: its label, the owner label, then the user's extra labels. */
export function runnerLabels(label: string, repositoryId: string, extraLabels: readonly string[]): string[] {
  return [label, ownerLabel(label, repositoryId), ...extraLabels];
}

/** The start's label of a runner's (or machine's) name, `<label>-<index>`; undefined for a name of another shape. */
export function labelOfRunner(name: string): string | undefined {
  return /^(gpu-\d{1,20}-\d{1,4}-[0-9a-f]{8})-\d+$/.exec(name)?.[1];
}
