// A repository's workflow runs as stop and sweep read them: a run's status, its jobs (which runner took each), and
// the deletion of the state artifact it left. Its own file because these calls belong to a repository whatever the
// runners' scope, and need the Actions permission rather than the runners' one.

import { unexpected } from "./errors.ts";
import type { Transport } from "./transport.ts";
import type { RunJob } from "./types.ts";

export async function deleteArtifactsNamed(api: Transport, runId: string, name: string): Promise<number> {
  const repoPath = repositoryPath(api, runId, "artifacts belong to a repository; deleteArtifactsNamed");
  if (!name) throw new Error("GitHub client: the artifact name is empty");
  // The name filter is exact on GitHub's side; checked again so a wider answer can never delete too much.
  const ids = await api.paginate(`${repoPath}/actions/runs/${runId}/artifacts`, { name }, "artifacts", (raw) => {
    const artifact = raw as { id?: unknown; name?: unknown } | null;
    return typeof artifact?.id === "number" && artifact.name === name ? [artifact.id] : [];
  });
  let deleted = 0;
  for (const id of ids) {
    // Gone meanwhile (or by our own retried DELETE): the goal is reached, but we did not delete it now.
    if ((await api.unlessGone("DELETE", `${repoPath}/actions/artifacts/${id}`)) !== "gone") deleted++;
  }
  return deleted;
}

export function listRunJobs(api: Transport, runId: string): Promise<RunJob[]> {
  const path = `${repositoryPath(api, runId, "jobs belong to a repository; listRunJobs")}/actions/runs/${runId}/jobs`;
  // filter=all: the jobs of every attempt of the run, so a re-run's runner is found too.
  return api.paginate(path, { filter: "all" }, "jobs", (raw) => {
    const job = raw as {
      id?: unknown;
      name?: unknown;
      runner_name?: unknown;
      status?: unknown;
      conclusion?: unknown;
      run_attempt?: unknown;
      html_url?: unknown;
    } | null;
    if (typeof job?.id !== "number" || typeof job.name !== "string") return [];
    return [
      {
        id: job.id,
        name: job.name,
        runnerName: typeof job.runner_name === "string" && job.runner_name !== "" ? job.runner_name : undefined,
        status: typeof job.status === "string" ? job.status : "unknown",
        conclusion: typeof job.conclusion === "string" ? job.conclusion : undefined,
        runAttempt: typeof job.run_attempt === "number" ? job.run_attempt : undefined,
        htmlUrl: typeof job.html_url === "string" ? job.html_url : undefined,
      },
    ];
  });
}

export async function runStatus(api: Transport, runId: string): Promise<string | undefined> {
  const path = `${repositoryPath(api, runId, "runs belong to a repository; runStatus")}/actions/runs/${runId}`;
  const response = await api.unlessGone("GET", path);
  if (response === "gone") return undefined;
  const status = (response.data as { status?: unknown } | undefined)?.status;
  if (typeof status !== "string") throw unexpected("GET", path, response.status, "no status");
  return status;
}

/** /repos/OWNER/REPO, once the scope is a repository and the run id a positive integer. */
function repositoryPath(api: Transport, runId: string, what: string): string {
  const scope = api.scope;
  if (scope.kind !== "repository") throw new Error(`GitHub client: ${what} needs repository scope`);
  if (!/^[1-9][0-9]*$/.test(runId)) throw new Error(`GitHub client: run id "${runId}" is not a positive integer`);
  return `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}`;
}
