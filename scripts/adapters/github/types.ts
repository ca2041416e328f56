// The GitHub client as the phases see it: what it does (GitHubClient), the shapes it returns and the options it is
// built from. Its own file, free of Octokit and of any behaviour, so that the phases and their in-memory fakes
// depend on this contract alone.

export interface RunnerInfo {
  id: number;
  name: string;
  status: "online" | "offline" | string;
  busy: boolean;
  labels: string[];
}

export interface JitConfig {
  runnerId: number;
  runnerName: string;
  encodedJitConfig: string;
}

export type JitRequest = {
  name: string;
  labels: string[];
  runnerGroupId: number;
  workFolder?: string;
  /** Once it fires (the job was cancelled), a failed attempt is not sent again: a re-send would register anew. */
  signal?: AbortSignal;
};

export type RunnerScope = { kind: "repository"; owner: string; repo: string } | { kind: "organization"; org: string };

export interface GitHubClient {
  createJitConfig(req: JitRequest): Promise<JitConfig>;
  /** undefined when GitHub answers 404 (the runner is gone). */
  getRunner(id: number): Promise<RunnerInfo | undefined>;
  /** Every runner of the scope, all pages followed. */
  listRunners(): Promise<RunnerInfo[]>;
  /** "gone" when GitHub answers 404 (already deleted, e.g. an ephemeral runner after its job). */
  deleteRunner(id: number): Promise<"deleted" | "gone">;
  /** Deletes the artifacts of that name in that workflow run; returns how many it deleted. Repository scope only. */
  deleteArtifactsNamed(runId: string, name: string): Promise<number>;
  /** The id of the organization's runner group of that name; undefined when there is none. Organization scope only. */
  runnerGroupIdByName(name: string): Promise<number | undefined>;
  /** The jobs of a workflow run, of every attempt, with the runner each ran on. Repository scope only. */
  listRunJobs(runId: string): Promise<RunJob[]>;
  /** A workflow run's status (queued, in_progress, completed...); undefined when GitHub has no such run. Repository scope only. */
  runStatus(runId: string): Promise<string | undefined>;
}

export interface RunJob {
  id: number;
  name: string;
  /** The runner that took it; undefined while queued. */
  runnerName: string | undefined;
  status: string;
  conclusion: string | undefined;
  runAttempt: number | undefined;
  htmlUrl: string | undefined;
}

/** The bounds of the retry policy (retry.ts). */
export interface RetrySettings {
  /** Attempts of one request (one page) in all, the first included, whatever made them fail. */
  attempts?: number;
  /** The jittered exponential backoff before a re-send after a 5xx or a lost answer. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A wait that would take one request's (one page's) waits past this is not made: the call fails. */
  maxTotalWaitMs?: number;
}

export interface GitHubClientOptions {
  token: string;
  /** GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server. */
  apiUrl: string;
  scope: RunnerScope;
  /** Every wait this client decides (backoff, rate limits, the spacing of writes) is made through this. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch milliseconds; used to turn x-ratelimit-reset and an HTTP-date retry-after into a wait, and to space writes. */
  now?: () => number;
  log?: (line: string) => void;
  /** Called with each encoded_jit_config as soon as it is received, before it is returned: mask it there. */
  onSecret?: (value: string) => void;
  /** Each attempt is abandoned after this long (then retried where that is safe). Default 30 s. */
  requestTimeoutMs?: number;
  retry?: RetrySettings;
  /** A second between writes (POST, PUT, PATCH, DELETE), as GitHub asks; default true. Tests not about it turn it off. */
  spaceWrites?: boolean;
}
