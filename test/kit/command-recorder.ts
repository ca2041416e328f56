// A cloud CLI stand-in for the clouds' CLI tests: records each command line and answers by the longest matching
// prefix given (exit 0 and no output otherwise), so a test sees the exact commands a cloud issues.
import type { CommandResult, CommandRunner } from "../../stacks/cloud-command.ts";

export function recorder(answers: Record<string, Partial<CommandResult>>): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (command, args) => {
    const line = [command, ...args].join(" ");
    calls.push(line);
    const key = Object.keys(answers).find((prefix) => line.startsWith(prefix));
    return { exitCode: 0, stdout: "", stderr: "", ...(key ? answers[key] : {}) };
  };
  return { run, calls };
}
