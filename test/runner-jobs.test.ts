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
    const report = runnerJobs(runners, new Set(["gpu-1-1-0a1b2c3d-1"]), jobs);
    assert.deepEqual(report.map(describeRunnerJob), [
      'gpu-1-1-0a1b2c3d-0 ran job "gpu-tests (a)" (failure)',
      "gpu-1-1-0a1b2c3d-1 took no job",
      "gpu-1-1-0a1b2c3d-2 was taken by a job outside this workflow run",
    ]);
  });

  it("a runner that ran a job of this run and is gone (a JIT runner after its job) is fine", () => {
    assert.deepEqual(
      runnerJobs([runners[0]!], new Set(), jobs).map((r) => r.verdict),
      ["ran"],
    );
  });
});
