// What GitHub answered, shaped into the one error the action shows: GitHubApiError, written here from the status,
// method, path, GitHub's message, the wait GitHub asked for and the request id. Never Octokit's RequestError, which
// carries the request (with its authorization header) and the response. Its own file because every message the user
// reads about a failed call is decided here: the permission a 401/403 most likely lacks, the 404 that may only mean
// the token cannot see the repository, the rate limit that is not a permission problem.

import type { RunnerScope } from "./types.ts";

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
    init: {
      status: number;
      method: string;
      path: string;
      requestId?: string;
      rateLimited?: boolean;
      retryAfterMs?: number;
    },
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

/** What is read of Octokit's RequestError (the class belongs to a dependency of a dependency). */
export interface OctokitError {
  message: string;
  status: number;
  request: { method: string; url: string };
  response?: { status: number; headers: Record<string, string | undefined>; data: unknown };
  cause?: unknown;
}

export function isOctokitError(err: unknown): err is OctokitError {
  const e = err as Partial<OctokitError> | null;
  return typeof e?.status === "number" && typeof e.request?.method === "string" && typeof e.request.url === "string";
}

/** What shaping an error needs to know of the client. */
export interface ShapeContext {
  scope: RunnerScope;
  /** The path below the API URL, query included. */
  relative: (url: string) => string;
  timeoutMs: number;
  /** Epoch milliseconds: turns x-ratelimit-reset and an HTTP-date retry-after into a wait. */
  now: () => number;
  /** Removes the token and every JIT config received so far. */
  redact: (text: string) => string;
}

export function shapeError(err: OctokitError, ctx: ShapeContext): GitHubApiError {
  const { method } = err.request;
  const path = ctx.relative(err.request.url);
  if (!err.response) {
    // Octokit reports a failed fetch as status 500 without a response, its message the network error's.
    const timedOut = (err.cause as { name?: unknown } | undefined)?.name === "TimeoutError";
    const why = timedOut ? `no response within ${ctx.timeoutMs / 1000} s` : `no response (${err.message})`;
    return new GitHubApiError(ctx.redact(`GitHub API ${method} ${path} failed: ${why}`), { status: 0, method, path });
  }
  const { status, headers, data } = err.response;
  const requestId = headers["x-github-request-id"];
  const message = (data as { message?: unknown } | null)?.message;
  const text = typeof message === "string" ? message : "";
  const retryAfterMs = serverDelayMs(headers, ctx.now);
  const rateLimited =
    status === 429 ||
    (status === 403 &&
      (headers["retry-after"] !== undefined || headers["x-ratelimit-remaining"] === "0" || isSecondaryLimit(text)));
  let full = `GitHub API ${method} ${path} failed: HTTP ${status}${text ? ` ${text}` : ""}`;
  if (rateLimited)
    full +=
      retryAfterMs === undefined
        ? " (rate limited)"
        : ` (rate limited; GitHub asked for a wait of ${seconds(retryAfterMs)})`;
  else if (status === 401 || status === 403)
    full = `${full}${/[.!?]$/.test(full) ? "" : "."} ${permissionHint(path, ctx.scope)}`;
  else if (status === 404 && method === "POST")
    full += " (GitHub also answers 404 when the github-token cannot see the repository or organization)";
  if (requestId) full += ` [request id ${requestId}]`;
  return new GitHubApiError(ctx.redact(full), { status, method, path, requestId, rateLimited, retryAfterMs });
}

/** An answer GitHub gave with a success status but not the shape documented; names no body (it may hold a secret). */
export function unexpected(method: string, path: string, status: number, what: string): GitHubApiError {
  return new GitHubApiError(`GitHub API ${method} ${path} returned an unexpected body: ${what}`, {
    status,
    method,
    path,
  });
}

/** GitHub's words for a secondary rate limit, in its message. */
export function isSecondaryLimit(text: string): boolean {
  return /secondary rate limit/i.test(text);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** retry-after (seconds or an HTTP date), else x-ratelimit-reset (epoch seconds) when no requests remain. */
function serverDelayMs(headers: Record<string, string | undefined>, now: () => number): number | undefined {
  const retryAfter = headers["retry-after"]?.trim();
  if (retryAfter && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
  if (retryAfter && !Number.isNaN(Date.parse(retryAfter))) return Math.max(0, Date.parse(retryAfter) - now());
  const reset = Number(headers["x-ratelimit-reset"]);
  if (headers["x-ratelimit-remaining"] === "0" && reset > 0) return Math.max(0, reset * 1000 - now());
  return undefined;
}

/** Which permission a 401/403 most likely lacks, named in the error so the user can fix the token. */
function permissionHint(path: string, scope: RunnerScope): string {
  if (/\/actions\/(runs|artifacts)\//.test(path)) {
    return "The github-token needs Actions: write on the repository (GITHUB_TOKEN: permissions actions: write).";
  }
  return scope.kind === "organization"
    ? "The github-token needs organization Self-hosted runners: write (fine-grained PAT or GitHub App)."
    : "The github-token needs repository Administration: write (fine-grained PAT or GitHub App).";
}
