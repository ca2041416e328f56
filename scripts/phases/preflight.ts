// The preflight of a start (stacks/preflight.ts says why): every capacity candidate asked at once, so that it takes
// the time of the slowest question, not of their sum, and the answers judged by the shared rule.
import type { MachinePlan } from "../../stacks/cloud.ts";
import {
  type CandidateFindings,
  judgePreflight,
  type PreflightRequest,
  type PreflightVerdict,
} from "../../stacks/preflight.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import { describeCandidate } from "./provision.ts";

export interface PreflightReport extends PreflightVerdict {
  candidates: CandidateFindings[];
}

export class PreflightError extends Error {
  constructor(readonly report: PreflightReport) {
    super(
      `The preflight found that this start cannot succeed; nothing was created:\n${report.reasons.map((r) => `- ${r}`).join("\n")}`,
    );
    this.name = "PreflightError";
  }
}

/** Asks the cloud about every candidate of `plan`; logs each answer and warning; the verdict is the caller's to act on. */
export async function preflight(
  plan: MachinePlan,
  request: PreflightRequest,
  run: CommandRunner,
  io: Pick<ActionIO, "group" | "info" | "warning">,
): Promise<PreflightReport> {
  return io.group(`Preflight: ask ${plan.cloud.name} whether this start can succeed`, async () => {
    const candidates = await Promise.all(
      plan.alternatives().map(async (candidate) => ({
        candidate: describeCandidate(candidate),
        findings: await candidate.preflight(request, run),
      })),
    );
    for (const { candidate, findings } of candidates)
      for (const f of findings) io.info(`${f.status.padEnd(9)} ${candidate}: ${f.check}: ${f.detail}`);
    const verdict = judgePreflight(candidates);
    for (const warning of verdict.warnings) io.warning(`Preflight: ${warning}`);
    return { ...verdict, candidates };
  });
}

/** The preflight's answers as a Markdown table, for the review and the job summary. */
export function preflightMarkdown(report: PreflightReport): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const rows = report.candidates.flatMap(({ candidate, findings }) =>
    findings.map(
      (f) => `| ${f.status} | ${cell(candidate)} | ${cell(f.check)} | ${cell(f.detail)} | ${cell(f.fix ?? "")} |`,
    ),
  );
  if (rows.length === 0) return "The preflight asked nothing of this cloud.\n";
  return ["| Answer | Candidate | Check | Found | To fix |", "| --- | --- | --- | --- | --- |", ...rows, ""].join("\n");
}
