// How a cloud's CLI is run and read: the one seam through which the action reaches a cloud outside Terraform. At the
// bottom of stacks/, so that the CLI contract (cloud-cli.ts), every cloud's folder and the action can import it.

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a cloud's CLI (the few things Terraform cannot do); injected, so tests see the exact command lines. */
export type CommandRunner = (command: string, args: string[]) => Promise<CommandResult>;

/** Runs a command that must succeed; the error names the command and carries the end of its stderr. */
export async function runChecked(run: CommandRunner, command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.exitCode !== 0) {
    throw new Error(
      `${command} ${args.slice(0, 3).join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").slice(-3).join(" ")}`,
    );
  }
  return result.stdout;
}

/** A CLI's `--output json` / `--format=json` listing, which must be a JSON list; `what` names the command in errors. */
export function jsonList(text: string, what: string): unknown[] {
  let listed: unknown;
  try {
    listed = JSON.parse(text || "[]");
  } catch {
    throw new Error(`${what} did not print JSON`);
  }
  if (!Array.isArray(listed)) throw new Error(`${what} did not print a JSON list`);
  return listed;
}
