// Which job ran on each of a start's runners. A runner carries only this start's unique label, so only a job of this
// workflow run should take it; one taken by a job of another run (a label shared by mistake, or a job that asked for
// the same label) ran someone else's code on this machine, with this repository's secrets: stop says so, loudly.
import type { RunJob } from "../adapters/github/types.ts";

export interface RunnerJob {
  runner: string;
  /**
   * "ran": a job of this run took it (or holds it now); "idle": it is still registered, not busy, and took none;
   * "elsewhere": a job outside this run holds it now (registered and busy, no job of this run on it), or it is gone
   * and no job of this run ran on it; "removed earlier": it is gone, no job of this run ran on it, and this stop is
   * a re-run, so the stop of an earlier attempt, which removes every runner it finds, removed it.
   */
  verdict: "ran" | "idle" | "elsewhere" | "removed earlier";
  job?: RunJob;
  /** Registered and busy at GitHub when stop looked: running a job now. */
  busy?: boolean;
}

/**
 * `runners`: every runner of the start; `registered`: those GitHub lists now, by name, with whether each is busy (a
 * JIT runner deregisters after its one job); `jobs`: the jobs of this workflow run, every attempt; `rerun`: this stop
 * runs in a later attempt of the run than its start, so the stop of an earlier attempt may have removed runners.
 *
 * Why a re-run can tell: a stop removes every runner of the start it finds, and says in its log which job each ran
 * (an alarm for one taken elsewhere). A runner that the state names, that GitHub no longer lists and on which no job
 * of this run ran was, on a first stop, taken by a job of another run; on a re-run, it is what the earlier stop
 * removed. The one case this cannot see: an earlier stop that could not remove a runner another run then took (that
 * stop failed naming the runner, so its log says so).
 */
export function runnerJobs(
  runners: { name: string }[],
  registered: ReadonlyMap<string, { busy: boolean }>,
  jobs: RunJob[],
  rerun = false,
): RunnerJob[] {
  return runners.map(({ name }) => {
    const job = jobs.find((j) => j.runnerName === name);
    const listed = registered.get(name);
    if (job) return { runner: name, verdict: "ran", job };
    // Busy with no job of this run on it: a job of another run is running on this machine now.
    if (listed)
      return listed.busy ? { runner: name, verdict: "elsewhere", busy: true } : { runner: name, verdict: "idle" };
    return { runner: name, verdict: rerun ? "removed earlier" : "elsewhere" };
  });
}

export function describeRunnerJob(r: RunnerJob): string {
  switch (r.verdict) {
    case "ran":
      // Stryker disable next-line OptionalChaining: a "ran" verdict always carries its job (runnerJobs); the chaining only satisfies the type.
      return `${r.runner} ran job "${r.job?.name}" (${r.job?.conclusion ?? r.job?.status})`;
    case "idle":
      return `${r.runner} took no job`;
    case "elsewhere":
      return r.busy
        ? `${r.runner} is busy with a job outside this workflow run`
        : `${r.runner} was taken by a job outside this workflow run`;
    case "removed earlier":
      return `${r.runner} took no job of this run and was already removed, by the stop of an earlier attempt (this stop is a re-run)`;
  }
}
