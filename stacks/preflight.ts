// The preflight: before anything is created, the cloud itself is asked, through the CLI the action already uses,
// whether this start can succeed (its permissions, its image, its quota, its capacity type), so that what would fail
// at apply, after runners exist and minutes bill, fails first and says what to fix. Each cloud asks its own
// questions (stacks/<cloud>/preflight.ts); the rule that turns the answers into a verdict is shared, here.

/** One question put to the cloud before anything exists, and its answer. */
export interface PreflightFinding {
  /** What was asked, in words, e.g. "dry run of the machine's launch" or "GPU quota of the region". */
  check: string;
  /**
   * "ok": the cloud says this part can succeed. "failed": it says it cannot (a denied permission, an image it
   * cannot find, a quota below what `count` needs). "unchecked": the question could not be asked (no permission to
   * read quotas, the CLI missing, a throttled call): a warning, never a failure, since the start may still succeed.
   */
  status: "ok" | "failed" | "unchecked";
  /** What the cloud answered, in one line. */
  detail: string;
  /** When not ok: what to do (the permission and the policy statement to add, the command to run, the input to change). */
  fix?: string;
  /**
   * "start": true of the whole start (permissions, the image, an account-wide role): one failure fails it.
   * "candidate": true of this capacity candidate only (its quota, its zone's offer): apply would move on to the
   * next candidate, so the start fails only when every candidate fails so.
   */
  scope: "start" | "candidate";
}

/** What a cloud's preflight is told beyond its configuration. */
export interface PreflightRequest {
  /** Machines the start makes: quotas are checked against count x the machine's vCPUs or GPUs. */
  count: number;
  /** Every tag (or label) the stack puts on what it creates: a dry run sends them, so tag-conditioned policies are judged as at apply. */
  tags: Readonly<Record<string, string>>;
}

/** One capacity candidate's answers: `candidate` names it (machine type, place, Spot) for the report. */
export interface CandidateFindings {
  candidate: string;
  findings: PreflightFinding[];
}

export interface PreflightVerdict {
  /** The start cannot succeed: a start-wide check failed, or every candidate failed one of its own. */
  failed: boolean;
  /** Why, one line per failed check (with its fix), when failed. */
  reasons: string[];
  /** Checks that could not be made, and candidates that would be skipped: said as warnings. */
  warnings: string[];
}

/**
 * The shared rule: a failed start-wide check fails the start; a failed candidate check only drops that candidate,
 * unless it drops them all; an unchecked question is a warning. A check asked of several candidates with the same
 * answer is said once.
 */
export function judgePreflight(candidates: readonly CandidateFindings[]): PreflightVerdict {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const said = new Set<string>();
  const once = (list: string[], line: string) => {
    if (said.has(line)) return;
    said.add(line);
    list.push(line);
  };
  const line = (f: PreflightFinding) => `${f.check}: ${f.detail}${f.fix ? `. ${f.fix}` : ""}`;
  for (const { findings } of candidates)
    for (const f of findings) {
      if (f.status === "failed" && f.scope === "start") once(reasons, line(f));
      if (f.status === "unchecked") once(warnings, `not checked: ${line(f)}`);
    }
  const dropped = candidates.filter(({ findings }) =>
    findings.some((f) => f.status === "failed" && f.scope === "candidate"),
  );
  // With no candidate at all nothing is dropped, and nothing is said either way.
  const allDropped = dropped.length === candidates.length;
  for (const { candidate, findings } of dropped)
    for (const f of findings.filter((f) => f.status === "failed" && f.scope === "candidate"))
      if (allDropped) once(reasons, `${candidate}: ${line(f)}`);
      else once(warnings, `${candidate} would be skipped: ${line(f)}`);
  return { failed: reasons.length > 0, reasons, warnings };
}
