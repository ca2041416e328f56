// Undoing a start: destroy the machines, then remove the runners at GitHub. Used when start fails and by stop.
// Each half runs even if the other fails, and the result says plainly what may still exist.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ActionIO } from "../adapters/action-io.ts";
import { JIT_VARIABLE_PREFIX } from "../../stacks/names.ts";
import type { GitHubClient } from "../adapters/github/types.ts";
import { placeholderSecretEnv, type Terraform } from "../adapters/terraform.ts";

export interface TeardownTarget {
  /** The stack directory to destroy; undefined when nothing was ever applied. */
  stackDir?: string;
  runners: { id: number; name: string }[];
  terraform: Terraform;
  github: GitHubClient;
  io: ActionIO;
}

export interface TeardownResult {
  ok: boolean;
  summary: string;
  /** The runners that are no longer registered (deleted now, or already gone). */
  removedIds: number[];
}

export async function teardown(target: TeardownTarget): Promise<TeardownResult> {
  const { io } = target;
  const lines: string[] = [];
  let ok = true;
  if (target.stackDir) {
    try {
      await destroyStack(target.stackDir, target.terraform, io);
      lines.push("Machines destroyed.");
    } catch (error) {
      ok = false;
      lines.push(
        `DESTROY FAILED: ${(error as Error).message}. Machines may still be running until their max-lifetime; ` +
          "run the stop job, which also looks for them by their gpu-runner-label tag.",
      );
      io.warning(lines.at(-1)!);
    }
  }
  const removal = await removeRunners(target.github, target.runners, io);
  return { ok: ok && removal.ok, summary: [...lines, ...removal.lines].join("\n"), removedIds: removal.removedIds };
}

export interface RunnerRemoval {
  ok: boolean;
  /** One line per runner. */
  lines: string[];
  /** In a few words, for the cleanup table. */
  detail: string;
  removedIds: number[];
}

/** Deletes each runner at GitHub; one that is already gone (a JIT runner after its job) counts as removed. */
export async function removeRunners(
  github: GitHubClient,
  runners: { id: number; name: string }[],
  io: ActionIO,
): Promise<RunnerRemoval> {
  const lines: string[] = [];
  const removedIds: number[] = [];
  let removed = 0;
  let gone = 0;
  let failed = 0;
  for (const runner of runners) {
    try {
      const result = await github.deleteRunner(runner.id);
      if (result === "deleted") removed++;
      else gone++;
      removedIds.push(runner.id);
      lines.push(
        result === "deleted" ? `Runner ${runner.name} removed from GitHub.` : `Runner ${runner.name} was already gone.`,
      );
      io.info(lines.at(-1)!);
    } catch (error) {
      failed++;
      lines.push(`Could not remove runner ${runner.name} (id ${runner.id}) from GitHub: ${(error as Error).message}`);
      io.warning(lines.at(-1)!);
    }
  }
  const detail =
    runners.length === 0
      ? "none registered"
      : `${removed} removed, ${gone} already gone${failed > 0 ? `, ${failed} could not be removed` : ""}`;
  return { ok: failed === 0, lines, detail, removedIds };
}

/**
 * The runners to remove for a start: those it knows, plus any still registered under its label's name prefix
 * (a registration whose answer was lost, or a start that died before saving its state).
 */
export async function runnersOfStart(github: GitHubClient, label: string, known: { id: number; name: string }[]) {
  return unionOfRunners(known, await registeredUnderLabel(github, label));
}

/** The runners registered at GitHub now whose name says they belong to this start, and whether each is busy. */
export async function registeredUnderLabel(
  github: GitHubClient,
  label: string,
): Promise<{ id: number; name: string; busy: boolean }[]> {
  return (await github.listRunners())
    .filter((runner) => runner.name.startsWith(`${label}-`))
    .map((r) => ({ id: r.id, name: r.name, busy: r.busy }));
}

export function unionOfRunners(...lists: { id: number; name: string }[][]): { id: number; name: string }[] {
  const byId = new Map<number, { id: number; name: string }>();
  for (const { id, name } of lists.flat()) byId.set(id, { id, name });
  return [...byId.values()];
}

/** terraform destroy of a stack directory, with placeholder values for the JIT variables. */
export async function destroyStack(stackDir: string, terraform: Terraform, io: ActionIO): Promise<void> {
  await io.group("terraform destroy", async () => {
    await terraform.destroy(stackDir, { secretEnv: await jitPlaceholders(stackDir) });
  });
}

/**
 * Values for the stack's JIT variables when no real config is at hand (destroy, plan): Terraform evaluates the
 * whole configuration, so every variable needs one. They pass the variables' validation and reach no machine.
 */
export async function jitPlaceholders(stackDir: string): Promise<Record<string, string>> {
  const stackJson = JSON.parse(await readFile(join(stackDir, "cdk.tf.json"), "utf8"));
  return placeholderSecretEnv(stackJson, JIT_VARIABLE_PREFIX);
}
