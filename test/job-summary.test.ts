import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startSummary, stopSummary } from "../scripts/phases/job-summary.ts";

const runners = [
  { name: "gpu-1-1-0a1b2c3d-0", id: 10, machineId: "i-0aaa" },
  { name: "gpu-1-1-0a1b2c3d-1", id: 11, machineId: "i-0bbb" },
];
const machine = { machineType: "g4dn.xlarge", location: "us-east-1", image: "ami-0123456789abcdef0" };

describe("job summary", () => {
  it("start: one row per runner and the hourly and worst-case cost", () => {
    const md = startSummary({ label: "gpu-1-1-0a1b2c3d", runners, machine, gpusPerMachine: 1, maxLifetimeMinutes: 120, usdPerHour: 0.526, pricesAsOf: "2025-06" });
    const rows = md.split("\n").filter((l) => l.startsWith("| gpu-1-1-0a1b2c3d-"));
    assert.deepEqual(rows, [
      "| gpu-1-1-0a1b2c3d-0 | g4dn.xlarge | 1 | us-east-1 | gpu-1-1-0a1b2c3d | 120 min | $0.53 |",
      "| gpu-1-1-0a1b2c3d-1 | g4dn.xlarge | 1 | us-east-1 | gpu-1-1-0a1b2c3d | 120 min | $0.53 |",
    ]);
    assert.match(md, /Estimated cost: \$1\.05 per hour for 2 machine\(s\), at most \$2\.10 if they ran to the lifetime cap/);
  });

  it("start: an unknown price says unknown, never a guess", () => {
    const md = startSummary({ label: "l", runners, machine: { ...machine, machineType: "x9.huge" }, gpusPerMachine: 0, maxLifetimeMinutes: 60, usdPerHour: undefined, pricesAsOf: "2025-06" });
    assert.match(md, /\| not checked \| us-east-1 \| l \| 60 min \| unknown \|/);
    assert.match(md, /Estimated cost: unknown for x9\.huge/);
    assert.ok(!/\$\d/.test(md));
  });

  it("stop: how long the machines lived and what that cost", () => {
    const md = stopSummary({
      label: "l",
      machineCount: 2,
      machine: { type: "g5.xlarge", location: "us-east-1", usdPerHour: 1.006, pricesAsOf: "2025-06" },
      startedAt: "2026-01-01T10:00:00Z",
      stoppedAt: new Date("2026-01-01T10:45:00Z"),
    });
    assert.match(md, /2 machine\(s\) of g5\.xlarge lived about 45 min/);
    assert.match(md, /Estimated cost: \$1\.51 \(2 x \$1\.01 per hour/);
  });

  it("stop: nothing left to stop", () => {
    assert.match(stopSummary({ label: "l", machineCount: 0, stoppedAt: new Date() }), /Nothing of this start was left to stop\./);
  });
});
