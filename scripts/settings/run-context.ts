// The workflow run's own facts, from the variables GitHub sets on every job.
import { type Env, InputError } from "../../stacks/input-reader.ts";

export interface RunContext {
  /** owner/repo */
  repository: string;
  owner: string;
  repo: string;
  /**
   * The repository's numeric id (GITHUB_REPOSITORY_ID): what every resource's ownership tag carries and what a sweep
   * or a stop finds by. Unlike owner/repo it can neither be renamed nor folded into another repository's value by a
   * cloud's label rules (some turn "md.sim" and "md_sim" into the same "md_sim").
   */
  repositoryId: string;
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
  const repositoryId = env.GITHUB_REPOSITORY_ID ?? "";
  if (!/^[1-9]\d{0,19}$/.test(repositoryId))
    throw new InputError("GITHUB_REPOSITORY_ID", repositoryId, "the numeric repository id GitHub Actions sets");
  const runId = env.GITHUB_RUN_ID ?? "";
  if (!/^\d{1,20}$/.test(runId)) throw new InputError("GITHUB_RUN_ID", runId, "the numeric run id GitHub Actions sets");
  const runAttempt = env.GITHUB_RUN_ATTEMPT || "1";
  if (!/^\d{1,4}$/.test(runAttempt))
    throw new InputError("GITHUB_RUN_ATTEMPT", runAttempt, "the attempt number GitHub Actions sets");
  return {
    repository,
    owner: match[1]!,
    repo: match[2]!,
    repositoryId,
    runId,
    runAttempt,
    apiUrl: (env.GITHUB_API_URL || "https://api.github.com").replace(/\/+$/, ""),
    tempDir: env.RUNNER_TEMP || fallbackTempDir,
    eventName: env.GITHUB_EVENT_NAME ?? "",
    eventPath: env.GITHUB_EVENT_PATH ?? "",
  };
}
