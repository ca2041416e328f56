// Reads action.yml (and other workflow files) as data, and validates them with GitHub's own parser.
import { readFileSync } from "node:fs";
import { NoOperationTraceWriter } from "@actions/workflow-parser";
import { parseAction } from "@actions/workflow-parser/actions/action-parser";
import { parseWorkflow } from "@actions/workflow-parser/workflows/workflow-parser";
import { parse } from "yaml";

export const ACTION_PATH = new URL("../../action.yml", import.meta.url);

export interface ActionStep {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string | number | boolean>;
  "continue-on-error"?: boolean;
  "working-directory"?: string;
}

export interface ActionFile {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string; value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

export function readActionFile(): ActionFile {
  return parse(readFileSync(ACTION_PATH, "utf8")) as ActionFile;
}

/** Errors GitHub's action.yml parser reports; [] when valid. */
export function actionErrors(content: string, name = "action.yml"): string[] {
  const result = parseAction({ name, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => e.message);
}

/** Errors GitHub's workflow parser reports; [] when valid. */
export function workflowErrors(content: string, name = "workflow.yml"): string[] {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => e.message);
}
