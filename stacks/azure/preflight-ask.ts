// How the Azure preflight asks az: each distinct command once per runner (the candidates of a start share the
// answers), and an answer read into its JSON or the reason it has none. Shared by every question.
import type { CommandResult, CommandRunner } from "../cloud-command.ts";
import { parseJson, refusal } from "./preflight-answers.ts";

/**
 * Every candidate of a start is asked at once with the same runner, and most questions (the location's usages, the
 * image, the role's permissions) are the same for each: each distinct command runs once per runner, so a start with
 * ten candidates starts a handful of az processes, not fifty.
 */
const asked = new WeakMap<CommandRunner, Map<string, Promise<CommandResult>>>();

export function ask(run: CommandRunner, args: string[]): Promise<CommandResult> {
  const answers = asked.get(run) ?? new Map<string, Promise<CommandResult>>();
  asked.set(run, answers);
  const key = args.join("\0");
  let answer = answers.get(key);
  if (!answer) {
    answer = run("az", args).catch((error: Error) => ({ exitCode: 127, stdout: "", stderr: error.message }));
    answers.set(key, answer);
  }
  return answer;
}

export const json = ["--output", "json"];

/**
 * The sizes, quotas and Marketplace images are read at the subscription's scope, where a role on the resource group
 * reaches nothing: without a read there the question is unchecked, and this says what lets the preflight ask it.
 */
export const READ_FIX = (action: string) =>
  `to let the preflight ask, give the workflow's app ${action} on the subscription (docs/azure.md, "The preflight")`;

/** The JSON an answer printed, or why there is none: the reason an "unchecked" finding gives. */
export async function answerOf(
  question: Promise<CommandResult>,
): Promise<{ value: unknown } | { why: string; denied?: boolean }> {
  const result = await question;
  if (result.exitCode !== 0) {
    const why = refusal(result);
    return { why: why.message, denied: why.kind === "denied" };
  }
  const value = parseJson(result.stdout);
  return value === undefined ? { why: "az printed no JSON" } : { value };
}
