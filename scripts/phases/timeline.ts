// Where the minutes to a GPU went: the action's own phases (timed here) and the machine's (its boot script's
// milestone lines, read from its console), as a table in the start's job summary.
import { BOOT_TIME_PREFIX } from "../../stacks/names.ts";

/** The boot script's milestones, in the order it reaches them (stacks/boot/runner.sh, `mark`). */
export const BOOT_MILESTONES = [
  "boot-script-started",
  "runner-installed",
  "gpu-checked",
  "pre-runner-done",
  "runner-started",
] as const;
export type BootMilestone = (typeof BOOT_MILESTONES)[number];

/** Epoch milliseconds of each milestone in a console dump (the first time each appears). */
export function bootMilestones(consoleText: string): Partial<Record<BootMilestone, number>> {
  const found: Partial<Record<BootMilestone, number>> = {};
  for (const line of consoleText.split(/\r?\n/)) {
    const at = line.indexOf(BOOT_TIME_PREFIX);
    if (at < 0) continue;
    const [seconds, name] = line
      .slice(at + BOOT_TIME_PREFIX.length)
      .trim()
      .split(/\s+/);
    const epoch = Number(seconds);
    if ((BOOT_MILESTONES as readonly string[]).includes(name ?? "") && Number.isFinite(epoch))
      found[name as BootMilestone] ??= Math.round(epoch * 1000);
  }
  return found;
}

/** What the start knows of its own phases, epoch milliseconds. */
export interface StartTimes {
  /** The action's first step (action.yml's check step), when it says. */
  actionStarted?: number;
  /** Whether the install came from the cache. */
  installCacheHit?: boolean;
  /** This process started. */
  scriptStarted: number;
  synthesized?: number;
  registered?: number;
  applied?: number;
  /** The last runner seen online. */
  online?: number;
  /** That runner's machine's milestones, when its console could be read. */
  machine?: { runner: string; milestones: Partial<Record<BootMilestone, number>> };
  /** Why the machine's milestones are missing. */
  machineUnknown?: string;
}

export interface TimelineRow {
  phase: string;
  /** Milliseconds; undefined when not known. */
  took: number | undefined;
}

export function timelineRows(t: StartTimes, hasPreRunner: boolean): TimelineRow[] {
  const m = t.machine?.milestones ?? {};
  const span = (from: number | undefined, to: number | undefined) =>
    from !== undefined && to !== undefined ? Math.max(0, to - from) : undefined;
  const install =
    t.installCacheHit === undefined
      ? ""
      : t.installCacheHit
        ? " (install from the cache)"
        : " (install from npm, then cached)";
  const rows: TimelineRow[] = [
    { phase: `Setting up the action${install}`, took: span(t.actionStarted, t.scriptStarted) },
    { phase: "Checking inputs and synthesizing the stack", took: span(t.scriptStarted, t.synthesized) },
    { phase: "Registering the runners at GitHub", took: span(t.synthesized, t.registered) },
    { phase: "terraform init and apply (creating the machines)", took: span(t.registered, t.applied) },
    {
      phase: "Machine boot, until its boot script runs (after apply)",
      took: span(t.applied, m["boot-script-started"]),
    },
    { phase: "Runner download and setup", took: span(m["boot-script-started"], m["runner-installed"]) },
    { phase: "GPU check", took: span(m["runner-installed"], m["gpu-checked"]) },
  ];
  if (hasPreRunner) rows.push({ phase: "pre-runner-script", took: span(m["gpu-checked"], m["pre-runner-done"]) });
  rows.push(
    {
      phase: "Runner start, until GitHub shows it online",
      took: span(m["pre-runner-done"] ?? m["gpu-checked"], t.online),
    },
    {
      phase: "Total, from the action's start to every runner online",
      took: span(t.actionStarted ?? t.scriptStarted, t.online),
    },
  );
  return rows;
}

export function timelineMarkdown(t: StartTimes, hasPreRunner: boolean): string {
  const rows = timelineRows(t, hasPreRunner).map(
    (r) => `| ${r.phase} | ${r.took === undefined ? "unknown" : seconds(r.took)} |`,
  );
  const machine = t.machine
    ? `the last runner online, ${t.machine.runner}`
    : `unknown: ${t.machineUnknown ?? "its console was not read"}`;
  return [
    "",
    "#### Where the time went",
    "",
    "| Phase | Took |",
    "| --- | --- |",
    ...rows,
    "",
    `Machine phases: ${machine}.`,
    "",
  ].join("\n");
}

function seconds(ms: number): string {
  return ms < 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms < 120_000
      ? `${Math.round(ms / 1000)} s`
      : `${(ms / 60_000).toFixed(1)} min`;
}
