// Where the encrypted state of one start sits on the GitHub runner between the script and the artifact steps.
import { join } from "node:path";
import { STATE_DIR_NAME, STATE_FILE_NAME } from "../lib/constants.ts";
import type { RunContext } from "./run-context.ts";

export function stateFilePath(context: Pick<RunContext, "tempDir">, stateId: string): string {
  return join(context.tempDir, STATE_DIR_NAME, stateId, STATE_FILE_NAME);
}
