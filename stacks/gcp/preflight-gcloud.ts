// How the Compute Engine preflight asks gcloud: each question once per round (the candidates of one preflight share
// their answers), and a question gcloud could not answer as an "unchecked" finding. Shared by every question.
import type { CommandResult, CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding, PreflightRequest } from "../preflight.ts";
import { refusal } from "./preflight-answers.ts";

/**
 * The answers of one preflight, shared by its candidates: they are asked at once with the same runner and request
 * (scripts/phases/preflight.ts), and the image, the permissions and a region's quotas are the same for all of them,
 * so each is asked once. A round is one runner with one request: a later preflight (a new request) asks afresh.
 */
const rounds = new WeakMap<CommandRunner, WeakMap<PreflightRequest, CommandRunner>>();

export function roundOf(run: CommandRunner, request: PreflightRequest): CommandRunner {
  const byRequest = rounds.get(run) ?? new WeakMap<PreflightRequest, CommandRunner>();
  rounds.set(run, byRequest);
  const round = byRequest.get(request) ?? ((command, args) => run(command, args));
  byRequest.set(request, round);
  return round;
}

/** What a round's runner has been asked: keyed by the round's own runner, so it goes with the round. */
const answers = new WeakMap<CommandRunner, Map<string, Promise<unknown>>>();

export function once<T>(run: CommandRunner, key: string, ask: () => Promise<T>): Promise<T> {
  const asked = answers.get(run) ?? new Map<string, Promise<unknown>>();
  answers.set(run, asked);
  if (!asked.has(key)) asked.set(key, ask());
  return asked.get(key) as Promise<T>;
}

export const gcloud = (run: CommandRunner, args: string[]): Promise<CommandResult> =>
  once(run, `gcloud\0${args.join("\0")}`, () => run("gcloud", args));

/** Why a question went unanswered, as an "unchecked" finding; a denial names the permission to read it. */
export function unanswered(check: string, result: CommandResult, scope: PreflightFinding["scope"], readWith: string) {
  const why = refusal(result);
  return {
    check,
    status: "unchecked" as const,
    detail: why.message,
    ...(why.kind === "denied" ? { fix: `grant ${why.permission ?? readWith} to let the preflight ask` } : {}),
    scope,
  };
}
