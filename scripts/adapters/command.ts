// Runs a cloud CLI (aws, gcloud: present on GitHub's hosted runners) for the few things Terraform cannot do for
// us: reading a machine's console when it failed to come online, and finding a start's machines by tag when its
// state is lost. Injected, so tests see the exact command lines.
import { getExecOutput } from "@actions/exec";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (command: string, args: string[]) => Promise<CommandResult>;

export const runCommand: CommandRunner = async (command, args) => {
  try {
    return await getExecOutput(command, args, { silent: true, ignoreReturnCode: true });
  } catch (error) {
    // The CLI is not installed: report it like a failed command so callers degrade to a warning.
    return { exitCode: 127, stdout: "", stderr: (error as Error).message };
  }
};

/** Runs a command that must succeed; the error names the command and carries the end of its stderr. */
export async function runChecked(run: CommandRunner, command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.exitCode !== 0) {
    throw new Error(`${command} ${args.slice(0, 3).join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
  return result.stdout;
}
