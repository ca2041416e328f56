// Which job ran on each of a start's runners. A runner carries only this start's unique label, so only a job of this
// workflow run should take it; one taken by a job of another run (a label shared by mistake, or a job that asked for
// the same label) ran someone else's code on this machine, with this repository's secrets: stop says so, loudly.
import type { RunJob } from "../adapters/github/types.ts";

export interface RunnerJob {
  runner: string;
  /** "ran": a job of this run took it; "idle": it is still registered and took none; "elsewhere": it is gone, and
   * no job of this run ran on it, so a job of another run took it. */
  verdict: "ran" | "idle" | "elsewhere";
  job?: RunJob;
}

/**
 * `runners`: every runner of the start; `stillRegistered`: the names GitHub lists now (a JIT runner deregisters
 * after its one job); `jobs`: the jobs of this workflow run, every attempt.
 */
export function runnerJobs(
  runners: { name: string }[],
  stillRegistered: ReadonlySet<string>,
  jobs: RunJob[],
): RunnerJob[] {
  return runners.map(({ name }) => {
    const job = jobs.find((j) => j.runnerName === name);
    if (job) return { runner: name, verdict: "ran", job };
    return { runner: name, verdict: stillRegistered.has(name) ? "idle" : "elsewhere" };
  });
}

export function describeRunnerJob(r: RunnerJob): string {
  switch (r.verdict) {
    case "ran":
      return `${r.runner} ran job "${r.job?.name}" (${r.job?.conclusion ?? r.job?.status})`;
    case "idle":
      return `${r.runner} took no job`;
    case "elsewhere":
      return `${r.runner} was taken by a job outside this workflow run`;
  }
}
