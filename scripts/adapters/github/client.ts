// createGitHubClient, the one way the action gets a GitHub client: it builds the transport (transport.ts) for these
// options and binds the calls (runners.ts, runs.ts) to it. Its own file so that the phases and main.ts import the
// client's maker without the pieces it is made of.

import { deleteArtifactsNamed, listRunJobs, runStatus } from "./runs.ts";
import {
  createJitConfig,
  deleteRunner,
  getRunner,
  listRunners,
  runnerGroupIdByName,
  runnersPrefix,
} from "./runners.ts";
import { createTransport } from "./transport.ts";
import type { GitHubClient, GitHubClientOptions } from "./types.ts";

export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  const api = createTransport(opts);
  const prefix = runnersPrefix(opts.scope);
  return {
    createJitConfig: (req) => createJitConfig(api, prefix, req),
    getRunner: (id) => getRunner(api, prefix, id),
    listRunners: () => listRunners(api, prefix),
    deleteRunner: (id) => deleteRunner(api, prefix, id),
    deleteArtifactsNamed: (runId, name) => deleteArtifactsNamed(api, runId, name),
    runnerGroupIdByName: (name) => runnerGroupIdByName(api, name),
    listRunJobs: (runId) => listRunJobs(api, runId),
    runStatus: (runId) => runStatus(api, runId),
  };
}
