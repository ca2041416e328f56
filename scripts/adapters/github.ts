// The GitHub REST calls the action makes: a just-in-time (JIT) runner config, runner status, runner deletion and the
// deletion of the state artifact. Plain global fetch (no Octokit): five endpoints do not justify a dependency tree,
// and tests intercept fetch with nock.
//
// Secrets: the token and every encoded_jit_config are redacted from every error message and log line this client
// writes, and each config is handed to onSecret (core.setSecret) the moment it is received.

import { setTimeout as delay } from "node:timers/promises";
import { type RetryDecision, retry } from "../lib/retry.ts";

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

export type RunnerScope = { kind: "repository"; owner: string; repo: string } | { kind: "organization"; org: string };

export interface GitHubClient {
  createJitConfig(req: {
    name: string;
    labels: string[];
    runnerGroupId: number;
    workFolder?: string;
  }): Promise<JitConfig>;
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
}

export interface RetrySettings {
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxTotalWaitMs?: number;
}

export interface GitHubClientOptions {
  token: string;
  /** GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server. */
  apiUrl: string;
  scope: RunnerScope;
  userAgent?: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch milliseconds; used to turn x-ratelimit-reset into a wait. */
  now?: () => number;
  log?: (line: string) => void;
  /** Called with each encoded_jit_config as soon as it is received, before it is returned: mask it there. */
  onSecret?: (value: string) => void;
  /** Each request is abandoned after this long (then retried where that is safe). Default 30 s. */
  requestTimeoutMs?: number;
  retry?: RetrySettings;
}

export const DEFAULT_RETRY: Required<RetrySettings> = {
  attempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15_000,
  maxTotalWaitMs: 60_000,
};

const DEFAULT_USER_AGENT = "ephemeral-gpu-runner";
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const API_VERSION = "2022-11-28";
const PER_PAGE = 100;
/** A loop guard for pagination: 1,000 pages of 100 is far beyond any real runner or artifact list. */
const MAX_PAGES = 1000;

interface ApiErrorInit {
  status: number;
  method: string;
  path: string;
  requestId?: string;
  rateLimited?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
}

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

  constructor(message: string, init: ApiErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
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

type Method = "GET" | "POST" | "DELETE";

interface Reply {
  status: number;
  headers: Headers;
  data: unknown;
  url: URL;
}

/** Which permission a 401/403 most likely lacks, named in the error so the user can fix the token. */
type Permission = "runners" | "artifacts";

class RestClient implements GitHubClient {
  private readonly token: string;
  private readonly base: URL;
  private readonly basePath: string;
  private readonly scope: RunnerScope;
  private readonly prefix: string;
  private readonly userAgent: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly userLog: (line: string) => void;
  private readonly onSecret: (value: string) => void;
  private readonly timeoutMs: number;
  private readonly retrySettings: Required<RetrySettings>;
  /** Values never to be written out: the token and every JIT config received. */
  private readonly secrets = new Set<string>();

  constructor(opts: GitHubClientOptions) {
    if (!opts.token.trim()) throw new Error("GitHub client: the github-token is empty");
    this.token = opts.token;
    this.secrets.add(opts.token);
    let base: URL;
    try {
      base = new URL(opts.apiUrl.trim());
    } catch {
      throw new Error(
        `GitHub client: the API URL "${opts.apiUrl}" is not a URL (expected e.g. https://api.github.com)`,
      );
    }
    if ((base.protocol !== "https:" && base.protocol !== "http:") || base.search || base.hash) {
      throw new Error(
        `GitHub client: the API URL "${opts.apiUrl}" must be http(s) without query or fragment (e.g. https://ghe.example.com/api/v3)`,
      );
    }
    if (base.username || base.password) {
      // Not echoed: whatever sits there is a credential.
      throw new Error("GitHub client: the API URL must not hold a user name or password; the token is sent as a header");
    }
    this.base = base;
    // Keep the GHES /api/v3 path; drop trailing slashes so that joined paths have exactly one.
    this.basePath = base.pathname.replace(/\/+$/, "");
    this.scope = opts.scope;
    this.prefix = runnersPrefix(opts.scope);
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.sleep = opts.sleep ?? ((ms) => delay(ms));
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.userLog = opts.log ?? ((line) => console.log(line));
    this.onSecret = opts.onSecret ?? (() => {});
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.retrySettings = { ...DEFAULT_RETRY, ...definedOnly(opts.retry ?? {}) };
  }

  async createJitConfig(req: {
    name: string;
    labels: string[];
    runnerGroupId: number;
    workFolder?: string;
  }): Promise<JitConfig> {
    const path = `${this.prefix}/generate-jitconfig`;
    const body = {
      name: req.name,
      runner_group_id: req.runnerGroupId,
      labels: req.labels,
      work_folder: req.workFolder ?? "_work",
    };
    const label = `GitHub: generate JIT config for runner ${req.name}`;

    // Generating a JIT config registers a runner, so this POST is not idempotent. After a 5xx, a timeout or a lost
    // connection the runner may have been registered although its config never reached us: retried blindly, that
    // would leave a registered runner nobody can start (or fail with 409, name taken). So before such a retry we list
    // the runners and delete any of that name first: its config is lost, nothing can ever use it. A 429 or a rate
    // limit 403 is a refusal that created nothing, so it is retried straight away. A 409 is retried only after one of
    // those unclear failures (the listing may have lagged behind the registration); otherwise the name is taken by a
    // runner we did not make, and that is for the caller to resolve. If the check itself fails we stop: better no
    // runner than a second registration we cannot account for.
    let checkBeforeRetry = false;
    let unclearFailureSeen = false;
    const unchecked = new WeakSet<object>();
    const reply = await retry(
      label,
      async () => {
        if (checkBeforeRetry) {
          checkBeforeRetry = false;
          try {
            await this.removeRunnersNamed(req.name, label);
          } catch (err) {
            this.log(`${label}: could not check whether the failed attempt registered a runner; not retrying`);
            if (typeof err === "object" && err !== null) unchecked.add(err);
            throw err;
          }
        }
        return this.send("POST", path, "runners", body);
      },
      this.retryOptions((err) => {
        if (typeof err === "object" && err !== null && unchecked.has(err)) return { retry: false };
        if (err instanceof GitHubApiError && err.status === 409 && unclearFailureSeen) {
          checkBeforeRetry = true;
          return { retry: true, reason: "HTTP 409 (name taken, perhaps by the failed attempt)" };
        }
        const decision = classify(err);
        if (decision.retry && err instanceof GitHubApiError && (err.status === 0 || err.status >= 500)) {
          checkBeforeRetry = true;
          unclearFailureSeen = true;
        }
        return decision;
      }),
    );

    const data = reply.data as { encoded_jit_config?: unknown; runner?: { id?: unknown; name?: unknown } } | undefined;
    const encoded = data?.encoded_jit_config;
    if (typeof encoded !== "string" || encoded === "") {
      throw this.unexpected("POST", reply, "no encoded_jit_config");
    }
    // Mask first: nothing below may print it, but the caller must know of it before anything can go wrong.
    this.secrets.add(encoded);
    this.onSecret(encoded);
    const id = data?.runner?.id;
    const name = data?.runner?.name;
    if (typeof id !== "number" || typeof name !== "string") {
      throw this.unexpected("POST", reply, "no runner id or name");
    }
    return { runnerId: id, runnerName: name, encodedJitConfig: encoded };
  }

  async getRunner(id: number): Promise<RunnerInfo | undefined> {
    checkId("runner id", id);
    try {
      const reply = await this.idempotent(`GitHub: get runner ${id}`, "GET", `${this.prefix}/${id}`, "runners");
      const runner = toRunner(reply.data);
      if (!runner) throw this.unexpected("GET", reply, "not a runner");
      return runner;
    } catch (err) {
      if (err instanceof GitHubApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return this.paginate("GitHub: list runners", `${this.prefix}?per_page=${PER_PAGE}`, "runners", (reply) => {
      const runners = (reply.data as { runners?: unknown } | undefined)?.runners;
      if (!Array.isArray(runners)) throw this.unexpected("GET", reply, "no runners array");
      return runners.map((raw) => {
        const runner = toRunner(raw);
        if (!runner) throw this.unexpected("GET", reply, "not a runner");
        return runner;
      });
    });
  }

  async deleteRunner(id: number): Promise<"deleted" | "gone"> {
    checkId("runner id", id);
    try {
      await this.idempotent(`GitHub: delete runner ${id}`, "DELETE", `${this.prefix}/${id}`, "runners");
      return "deleted";
    } catch (err) {
      // A retried DELETE whose first attempt did succeed also lands here: gone is what we wanted.
      if (err instanceof GitHubApiError && err.status === 404) return "gone";
      throw err;
    }
  }

  async deleteArtifactsNamed(runId: string, name: string): Promise<number> {
    if (this.scope.kind !== "repository") {
      throw new Error("GitHub client: artifacts belong to a repository; deleteArtifactsNamed needs repository scope");
    }
    if (!/^[1-9][0-9]*$/.test(runId)) throw new Error(`GitHub client: run id "${runId}" is not a positive integer`);
    if (!name) throw new Error("GitHub client: the artifact name is empty");
    const repoPath = `/repos/${encodeURIComponent(this.scope.owner)}/${encodeURIComponent(this.scope.repo)}`;
    const ids = await this.paginate(
      `GitHub: list artifacts named ${name} in run ${runId}`,
      `${repoPath}/actions/runs/${runId}/artifacts?name=${encodeURIComponent(name)}&per_page=${PER_PAGE}`,
      "artifacts",
      (reply) => {
        const artifacts = (reply.data as { artifacts?: unknown } | undefined)?.artifacts;
        if (!Array.isArray(artifacts)) throw this.unexpected("GET", reply, "no artifacts array");
        // The name filter is exact on GitHub's side; checked again so a wider answer can never delete too much.
        return artifacts
          .filter((a): a is { id: number; name: string } => typeof a?.id === "number" && a?.name === name)
          .map((a) => a.id);
      },
    );
    let deleted = 0;
    for (const id of ids) {
      try {
        await this.idempotent(
          `GitHub: delete artifact ${id}`,
          "DELETE",
          `${repoPath}/actions/artifacts/${id}`,
          "artifacts",
        );
        deleted++;
      } catch (err) {
        // Deleted meanwhile (or by our own retried DELETE): the goal is reached, but we did not delete it now.
        if (err instanceof GitHubApiError && err.status === 404) continue;
        throw err;
      }
    }
    return deleted;
  }

  async runnerGroupIdByName(name: string): Promise<number | undefined> {
    if (this.scope.kind !== "organization") {
      throw new Error("GitHub client: runner groups by name need organization scope");
    }
    const groups = await this.paginate(
      "GitHub: list runner groups",
      `/orgs/${encodeURIComponent(this.scope.org)}/actions/runner-groups?per_page=${PER_PAGE}`,
      "runners",
      (reply) => {
        const list = (reply.data as { runner_groups?: unknown } | undefined)?.runner_groups;
        if (!Array.isArray(list)) throw this.unexpected("GET", reply, "no runner_groups array");
        return list.filter((g): g is { id: number; name: string } => typeof g?.id === "number" && typeof g?.name === "string");
      },
    );
    return groups.find((g) => g.name === name)?.id;
  }

  /** Deletes every runner called name; used before re-trying a JIT POST whose outcome is unknown. */
  private async removeRunnersNamed(name: string, label: string): Promise<void> {
    const found = (await this.listRunners()).filter((r) => r.name === name);
    if (found.length === 0) {
      this.log(`${label}: the failed attempt registered no runner of that name`);
      return;
    }
    for (const runner of found) {
      this.log(`${label}: the failed attempt registered runner ${runner.id}, whose config was lost; deleting it`);
      await this.deleteRunner(runner.id);
    }
  }

  private idempotent(label: string, method: "GET" | "DELETE", target: string | URL, perm: Permission): Promise<Reply> {
    return retry(label, () => this.send(method, target, perm), this.retryOptions(classify));
  }

  private async paginate<T>(label: string, firstPath: string, perm: Permission, pick: (reply: Reply) => T[]) {
    const items: T[] = [];
    const seen = new Set<string>();
    let next: URL | undefined = this.url(firstPath);
    while (next !== undefined) {
      const url: URL = next;
      if (seen.has(url.href) || seen.size >= MAX_PAGES) {
        throw new Error(`${label}: pagination does not end (at ${this.relative(url)}); stopped`);
      }
      seen.add(url.href);
      const pageLabel = seen.size === 1 ? label : `${label}, page ${seen.size}`;
      const reply = await this.idempotent(pageLabel, "GET", url, perm);
      items.push(...pick(reply));
      next = this.nextPage(reply, label);
    }
    return items;
  }

  /** The rel="next" link, only if it stays under the API URL: the token is never sent anywhere else. */
  private nextPage(reply: Reply, label: string): URL | undefined {
    const link = reply.headers.get("link");
    if (!link) return undefined;
    for (const part of link.split(",")) {
      const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
      if (!match?.[1] || !/\brel\s*=\s*"?[^"]*\bnext\b/.test(match[2] ?? "")) continue;
      let url: URL;
      try {
        url = new URL(match[1], this.base);
      } catch {
        throw new Error(`${label}: the next-page link is not a URL`);
      }
      if (url.origin !== this.base.origin || !url.pathname.startsWith(`${this.basePath}/`)) {
        throw new Error(`${label}: the next-page link leaves the API URL (${url.origin}); not following it`);
      }
      return url;
    }
    return undefined;
  }

  private retryOptions(isRetryable: (err: unknown) => RetryDecision) {
    return {
      ...this.retrySettings,
      sleep: this.sleep,
      random: this.random,
      log: (line: string) => this.log(line),
      isRetryable,
    };
  }

  /** One request, no retry. Throws GitHubApiError for no response or a non-2xx status. */
  private async send(method: Method, target: string | URL, perm: Permission, body?: unknown): Promise<Reply> {
    const url = typeof target === "string" ? this.url(target) : target;
    const path = this.relative(url);
    const headers: Record<string, string> = {
      Accept: "application/vnd.github+json",
      Authorization: `Bearer ${this.token}`,
      "User-Agent": this.userAgent,
      "X-GitHub-Api-Version": API_VERSION,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";

    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why =
        err instanceof Error && err.name === "TimeoutError"
          ? `no response within ${this.timeoutMs / 1000} s`
          : `no response (${networkCause(err)})`;
      throw new GitHubApiError(this.redact(`GitHub API ${method} ${path} failed: ${why}`), {
        status: 0,
        method,
        path,
        cause: err,
      });
    }

    const requestId = res.headers.get("x-github-request-id") ?? undefined;
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new GitHubApiError(
        this.redact(`GitHub API ${method} ${path} failed: HTTP ${res.status}, body cut off (${networkCause(err)})`),
        // A cut-off body is as unclear as no response: treat it like one.
        { status: 0, method, path, requestId, cause: err },
      );
    }

    if (res.ok) {
      let data: unknown;
      if (text !== "") {
        try {
          data = JSON.parse(text);
        } catch {
          // Never quote the body: on success it may hold a JIT config.
          throw new GitHubApiError(
            `GitHub API ${method} ${path} failed: HTTP ${res.status} with a body that is not JSON`,
            {
              status: res.status,
              method,
              path,
              requestId,
            },
          );
        }
      }
      return { status: res.status, headers: res.headers, data, url };
    }

    const message = errorMessage(text, res.statusText);
    const retryAfterMs = this.serverDelayMs(res.headers);
    const rateLimited =
      res.status === 429 ||
      (res.status === 403 &&
        (res.headers.has("retry-after") ||
          res.headers.get("x-ratelimit-remaining") === "0" ||
          /secondary rate limit/i.test(message)));
    let full = `GitHub API ${method} ${path} failed: HTTP ${res.status}${message ? ` ${message}` : ""}`;
    if (rateLimited) full += " (rate limited)";
    else if (res.status === 401 || res.status === 403) full = sentence(full, this.permissionHint(perm));
    else if (res.status === 404 && method === "POST") {
      full += " (GitHub also answers 404 when the github-token cannot see the repository or organization)";
    }
    if (requestId) full += ` [request id ${requestId}]`;
    throw new GitHubApiError(this.redact(full), {
      status: res.status,
      method,
      path,
      requestId,
      rateLimited,
      retryAfterMs,
    });
  }

  /** retry-after (seconds or an HTTP date), else x-ratelimit-reset (epoch seconds) when no requests remain. */
  private serverDelayMs(headers: Headers): number | undefined {
    const retryAfter = headers.get("retry-after")?.trim();
    if (retryAfter) {
      if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
      const at = Date.parse(retryAfter);
      if (!Number.isNaN(at)) return Math.max(0, at - this.now());
    }
    if (headers.get("x-ratelimit-remaining") === "0") {
      const reset = Number(headers.get("x-ratelimit-reset"));
      if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - this.now());
    }
    return undefined;
  }

  private permissionHint(perm: Permission): string {
    if (perm === "artifacts") {
      return "The github-token needs Actions: write on the repository (GITHUB_TOKEN: permissions actions: write).";
    }
    return this.scope.kind === "organization"
      ? "The github-token needs organization Self-hosted runners: write (fine-grained PAT or GitHub App)."
      : "The github-token needs repository Administration: write (fine-grained PAT or GitHub App).";
  }

  private unexpected(method: Method, reply: Reply, what: string): GitHubApiError {
    const path = this.relative(reply.url);
    return new GitHubApiError(`GitHub API ${method} ${path} returned an unexpected body: ${what}`, {
      status: reply.status,
      method,
      path,
    });
  }

  private url(path: string): URL {
    return new URL(`${this.base.origin}${this.basePath}${path}`);
  }

  private relative(url: URL): string {
    const pathname = url.pathname.startsWith(`${this.basePath}/`)
      ? url.pathname.slice(this.basePath.length)
      : url.pathname;
    return pathname + url.search;
  }

  private log(line: string): void {
    this.userLog(this.redact(line));
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (secret) out = out.split(secret).join("***");
    return out;
  }
}

/** The retry policy of every call: no response, 5xx, 429 and rate-limit 403 are retried; other 4xx never. */
function classify(err: unknown): RetryDecision {
  if (!(err instanceof GitHubApiError)) return { retry: false };
  if (err.status === 0) return { retry: true, reason: "no response" };
  if (err.rateLimited) return { retry: true, afterMs: err.retryAfterMs, reason: `HTTP ${err.status} (rate limited)` };
  if (err.status >= 500) return { retry: true, afterMs: err.retryAfterMs, reason: `HTTP ${err.status}` };
  return { retry: false };
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
  const labels = Array.isArray(r.labels)
    ? r.labels
        .map((l: unknown) => (typeof l === "string" ? l : (l as { name?: unknown } | null)?.name))
        .filter((l): l is string => typeof l === "string")
    : [];
  return {
    id: r.id,
    name: r.name,
    status: typeof r.status === "string" ? r.status : "unknown",
    busy: r.busy === true,
    labels,
  };
}

function errorMessage(text: string, statusText: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === "string") return parsed.message;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status text says enough.
  }
  return statusText;
}

/** Appends a sentence, closing the one before with a full stop unless it has one. */
function sentence(text: string, more: string): string {
  return /[.!?]$/.test(text) ? `${text} ${more}` : `${text}. ${more}`;
}

function networkCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
  return detail ? `${err.message}: ${detail}` : err.message;
}

function checkId(what: string, id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`GitHub client: ${what} ${id} is not a positive integer`);
}

function definedOnly(settings: RetrySettings): RetrySettings {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}
