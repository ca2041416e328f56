// The workflow run's own facts, from the variables GitHub sets on every job.
import { type Env, InputError } from "../../stacks/input-reader.ts";

export interface RunContext {
  /** owner/repo */
  repository: string;
  owner: string;
  repo: string;
  runId: string;
  runAttempt: string;
  apiUrl: string;
  tempDir: string;
  eventName: string;
  eventPath: string;
}

/** The workflow run's own facts, from the variables GitHub sets on every job. */
export function readRunContext(env: Env, fallbackTempDir: string): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!match) throw new InputError("GITHUB_REPOSITORY", repository, "owner/repo, as GitHub Actions sets it");
  const runId = env.GITHUB_RUN_ID ?? "";
  if (!/^\d{1,20}$/.test(runId)) throw new InputError("GITHUB_RUN_ID", runId, "the numeric run id GitHub Actions sets");
  const runAttempt = env.GITHUB_RUN_ATTEMPT || "1";
  if (!/^\d{1,4}$/.test(runAttempt))
    throw new InputError("GITHUB_RUN_ATTEMPT", runAttempt, "the attempt number GitHub Actions sets");
  return {
    repository,
    owner: match[1]!,
    repo: match[2]!,
    runId,
    runAttempt,
    apiUrl: (env.GITHUB_API_URL || "https://api.github.com").replace(/\/+$/, ""),
    tempDir: env.RUNNER_TEMP || fallbackTempDir,
    eventName: env.GITHUB_EVENT_NAME ?? "",
    eventPath: env.GITHUB_EVENT_PATH ?? "",
  };
}
