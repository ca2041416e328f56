import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootLines } from "../scripts/phases/boot-lines.ts";
import { bootMilestones, timelineMarkdown, timelineRows } from "../scripts/phases/timeline.ts";

const CONSOLE = [
  "[    4.2] cloud-init[812]: gpu-runner: booting",
  "[    4.2] cloud-init[812]: gpu-runner-time: 1764669600.250 boot-script-started",
  "gpu-runner-time: 1764669612.000 runner-installed",
  "gpu-runner-time: 1764669612.000 runner-installed",
  "gpu-runner-time: 1764669615.500 gpu-checked",
  "gpu-runner-time: 1764669615.500 pre-runner-done",
  "gpu-runner-time: 1764669616.000 runner-started",
  "gpu-runner-time: notanumber runner-started",
  "gpu-runner-time: 1764669617.000 something-else",
].join("\n");

describe("the start's timeline", () => {
  it("reads the boot script's milestones from a console, the first of each, in milliseconds", () => {
    assert.deepEqual(bootMilestones(CONSOLE), {
      "boot-script-started": 1764669600250,
      "runner-installed": 1764669612000,
      "gpu-checked": 1764669615500,
      "pre-runner-done": 1764669615500,
      "runner-started": 1764669616000,
    });
  });

  it("milestone lines are not boot lines: a failed start's log shows only what the script said", () => {
    assert.deepEqual(bootLines(CONSOLE), ["gpu-runner: booting"]);
  });

  it("each phase from one mark to the next; what is not known says unknown, never a guess", () => {
    const t = {
      actionStarted: 1000,
      installCacheHit: true,
      scriptStarted: 21_000,
      synthesized: 22_000,
      registered: 23_000,
      applied: 60_000,
    };
    const withMachine = {
      ...t,
      online: 1764669620000,
      machine: { runner: "r-0", milestones: bootMilestones(CONSOLE) },
    };
    const rows = Object.fromEntries(
      timelineRows({ ...withMachine, applied: 1764669590000 }, true).map((r) => [r.phase, r.took]),
    );
    assert.equal(rows["Setting up the action (install from the cache)"], 20_000);
    assert.equal(rows["Registering the runners at GitHub"], 1000);
    assert.equal(rows["Machine boot, until its boot script runs (after apply)"], 10_250);
    assert.equal(rows["Runner download and setup"], 11_750);
    assert.equal(rows["GPU check"], 3_500);
    assert.equal(rows["pre-runner-script"], 0);
    assert.equal(rows["Runner start, until GitHub shows it online"], 4_500);
    const unknown = timelineMarkdown(
      { ...t, online: 181_000, machineUnknown: "its console could not be read (AccessDenied)" },
      false,
    );
    assert.match(unknown, /\| Runner download and setup \| unknown \|/);
    assert.match(unknown, /\| Total, from the action's start to every runner online \| 3\.0 min \|/);
    assert.doesNotMatch(unknown, /pre-runner-script/, "no row for a script that was not given");
    assert.match(unknown, /Machine phases: unknown: its console could not be read \(AccessDenied\)\./);
  });
});
