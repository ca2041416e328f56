// The job summary (GITHUB_STEP_SUMMARY): what start made and what it costs per hour; at stop, how long it lived
// and what it cost. Estimates from a dated list-price table; "unknown" where the table has no price.
import type { MachineSummary } from "../../stacks/cloud.ts";
import { dollars } from "../settings/worst-case.ts";
import type { GpuFacts } from "./boot-lines.ts";

export interface StartSummary {
  label: string;
  runners: { name: string; id: number; machineId: string }[];
  machine: MachineSummary;
  /** GPUs the boot script checked for on each machine (0: no check), as the stack resolved it at apply. */
  gpusPerMachine: number;
  /** Where that count came from, in words (see gpuCheck): the check is never silently off. */
  gpuCheck: string;
  /** The image the machines booted, as the cloud resolved it at apply (an image id or URL); undefined if unknown. */
  bootedImage?: string;
  maxLifetimeMinutes: number;
  usdPerHour: number | undefined;
  /** When the cloud's price table was taken. */
  pricesAsOf: string;
  /**
   * Per runner name, what its boot script's GPU check found (read from the machine's console), or why that is not
   * known. Undefined: not read at all (no GPU check).
   */
  gpusFound?: Record<string, GpuFacts | string>;
  /** The start's worst case as checked before anything existed (describeWorstCase), and max-cost when set. */
  worstCase?: string;
  maxCostUsd?: number;
}

const cell = (text: string) => text.replace(/\|/g, "\\|");
const usd = (amount: number) => `$${amount < 10 ? amount.toFixed(2) : amount.toFixed(0)}`;

export function startSummary(s: StartSummary): string {
  const spot = s.machine.spot === true;
  const price = s.usdPerHour === undefined ? "unknown" : `${spot ? "at most " : ""}${usd(s.usdPerHour)}`;
  const rows = s.runners.map((r) =>
    [
      r.name,
      r.machineId || "unknown",
      s.machine.machineType,
      s.gpusPerMachine > 0 ? String(s.gpusPerMachine) : "not checked",
      s.machine.location,
      s.label,
      `${s.maxLifetimeMinutes} min`,
      price,
    ]
      .map(cell)
      .join(" | "),
  );
  const lines = [
    `### GPU runners started: \`${s.label}\``,
    "",
    "| Runner | Machine id | Machine | GPUs | Location | Label | Lifetime cap | Est. per hour |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r} |`),
    "",
    ...gpusFound(s),
    `GPU check: ${cell(s.gpuCheck)}.`,
    "",
    `Image: ${cell(s.bootedImage && !s.machine.image.startsWith(s.bootedImage) ? `${s.bootedImage}, from ${s.machine.image}` : s.machine.image)}.`,
    "",
  ];
  if (s.usdPerHour === undefined) {
    lines.push(
      `Estimated cost: unknown for ${cell(s.machine.machineType)} (no list price in the action's table of ${s.pricesAsOf}).`,
    );
  } else {
    const perHour = s.usdPerHour * s.runners.length;
    const cap = (perHour * s.maxLifetimeMinutes) / 60;
    lines.push(
      `Estimated cost: ${spot ? "at most " : ""}${usd(perHour)} per hour for ${s.runners.length} machine(s), at most ${usd(cap)} if they ran to the lifetime cap ` +
        `(${spot ? "Spot, whose price moves: the on-demand list price" : "on-demand list price"} of ${s.pricesAsOf}, one region; disks and traffic not included).`,
    );
  }
  if (s.worstCase !== undefined) {
    lines.push(
      "",
      `Worst case, checked before anything was created: ${cell(s.worstCase)}; max-cost ${s.maxCostUsd === undefined ? "not set" : dollars(s.maxCostUsd)}.`,
    );
  }
  // What the plan warns of (e.g. a machine that stays billed after its job): shown where the cost is read.
  for (const caveat of s.machine.caveats ?? []) lines.push("", `> [!WARNING]`, `> ${cell(caveat)}`);
  return `${lines.join("\n")}\n`;
}

/** What each machine's GPU check found: to trace a result to the hardware and driver it ran on. */
function gpusFound(s: StartSummary): string[] {
  if (!s.gpusFound) return [];
  const rows = s.runners.map((r) => {
    const found = s.gpusFound?.[r.name];
    const facts =
      typeof found === "object"
        ? [String(found.count), found.model, found.driver, found.cuda]
        : [`unknown: ${found ?? "its console was not read"}`, "", "", ""];
    return `| ${[r.name, ...facts].map(cell).join(" | ")} |`;
  });
  return [
    "GPUs found by the boot script's check (nvidia-smi):",
    "",
    "| Runner | GPUs | Model | Driver | CUDA |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ];
}

export interface StopSummary {
  label: string;
  machineCount: number;
  machine?: { type: string; location: string; usdPerHour?: number; pricesAsOf?: string };
  /** When start wrote its state (the machines were created just before). */
  startedAt?: string;
  stoppedAt: Date;
  /** Which job ran on each runner, one line each, when the run's jobs could be listed. */
  runnerJobs?: string[];
  /** The machines the state still held, by runner name: each lived from the start until this stop at most. */
  machines?: string[];
  /** What the stop could not check without failing (the sweep by label could not look), said plainly. */
  notChecked?: string;
}

export function stopSummary(s: StopSummary): string {
  const lines = [`### GPU runners stopped: \`${s.label}\``, ""];
  if (s.runnerJobs && s.runnerJobs.length > 0) lines.push(...s.runnerJobs.map((line) => `- ${cell(line)}`), "");
  if (s.notChecked) lines.push(`> [!WARNING]\n> Not checked: ${cell(s.notChecked)}`, "");
  const started = s.startedAt ? Date.parse(s.startedAt) : Number.NaN;
  if (s.machineCount === 0 || Number.isNaN(started)) {
    lines.push("Nothing of this start was left to stop.");
    return `${lines.join("\n")}\n`;
  }
  const minutes = Math.max(0, Math.round((s.stoppedAt.getTime() - started) / 60_000));
  const price = s.machine?.usdPerHour;
  if (s.machines && s.machines.length > 0) {
    // A machine that ended itself after its job (where power-off ends it) lived less: these are upper bounds.
    const each = price === undefined ? "unknown" : `at most ${usd((price * minutes) / 60)}`;
    lines.push("| Machine | Type | Lived | Cost |", "| --- | --- | --- | --- |");
    for (const name of s.machines)
      lines.push(`| ${cell(name)} | ${cell(s.machine?.type ?? "unknown type")} | at most ${minutes} min | ${each} |`);
    lines.push("");
  }
  lines.push(
    `${s.machineCount} machine(s) of ${cell(s.machine?.type ?? "unknown type")} lived about ${minutes} min (start to stop).`,
  );
  lines.push(
    price === undefined
      ? "Estimated total cost of the run: unknown (no list price for this machine type)."
      : `Estimated total cost of the run: ${usd((price * s.machineCount * minutes) / 60)} (${s.machineCount} x ${usd(price)} per hour, on-demand list price of ${s.machine?.pricesAsOf ?? "unknown date"}; ` +
          "billing granularity, disks and traffic not included).",
  );
  return `${lines.join("\n")}\n`;
}
