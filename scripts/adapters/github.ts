// The GitHub REST calls the action makes: a just-in-time (JIT) runner config, runner status and listing, runner
// deletion, the state artifact's deletion and the runner group lookup. Octokit, the ecosystem's client, does the HTTP
// with its plugins for retries (plugin-retry: a 5xx or a lost answer), rate limits (plugin-throttling: primary and
// secondary, and GitHub's one second between writes) and pagination. This file keeps the action's policy on top:
// - generate-jitconfig registers a runner, so it is never retried blindly (createJitConfig);
// - a 404 means "gone" where that is the goal (getRunner, deleteRunner, an artifact's DELETE), and nowhere else;
// - every wait is bounded and logged; GitHub asking for a longer one is a clear error, not a hung job;
// - the token and every encoded_jit_config are redacted from every message and log line, and each config is handed
//   to onSecret (core.setSecret) the moment it is received. Errors are GitHubApiError, written here from the status,
//   method, path, GitHub's message and request id: never Octokit's RequestError, which carries the request (with its
//   authorization header) and the response.
//
// The clock: every wait goes through the injected sleep, so tests never really wait. Both plugins schedule their
// re-sends on Bottleneck timers, which cannot be injected; so both are told to wait 0 ms (retryAfterBaseValue: 0)
// and the wait is made here instead: for a rate limit in throttling's onRateLimit/onSecondaryRateLimit (it awaits
// them; true means "retry now"), for a 5xx or a lost answer at the start of plugin-retry's re-send (perAttempt).

import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { retry as retryPlugin } from "@octokit/plugin-retry";
import { type ThrottlingOptions, throttling } from "@octokit/plugin-throttling";
import { createRedactor } from "../lib/redact.ts";
import { backoffMs, type RetryDecision, retry } from "../lib/retry.ts";

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

export type JitRequest = { name: string; labels: string[]; runnerGroupId: number; workFolder?: string };

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

export interface RetrySettings {
  /** Attempts of one request in all: plugin-retry, throttling and the JIT policy each re-send at most attempts - 1 times. */
  attempts?: number;
  /** The jittered exponential backoff before a re-send after a 5xx or a lost answer. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * A rate-limit wait that would take one request's (one page's) waits past this is not made: the call fails. The
   * JIT policy's retries stay within it too. Backoffs are bounded by attempts and maxDelayMs (4 x 15 s by default).
   */
  maxTotalWaitMs?: number;
}

export interface GitHubClientOptions {
  token: string;
  /** GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server. */
  apiUrl: string;
  scope: RunnerScope;
  /** Every wait this client decides (backoff, rate limits) is made through this. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch milliseconds; used to turn x-ratelimit-reset and an HTTP-date retry-after into a wait. */
  now?: () => number;
  log?: (line: string) => void;
  /** Called with each encoded_jit_config as soon as it is received, before it is returned: mask it there. */
  onSecret?: (value: string) => void;
  /** Each attempt is abandoned after this long (then retried where that is safe). Default 30 s. */
  requestTimeoutMs?: number;
  retry?: RetrySettings;
  /** Throttling's second between writes (POST, DELETE), on its own timer; default true. Tests not about it turn it off. */
  spaceWrites?: boolean;
}

export const DEFAULT_RETRY: Required<RetrySettings> = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 15_000, maxTotalWaitMs: 60_000 };

const USER_AGENT = "ephemeral-gpu-runner";
const API_VERSION = "2022-11-28";
const PER_PAGE = 100;
/** A loop guard for pagination: 1,000 pages of 100 is far beyond any real runner or artifact list. */
const MAX_PAGES = 1000;
/** plugin-retry re-sends what is not listed here: a 5xx or a lost answer. Rate limits are throttling's alone. */
const EVERY_4XX = Array.from({ length: 100 }, (_, i) => 400 + i);
/** Throttling's write group without the spacing: throttling only ever calls write.key(id).schedule(options, job). */
const UNSPACED = { key: () => ({ schedule: (_: unknown, job: () => unknown) => job() }) } as unknown as ThrottlingOptions["write"];

export class GitHubApiError extends Error {
  /** The HTTP status; 0 when no response came (network error, timeout). */
  readonly status: number;
  readonly method: string;
  /** The path below the API URL, query included, e.g. /repos/o/r/actions/runners?per_page=100. */
  readonly path: string;
  /** x-github-request-id, for GitHub support. */
  readonly requestId: string | undefined;
  /** GitHub asked us to slow down: 429, or 403 from a primary or secondary rate limit. */
  readonly rateLimited: boolean;
  /** The wait GitHub asked for (retry-after, or x-ratelimit-reset when none remain), when it gave one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    init: { status: number; method: string; path: string; requestId?: string; rateLimited?: boolean; retryAfterMs?: number },
  ) {
    super(message);
    this.name = "GitHubApiError";
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.requestId = init.requestId;
    this.rateLimited = init.rateLimited ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }
}

export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  return new RestClient(opts);
}

/** What is read of Octokit's RequestError (the class belongs to a dependency of a dependency). */
interface OctokitError {
  message: string;
  status: number;
  request: { method: string; url: string };
  response?: { status: number; headers: Record<string, string | undefined>; data: unknown };
  cause?: unknown;
}

/** One request (one page) across its attempts; keyed by its Octokit options object, which every hook is given. */
interface Attempts {
  label: string;
  /** Why the last attempt failed when that was a 5xx or no answer: plugin-retry re-sends only after those. */
  unclear?: string;
  retries: number;
  waitedMs: number;
  /** The wait the last answer's headers asked for. */
  serverWaitMs?: number;
}

class RestClient implements GitHubClient {
  private readonly octokit;
  private readonly base: URL;
  private readonly prefix: string;
  private readonly settings: Required<RetrySettings>;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** Values never to be written out: the token and every JIT config received. */
  private readonly redactor;
  private readonly attempts = new WeakMap<object, Attempts>();

  constructor(private readonly opts: GitHubClientOptions) {
    if (!opts.token.trim()) throw new Error("GitHub client: the github-token is empty");
    this.redactor = createRedactor([opts.token]);
    this.base = apiBase(opts.apiUrl);
    this.prefix = runnersPrefix(opts.scope);
    this.settings = { ...DEFAULT_RETRY, ...Object.fromEntries(Object.entries(opts.retry ?? {}).filter(([, v]) => v !== undefined)) };
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;

    // perAttempt is the first plugin, so that its hook runs inside the others' loops: once per attempt.
    const GitHub = Octokit.plugin((octokit) => this.perAttempt(octokit), retryPlugin, throttling, paginateRest);
    const onLimit = (kind: string) => (retryAfterS: number, options: object, _: unknown, retryCount: number) =>
      this.rateLimitWait(kind, retryAfterS, options, retryCount);
    // Octokit's own warnings (a deprecated endpoint, a failing limit handler) go to the same redacted log.
    const warn = (message: string) => this.log(message);
    const log = { debug: () => {}, info: () => {}, warn, error: warn };
    this.octokit = new GitHub({
      auth: opts.token,
      baseUrl: this.base.href.replace(/\/$/, ""),
      userAgent: USER_AGENT,
      log,
      request: {
        log,
        // A fresh timeout per attempt: a signal made once per call would already be spent on a re-send.
        fetch: (url: string, init: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) }),
      },
      retry: { retries: this.settings.attempts - 1, doNotRetry: EVERY_4XX, retryAfterBaseValue: 0 },
      throttle: {
        onRateLimit: onLimit("rate limited"),
        onSecondaryRateLimit: onLimit("secondary rate limit"),
        retryAfterBaseValue: 0,
        ...(opts.spaceWrites === false ? { write: UNSPACED } : {}),
      },
    });
  }

  async createJitConfig(req: JitRequest): Promise<JitConfig> {
    const path = `${this.prefix}/generate-jitconfig`;
    const body = { name: req.name, runner_group_id: req.runnerGroupId, labels: req.labels, work_folder: req.workFolder ?? "_work" };
    const label = `GitHub: generate JIT config for runner ${req.name}`;

    // Generating a JIT config registers a runner, so this POST is not idempotent and plugin-retry is off for it
    // (retries: 0). After a 5xx, a timeout or a lost connection the runner may have been registered although its
    // config never reached us: retried blindly, that would leave a registered runner nobody can start (or fail with
    // 409, name taken). So before such a retry we list the runners and delete any of that name first: its config is
    // lost, nothing can ever use it. A 429 or a rate-limit 403 is a refusal that created nothing: throttling retries
    // it within its bounds, and once it gives up so do we. A 409 is retried only after one of those unclear failures
    // (the listing may have lagged behind the registration); otherwise the name is taken by a runner we did not make,
    // and that is for the caller to resolve. If the check itself fails we stop: better no runner than a second
    // registration we cannot account for.
    let checkBeforeRetry = false;
    let unclearFailureSeen = false;
    const checkFailed = new WeakSet<object>();
    const decide = (err: unknown): RetryDecision => {
      if (!(err instanceof GitHubApiError) || checkFailed.has(err)) return { retry: false };
      if (err.status === 0 || err.status >= 500) {
        checkBeforeRetry = unclearFailureSeen = true;
        return { retry: true, afterMs: err.retryAfterMs, reason: err.status === 0 ? "no response" : `HTTP ${err.status}` };
      }
      if (err.status !== 409 || !unclearFailureSeen) return { retry: false };
      checkBeforeRetry = true;
      return { retry: true, reason: "HTTP 409 (name taken, perhaps by the failed attempt)" };
    };
    const attempt = async () => {
      if (checkBeforeRetry) {
        checkBeforeRetry = false;
        try {
          await this.removeRunnersNamed(req.name, label);
        } catch (err) {
          this.log(`${label}: could not check whether the failed attempt registered a runner; not retrying`);
          if (typeof err === "object" && err !== null) checkFailed.add(err);
          throw err;
        }
      }
      return this.call(this.octokit.request(`POST ${path}`, { ...body, request: { retries: 0 } }));
    };
    const log = (line: string) => this.log(line);
    const response = await retry(label, attempt, { ...this.settings, sleep: this.sleep, random: this.random, log, isRetryable: decide });

    const data = response.data as { encoded_jit_config?: unknown; runner?: { id?: unknown; name?: unknown } } | string;
    if (typeof data !== "object" || data === null) throw this.unexpected("POST", path, response.status, "a body that is not JSON");
    const encoded = data.encoded_jit_config;
    if (typeof encoded !== "string" || encoded === "") throw this.unexpected("POST", path, response.status, "no encoded_jit_config");
    // Mask first: nothing below may print it, but the caller must know of it before anything can go wrong.
    this.redactor.add(encoded);
    this.opts.onSecret?.(encoded);
    const { id, name } = data.runner ?? {};
    if (typeof id !== "number" || typeof name !== "string") throw this.unexpected("POST", path, response.status, "no runner id or name");
    return { runnerId: id, runnerName: name, encodedJitConfig: encoded };
  }

  async getRunner(id: number): Promise<RunnerInfo | undefined> {
    const path = `${this.prefix}/${checkId(id)}`;
    const response = await this.unlessGone(this.octokit.request(`GET ${path}`));
    if (response === "gone") return undefined;
    return toRunner(response.data) ?? this.fail(this.unexpected("GET", path, response.status, "not a runner"));
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return this.paginate(this.prefix, {}, "runners", (raw) => [toRunner(raw) ?? this.fail(this.unexpected("GET", this.prefix, 200, "not a runner"))]);
  }

  async deleteRunner(id: number): Promise<"deleted" | "gone"> {
    // A retried DELETE whose first attempt did succeed also ends as gone: that is what we wanted.
    const result = await this.unlessGone(this.octokit.request(`DELETE ${this.prefix}/${checkId(id)}`));
    return result === "gone" ? "gone" : "deleted";
  }

  async deleteArtifactsNamed(runId: string, name: string): Promise<number> {
    const scope = this.opts.scope;
    if (scope.kind !== "repository") throw new Error("GitHub client: artifacts belong to a repository; deleteArtifactsNamed needs repository scope");
    if (!/^[1-9][0-9]*$/.test(runId)) throw new Error(`GitHub client: run id "${runId}" is not a positive integer`);
    if (!name) throw new Error("GitHub client: the artifact name is empty");
    const repoPath = `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}`;
    // The name filter is exact on GitHub's side; checked again so a wider answer can never delete too much.
    const ids = await this.paginate(`${repoPath}/actions/runs/${runId}/artifacts`, { name }, "artifacts", (raw) => {
      const artifact = raw as { id?: unknown; name?: unknown } | null;
      return typeof artifact?.id === "number" && artifact.name === name ? [artifact.id] : [];
    });
    let deleted = 0;
    for (const id of ids) {
      // Gone meanwhile (or by our own retried DELETE): the goal is reached, but we did not delete it now.
      if ((await this.unlessGone(this.octokit.request(`DELETE ${repoPath}/actions/artifacts/${id}`))) !== "gone") deleted++;
    }
    return deleted;
  }

  async runnerGroupIdByName(name: string): Promise<number | undefined> {
    const scope = this.opts.scope;
    if (scope.kind !== "organization") throw new Error("GitHub client: runner groups by name need organization scope");
    const ids = await this.paginate(`/orgs/${encodeURIComponent(scope.org)}/actions/runner-groups`, {}, "runner_groups", (raw) => {
      const group = raw as { id?: unknown; name?: unknown } | null;
      return typeof group?.id === "number" && group.name === name ? [group.id] : [];
    });
    return ids[0];
  }

  async listRunJobs(runId: string): Promise<RunJob[]> {
    const scope = this.opts.scope;
    if (scope.kind !== "repository") throw new Error("GitHub client: jobs belong to a repository; listRunJobs needs repository scope");
    if (!/^[1-9][0-9]*$/.test(runId)) throw new Error(`GitHub client: run id "${runId}" is not a positive integer`);
    const path = `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}/actions/runs/${runId}/jobs`;
    // filter=all: the jobs of every attempt of the run, so a re-run's runner is found too.
    return this.paginate(path, { filter: "all" }, "jobs", (raw) => {
      const job = raw as { id?: unknown; name?: unknown; runner_name?: unknown; status?: unknown; conclusion?: unknown; run_attempt?: unknown; html_url?: unknown } | null;
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

  async runStatus(runId: string): Promise<string | undefined> {
    const scope = this.opts.scope;
    if (scope.kind !== "repository") throw new Error("GitHub client: runs belong to a repository; runStatus needs repository scope");
    if (!/^[1-9][0-9]*$/.test(runId)) throw new Error(`GitHub client: run id "${runId}" is not a positive integer`);
    const path = `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}/actions/runs/${runId}`;
    const response = await this.unlessGone(this.octokit.request(`GET ${path}`));
    if (response === "gone") return undefined;
    const status = (response.data as { status?: unknown } | undefined)?.status;
    return typeof status === "string" ? status : this.fail(this.unexpected("GET", path, response.status, "no status"));
  }

  /** Deletes every runner called name; used before re-trying a JIT POST whose outcome is unknown. */
  private async removeRunnersNamed(name: string, label: string): Promise<void> {
    const found = (await this.listRunners()).filter((r) => r.name === name);
    if (found.length === 0) this.log(`${label}: the failed attempt registered no runner of that name`);
    for (const runner of found) {
      this.log(`${label}: the failed attempt registered runner ${runner.id}, whose config was lost; deleting it`);
      await this.deleteRunner(runner.id);
    }
  }

  /**
   * Every item of every page (octokit.paginate follows Link rel="next"); pick maps an item to zero or more results.
   * paginate reads a 409 as an empty last page (an empty git repository); none of these listings answers 409.
   */
  private async paginate<T>(path: string, query: Record<string, string>, key: string, pick: (item: unknown) => T[]): Promise<T[]> {
    const params = { method: "GET" as const, url: path, ...query, per_page: PER_PAGE };
    const seen = new Set([this.octokit.request.endpoint(params).url]);
    return this.call(
      this.octokit.paginate(params, (response) => {
        // paginate unwraps {total_count, <key>: [...]} into the list; an answer without total_count stays whole.
        const data: unknown = response.data;
        const list = Array.isArray(data) ? data : (data as Record<string, unknown> | undefined)?.[key];
        if (!Array.isArray(list)) throw this.unexpected("GET", path, response.status, `no ${key} array`);
        const next = /<([^<>]+)>;\s*rel="next"/.exec(response.headers.link ?? "")?.[1];
        if (next !== undefined) {
          // Checked before paginate follows it: the token is never sent anywhere but the API URL.
          const url = new URL(next, this.base);
          if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
            throw new Error(`GitHub API GET ${path}: the next-page link leaves the API URL (${url.origin}); not following it`);
          }
          if (seen.has(url.href) || seen.size >= MAX_PAGES) {
            throw new Error(`GitHub API GET ${path}: pagination does not end (at ${this.relative(url.href)}); stopped`);
          }
          seen.add(url.href);
        }
        return list.flatMap(pick);
      }),
    );
  }

  /** Around each attempt of each request, inside plugin-retry's and throttling's loops (see the top of the file). */
  private perAttempt(octokit: Octokit): void {
    octokit.hook.wrap("request", async (request, options) => {
      options.headers.accept = "application/vnd.github+json";
      options.headers["x-github-api-version"] = API_VERSION;
      const state = this.attempts.get(options) ?? { label: "", retries: 0, waitedMs: 0 };
      this.attempts.set(options, state);
      if (state.unclear !== undefined) {
        // plugin-retry re-sends only after a 5xx or a lost answer (doNotRetry holds every 4xx): this is such a re-send.
        const ms = backoffMs(++state.retries, this.settings.baseDelayMs, this.settings.maxDelayMs, this.random);
        this.log(`${state.label}: ${state.unclear}, retry ${state.retries} in ${seconds(ms)}`);
        state.unclear = undefined;
        state.waitedMs += ms;
        await this.sleep(ms);
      }
      try {
        return await request(options);
      } catch (err) {
        if (isOctokitError(err)) {
          const status = err.response?.status ?? 0;
          state.label = `GitHub API ${err.request.method} ${this.relative(err.request.url)}`;
          state.unclear = status === 0 ? "no response" : status >= 500 ? `HTTP ${status}` : undefined;
          state.serverWaitMs = err.response && this.serverDelayMs(err.response.headers);
        }
        throw err;
      }
    });
  }

  /**
   * Throttling's handler of a primary or secondary rate limit: waits here, then says whether to retry. retry-after
   * wins (GitHub: do not retry before it), then x-ratelimit-reset on this client's clock, then throttling's own
   * figure (60 s for a secondary limit that names no wait, as GitHub advises).
   */
  private async rateLimitWait(kind: string, retryAfterS: number, options: object, retryCount: number): Promise<boolean> {
    const state = this.attempts.get(options) ?? { label: "GitHub API", retries: 0, waitedMs: 0 };
    const ms = state.serverWaitMs ?? Math.max(0, retryAfterS * 1000);
    const limit = this.settings.maxTotalWaitMs;
    let why: string | undefined;
    if (retryCount >= this.settings.attempts - 1) why = `${retryCount} retries made`;
    else if (state.waitedMs + ms > limit) why = `waiting ${seconds(ms)} more would pass the ${seconds(limit)} limit`;
    if (why) {
      this.log(`${state.label}: ${kind}, giving up: ${why}`);
      return false;
    }
    this.log(`${state.label}: ${kind}, retrying in ${seconds(ms)}`);
    state.waitedMs += ms;
    await this.sleep(ms);
    return true;
  }

  /** The call's response, or "gone" for a 404. */
  private async unlessGone<T>(request: Promise<T>): Promise<T | "gone"> {
    try {
      return await this.call(request);
    } catch (err) {
      if (err instanceof GitHubApiError && err.status === 404) return "gone";
      throw err;
    }
  }

  /** An Octokit call's result, its errors turned into GitHubApiError. */
  private async call<T>(request: Promise<T>): Promise<T> {
    try {
      return await request;
    } catch (err) {
      throw isOctokitError(err) ? this.apiError(err) : err;
    }
  }

  private apiError(err: OctokitError): GitHubApiError {
    const { method } = err.request;
    const path = this.relative(err.request.url);
    if (!err.response) {
      // Octokit reports a failed fetch as status 500 without a response, its message the network error's.
      const timedOut = (err.cause as { name?: unknown } | undefined)?.name === "TimeoutError";
      const why = timedOut ? `no response within ${this.timeoutMs / 1000} s` : `no response (${err.message})`;
      return new GitHubApiError(this.redact(`GitHub API ${method} ${path} failed: ${why}`), { status: 0, method, path });
    }
    const { status, headers, data } = err.response;
    const requestId = headers["x-github-request-id"];
    const message = (data as { message?: unknown } | null)?.message;
    const text = typeof message === "string" ? message : "";
    const retryAfterMs = this.serverDelayMs(headers);
    const rateLimited =
      status === 429 ||
      (status === 403 && (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0" || /secondary rate limit/i.test(text)));
    let full = `GitHub API ${method} ${path} failed: HTTP ${status}${text ? ` ${text}` : ""}`;
    if (rateLimited) full += retryAfterMs === undefined ? " (rate limited)" : ` (rate limited; GitHub asked for a wait of ${seconds(retryAfterMs)})`;
    else if (status === 401 || status === 403) full = `${full}${/[.!?]$/.test(full) ? "" : "."} ${this.permissionHint(path)}`;
    else if (status === 404 && method === "POST") full += " (GitHub also answers 404 when the github-token cannot see the repository or organization)";
    if (requestId) full += ` [request id ${requestId}]`;
    return new GitHubApiError(this.redact(full), { status, method, path, requestId, rateLimited, retryAfterMs });
  }

  /** retry-after (seconds or an HTTP date), else x-ratelimit-reset (epoch seconds) when no requests remain. */
  private serverDelayMs(headers: Record<string, string | undefined>): number | undefined {
    const retryAfter = headers["retry-after"]?.trim();
    if (retryAfter && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    if (retryAfter && !Number.isNaN(Date.parse(retryAfter))) return Math.max(0, Date.parse(retryAfter) - this.now());
    const reset = Number(headers["x-ratelimit-reset"]);
    if (headers["x-ratelimit-remaining"] === "0" && reset > 0) return Math.max(0, reset * 1000 - this.now());
    return undefined;
  }

  /** Which permission a 401/403 most likely lacks, named in the error so the user can fix the token. */
  private permissionHint(path: string): string {
    if (/\/actions\/(runs|artifacts)\//.test(path)) {
      return "The github-token needs Actions: write on the repository (GITHUB_TOKEN: permissions actions: write).";
    }
    return this.opts.scope.kind === "organization"
      ? "The github-token needs organization Self-hosted runners: write (fine-grained PAT or GitHub App)."
      : "The github-token needs repository Administration: write (fine-grained PAT or GitHub App).";
  }

  private unexpected(method: string, path: string, status: number, what: string): GitHubApiError {
    return new GitHubApiError(`GitHub API ${method} ${path} returned an unexpected body: ${what}`, { status, method, path });
  }

  private fail(err: Error): never {
    throw err;
  }

  /** The path below the API URL, query included. */
  private relative(url: string): string {
    const { pathname, search } = new URL(url, this.base);
    return (pathname.startsWith(this.base.pathname) ? pathname.slice(this.base.pathname.length - 1) : pathname) + search;
  }

  private log(line: string): void {
    (this.opts.log ?? console.log)(this.redact(line));
  }

  private redact(text: string): string {
    return this.redactor.redact(text);
  }
}

/** The API URL, its path ending in exactly one slash (GHES: /api/v3/), checked so the token goes nowhere else. */
function apiBase(apiUrl: string): URL {
  let base: URL;
  try {
    base = new URL(apiUrl.trim());
  } catch {
    throw new Error(`GitHub client: the API URL "${apiUrl}" is not a URL (expected e.g. https://api.github.com)`);
  }
  if ((base.protocol !== "https:" && base.protocol !== "http:") || base.search || base.hash) {
    throw new Error(`GitHub client: the API URL "${apiUrl}" must be http(s) without query or fragment (e.g. https://ghe.example.com/api/v3)`);
  }
  // Not echoed: whatever sits there is a credential.
  if (base.username || base.password) throw new Error("GitHub client: the API URL must not hold a user name or password; the token is sent as a header");
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/`;
  return base;
}

function isOctokitError(err: unknown): err is OctokitError {
  const e = err as Partial<OctokitError> | null;
  return typeof e?.status === "number" && typeof e.request?.method === "string" && typeof e.request.url === "string";
}

function runnersPrefix(scope: RunnerScope): string {
  if (scope.kind === "repository") {
    if (!scope.owner || !scope.repo) throw new Error("GitHub client: repository scope needs an owner and a repo");
    return `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}/actions/runners`;
  }
  if (!scope.org) throw new Error("GitHub client: organization scope needs an org");
  return `/orgs/${encodeURIComponent(scope.org)}/actions/runners`;
}

function toRunner(raw: unknown): RunnerInfo | undefined {
  const r = raw as { id?: unknown; name?: unknown; status?: unknown; busy?: unknown; labels?: unknown } | null;
  if (typeof r?.id !== "number" || typeof r.name !== "string") return undefined;
  const labels = (Array.isArray(r.labels) ? r.labels : [])
    .map((l: unknown) => (typeof l === "string" ? l : (l as { name?: unknown } | null)?.name))
    .filter((l): l is string => typeof l === "string");
  return { id: r.id, name: r.name, status: typeof r.status === "string" ? r.status : "unknown", busy: r.busy === true, labels };
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`GitHub client: runner id ${id} is not a positive integer`);
  return id;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
