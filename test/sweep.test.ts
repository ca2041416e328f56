// mode: sweep against in-memory fakes: a cloud whose findMachines/deleteMachines record what they are asked, and a
// GitHub that answers listRunners/deleteRunner/runStatus from tables. No network, no CLI, no terraform. Every
// expected decision below is written out by hand from the rules in scripts/phases/sweep.ts, with a fixed `now`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GitHubClient, RunnerInfo } from "../scripts/adapters/github/types.ts";
import { SweepError, sweep } from "../scripts/phases/sweep.ts";
import type { SweepInputs } from "../scripts/settings/inputs.ts";
import type { RunContext } from "../scripts/settings/run-context.ts";
import type { Cloud, CommandRunner, FoundMachine } from "../stacks/cloud.ts";
import type { Env } from "../stacks/input-reader.ts";
import { type RecordingIO, recordingIO } from "./kit/io.ts";

const REPO = "octo-org/md-sim";
const NOW = Date.UTC(2025, 5, 2, 12, 0, 0);
const MINUTE = 60_000;
const ENV: Env = { AWS_REGION: "eu-west-1" };

// One workflow run per answer runStatus can give.
const DONE = "111";
const LIVE = "222";
const GONE = "333";
const UNREADABLE = "444";
const STATUSES: Record<string, string | undefined | Error> = {
  [DONE]: "completed",
  [LIVE]: "in_progress",
  [GONE]: undefined,
  [UNREADABLE]: new Error("HTTP 403: Resource not accessible by integration"),
};
const UNREADABLE_WARNING = /workflow run 444\b.*Actions: read/;

/** A start's label (see settings/label.ts): gpu-<run id>-<attempt>-<8 hex>. */
const labelOf = (run: string, hex = "0a1b2c3d") => `gpu-${run}-1-${hex}`;

function machine(run: string, extra: Partial<FoundMachine> = {}): FoundMachine {
  const label = labelOf(run);
  return { id: `i-${run}`, name: `${label}-0`, label, state: "running", location: "test-zone", ...extra };
}

/** Started with that max-lifetime, that long before NOW. */
const lifetime = (maxLifetimeMinutes: number, ageMs: number) => ({
  maxLifetimeMinutes,
  launchedAt: new Date(NOW - ageMs),
});

let nextRunnerId = 100;
/** A runner named as the machine `machine(run)` is, as a start registers it. */
function runner(run: string, status: "online" | "offline", name = `${labelOf(run)}-0`): RunnerInfo {
  return { id: nextRunnerId++, name, status, busy: false, labels: [labelOf(run)] };
}

interface World {
  machines?: FoundMachine[];
  runners?: RunnerInfo[];
  dryRun?: boolean;
  failDeleteMachines?: boolean;
  failRunnerIds?: number[];
  /** Leave deps.now out: the sweep must then read the clock itself. */
  noClock?: boolean;
}

interface Outcome {
  io: RecordingIO;
  error: unknown;
  finds: { filter: unknown; env: Env }[];
  deleteCalls: { names: string[]; labels: string[]; env: Env }[];
  /** Runner ids deleteRunner was called with, failed ones included. */
  runnerDeletes: number[];
  runStatusCalls: string[];
}

async function sweepWith(world: World): Promise<Outcome> {
  const io = recordingIO();
  const out: Outcome = { io, error: undefined, finds: [], deleteCalls: [], runnerDeletes: [], runStatusCalls: [] };
  const cloud: Pick<Cloud, "name" | "cli"> = {
    name: "fake",
    cli: {
      findMachines: async (filter, env) => {
        out.finds.push({ filter, env });
        return world.machines ?? [];
      },
      deleteMachines: async (machines, labels, env) => {
        out.deleteCalls.push({ names: machines.map((m) => m.name), labels, env });
        if (world.failDeleteMachines) throw new Error("the cloud's API answered 500");
        return machines.map((m) => `instance ${m.name}`);
      },
    },
  };
  // main.ts passes two clients (runners may be the organization's, runs are the repository's): each fake refuses
  // what belongs to the other, so reading runs through the runner client fails the test.
  const github = {
    listRunners: async () => world.runners ?? [],
    deleteRunner: async (id: number) => {
      out.runnerDeletes.push(id);
      if (world.failRunnerIds?.includes(id)) throw new Error("HTTP 500: server error");
      return "deleted";
    },
    runStatus: async () => assert.fail("runs are read through deps.runs"),
  } as unknown as GitHubClient;
  const runs = {
    runStatus: async (runId: string) => {
      out.runStatusCalls.push(runId);
      const status = STATUSES[runId];
      if (status instanceof Error) throw status;
      return status;
    },
    listRunners: async () => assert.fail("runners are listed through deps.github"),
  } as unknown as GitHubClient;
  const noCli: CommandRunner = async () => assert.fail("the fake cloud runs no CLI");
  // The sweep reads only these inputs and this part of the context.
  const inputs = { mode: "sweep", dryRun: world.dryRun ?? false, cloud: cloud as Cloud } as SweepInputs;
  const context = { repository: REPO } as RunContext;
  try {
    await sweep(inputs, context, {
      github,
      runs,
      io,
      env: ENV,
      run: noCli,
      ...(world.noClock ? {} : { now: () => NOW }),
    });
  } catch (error) {
    out.error = error;
  }
  return out;
}

const summaryOf = (o: Outcome) => {
  assert.equal(o.io.summaries.length, 1, "one job summary");
  return o.io.summaries[0]!;
};
const machineRow = (m: FoundMachine, age: string, decision: string) =>
  `| ${m.name} | ${m.state} | ${m.location} | ${age} | ${decision} |`;
const machineLine = (m: FoundMachine, age: string, decision: string) =>
  `machine ${m.name}  ${m.state}  ${m.location}  ${age}  ${decision}`;
const runnerRow = (r: RunnerInfo, decision: string) => `| ${r.name} | ${r.status} | ${decision} |`;
const runnerLine = (r: RunnerInfo, decision: string) => `runner ${r.name}  ${r.status}  ${decision}`;

const OVER = "deleted: its workflow run is over";
const IN_PROGRESS = "kept: its workflow run is in progress";
const UNCHECKED = "kept: its workflow run could not be checked";
const STOPPED = "deleted: stopped: powered off but not deleted, its disk still billed";

describe("sweep: each machine's decision", () => {
  const cases: { name: string; machine: FoundMachine; age: string; decision: string; warned?: boolean }[] = [
    { name: "its run is completed: deleted", machine: machine(DONE), age: "unknown", decision: OVER },
    {
      name: "its run is in progress: kept",
      machine: machine(LIVE),
      age: "unknown",
      decision: IN_PROGRESS,
      warned: false,
    },
    {
      name: "its run is gone from GitHub (runStatus undefined): counts as over",
      machine: machine(GONE),
      age: "unknown",
      decision: OVER,
    },
    {
      name: "its run cannot be read: kept, with a warning",
      machine: machine(UNREADABLE),
      age: "unknown",
      decision: UNCHECKED,
      warned: true,
    },
    {
      name: "stopped, though its run is in progress: deleted",
      machine: machine(LIVE, { state: "stopped" }),
      age: "unknown",
      decision: STOPPED,
    },
    // The boundary is max-lifetime + 10 minutes of grace, exclusive: 1 ms either side tells `>` from `>=` and 10 from 9 or 11.
    {
      name: "1 ms past max-lifetime + 10 min, run in progress: deleted",
      machine: machine(LIVE, lifetime(60, 70 * MINUTE + 1)),
      age: "70 min",
      decision: "deleted: past its max-lifetime of 60 min",
    },
    {
      name: "exactly max-lifetime + 10 min, run in progress: kept",
      machine: machine(LIVE, lifetime(60, 70 * MINUTE)),
      age: "70 min",
      decision: IN_PROGRESS,
    },
    {
      name: "1 ms short of max-lifetime + 10 min, run in progress: kept",
      machine: machine(LIVE, lifetime(60, 70 * MINUTE - 1)),
      age: "70 min",
      decision: IN_PROGRESS,
    },
    // Its own max-lifetime counts, not some default: 309 min is past 60 + 10 but not 300 + 10 (and the age shows in hours).
    {
      name: "309 min old with max-lifetime 300: kept",
      machine: machine(LIVE, lifetime(300, 309 * MINUTE)),
      age: "5 h",
      decision: IN_PROGRESS,
    },
    {
      name: "311 min old with max-lifetime 300: deleted",
      machine: machine(LIVE, lifetime(300, 311 * MINUTE)),
      age: "5 h",
      decision: "deleted: past its max-lifetime of 300 min",
    },
    {
      name: "past max-lifetime, its run unreadable: deleted all the same",
      machine: machine(UNREADABLE, lifetime(60, 90 * MINUTE)),
      age: "90 min",
      decision: "deleted: past its max-lifetime of 60 min",
    },
    {
      name: "launched a month ago without a max-lifetime tag: judged by its run only",
      machine: machine(LIVE, { launchedAt: new Date(NOW - 30 * 24 * 60 * MINUTE) }),
      age: "720 h",
      decision: IN_PROGRESS,
    },
    // Under 120 minutes the age shows in minutes, from 120 on in hours.
    {
      name: "launched 119 min ago: its age in minutes",
      machine: machine(LIVE, { launchedAt: new Date(NOW - 119 * MINUTE) }),
      age: "119 min",
      decision: IN_PROGRESS,
    },
    {
      name: "launched exactly 120 min ago: its age in hours",
      machine: machine(LIVE, { launchedAt: new Date(NOW - 120 * MINUTE) }),
      age: "2 h",
      decision: IN_PROGRESS,
    },
    {
      name: "a max-lifetime tag but no launch time: judged by its run only",
      machine: machine(LIVE, { maxLifetimeMinutes: 1 }),
      age: "unknown",
      decision: IN_PROGRESS,
    },
    // A machine whose label tag is missing (the clouds report it as "") is judged by its name, the runner's.
    {
      name: "no label tag: its name's run decides",
      machine: machine(DONE, { label: "" }),
      age: "unknown",
      decision: OVER,
    },
    {
      name: "neither label nor name is this action's: kept",
      machine: machine(DONE, { name: "md-sim-builder", label: "hand-made" }),
      age: "unknown",
      decision: UNCHECKED,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const o = await sweepWith({ machines: [c.machine] });
      assert.equal(o.error, undefined);
      assert.ok(summaryOf(o).includes(machineRow(c.machine, c.age, c.decision)), summaryOf(o));
      assert.ok(o.io.lines.includes(machineLine(c.machine, c.age, c.decision)), o.io.lines.join("\n"));
      if (c.decision.startsWith("deleted")) {
        assert.deepEqual(
          o.deleteCalls.map((d) => d.names),
          [[c.machine.name]],
        );
        assert.ok(o.io.lines.includes(`Deleted: instance ${c.machine.name}.`), o.io.lines.join("\n"));
      } else {
        assert.deepEqual(o.deleteCalls, [], "a kept machine is never handed to deleteMachines");
        assert.ok(!o.io.lines.some((l) => l.startsWith("Deleted:")), o.io.lines.join("\n"));
      }
      if (c.warned === true) assert.match(o.io.warnings.join("\n"), UNREADABLE_WARNING);
      if (c.warned === false) assert.deepEqual(o.io.warnings, []);
    });
  }

  it("a name of another shape is not looked up on GitHub", async () => {
    const o = await sweepWith({ machines: [machine(DONE, { name: "md-sim-builder", label: "hand-made" })] });
    assert.deepEqual(o.runStatusCalls, []);
    assert.deepEqual(o.io.warnings, []);
  });
});

describe("sweep: each runner's decision", () => {
  const cases: { name: string; machines?: FoundMachine[]; runner: RunnerInfo; decision: string }[] = [
    {
      name: "offline, its run is over, no machine: removed",
      runner: runner(DONE, "offline"),
      decision: "deleted: offline, and its workflow run is over",
    },
    {
      name: "offline, its run is gone from GitHub: removed",
      runner: runner(GONE, "offline"),
      decision: "deleted: offline, and its workflow run is over",
    },
    {
      name: "online, its run is over, no machine deleted now: kept",
      runner: runner(DONE, "online"),
      decision: "kept: online: it may still be taking a job",
    },
    {
      name: "online, its run is over, its machine deleted now: removed",
      machines: [machine(DONE)],
      runner: runner(DONE, "online"),
      decision: "deleted: its workflow run is over; its machine is deleted now",
    },
    { name: "offline, its run is in progress: kept", runner: runner(LIVE, "offline"), decision: IN_PROGRESS },
    // The machine goes (stopped) but the run's own stop job is still to come: its runner is left to it.
    {
      name: "its machine is deleted as stopped but its run is in progress: kept",
      machines: [machine(LIVE, { state: "stopped" })],
      runner: runner(LIVE, "offline"),
      decision: IN_PROGRESS,
    },
    { name: "offline, its run cannot be read: kept", runner: runner(UNREADABLE, "offline"), decision: UNCHECKED },
    // With consistent tags a machine of a run that is over is deleted; a machine whose label is not this action's
    // is kept, and then so is the runner of the same name.
    {
      name: "offline, its run is over, its machine is kept: kept",
      machines: [machine(DONE, { label: "hand-made" })],
      runner: runner(DONE, "offline"),
      decision: "kept: its machine is kept",
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const o = await sweepWith({ machines: c.machines, runners: [c.runner] });
      assert.equal(o.error, undefined);
      assert.ok(summaryOf(o).includes(runnerRow(c.runner, c.decision)), summaryOf(o));
      assert.ok(o.io.lines.includes(runnerLine(c.runner, c.decision)), o.io.lines.join("\n"));
      assert.deepEqual(o.runnerDeletes, c.decision.startsWith("deleted") ? [c.runner.id] : []);
    });
  }

  it("only runners named as this action names them are considered", async () => {
    const ours = runner(DONE, "offline");
    const foreign = [
      runner(DONE, "offline", "build-box-3"),
      runner(DONE, "offline", "gpu-111-1-0A1B2C3D-0"),
      runner(DONE, "offline", `${labelOf(DONE)}-0-copy`),
    ];
    const o = await sweepWith({ runners: [...foreign, ours] });
    assert.deepEqual(o.runnerDeletes, [ours.id]);
    for (const r of foreign) {
      assert.ok(!summaryOf(o).includes(`| ${r.name} |`), `${r.name} is not in the table`);
      assert.ok(!o.io.lines.some((l) => l.startsWith(`runner ${r.name} `)), `${r.name} is not logged`);
    }
    const alone = await sweepWith({ runners: foreign });
    assert.ok(summaryOf(alone).includes("No runner of this action is registered."), summaryOf(alone));
    assert.deepEqual(alone.runStatusCalls, []);
  });
});

describe("sweep", () => {
  it("a run that cannot be checked keeps its machine and its runner, and the warning names the run and the permission", async () => {
    const m = machine(UNREADABLE);
    const r = runner(UNREADABLE, "offline");
    const o = await sweepWith({ machines: [m], runners: [r] });
    assert.equal(o.error, undefined);
    assert.deepEqual(o.deleteCalls, []);
    assert.deepEqual(o.runnerDeletes, []);
    assert.equal(o.io.warnings.length, 1, "one warning per run, however many things belong to it");
    assert.match(o.io.warnings[0]!, UNREADABLE_WARNING);
    assert.match(o.io.warnings[0]!, /Resource not accessible by integration/, "GitHub's reason is passed on");
  });

  it("looks in the repository's machines with the step's env, and deletes the doomed ones with each label once", async () => {
    const second = labelOf(DONE, "ffff0000"); // a second start in the same run (a matrix)
    const doomed = [
      machine(DONE),
      machine(DONE, { name: `${labelOf(DONE)}-1` }),
      machine(DONE, { name: `${second}-0`, label: second }),
      machine(GONE),
    ];
    const o = await sweepWith({ machines: [...doomed, machine(LIVE)] });
    assert.deepEqual(o.finds, [{ filter: { repository: REPO }, env: ENV }]);
    assert.equal(o.deleteCalls.length, 1, "one call for all the machines");
    assert.deepEqual(
      o.deleteCalls[0]!.names,
      doomed.map((m) => m.name),
    );
    assert.deepEqual(o.deleteCalls[0]!.labels, [labelOf(DONE), second, labelOf(GONE)]);
    assert.equal(o.deleteCalls[0]!.env, ENV);
    assert.ok(summaryOf(o).startsWith(`### GPU runner sweep: ${REPO}, fake\n`), summaryOf(o));
  });

  it("asks GitHub once per run, however many machines and runners belong to it", async () => {
    const o = await sweepWith({
      machines: [
        machine(DONE),
        machine(DONE, { name: `${labelOf(DONE)}-1` }),
        machine(UNREADABLE),
        machine(UNREADABLE, { name: `${labelOf(UNREADABLE)}-1` }),
      ],
      runners: [
        runner(DONE, "offline"),
        runner(DONE, "online", `${labelOf(DONE, "ffff0000")}-0`),
        runner(UNREADABLE, "offline"),
        runner(LIVE, "offline"),
      ],
    });
    assert.deepEqual([...o.runStatusCalls].sort(), [DONE, UNREADABLE, LIVE].sort());
    assert.equal(o.io.warnings.length, 1);
  });

  it("dry-run deletes nothing and says what it would delete", async () => {
    const m = machine(DONE);
    const r = runner(DONE, "online");
    const offline = runner(GONE, "offline");
    const o = await sweepWith({ dryRun: true, machines: [m, machine(LIVE)], runners: [r, offline] });
    assert.equal(o.error, undefined);
    assert.deepEqual(o.deleteCalls, []);
    assert.deepEqual(o.runnerDeletes, []);
    const summary = summaryOf(o);
    assert.ok(summary.startsWith(`### GPU runner sweep (dry-run: nothing deleted): ${REPO}, fake\n`), summary);
    assert.ok(summary.includes(machineRow(m, "unknown", "would delete: its workflow run is over")), summary);
    assert.ok(summary.includes(machineRow(machine(LIVE), "unknown", IN_PROGRESS)), summary);
    assert.ok(
      summary.includes(runnerRow(r, "would delete: its workflow run is over; its machine is deleted now")),
      summary,
    );
    assert.ok(summary.includes(runnerRow(offline, "would delete: offline, and its workflow run is over")), summary);
    assert.ok(o.io.lines.includes(machineLine(m, "unknown", "would delete: its workflow run is over")));
    assert.ok(!o.io.lines.some((l) => l.startsWith("Deleted:")), o.io.lines.join("\n"));
  });

  it("a failing deleteMachines still removes the runners, then throws SweepError naming it", async () => {
    const m = machine(DONE);
    const mine = runner(DONE, "online");
    const other = runner(GONE, "offline");
    const o = await sweepWith({ failDeleteMachines: true, machines: [m], runners: [mine, other] });
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.equal(o.error.name, "SweepError");
    assert.match(o.error.message, /Could not delete the machines: the cloud's API answered 500/);
    assert.deepEqual(o.runnerDeletes, [mine.id, other.id]);
    assert.ok(o.io.lines.includes(`Deleted: runner ${mine.name}, runner ${other.name}.`), o.io.lines.join("\n"));
    summaryOf(o); // the table is written before the error
  });

  it("a failing deleteRunner still deletes the rest, then throws SweepError naming that runner", async () => {
    const m = machine(DONE);
    const failing = runner(DONE, "online");
    const other = runner(GONE, "offline");
    const o = await sweepWith({ failRunnerIds: [failing.id], machines: [m], runners: [failing, other] });
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.match(o.error.message, new RegExp(`Could not remove runner ${failing.name}: HTTP 500: server error`));
    assert.ok(!o.error.message.includes(other.name), o.error.message);
    assert.deepEqual(
      o.deleteCalls.map((d) => d.names),
      [[m.name]],
    );
    assert.deepEqual(o.runnerDeletes, [failing.id, other.id]);
    assert.ok(o.io.lines.includes(`Deleted: instance ${m.name}, runner ${other.name}.`), o.io.lines.join("\n"));
  });

  it("with nothing found, says so and deletes nothing", async () => {
    const o = await sweepWith({});
    assert.equal(o.error, undefined);
    assert.ok(summaryOf(o).includes("No machine of this repository was found."), summaryOf(o));
    assert.ok(summaryOf(o).includes("No runner of this action is registered."), summaryOf(o));
    assert.deepEqual(o.deleteCalls, []);
  });

  it("when both the machines and a runner cannot be deleted, the error lists each problem on its own line", async () => {
    const m = machine(DONE);
    const failing = runner(DONE, "online");
    const o = await sweepWith({
      failDeleteMachines: true,
      failRunnerIds: [failing.id],
      machines: [m],
      runners: [failing],
    });
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.deepEqual(
      [o.error.name, o.error.message],
      [
        "SweepError",
        `The sweep did not finish:\nCould not delete the machines: the cloud's API answered 500\nCould not remove runner ${failing.name}: HTTP 500: server error`,
      ],
    );
  });

  it("writes the summary and the log in full: a table per kind, a group per cloud call, pipes escaped", async () => {
    // A location with a pipe in it must not split the table's cell.
    const gone = machine(DONE, { location: "zone|a" });
    const young = machine(LIVE, { launchedAt: new Date(NOW - 25 * MINUTE) });
    const r = runner(DONE, "online");
    const o = await sweepWith({ machines: [gone, young], runners: [r] });
    assert.equal(o.error, undefined);
    assert.equal(
      summaryOf(o),
      [
        `### GPU runner sweep: ${REPO}, fake`,
        "",
        "| Machine | State | Where | Age | Decision |",
        "| --- | --- | --- | --- | --- |",
        `| ${gone.name} | running | zone\\|a | unknown | ${OVER} |`,
        `| ${young.name} | running | test-zone | 25 min | ${IN_PROGRESS} |`,
        "",
        "| Runner | Status | Decision |",
        "| --- | --- | --- |",
        `| ${r.name} | online | deleted: its workflow run is over; its machine is deleted now |`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(o.io.lines, [
      `::group::Look for ${REPO}'s machines (fake)`,
      "::endgroup::",
      "::group::Delete the machines",
      "::endgroup::",
      machineLine(gone, "unknown", OVER),
      machineLine(young, "25 min", IN_PROGRESS),
      runnerLine(r, "deleted: its workflow run is over; its machine is deleted now"),
      `Deleted: instance ${gone.name}, runner ${r.name}.`,
    ]);
  });

  it("without deps.now it reads the clock, rather than failing", async () => {
    // No launch time: no decision or age here depends on the time of day.
    const m = machine(DONE);
    const o = await sweepWith({ noClock: true, machines: [m] });
    assert.equal(o.error, undefined);
    assert.ok(summaryOf(o).includes(machineRow(m, "unknown", OVER)), summaryOf(o));
  });
});
