// When a runner does not come online, the answer is on the machine: its boot script prints prefixed progress
// lines to the console. Show them (the last ones, per machine) before the machine is destroyed. Reading a console
// is best effort everywhere (start's timeline and GPU facts read it too): a refusal or a slow cloud is said in one
// line, and never fails or holds up the step.
import type { MachinePlan } from "../../stacks/cloud.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import { BOOT_LOG_PREFIX } from "../../stacks/names.ts";

const MAX_LINES = 40;
/** How long one console read may take: the GPU job waits on start, and the destroy on the undo. */
export const CONSOLE_READ_LIMIT_MS = 5000;

/** The text of a machine's console, or why it could not be read, in one line (within limitMs, never a throw). */
export async function readConsole(
  plan: MachinePlan,
  machine: { name: string; id: string },
  run: CommandRunner,
  limitMs = CONSOLE_READ_LIMIT_MS,
): Promise<{ text: string } | { failure: string }> {
  let timer: NodeJS.Timeout | undefined;
  // Cleared when the read ends, so it holds the process no longer than the read itself.
  const late = new Promise<"late">((done) => {
    timer = setTimeout(() => done("late"), limitMs);
  });
  try {
    const text = await Promise.race([plan.bootConsole(machine, run), late]);
    return text === "late"
      ? { failure: consoleFailure(machine.name, `no answer within ${limitMs / 1000} s`) }
      : { text };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      failure: consoleFailure(machine.name, message.trim().split("\n", 1)[0]?.slice(0, 300) || "no reason given"),
    };
  } finally {
    clearTimeout(timer);
  }
}

function consoleFailure(name: string, reason: string): string {
  return `could not read the console of ${name}: ${reason}; the machine's own lines are missing here`;
}

/**
 * The boot script's own lines from a console dump, the newest MAX_LINES of them. Each line can reach the console
 * twice (the script writes to the console, and cloud-init or the guest agent relays its output there too), so a
 * line repeating one of the two before it is dropped.
 */
export function bootLines(consoleText: string): string[] {
  const lines: string[] = [];
  for (const raw of consoleText.split(/\r?\n/)) {
    const at = raw.indexOf(BOOT_LOG_PREFIX);
    if (at < 0) continue;
    const line = raw.slice(at).trimEnd();
    if (!lines.slice(-2).includes(line)) lines.push(line);
  }
  return lines.slice(-MAX_LINES);
}

/** What the boot script's GPU check found on one machine (its `gpu-facts:` line, stacks/boot/runner.sh). */
export interface GpuFacts {
  count: number;
  /** The GPUs' names, ", " between different ones. */
  model: string;
  driver: string;
  /** From nvidia-smi's header; "unknown" when the script could not read it. */
  cuda: string;
}

const GPU_FACTS = /gpu-facts: count=(\d+) driver=(\S+) cuda=(\S+) model=(.*)$/;

/** The GPU facts line of a console dump (the last one, should the script have run twice); undefined if none. */
export function gpuFacts(consoleText: string): GpuFacts | undefined {
  let found: GpuFacts | undefined;
  for (const raw of consoleText.split(/\r?\n/)) {
    const at = raw.indexOf(`${BOOT_LOG_PREFIX} gpu-facts: `);
    const match = at < 0 ? null : GPU_FACTS.exec(raw.slice(at).trimEnd());
    if (match) found = { count: Number(match[1]), driver: match[2] ?? "", cuda: match[3] ?? "", model: match[4] ?? "" };
  }
  return found;
}

export async function showBootLines(
  plan: MachinePlan,
  machines: { name: string; id: string }[],
  deps: { io: ActionIO; run: CommandRunner },
): Promise<void> {
  for (const machine of machines) {
    await deps.io.group(`Boot lines of ${machine.name}`, async () => {
      const read = await readConsole(plan, machine, deps.run);
      if ("failure" in read) {
        deps.io.warning(read.failure);
        return;
      }
      const lines = bootLines(read.text);
      if (lines.length === 0)
        deps.io.info("(no boot script line yet: the machine may not have booted, or its console is not available yet)");
      for (const line of lines) deps.io.info(line);
    });
  }
}
