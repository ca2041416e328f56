// The label a start's runners share, which is also its state id. The run id and attempt make it readable in the
// GitHub UI; the random part makes it unique across the jobs of a matrix and across re-runs.
import { randomBytes } from "node:crypto";
import type { RunContext } from "./run-context.ts";

export function newLabel(
  context: Pick<RunContext, "runId" | "runAttempt">,
  random: () => Buffer = () => randomBytes(4),
): string {
  return `gpu-${context.runId}-${context.runAttempt}-${random().toString("hex").slice(0, 8)}`;
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
