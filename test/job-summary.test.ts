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
    const md = startSummary({
      label: "gpu-1-1-0a1b2c3d",
      runners,
      machine,
      gpusPerMachine: 1,
      gpuCheck: "1 per machine (accelerator t4:1)",
      maxLifetimeMinutes: 120,
      usdPerHour: 0.526,
      pricesAsOf: "2025-06",
    });
    const rows = md.split("\n").filter((l) => l.startsWith("| gpu-1-1-0a1b2c3d-"));
    assert.deepEqual(rows, [
      "| gpu-1-1-0a1b2c3d-0 | i-0aaa | g4dn.xlarge | 1 | us-east-1 | gpu-1-1-0a1b2c3d | 120 min | $0.53 |",
      "| gpu-1-1-0a1b2c3d-1 | i-0bbb | g4dn.xlarge | 1 | us-east-1 | gpu-1-1-0a1b2c3d | 120 min | $0.53 |",
    ]);
    assert.match(
      md,
      /Estimated cost: \$1\.05 per hour for 2 machine\(s\), at most \$2\.10 if they ran to the lifetime cap/,
    );
  });

  it("start: the worst case checked before the start, with max-cost or that none was set", () => {
    const base = {
      label: "l",
      runners,
      machine,
      gpusPerMachine: 1,
      gpuCheck: "1 per machine",
      maxLifetimeMinutes: 360,
      usdPerHour: 0.526,
      pricesAsOf: "2025-06",
    };
    const worst = "$6.32 = $0.526 per hour (g4dn.xlarge in us-east-1) x 2 machine(s) x 6 h max-lifetime";
    assert.ok(
      startSummary({ ...base, worstCase: worst, maxCostUsd: 10 }).includes(
        `\nWorst case, checked before anything was created: ${worst}; max-cost $10.00.\n`,
      ),
    );
    assert.ok(
      startSummary({ ...base, worstCase: worst }).includes(
        `\nWorst case, checked before anything was created: ${worst}; max-cost not set.\n`,
      ),
    );
    assert.ok(!startSummary(base).includes("Worst case"), "none given, none said");
  });

  it("start: an unknown price says unknown, never a guess", () => {
    const md = startSummary({
      label: "l",
      runners,
      machine: { ...machine, machineType: "x9.huge" },
      gpusPerMachine: 0,
      gpuCheck: "no check (expected-gpus: 0)",
      maxLifetimeMinutes: 60,
      usdPerHour: undefined,
      pricesAsOf: "2025-06",
    });
    assert.match(md, /\| not checked \| us-east-1 \| l \| 60 min \| unknown \|/);
    assert.match(md, /Estimated cost: unknown for x9\.huge/);
    assert.ok(!/\$\d/.test(md));
  });

  it("start: says where the GPU count came from, and the image as resolved at apply beside its source", () => {
    const source =
      "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id (the default)";
    const check = "1 per machine (accelerator t4:1; at apply, EC2's description of g4dn.xlarge decides)";
    const md = startSummary({
      label: "l",
      runners,
      machine: { ...machine, image: source },
      gpusPerMachine: 1,
      gpuCheck: check,
      bootedImage: "ami-0fedcba9876543210",
      maxLifetimeMinutes: 60,
      usdPerHour: 0.526,
      pricesAsOf: "2026-09",
    });
    assert.ok(md.includes(`GPU check: ${check}.`), md);
    assert.ok(md.includes(`Image: ami-0fedcba9876543210, from ${source}.`), md);
    // Without a resolved image (an AMI id given as is), the image as given.
    assert.match(
      startSummary({
        label: "l",
        runners,
        machine,
        gpusPerMachine: 1,
        gpuCheck: check,
        maxLifetimeMinutes: 60,
        usdPerHour: 0.526,
        pricesAsOf: "2026-09",
      }),
      /^Image: ami-0123456789abcdef0\.$/m,
    );
  });

  it("start: each machine's id (unknown when terraform gave none) and what its GPU check found, or why not", () => {
    const md = startSummary({
      label: "l",
      runners: [...runners, { name: "l-2", id: 12, machineId: "" }],
      machine,
      gpusPerMachine: 1,
      gpuCheck: "1",
      maxLifetimeMinutes: 60,
      usdPerHour: 0.526,
      pricesAsOf: "2026-09",
      gpusFound: {
        "gpu-1-1-0a1b2c3d-0": { count: 1, model: "NVIDIA H100 80GB HBM3", driver: "580.159.04", cuda: "13.0" },
        "gpu-1-1-0a1b2c3d-1": "could not read the console of gpu-1-1-0a1b2c3d-1: AccessDenied",
      },
    });
    assert.match(md, /^\| l-2 \| unknown \| g4dn\.xlarge \| 1 \| us-east-1 \|/m);
    const table = md.slice(md.indexOf("| Runner | GPUs | Model | Driver | CUDA |"));
    assert.deepEqual(table.split("\n").slice(2, 5), [
      "| gpu-1-1-0a1b2c3d-0 | 1 | NVIDIA H100 80GB HBM3 | 580.159.04 | 13.0 |",
      "| gpu-1-1-0a1b2c3d-1 | unknown: could not read the console of gpu-1-1-0a1b2c3d-1: AccessDenied |  |  |  |",
      "| l-2 | unknown: its console was not read |  |  |  |",
    ]);
    // Without a GPU check, no GPU table at all.
    assert.ok(
      !startSummary({
        label: "l",
        runners,
        machine,
        gpusPerMachine: 0,
        gpuCheck: "no check",
        maxLifetimeMinutes: 60,
        usdPerHour: 1,
        pricesAsOf: "2026-09",
        gpusFound: undefined,
      }).includes("| Model |"),
    );
  });

  it("start on Spot: the on-demand list price as the upper bound, not unknown", () => {
    const md = startSummary({
      label: "l",
      runners,
      machine: { ...machine, machineType: "g4dn.xlarge (spot)", spot: true },
      gpusPerMachine: 1,
      gpuCheck: "1",
      maxLifetimeMinutes: 120,
      usdPerHour: 0.526,
      pricesAsOf: "2026-09",
    });
    assert.match(md, /\| 120 min \| at most \$0\.53 \|/);
    assert.match(
      md,
      /Estimated cost: at most \$1\.05 per hour for 2 machine\(s\), at most \$2\.10 if they ran to the lifetime cap \(Spot, whose price moves: the on-demand list price of 2026-09/,
    );
    assert.ok(!md.includes("unknown"));
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
    assert.match(md, /^Estimated total cost of the run: \$1\.51 \(2 x \$1\.01 per hour/m);
    assert.equal(md.match(/Estimated/g)?.length, 1, "one total, not a second cost line");
  });

  it("stop: a row per machine, how long it lived and what it cost at most, and which job ran on each runner", () => {
    const md = stopSummary({
      label: "l",
      machineCount: 2,
      machine: { type: "g5.xlarge", location: "us-east-1", usdPerHour: 1.2, pricesAsOf: "2026-09" },
      startedAt: "2026-01-01T10:00:00Z",
      stoppedAt: new Date("2026-01-01T10:30:00Z"),
      machines: ["l-0", "l-1"],
      runnerJobs: ['l-0 ran job "gpu-tests" (success)', "l-1 took no job"],
    });
    assert.match(md, /^- l-0 ran job "gpu-tests" \(success\)\n- l-1 took no job$/m);
    assert.match(
      md,
      /\| l-0 \| g5\.xlarge \| at most 30 min \| at most \$0\.60 \|\n\| l-1 \| g5\.xlarge \| at most 30 min \| at most \$0\.60 \|/,
    );
  });

  it("stop: what could not be checked is said above the rest, as a warning", () => {
    const md = stopSummary({
      label: "l",
      machineCount: 0,
      stoppedAt: new Date(0),
      runnerJobs: ["l-0 took no job"],
      notChecked: "machines labelled l: could not look | denied",
    });
    assert.equal(
      md,
      "### GPU runners stopped: `l`\n\n- l-0 took no job\n\n> [!WARNING]\n> Not checked: machines labelled l: could not look \\| denied\n\nNothing of this start was left to stop.\n",
    );
  });

  it("stop: nothing left to stop", () => {
    assert.match(
      stopSummary({ label: "l", machineCount: 0, stoppedAt: new Date() }),
      /Nothing of this start was left to stop\./,
    );
  });
});
