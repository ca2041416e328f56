// Runs a cloud's CLI (present on GitHub's hosted runners) for the few things Terraform cannot do: reading a machine's
// console when it failed to come online, and finding a start's machines by tag when its state is lost.
import { getExecOutput } from "@actions/exec";
import type { CommandRunner } from "../../stacks/cloud.ts";

export type { CommandRunner };

export const runCommand: CommandRunner = async (command, args) => {
  try {
    return await getExecOutput(command, args, { silent: true, ignoreReturnCode: true });
  } catch (error) {
    // The CLI is not installed: report it like a failed command so callers degrade to a warning.
    return { exitCode: 127, stdout: "", stderr: (error as Error).message };
  }
};
