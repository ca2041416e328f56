// mode: sweep, for a scheduled workflow: the cleanup layer for when a stop job never ran (a cancelled workflow, a
// deleted one, a runner outage). It finds everything this repository's starts made in the cloud's region or project
// by its ownership tags, by the repository's numeric id (never its name, which a cloud's label rules can fold into
// another repository's): the machines, and what their starts made beside them (security groups, lifetime
// schedules, NICs, public IPs, disks), whether or not their machine still exists. It deletes a machine that is done:
//   - stopped (a machine that powered itself off but whose cloud keeps it, and its disk billed);
//   - past the max-lifetime it was started with;
//   - of a workflow run that is over (its stop job would have deleted it; a run GitHub no longer has was deleted,
//     which is over too: the machine's repository-id tag proves the run was this repository's).
// What a start made beside its machines goes with them, or, when none is left, once its run is over. Then it
// removes this action's runners whose workflow run is over and which are offline or whose machine it just deleted,
// but only runners that provably are this repository's: an organization's runner list holds every repository's,
// named alike, and another repository's run is a 404 here. What belongs to a run still in progress is never
// touched: its own stop job is still to come. What cannot be attributed or judged is left, and is a row of the
// summary; a run whose status could not be read for something that would otherwise have been judged fails the sweep.
import type { FoundLeftover, FoundMachine, StartFilter } from "../../stacks/cloud-cli.ts";
import type { Env } from "../../stacks/input-reader.ts";
import { LIFETIME_CAP_MARGIN_MINUTES } from "../../stacks/lifetime-cap.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import type { SweepInputs } from "../settings/inputs.ts";
import { labelOfRunner, ownerLabel, runOfLabel } from "../settings/label.ts";
import type { RunContext } from "../settings/run-context.ts";

export interface SweepDeps {
  /** Lists and removes runners (the runner scope). */
  github: GitHubClient;
  /** Reads workflow runs (the repository). */
  runs: GitHubClient;
  io: ActionIO;
  env: Env;
  run: CommandRunner;
  now?: () => number;
}

interface Verdict {
  delete: boolean;
  why: string;
}

/** What GitHub says of the workflow run a label or name belongs to. */
type RunState =
  /** The label or name is not a start's: no run to ask about. */
  | { kind: "none" }
  | { kind: "over" }
  /** GitHub answered 404: the run was deleted, if it was this repository's; another repository's run is a 404 too. */
  | { kind: "gone" }
  | { kind: "live" }
  | { kind: "unreadable"; runId: string };

export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SweepError";
  }
}

export async function sweep(inputs: SweepInputs, context: RunContext, deps: SweepDeps): Promise<void> {
  const { io } = deps;
  const { cli } = inputs.cloud;
  const now = deps.now?.() ?? Date.now();
  const owner = { repositoryId: context.repositoryId };
  const whose = `${context.repository}'s (repository id ${context.repositoryId})`;
  const machines = await io.group(`Look for ${whose} machines (${inputs.cloud.name})`, () =>
    cli.findMachines(owner, deps.env, deps.run),
  );
  const problems: string[] = [];
  // A listing that fails leaves the leftovers unjudged but not the machines: the sweep goes on, and fails at the end.
  const { leftovers, unchecked } = await io.group(
    `Look for what ${whose} starts made beside their machines (${inputs.cloud.name})`,
    () =>
      cli.findLeftovers(owner, deps.env, deps.run).catch((error: unknown) => {
        problems.push(`Could not look for what the starts left beside their machines: ${(error as Error).message}`);
        return { leftovers: [], unchecked: [`what the starts left beside their machines (${firstLine(error)})`] };
      }),
  );
  const runners = (await deps.github.listRunners()).filter((r) => labelOfRunner(r.name) !== undefined);
  const runState = runStateCache(deps);
  /** Runs whose status could not be read, for something that would otherwise have been judged by it. */
  const unreadable = new Set<string>();
  /** Judged by its run: over (or, for what is provably ours, deleted from GitHub) deletes; anything else keeps. */
  const byRun = async (labelOrName: string): Promise<Verdict> => {
    const state = await runState(labelOrName);
    switch (state.kind) {
      case "none":
        return { delete: false, why: "not named after a start: cannot be judged" };
      case "over":
        return { delete: true, why: "its workflow run is over" };
      case "gone":
        return { delete: true, why: "its workflow run no longer exists (deleted)" };
      case "live":
        return { delete: false, why: "its workflow run is in progress" };
      case "unreadable":
        unreadable.add(state.runId);
        return { delete: false, why: "its workflow run could not be checked" };
    }
  };
  const notOurs = (repositoryId: string): Verdict => ({
    delete: false,
    why: repositoryId
      ? `tagged with repository id ${repositoryId}, not this repository's`
      : "no repository-id tag: not provably this repository's",
  });

  const machineVerdicts = new Map<FoundMachine, Verdict>();
  for (const machine of machines) {
    machineVerdicts.set(
      machine,
      machine.repositoryId !== context.repositoryId
        ? notOurs(machine.repositoryId)
        : (judgeByState(machine, now) ?? (await byRun(machine.label || machine.name))),
    );
  }
  const doomed = machines.filter((m) => machineVerdicts.get(m)?.delete === true);
  const doomedNames = new Set(doomed.map((m) => m.name));
  const liveNames = new Set(machines.filter((m) => !doomedNames.has(m.name)).map((m) => m.name));

  // A start's leftovers go with its machines, but not while any machine of it is kept: its security group would
  // still be in use, and its lifetime schedule would still be the cap that holds.
  const startOf = (m: FoundMachine) => m.label || labelOfRunner(m.name) || "";
  const keptStarts = new Set(machines.filter((m) => !doomedNames.has(m.name)).map(startOf));
  const doomedStarts = new Set(doomed.map(startOf).filter((label) => label !== "" && !keptStarts.has(label)));
  const leftoverVerdicts = new Map<FoundLeftover, Verdict>();
  for (const leftover of leftovers) {
    let verdict: Verdict;
    if (leftover.repositoryId !== context.repositoryId) verdict = notOurs(leftover.repositoryId);
    else if (!runOfLabel(leftover.label)) verdict = { delete: false, why: "no start's label tag: cannot be judged" };
    else if (keptStarts.has(leftover.label)) verdict = { delete: false, why: "a machine of its start is kept" };
    else if (doomedStarts.has(leftover.label))
      verdict = { delete: true, why: "the machines of its start are deleted now" };
    else {
      const byItsRun = await byRun(leftover.label);
      verdict = byItsRun.delete ? { delete: true, why: `${byItsRun.why}; no machine of its start is left` } : byItsRun;
    }
    leftoverVerdicts.set(leftover, verdict);
  }
  // Never an empty label: as a name prefix or a tag value it would match every start of the account.
  const starts: StartFilter[] = [
    ...new Set([...doomedStarts, ...leftovers.filter((l) => leftoverVerdicts.get(l)?.delete).map((l) => l.label)]),
  ]
    .filter((label) => runOfLabel(label) !== undefined)
    .map((label) => ({ repositoryId: context.repositoryId, label }));

  // An organization's runner list holds every repository's runners, named alike; GitHub's runner object names no
  // repository. A runner is this repository's when the list is the repository's own, or it carries the owner label
  // its start registered it with (settings/label.ts).
  const runnerVerdicts = new Map<(typeof runners)[number], Verdict>();
  for (const runner of runners) {
    const proof = ownerLabel(labelOfRunner(runner.name)!, context.repositoryId);
    if (inputs.runnerScope !== "repository" && !runner.labels.includes(proof)) {
      runnerVerdicts.set(runner, {
        delete: false,
        why: `not provably this repository's (no ${proof} label): left to its own repository`,
      });
      continue;
    }
    const byItsRun = await byRun(runner.name);
    runnerVerdicts.set(
      runner,
      !byItsRun.delete
        ? byItsRun
        : liveNames.has(runner.name)
          ? { delete: false, why: "its machine is kept" }
          : doomedNames.has(runner.name)
            ? { delete: true, why: `${byItsRun.why}; its machine is deleted now` }
            : runner.status === "offline"
              ? { delete: true, why: `offline, and ${byItsRun.why}` }
              : { delete: false, why: "online: it may still be taking a job" },
    );
  }

  const deleted: string[] = [];
  if (!inputs.dryRun && (doomed.length > 0 || starts.length > 0)) {
    try {
      deleted.push(
        ...(await io.group("Delete the machines and what their starts left", () =>
          cli.deleteMachines(doomed, starts, deps.env, deps.run),
        )),
      );
    } catch (error) {
      problems.push(`Could not delete the machines and what their starts left: ${(error as Error).message}`);
    }
  }
  for (const [runner, verdict] of runnerVerdicts) {
    if (inputs.dryRun || !verdict.delete) continue;
    try {
      await deps.github.deleteRunner(runner.id);
      deleted.push(`runner ${runner.name}`);
    } catch (error) {
      problems.push(`Could not remove runner ${runner.name}: ${(error as Error).message}`);
    }
  }
  // A sweep that judged nothing (a token without actions: read) must not look like one that found nothing to do.
  if (unreadable.size > 0) {
    const [runs, their] = unreadable.size > 1 ? ["runs", "their statuses"] : ["run", "its status"];
    problems.push(
      `Could not judge what belongs to workflow ${runs} ${[...unreadable].join(", ")}: ${their} could not be read, so it was left. Give the sweep job's GITHUB_TOKEN \`actions: read\` (permissions: actions: read).`,
    );
  }

  const verb = inputs.dryRun ? "would delete" : "deleted";
  const decision = (v: Verdict) => `${v.delete ? verb : "kept"}: ${v.why}`;
  const machineRows = machines.map((m) => [
    m.name,
    m.state,
    m.location,
    age(m, now),
    decision(machineVerdicts.get(m)!),
  ]);
  const leftoverRows = leftovers.map((l) => [l.name, l.kind, l.location, decision(leftoverVerdicts.get(l)!)]);
  const runnerRows = [...runnerVerdicts].map(([r, v]) => [r.name, r.status, decision(v)]);
  for (const row of machineRows) io.info(`machine ${row.join("  ")}`);
  for (const row of leftoverRows) io.info(`leftover ${row.join("  ")}`);
  for (const row of runnerRows) io.info(`runner ${row.join("  ")}`);
  for (const what of unchecked) io.warning(`Not looked for: ${what}.`);
  if (deleted.length > 0) io.info(`Deleted: ${deleted.join(", ")}.`);
  await io.summary(
    [
      `### GPU runner sweep${inputs.dryRun ? " (dry-run: nothing deleted)" : ""}: ${context.repository} (repository id ${context.repositoryId}), ${inputs.cloud.name}`,
      "",
      machineRows.length > 0
        ? table(["Machine", "State", "Where", "Age", "Decision"], machineRows)
        : "No machine of this repository was found.",
      "",
      leftoverRows.length > 0
        ? table(["Left beside a machine", "Kind", "Where", "Decision"], leftoverRows)
        : "Nothing else of this repository was found.",
      ...unchecked.map((what) => `Not looked for: ${what}.`),
      "",
      runnerRows.length > 0
        ? table(["Runner", "Status", "Decision"], runnerRows)
        : "No runner of this action is registered.",
      "",
      ...problems.map((p) => `**${p}**\n`),
    ].join("\n"),
  );
  if (problems.length > 0) throw new SweepError(`The sweep did not finish:\n${problems.join("\n")}`);
}

/** Done whatever its run: powered off, or past its max-lifetime. Undefined when only its run can tell. */
function judgeByState(machine: FoundMachine, now: number): Verdict | undefined {
  if (machine.state === "stopped")
    return { delete: true, why: "stopped: powered off but not deleted, its disk still billed" };
  if (machine.launchedAt && machine.maxLifetimeMinutes) {
    const minutes = (now - machine.launchedAt.getTime()) / 60_000;
    if (minutes > machine.maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES) {
      return { delete: true, why: `past its max-lifetime of ${machine.maxLifetimeMinutes} min` };
    }
  }
  return undefined;
}

/** The state of the workflow run a label or runner name belongs to, asked once per run. */
function runStateCache(deps: SweepDeps): (labelOrName: string) => Promise<RunState> {
  const cache = new Map<string, Promise<RunState>>();
  return (labelOrName) => {
    const run = runOfLabel(labelOrName);
    if (!run) return Promise.resolve({ kind: "none" });
    let state = cache.get(run.runId);
    if (!state) {
      state = deps.runs.runStatus(run.runId).then(
        (status): RunState =>
          status === undefined ? { kind: "gone" } : status === "completed" ? { kind: "over" } : { kind: "live" },
        (error: unknown): RunState => {
          deps.io.warning(
            `Could not read workflow run ${run.runId}: ${(error as Error).message} (the token needs Actions: read).`,
          );
          return { kind: "unreadable", runId: run.runId };
        },
      );
      cache.set(run.runId, state);
    }
    return state;
  };
}

function age(machine: FoundMachine, now: number): string {
  if (!machine.launchedAt) return "unknown";
  const minutes = Math.max(0, Math.round((now - machine.launchedAt.getTime()) / 60_000));
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

function table(header: string[], rows: string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0] ?? "";
}
