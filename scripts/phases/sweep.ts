// mode: sweep, for a scheduled workflow: the cleanup layer for when a stop job never ran (a cancelled workflow, a
// deleted one, a runner outage). It finds every machine this repository's starts made in the cloud's region or
// project (by their ownership tags) and deletes those that are done:
//   - stopped ones (a machine that powered itself off but whose cloud keeps it, and its disk billed);
//   - those past the max-lifetime they were started with;
//   - those whose workflow run is over (its stop job would have deleted them).
// Then it removes this action's runners whose workflow run is over and which are offline or whose machine it just
// deleted. A machine or runner of a run still in progress is never touched: its own stop job is still to come.
import type { FoundMachine } from "../../stacks/cloud.ts";
import type { Env } from "../../stacks/input-reader.ts";
import { LIFETIME_CAP_MARGIN_MINUTES } from "../../stacks/lifetime-cap.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import type { SweepInputs } from "../settings/inputs.ts";
import { runOfLabel } from "../settings/label.ts";
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

export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SweepError";
  }
}

export async function sweep(inputs: SweepInputs, context: RunContext, deps: SweepDeps): Promise<void> {
  const { io } = deps;
  const now = deps.now?.() ?? Date.now();
  const machines = await io.group(`Look for ${context.repository}'s machines (${inputs.cloud.name})`, () =>
    inputs.cloud.cli.findMachines({ repository: context.repository }, deps.env, deps.run),
  );
  const runners = (await deps.github.listRunners()).filter((r) => runOfLabel(r.name) !== undefined);
  const runIsOver = runStatusCache(deps);

  const machineVerdicts = new Map<FoundMachine, Verdict>();
  for (const machine of machines) machineVerdicts.set(machine, await judgeMachine(machine, now, runIsOver));
  // Stryker disable next-line OptionalChaining: the loop above gave every machine a verdict.
  const doomed = machines.filter((m) => machineVerdicts.get(m)?.delete);
  const doomedNames = new Set(doomed.map((m) => m.name));
  const liveNames = new Set(machines.filter((m) => !doomedNames.has(m.name)).map((m) => m.name));

  const runnerVerdicts = new Map<(typeof runners)[number], Verdict>();
  for (const runner of runners) {
    const over = await runIsOver(runner.name);
    const verdict: Verdict =
      over !== true
        ? {
            delete: false,
            why: over === false ? "its workflow run is in progress" : "its workflow run could not be checked",
          }
        : liveNames.has(runner.name)
          ? { delete: false, why: "its machine is kept" }
          : runner.status === "offline" || doomedNames.has(runner.name)
            ? {
                delete: true,
                why: doomedNames.has(runner.name)
                  ? "its workflow run is over; its machine is deleted now"
                  : "offline, and its workflow run is over",
              }
            : { delete: false, why: "online: it may still be taking a job" };
    runnerVerdicts.set(runner, verdict);
  }

  const problems: string[] = [];
  const deleted: string[] = [];
  if (!inputs.dryRun && doomed.length > 0) {
    try {
      deleted.push(
        ...(await io.group("Delete the machines", () =>
          inputs.cloud.cli.deleteMachines(doomed, [...new Set(doomed.map((m) => m.label))], deps.env, deps.run),
        )),
      );
    } catch (error) {
      problems.push(`Could not delete the machines: ${(error as Error).message}`);
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

  const verb = inputs.dryRun ? "would delete" : "deleted";
  const machineRows = machines.map((m) => {
    const v = machineVerdicts.get(m)!;
    return [m.name, m.state, m.location, age(m, now), `${v.delete ? verb : "kept"}: ${v.why}`];
  });
  const runnerRows = [...runnerVerdicts].map(([r, v]) => [r.name, r.status, `${v.delete ? verb : "kept"}: ${v.why}`]);
  for (const row of machineRows) io.info(`machine ${row.join("  ")}`);
  for (const row of runnerRows) io.info(`runner ${row.join("  ")}`);
  if (deleted.length > 0) io.info(`Deleted: ${deleted.join(", ")}.`);
  await io.summary(
    [
      `### GPU runner sweep${inputs.dryRun ? " (dry-run: nothing deleted)" : ""}: ${context.repository}, ${inputs.cloud.name}`,
      "",
      machineRows.length > 0
        ? table(["Machine", "State", "Where", "Age", "Decision"], machineRows)
        : "No machine of this repository was found.",
      "",
      runnerRows.length > 0
        ? table(["Runner", "Status", "Decision"], runnerRows)
        : "No runner of this action is registered.",
      "",
    ].join("\n"),
  );
  if (problems.length > 0) throw new SweepError(`The sweep did not finish:\n${problems.join("\n")}`);
}

async function judgeMachine(
  machine: FoundMachine,
  now: number,
  runIsOver: (name: string) => Promise<boolean | undefined>,
): Promise<Verdict> {
  if (machine.state === "stopped")
    return { delete: true, why: "stopped: powered off but not deleted, its disk still billed" };
  if (machine.launchedAt && machine.maxLifetimeMinutes) {
    const minutes = (now - machine.launchedAt.getTime()) / 60_000;
    if (minutes > machine.maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES) {
      return { delete: true, why: `past its max-lifetime of ${machine.maxLifetimeMinutes} min` };
    }
  }
  const over = await runIsOver(machine.label || machine.name);
  if (over === true) return { delete: true, why: "its workflow run is over" };
  return {
    delete: false,
    why: over === false ? "its workflow run is in progress" : "its workflow run could not be checked",
  };
}

/** Whether the workflow run a label or runner name belongs to has completed; undefined when it cannot be told. */
function runStatusCache(deps: SweepDeps): (labelOrName: string) => Promise<boolean | undefined> {
  const cache = new Map<string, Promise<boolean | undefined>>();
  return (labelOrName) => {
    const run = runOfLabel(labelOrName);
    if (!run) return Promise.resolve(undefined);
    let status = cache.get(run.runId);
    if (!status) {
      status = deps.runs.runStatus(run.runId).then(
        // A run GitHub no longer has (deleted) is over too.
        (value) => value === undefined || value === "completed",
        (error: unknown) => {
          deps.io.warning(
            `Could not read workflow run ${run.runId}: ${(error as Error).message} (the token needs Actions: read).`,
          );
          return undefined;
        },
      );
      cache.set(run.runId, status);
    }
    return status;
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
