// A self-hosted runner started for a fork's pull request would run a stranger's code on a machine that can see
// this repository's secrets and cloud. pull_request runs from forks get no secrets (so start would fail anyway);
// pull_request_target and workflow_run runs do, which is exactly when starting must be refused.
import { readFile } from "node:fs/promises";
import type { RunContext } from "../settings/run-context.ts";

export class ForkRefusedError extends Error {
  constructor(event: string, head: string, base: string) {
    super(
      `Refusing to start: this ${event} run comes from ${head || "a fork, or a pull request whose head repository it cannot tell"}, not ${base}. A self-hosted GPU ` +
        "runner would run the fork's code with access to this repository's secrets and cloud account. To test fork " +
        "pull requests, run the start job in an environment with required reviewers (a maintainer approves each run " +
        "after reading the change) and set allow-forks: true on it.",
    );
    this.name = "ForkRefusedError";
  }
}

interface RepoRef {
  full_name?: string;
}

interface EventPayload {
  issue?: { pull_request?: unknown } | null;
  pull_request?: { head?: { repo?: RepoRef | null } } | null;
  workflow_run?: { head_repository?: RepoRef | null; event?: string } | null;
}

/** The repository the triggering code comes from, when the event names one; undefined for events with no head. */
export function headRepository(eventName: string, payload: EventPayload): string | null | undefined {
  // Present but null (or not an object) is not "no pull request": it is a pull request we cannot read.
  if ("pull_request" in payload) return payload.pull_request?.head?.repo?.full_name ?? null;
  if (eventName === "workflow_run") return payload.workflow_run?.head_repository?.full_name ?? null;
  // A comment on a pull request names no head repository: it may be a fork's, so it counts as one (null).
  if (
    eventName === "issue_comment" &&
    (payload.issue === undefined || payload.issue === null || "pull_request" in payload.issue)
  )
    return null;
  return undefined;
}

/** Why the triggering event cannot be trusted to say where the code comes from: refusing is the safe side. */
export class EventUnreadableError extends Error {
  constructor(why: string) {
    super(
      `Refusing to start: ${why}, so the action cannot tell whether this run comes from a fork. Set allow-forks: true to skip this check.`,
    );
    this.name = "EventUnreadableError";
  }
}

/**
 * Throws ForkRefusedError when the run was triggered from a fork, unless allowed. Fails closed: an event it cannot
 * read, or one whose pull request it cannot make out, is refused too. The base is GITHUB_REPOSITORY, which GitHub
 * sets, never the payload's own claim.
 */
export async function guardAgainstForks(
  context: Pick<RunContext, "eventName" | "eventPath" | "repository">,
  allowForks: boolean,
): Promise<void> {
  if (allowForks) return;
  if (!context.eventPath) throw new EventUnreadableError("GITHUB_EVENT_PATH is not set");
  let payload: unknown;
  try {
    // Stryker disable next-line StringLiteral: without an encoding readFile gives a Buffer, which JSON.parse reads as the same UTF-8 text.
    payload = JSON.parse(await readFile(context.eventPath, "utf8"));
  } catch (error) {
    throw new EventUnreadableError(
      `the triggering event (GITHUB_EVENT_PATH) cannot be read: ${(error as Error).message}`,
    );
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new EventUnreadableError("the triggering event is not a JSON object");
  const head = headRepository(context.eventName, payload as EventPayload);
  if (head === undefined) return;
  const base = context.repository;
  // A deleted fork shows as a null head repository: still not this repository.
  if (head === null || head.toLowerCase() !== base.toLowerCase())
    throw new ForkRefusedError(context.eventName || "event", head ?? "", base);
}
