// When a runner does not come online, the answer is on the machine: its boot script prints prefixed progress
// lines to the console. Show them (the last ones, per machine) before the machine is destroyed.
import type { MachinePlan } from "../../stacks/cloud.ts";
import type { ActionIO } from "../adapters/action-io.ts";
import type { CommandRunner } from "../adapters/command.ts";
import { BOOT_LOG_PREFIX } from "../../stacks/names.ts";

const MAX_LINES = 40;

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

export async function showBootLines(
  plan: MachinePlan,
  machines: { name: string; id: string }[],
  deps: { io: ActionIO; run: CommandRunner },
): Promise<void> {
  for (const machine of machines) {
    await deps.io.group(`Boot lines of ${machine.name}`, async () => {
      try {
        const lines = bootLines(await plan.bootConsole(machine, deps.run));
        if (lines.length === 0)
          deps.io.info(
            "(no boot script line yet: the machine may not have booted, or its console is not available yet)",
          );
        for (const line of lines) deps.io.info(line);
      } catch (error) {
        deps.io.warning(`Could not read the console of ${machine.name}: ${(error as Error).message}`);
      }
    });
  }
}
