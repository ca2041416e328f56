// Runs a cloud's CLI (present on GitHub's hosted runners) for the few things Terraform cannot do: reading a machine's
// console when it failed to come online, finding a start's machines by tag when its state is lost, and keeping the
// encrypted state in the cloud's bucket.
import { getExecOutput } from "@actions/exec";
import type { CommandRunner } from "../../stacks/cloud-command.ts";
import type { Env } from "../../stacks/input-reader.ts";
import { childEnvironment } from "./child-env.ts";

export type { CommandRunner };

/** A runner whose commands see only the common variables of `env` and the cloud's own (`passEnv`), no secret of the step's. */
export function commandRunner(env: Env, passEnv: readonly RegExp[]): CommandRunner {
  const childEnv = childEnvironment(env, passEnv);
  return async (command, args) => {
    try {
      return await getExecOutput(command, args, { silent: true, ignoreReturnCode: true, env: childEnv });
    } catch (error) {
      // The CLI is not installed: report it like a failed command so callers degrade to a warning.
      return { exitCode: 127, stdout: "", stderr: (error as Error).message };
    }
  };
}
