import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunJob } from "../scripts/adapters/github/types.ts";
import { describeRunnerJob, runnerJobs } from "../scripts/phases/runner-jobs.ts";

const job = (name: string, runnerName: string | undefined, conclusion = "success"): RunJob => ({
  id: 1,
  name,
  runnerName,
  status: "completed",
  conclusion,
  runAttempt: 1,
  htmlUrl: undefined,
});

describe("which job ran on each runner", () => {
  const runners = [{ name: "gpu-1-1-0a1b2c3d-0" }, { name: "gpu-1-1-0a1b2c3d-1" }, { name: "gpu-1-1-0a1b2c3d-2" }];
  const jobs = [
    job("gpu-tests (a)", "gpu-1-1-0a1b2c3d-0", "failure"),
    job("lint", "ubuntu-hosted-7"),
    job("queued", undefined),
  ];

  it("a job of this run on it: ran; still registered without one: idle; gone without one: taken elsewhere", () => {
    const report = runnerJobs(runners, new Map([["gpu-1-1-0a1b2c3d-1", { busy: false }]]), jobs);
    assert.deepEqual(report.map(describeRunnerJob), [
      'gpu-1-1-0a1b2c3d-0 ran job "gpu-tests (a)" (failure)',
      "gpu-1-1-0a1b2c3d-1 took no job",
      "gpu-1-1-0a1b2c3d-2 was taken by a job outside this workflow run",
    ]);
  });

  it("a runner that ran a job of this run and is gone (a JIT runner after its job) is fine", () => {
    assert.deepEqual(
      runnerJobs([runners[0]!], new Map(), jobs).map((r) => r.verdict),
      ["ran"],
    );
  });

  it("a runner still registered but busy, with no job of this run on it, is held by a job of another run: not idle", () => {
    const registered = new Map([
      ["gpu-1-1-0a1b2c3d-1", { busy: true }],
      ["gpu-1-1-0a1b2c3d-2", { busy: false }],
    ]);
    const report = runnerJobs(runners.slice(1), registered, jobs);
    assert.deepEqual(
      report.map((r) => r.verdict),
      ["elsewhere", "idle"],
    );
    assert.deepEqual(report.map(describeRunnerJob), [
      "gpu-1-1-0a1b2c3d-1 is busy with a job outside this workflow run",
      "gpu-1-1-0a1b2c3d-2 took no job",
    ]);
  });

  it("a busy runner that a job of this run holds ran that job", () => {
    const running = { ...job("gpu-tests (b)", "gpu-1-1-0a1b2c3d-1"), status: "in_progress", conclusion: undefined };
    const report = runnerJobs([runners[1]!], new Map([["gpu-1-1-0a1b2c3d-1", { busy: true }]]), [running]);
    assert.deepEqual(report.map(describeRunnerJob), ['gpu-1-1-0a1b2c3d-1 ran job "gpu-tests (b)" (in_progress)']);
  });

  it("on a re-run of the stop, a runner gone without a job of this run was removed by the earlier stop, not taken", () => {
    const [first, second] = [false, true].map((rerun) => runnerJobs(runners, new Map(), jobs, rerun));
    assert.deepEqual(
      first?.map((r) => r.verdict),
      ["ran", "elsewhere", "elsewhere"],
    );
    assert.deepEqual(
      second?.map((r) => r.verdict),
      ["ran", "removed earlier", "removed earlier"],
    );
    assert.equal(
      describeRunnerJob(second![1]!),
      "gpu-1-1-0a1b2c3d-1 took no job of this run and was already removed, by the stop of an earlier attempt (this stop is a re-run)",
    );
    // Still registered and busy on a re-run: another run's job holds it now, whatever the earlier stop did.
    assert.deepEqual(
      runnerJobs([runners[1]!], new Map([["gpu-1-1-0a1b2c3d-1", { busy: true }]]), jobs, true).map((r) => r.verdict),
      ["elsewhere"],
    );
  });
});
