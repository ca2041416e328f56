// mode: sweep against in-memory fakes: a cloud whose findMachines/deleteMachines record what they are asked, and a
// GitHub that answers listRunners/deleteRunner/runStatus from tables. No network, no CLI, no terraform. Every
// expected decision below is written out by hand from the rules in scripts/phases/sweep.ts, with a fixed `now`.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import nock from "nock";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import type { GitHubClient, RunnerInfo, RunnerScope } from "../scripts/adapters/github/types.ts";
import { SweepError, sweep } from "../scripts/phases/sweep.ts";
import type { SweepInputs } from "../scripts/settings/inputs.ts";
import type { RunContext } from "../scripts/settings/run-context.ts";
import { ownerLabel } from "../scripts/settings/label.ts";
import type { Cloud } from "../stacks/cloud.ts";
import type { FoundLeftover, FoundMachine, StartFilter } from "../stacks/cloud-cli.ts";
import type { CommandRunner } from "../stacks/cloud-command.ts";
import type { Env } from "../stacks/input-reader.ts";
import { FAKE_TOKEN } from "./kit/env.ts";
import { type RecordingIO, recordingIO } from "./kit/io.ts";

const REPO = "octo-org/md-sim";
/** This repository's id (GITHUB_REPOSITORY_ID), and another repository's. */
const REPO_ID = "612345678";
const OTHER_ID = "612345679";
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
  return {
    id: `i-${run}`,
    name: `${label}-0`,
    label,
    repositoryId: REPO_ID,
    state: "running",
    location: "test-zone",
    ...extra,
  };
}

/** Started with that max-lifetime, that long before NOW. */
const lifetime = (maxLifetimeMinutes: number, ageMs: number) => ({
  maxLifetimeMinutes,
  launchedAt: new Date(NOW - ageMs),
});

let nextRunnerId = 100;
/** A runner named as the machine `machine(run)` is, with the labels a start registers it with (runnerLabels). */
function runner(run: string, status: "online" | "offline", name = `${labelOf(run)}-0`): RunnerInfo {
  return { id: nextRunnerId++, name, status, busy: false, labels: [labelOf(run), ownerLabel(labelOf(run), REPO_ID)] };
}

/** What a start of `run` made beside its machine, tagged as the machine is. */
function leftover(run: string, extra: Partial<FoundLeftover> = {}): FoundLeftover {
  const label = labelOf(run);
  return {
    kind: "security group",
    id: `sg-${run}`,
    name: `${label}-no-inbound`,
    label,
    repositoryId: REPO_ID,
    location: "test-zone",
    ...extra,
  };
}

interface World {
  machines?: FoundMachine[];
  leftovers?: FoundLeftover[];
  /** What findLeftovers says it could not look for. */
  unchecked?: string[];
  failFindLeftovers?: boolean;
  /** The runner scope (repository by default). */
  runnerScope?: "repository" | "organization";
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
  leftoverFinds: { filter: unknown; env: Env }[];
  deleteCalls: { names: string[]; labels: string[]; starts: StartFilter[]; env: Env }[];
  /** Runner ids deleteRunner was called with, failed ones included. */
  runnerDeletes: number[];
  runStatusCalls: string[];
}

async function sweepWith(world: World): Promise<Outcome> {
  const io = recordingIO();
  const out: Outcome = {
    io,
    error: undefined,
    finds: [],
    leftoverFinds: [],
    deleteCalls: [],
    runnerDeletes: [],
    runStatusCalls: [],
  };
  const cloud: Pick<Cloud, "name" | "cli"> = {
    name: "fake",
    cli: {
      findMachines: async (filter, env) => {
        out.finds.push({ filter, env });
        return world.machines ?? [];
      },
      findLeftovers: async (filter, env) => {
        out.leftoverFinds.push({ filter, env });
        if (world.failFindLeftovers) throw new Error("AccessDenied\nwhole story");
        return { leftovers: world.leftovers ?? [], unchecked: world.unchecked ?? [] };
      },
      deleteMachines: async (machines, starts, env) => {
        out.deleteCalls.push({ names: machines.map((m) => m.name), labels: starts.map((s) => s.label), starts, env });
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
  const inputs = {
    mode: "sweep",
    dryRun: world.dryRun ?? false,
    cloud: cloud as Cloud,
    runnerScope: world.runnerScope ?? "repository",
  } as SweepInputs;
  const context = { repository: REPO, repositoryId: REPO_ID } as RunContext;
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
/** A 404 for the run of something provably this repository's: the run was deleted, which is over too. */
const DELETED_RUN = "deleted: its workflow run no longer exists (deleted)";
/** The sweep's failure when a run that would have decided something could not be read (UNREADABLE's). */
const GRANT =
  /Could not judge what belongs to workflow run 444: its status could not be read, so it was left\. Give the sweep job's GITHUB_TOKEN `actions: read`/;
const IN_PROGRESS = "kept: its workflow run is in progress";
const UNCHECKED = "kept: its workflow run could not be checked";
const STOPPED = "deleted: stopped: powered off but not deleted, its disk still billed";

describe("sweep: each machine's decision", () => {
  const cases: {
    name: string;
    machine: FoundMachine;
    age: string;
    decision: string;
    warned?: boolean;
    /** The sweep fails (and says what to grant): a run that would have decided could not be read. */
    fails?: boolean;
  }[] = [
    { name: "its run is completed: deleted", machine: machine(DONE), age: "unknown", decision: OVER },
    {
      name: "its run is in progress: kept",
      machine: machine(LIVE),
      age: "unknown",
      decision: IN_PROGRESS,
      warned: false,
    },
    {
      name: "its run is gone from GitHub (404), and its repository-id tag proves the run was ours: deleted",
      machine: machine(GONE),
      age: "unknown",
      decision: DELETED_RUN,
    },
    {
      name: "its run cannot be read: kept, with a warning, and the sweep fails",
      machine: machine(UNREADABLE),
      age: "unknown",
      decision: UNCHECKED,
      warned: true,
      fails: true,
    },
    // Not provably this repository's: never deleted, whatever its state or run; its run is not even asked for.
    {
      name: "another repository's id (a cloud that folded names together), stopped, its run over: kept",
      machine: machine(DONE, { repositoryId: OTHER_ID, state: "stopped" }),
      age: "unknown",
      decision: `kept: tagged with repository id ${OTHER_ID}, not this repository's`,
      warned: false,
    },
    {
      name: "no repository-id tag, past its max-lifetime, its run gone: kept",
      machine: machine(GONE, { repositoryId: "", ...lifetime(60, 90 * MINUTE) }),
      age: "90 min",
      decision: "kept: no repository-id tag: not provably this repository's",
      warned: false,
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
      decision: "kept: not named after a start: cannot be judged",
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const o = await sweepWith({ machines: [c.machine] });
      if (c.fails) {
        assert.ok(o.error instanceof SweepError, String(o.error));
        assert.match(o.error.message, GRANT);
      } else assert.equal(o.error, undefined);
      if (c.machine.repositoryId !== REPO_ID) assert.deepEqual(o.runStatusCalls, []);
      assert.ok(summaryOf(o).includes(machineRow(c.machine, c.age, c.decision)), summaryOf(o));
      assert.ok(o.io.lines.includes(machineLine(c.machine, c.age, c.decision)), o.io.lines.join("\n"));
      if (c.decision.startsWith("deleted")) {
        assert.deepEqual(
          o.deleteCalls.map((d) => d.names),
          [[c.machine.name]],
        );
        // Its start's leftovers by this repository's id and the start's label: never an empty label (on AWS
        // `--name-prefix ""`, every schedule of the account), even for a machine whose label tag is missing.
        assert.deepEqual(
          o.deleteCalls.map((d) => d.starts),
          [[{ repositoryId: REPO_ID, label: c.machine.name.replace(/-0$/, "") }]],
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
  const ORG = "organization" as const;
  /** Registered by another repository's start (or by this action before runners carried the owner label). */
  const foreignRunner = (run: string, status: "online" | "offline", labels: string[]) => ({
    ...runner(run, status),
    labels,
  });
  const NOT_PROVEN = (run: string) =>
    `kept: not provably this repository's (no ${ownerLabel(labelOf(run), REPO_ID)} label): left to its own repository`;
  const cases: {
    name: string;
    machines?: FoundMachine[];
    runner: RunnerInfo;
    decision: string;
    scope?: "organization";
    fails?: boolean;
  }[] = [
    {
      name: "offline, its run is over, no machine: removed",
      runner: runner(DONE, "offline"),
      decision: "deleted: offline, and its workflow run is over",
    },
    {
      name: "offline, its run is gone from GitHub (the runner list is this repository's own): removed",
      runner: runner(GONE, "offline"),
      decision: "deleted: offline, and its workflow run no longer exists (deleted)",
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
    {
      name: "offline, its run cannot be read: kept, and the sweep fails",
      runner: runner(UNREADABLE, "offline"),
      decision: UNCHECKED,
      fails: true,
    },
    // An organization's list holds every repository's runners, named alike; another repository's run is a 404
    // here. Only the owner label its start registered it with makes a runner this repository's.
    {
      name: "organization scope, another repository's booting runner (its run a 404 here): kept, its run not asked",
      runner: foreignRunner(GONE, "offline", [labelOf(GONE), ownerLabel(labelOf(GONE), OTHER_ID)]),
      decision: NOT_PROVEN(GONE),
      scope: ORG,
    },
    {
      name: "organization scope, a runner without any owner label, its run over: kept",
      runner: foreignRunner(DONE, "offline", [labelOf(DONE)]),
      decision: NOT_PROVEN(DONE),
      scope: ORG,
    },
    {
      name: "organization scope, the owner label of another start of this repository: kept",
      runner: foreignRunner(DONE, "offline", [labelOf(DONE), ownerLabel(labelOf(DONE, "ffff0000"), REPO_ID)]),
      decision: NOT_PROVEN(DONE),
      scope: ORG,
    },
    {
      name: "organization scope, a runner of an unreadable run that is not ours: kept, and no failure",
      runner: foreignRunner(UNREADABLE, "offline", [labelOf(UNREADABLE)]),
      decision: NOT_PROVEN(UNREADABLE),
      scope: ORG,
    },
    {
      name: "organization scope, this repository's owner label, its run gone (deleted): removed",
      runner: runner(GONE, "offline"),
      decision: "deleted: offline, and its workflow run no longer exists (deleted)",
      scope: ORG,
    },
    {
      name: "organization scope, this repository's owner label, its run over: removed",
      runner: runner(DONE, "offline"),
      decision: "deleted: offline, and its workflow run is over",
      scope: ORG,
    },
    {
      name: "organization scope, this repository's owner label, its run in progress: kept",
      runner: runner(LIVE, "offline"),
      decision: IN_PROGRESS,
      scope: ORG,
    },
    // Repository scope: the list is this repository's own, so the owner label is not needed.
    {
      name: "repository scope, no owner label (registered before it existed), its run gone: removed",
      runner: foreignRunner(GONE, "offline", [labelOf(GONE)]),
      decision: "deleted: offline, and its workflow run no longer exists (deleted)",
    },
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
      const o = await sweepWith({ machines: c.machines, runners: [c.runner], runnerScope: c.scope });
      if (c.fails) {
        assert.ok(o.error instanceof SweepError, String(o.error));
        assert.match(o.error.message, GRANT);
      } else assert.equal(o.error, undefined);
      if (c.decision.startsWith("kept: not provably")) assert.deepEqual(o.runStatusCalls, [], "its run is not asked");
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

describe("sweep: what starts left beside their machines", () => {
  const leftoverRow = (l: FoundLeftover, decision: string) => `| ${l.name} | ${l.kind} | ${l.location} | ${decision} |`;
  const schedule = (run: string, extra: Partial<FoundLeftover> = {}) =>
    leftover(run, { kind: "lifetime schedule", id: `${labelOf(run)}-0`, name: `${labelOf(run)}-0`, ...extra });
  const start = (run: string, hex?: string) => ({ repositoryId: REPO_ID, label: labelOf(run, hex) });
  const cases: {
    name: string;
    machines?: FoundMachine[];
    leftovers: FoundLeftover[];
    decisions: string[];
    /** The starts whose leftovers deleteMachines is asked to delete; none: it is not called. */
    starts?: StartFilter[];
    runs: string[];
    fails?: boolean;
  }[] = [
    {
      name: "its machine is gone and its run is over: its group and schedule are deleted",
      leftovers: [leftover(DONE), schedule(DONE)],
      decisions: Array(2).fill("deleted: its workflow run is over; no machine of its start is left"),
      starts: [start(DONE)],
      runs: [DONE],
    },
    {
      name: "its machine is gone and its run was deleted (a 404; the tag proves it was ours): deleted",
      leftovers: [leftover(GONE, { kind: "public IP" })],
      decisions: ["deleted: its workflow run no longer exists (deleted); no machine of its start is left"],
      starts: [start(GONE)],
      runs: [GONE],
    },
    {
      name: "its run is in progress (the start may still be making its machine): kept",
      leftovers: [schedule(LIVE)],
      decisions: [IN_PROGRESS],
      runs: [LIVE],
    },
    {
      name: "its start's machine is deleted now: deleted with it, its run not asked again",
      machines: [machine(LIVE, { state: "stopped" })],
      leftovers: [leftover(LIVE)],
      decisions: ["deleted: the machines of its start are deleted now"],
      starts: [start(LIVE)],
      runs: [],
    },
    {
      name: "a machine of its start is kept: kept (its group is in use, its schedule still the cap)",
      machines: [machine(LIVE, { state: "stopped" }), machine(LIVE, { name: `${labelOf(LIVE)}-1` })],
      leftovers: [leftover(LIVE), schedule(LIVE)],
      decisions: Array(2).fill("kept: a machine of its start is kept"),
      // The stopped machine goes, but not its start's leftovers.
      starts: [],
      runs: [LIVE],
    },
    {
      name: "another repository's id: kept, its run not asked",
      leftovers: [leftover(DONE, { repositoryId: OTHER_ID })],
      decisions: [`kept: tagged with repository id ${OTHER_ID}, not this repository's`],
      runs: [],
    },
    {
      name: "no repository-id tag (e.g. a schedule whose description names none): kept",
      leftovers: [schedule(GONE, { repositoryId: "" })],
      decisions: ["kept: no repository-id tag: not provably this repository's"],
      runs: [],
    },
    {
      name: "no label tag: kept, and never handed over as an empty label",
      leftovers: [leftover(DONE, { label: "" }), leftover(DONE, { label: "hand-made" })],
      decisions: Array(2).fill("kept: no start's label tag: cannot be judged"),
      runs: [],
    },
    {
      name: "its run cannot be read: kept, and the sweep fails",
      leftovers: [leftover(UNREADABLE, { kind: "disk" })],
      decisions: [UNCHECKED],
      runs: [UNREADABLE],
      fails: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const o = await sweepWith({ machines: c.machines, leftovers: c.leftovers });
      if (c.fails) {
        assert.ok(o.error instanceof SweepError, String(o.error));
        assert.match(o.error.message, GRANT);
      } else assert.equal(o.error, undefined);
      for (const [i, l] of c.leftovers.entries()) {
        assert.ok(summaryOf(o).includes(leftoverRow(l, c.decisions[i]!)), summaryOf(o));
      }
      assert.deepEqual(
        o.deleteCalls.map((d) => d.starts),
        c.starts ? [c.starts] : [],
      );
      assert.deepEqual(o.runStatusCalls, c.runs);
    });
  }

  it("dry-run: says what it would delete, and deletes nothing", async () => {
    const l = leftover(DONE);
    const o = await sweepWith({ dryRun: true, leftovers: [l] });
    assert.equal(o.error, undefined);
    assert.deepEqual(o.deleteCalls, []);
    assert.ok(
      summaryOf(o).includes(leftoverRow(l, "would delete: its workflow run is over; no machine of its start is left")),
    );
  });

  it("a failing search for leftovers still judges the machines, then fails naming it", async () => {
    const o = await sweepWith({ machines: [machine(DONE)], failFindLeftovers: true });
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.equal(
      o.error.message,
      "The sweep did not finish:\nCould not look for what the starts left beside their machines: AccessDenied\nwhole story",
    );
    assert.deepEqual(
      o.deleteCalls.map((d) => d.names),
      [[machine(DONE).name]],
    );
    assert.ok(
      summaryOf(o).includes("Not looked for: what the starts left beside their machines (AccessDenied)."),
      summaryOf(o),
    );
  });

  it("with nothing left beside a machine, says so", async () => {
    const o = await sweepWith({});
    assert.ok(summaryOf(o).includes("Nothing else of this repository was found."), summaryOf(o));
  });
});

describe("sweep", () => {
  it("fails for an unreadable run only after deleting what it could judge", async () => {
    const done = machine(DONE);
    const stopped = machine(UNREADABLE, { name: `${labelOf(UNREADABLE)}-1`, state: "stopped" });
    const unjudged = machine(UNREADABLE);
    const o = await sweepWith({ machines: [done, stopped, unjudged], runners: [runner(DONE, "offline")] });
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.equal(o.error.message, `The sweep did not finish:\n${o.error.message.split("\n")[1]}`);
    assert.match(o.error.message, GRANT);
    assert.deepEqual(
      o.deleteCalls.map((d) => d.names),
      [[done.name, stopped.name]],
    );
    assert.equal(o.runnerDeletes.length, 1);
  });

  it("a stopped machine of an unreadable run needs no run to be judged: no failure", async () => {
    const o = await sweepWith({ machines: [machine(UNREADABLE, { state: "stopped" })] });
    assert.equal(o.error, undefined);
    assert.deepEqual(o.runStatusCalls, []);
  });

  it("a run that cannot be checked keeps its machine and its runner, warns naming the run, and fails saying what to grant", async () => {
    const m = machine(UNREADABLE);
    const r = runner(UNREADABLE, "offline");
    const o = await sweepWith({ machines: [m], runners: [r] });
    // A token without actions: read judges nothing: a green sweep would hide that nothing is being cleaned.
    assert.ok(o.error instanceof SweepError, String(o.error));
    assert.match(o.error.message, GRANT);
    assert.ok(summaryOf(o).includes(o.error.message.split("\n")[1]!), "the summary says it too");
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
    // By the repository's numeric id, never its name (which GCE labels fold into other repositories' names).
    assert.deepEqual(o.finds, [{ filter: { repositoryId: REPO_ID }, env: ENV }]);
    assert.deepEqual(o.leftoverFinds, [{ filter: { repositoryId: REPO_ID }, env: ENV }]);
    assert.equal(o.deleteCalls.length, 1, "one call for all the machines");
    assert.deepEqual(
      o.deleteCalls[0]!.names,
      doomed.map((m) => m.name),
    );
    assert.deepEqual(o.deleteCalls[0]!.labels, [labelOf(DONE), second, labelOf(GONE)]);
    assert.equal(o.deleteCalls[0]!.env, ENV);
    assert.ok(
      summaryOf(o).startsWith(`### GPU runner sweep: ${REPO} (repository id ${REPO_ID}), fake\n`),
      summaryOf(o),
    );
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
    assert.ok(
      summary.startsWith(`### GPU runner sweep (dry-run: nothing deleted): ${REPO} (repository id ${REPO_ID}), fake\n`),
      summary,
    );
    assert.ok(summary.includes(machineRow(m, "unknown", "would delete: its workflow run is over")), summary);
    assert.ok(summary.includes(machineRow(machine(LIVE), "unknown", IN_PROGRESS)), summary);
    assert.ok(
      summary.includes(runnerRow(r, "would delete: its workflow run is over; its machine is deleted now")),
      summary,
    );
    assert.ok(
      summary.includes(runnerRow(offline, "would delete: offline, and its workflow run no longer exists (deleted)")),
      summary,
    );
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
    assert.match(
      o.error.message,
      /Could not delete the machines and what their starts left: the cloud's API answered 500/,
    );
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
        `The sweep did not finish:\nCould not delete the machines and what their starts left: the cloud's API answered 500\nCould not remove runner ${failing.name}: HTTP 500: server error`,
      ],
    );
  });

  it("writes the summary and the log in full: a table per kind, a group per cloud call, pipes escaped", async () => {
    // A location with a pipe in it must not split the table's cell.
    const gone = machine(DONE, { location: "zone|a" });
    const young = machine(LIVE, { launchedAt: new Date(NOW - 25 * MINUTE) });
    const r = runner(DONE, "online");
    const sg = leftover(DONE, { location: "eu|west" });
    const o = await sweepWith({
      machines: [gone, young],
      leftovers: [sg],
      unchecked: ["lifetime schedules (AccessDenied)"],
      runners: [r],
    });
    assert.equal(o.error, undefined);
    assert.equal(
      summaryOf(o),
      [
        `### GPU runner sweep: ${REPO} (repository id ${REPO_ID}), fake`,
        "",
        "| Machine | State | Where | Age | Decision |",
        "| --- | --- | --- | --- | --- |",
        `| ${gone.name} | running | zone\\|a | unknown | ${OVER} |`,
        `| ${young.name} | running | test-zone | 25 min | ${IN_PROGRESS} |`,
        "",
        "| Left beside a machine | Kind | Where | Decision |",
        "| --- | --- | --- | --- |",
        `| ${sg.name} | security group | eu\\|west | deleted: the machines of its start are deleted now |`,
        "Not looked for: lifetime schedules (AccessDenied).",
        "",
        "| Runner | Status | Decision |",
        "| --- | --- | --- |",
        `| ${r.name} | online | deleted: its workflow run is over; its machine is deleted now |`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(o.io.lines, [
      `::group::Look for ${REPO}'s (repository id ${REPO_ID}) machines (fake)`,
      "::endgroup::",
      `::group::Look for what ${REPO}'s (repository id ${REPO_ID}) starts made beside their machines (fake)`,
      "::endgroup::",
      "::group::Delete the machines and what their starts left",
      "::endgroup::",
      machineLine(gone, "unknown", OVER),
      machineLine(young, "25 min", IN_PROGRESS),
      `leftover ${sg.name}  security group  eu|west  deleted: the machines of its start are deleted now`,
      runnerLine(r, "deleted: its workflow run is over; its machine is deleted now"),
      `Deleted: instance ${gone.name}, runner ${r.name}.`,
    ]);
    assert.deepEqual(o.io.warnings, ["Not looked for: lifetime schedules (AccessDenied)."]);
  });

  it("without deps.now it reads the clock, rather than failing", async () => {
    // No launch time: no decision or age here depends on the time of day.
    const m = machine(DONE);
    const o = await sweepWith({ noClock: true, machines: [m] });
    assert.equal(o.error, undefined);
    assert.ok(summaryOf(o).includes(machineRow(m, "unknown", OVER)), summaryOf(o));
  });
});

describe("sweep against GitHub's REST API (runner-scope: organization)", () => {
  // The real client against nock, with GitHub's own shapes: an organization's runner list holds every repository's
  // runners (runner objects with busy and label objects, no repository), and a run of another repository is a 404
  // in this one ({ message, documentation_url, status }).
  const API = "https://api.github.com";
  const OURS = "555";
  const THEIRS = "333";
  const NOT_FOUND = {
    message: "Not Found",
    documentation_url: "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run",
    status: "404",
  };
  const runnerObject = (id: number, run: string, labels: string[]) => ({
    id,
    name: `${labelOf(run)}-0`,
    os: "Linux",
    status: "offline",
    busy: false,
    labels: labels.map((name, i) => ({ id: i + 1, name, type: "custom" })),
  });
  before(() => nock.disableNetConnect());
  after(() => nock.enableNetConnect());
  afterEach(() => nock.cleanAll());

  it("removes this repository's runner of a deleted run, and leaves another repository's booting runner unasked", async () => {
    nock(API)
      .get("/orgs/octo-org/actions/runners")
      .query(true)
      .reply(200, {
        total_count: 2,
        runners: [
          // Another repository's start, booting: its run is in progress there, a 404 here.
          runnerObject(901, THEIRS, [labelOf(THEIRS), ownerLabel(labelOf(THEIRS), OTHER_ID)]),
          runnerObject(902, OURS, [labelOf(OURS), ownerLabel(labelOf(OURS), REPO_ID), "a100"]),
        ],
      });
    nock(API).get(`/repos/octo-org/md-sim/actions/runs/${OURS}`).reply(404, NOT_FOUND);
    nock(API).delete("/orgs/octo-org/actions/runners/902").reply(204);
    const client = (scope: RunnerScope) =>
      createGitHubClient({ token: FAKE_TOKEN, apiUrl: API, scope, sleep: async () => {}, spaceWrites: false });
    const io = recordingIO();
    const cloud = {
      name: "fake",
      cli: {
        findMachines: async () => [],
        findLeftovers: async () => ({ leftovers: [], unchecked: [] }),
        deleteMachines: async () => assert.fail("nothing to delete in the cloud"),
      },
    } as unknown as Cloud;
    await sweep(
      { mode: "sweep", dryRun: false, cloud, runnerScope: "organization" } as SweepInputs,
      { repository: REPO, repositoryId: REPO_ID } as RunContext,
      {
        github: client({ kind: "organization", org: "octo-org" }),
        runs: client({ kind: "repository", owner: "octo-org", repo: "md-sim" }),
        io,
        env: ENV,
        run: async () => assert.fail("no CLI"),
        now: () => NOW,
      },
    );
    assert.deepEqual(nock.pendingMocks(), [], "its run was read and the runner deleted");
    const summary = io.summaries[0] ?? "";
    assert.ok(
      summary.includes(
        `| ${labelOf(THEIRS)}-0 | offline | kept: not provably this repository's (no ${ownerLabel(labelOf(THEIRS), REPO_ID)} label): left to its own repository |`,
      ),
      summary,
    );
    assert.ok(
      summary.includes(
        `| ${labelOf(OURS)}-0 | offline | deleted: offline, and its workflow run no longer exists (deleted) |`,
      ),
      summary,
    );
  });
});
