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
  repository?: RepoRef;
  issue?: { pull_request?: unknown };
  pull_request?: { head?: { repo?: RepoRef | null } };
  workflow_run?: { head_repository?: RepoRef | null; event?: string };
}

/** The repository the triggering code comes from, when the event names one; undefined for events with no head. */
export function headRepository(eventName: string, payload: EventPayload): string | null | undefined {
  if (payload.pull_request) return payload.pull_request.head?.repo?.full_name ?? null;
  if (eventName === "workflow_run" && payload.workflow_run) return payload.workflow_run.head_repository?.full_name ?? null;
  // A comment on a pull request names no head repository: it may be a fork's, so it counts as one (null).
  if (eventName === "issue_comment" && payload.issue?.pull_request) return null;
  return undefined;
}

/** Throws ForkRefusedError when the run was triggered from a fork, unless allowed. */
export async function guardAgainstForks(context: Pick<RunContext, "eventName" | "eventPath" | "repository">, allowForks: boolean): Promise<void> {
  if (allowForks || !context.eventPath) return;
  let payload: EventPayload;
  try {
    payload = JSON.parse(await readFile(context.eventPath, "utf8")) as EventPayload;
  } catch (error) {
    // Without the event we cannot tell; refusing is the safe side of that doubt.
    throw new Error(`Cannot read the triggering event (GITHUB_EVENT_PATH): ${(error as Error).message}. Set allow-forks: true to skip this check.`);
  }
  const head = headRepository(context.eventName, payload);
  if (head === undefined) return;
  const base = payload.repository?.full_name ?? context.repository;
  // A deleted fork shows as a null head repository: still not this repository.
  if (head === null || head.toLowerCase() !== base.toLowerCase()) throw new ForkRefusedError(context.eventName || "event", head ?? "", base);
}
