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
  full_name?: unknown;
}

interface EventPayload {
  issue?: { pull_request?: unknown } | null;
  pull_request?: { head?: { repo?: RepoRef | null } | null } | null;
  workflow_run?: { head_repository?: RepoRef | null; event?: string } | null;
}

/** The events whose payload is about a pull request (webhook events and payloads: pull_request.head.repo). */
const PULL_REQUEST_EVENTS = new Set([
  "pull_request",
  "pull_request_target",
  "pull_request_review",
  "pull_request_review_comment",
]);

/**
 * Where the triggering code comes from: `{ head }`, the head repository's full name, or null where GitHub says there
 * is none (a deleted fork's pull request has a null head.repo; a comment on a pull request names no head);
 * `{ unreadable }`, the payload field that should name it and does not; undefined for events with no head.
 * A pull request event is one by its name or by its payload: a payload without its pull request proves nothing.
 */
export function headRepository(
  eventName: string,
  payload: EventPayload,
): { head: string | null } | { unreadable: string } | undefined {
  if ("pull_request" in payload || PULL_REQUEST_EVENTS.has(eventName))
    return repoOf(payload.pull_request?.head, "repo", "pull_request.head.repo");
  if (eventName === "workflow_run")
    return repoOf(payload.workflow_run, "head_repository", "workflow_run.head_repository");
  if (eventName === "issue_comment") {
    if (typeof payload.issue !== "object" || payload.issue === null) return { unreadable: "issue" };
    // A comment on a pull request names no head repository: it may be a fork's, so it counts as one (null).
    if ("pull_request" in payload.issue) return { head: null };
  }
  return undefined;
}

/** The full name of `holder[key]`: null where that is null (GitHub's word for a deleted repository). */
function repoOf(holder: unknown, key: string, path: string): { head: string | null } | { unreadable: string } {
  if (typeof holder !== "object" || holder === null || !(key in holder)) return { unreadable: path };
  const repo = (holder as Record<string, RepoRef | null | undefined>)[key];
  if (repo === null) return { head: null };
  const name = typeof repo === "object" ? repo.full_name : undefined;
  return typeof name === "string" && name !== "" ? { head: name } : { unreadable: `${path}.full_name` };
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
 * read, and a pull request, workflow_run or comment event (by its name, or a pull_request in its payload) whose
 * payload does not name its head repository, `{}` included, throw EventUnreadableError naming the missing field. The
 * base is GITHUB_REPOSITORY, which GitHub sets, never the payload's own claim.
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
  const event = context.eventName || "event";
  const found = headRepository(context.eventName, payload as EventPayload);
  if (found === undefined) return;
  if ("unreadable" in found)
    throw new EventUnreadableError(
      `the ${event} event does not name where its code comes from (no ${found.unreadable})`,
    );
  const base = context.repository;
  // A deleted fork shows as a null head repository: still not this repository.
  if (found.head === null || found.head.toLowerCase() !== base.toLowerCase())
    throw new ForkRefusedError(event, found.head ?? "", base);
}
