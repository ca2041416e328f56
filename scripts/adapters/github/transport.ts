// The HTTP side of the GitHub client: one Octokit, built once per client, and what every call shares. Its own file
// because this is where the token is guarded: the API URL is checked before anything is sent, a next-page link is
// followed only below it, and every message and log line is redacted. Each attempt of each request passes through one
// hook, which sets GitHub's headers, spaces writes, turns Octokit's errors into GitHubApiError (errors.ts) and leaves
// every retry to the policy (retry.ts). Octokit does the HTTP, its paginate plugin follows Link headers.

import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { createRedactor } from "../../lib/redact.ts";
import { GitHubApiError, isOctokitError, type ShapeContext, shapeError, unexpected } from "./errors.ts";
import { isWrite, type PolicyDeps, type RequestPolicy, retrySettings, sendWithRetries, writeTurns } from "./retry.ts";
import type { GitHubClientOptions, RunnerScope } from "./types.ts";

const USER_AGENT = "ephemeral-gpu-runner";
const API_VERSION = "2022-11-28";
const PER_PAGE = 100;
/** A loop guard for pagination: 1,000 pages of 100 is far beyond any real runner or artifact list. */
const MAX_PAGES = 1000;

type Method = "GET" | "POST" | "DELETE";

/** What a call gets back: Octokit's response, as far as it is read. */
export interface Answer {
  status: number;
  data: unknown;
}

export interface Transport {
  readonly scope: RunnerScope;
  /** One request, retried as the policy allows; its failure is a GitHubApiError. */
  send(
    method: Method,
    path: string,
    options?: { body?: Record<string, unknown>; policy?: RequestPolicy; signal?: AbortSignal },
  ): Promise<Answer>;
  /** The answer, or "gone" for a 404: the one place a 404 is read so, for the calls whose goal it is. */
  unlessGone(method: Method, path: string): Promise<Answer | "gone">;
  /**
   * Every item of every page; pick maps an item to zero or more results. paginate reads a 409 as an empty last page
   * (an empty git repository); none of the listings here answers 409.
   */
  paginate<T>(path: string, query: Record<string, string>, key: string, pick: (item: unknown) => T[]): Promise<T[]>;
  /** Redacts a secret from now on and hands it to onSecret (core.setSecret), before anything can print it. */
  secret(value: string): void;
  /** The redacted log. */
  log(line: string): void;
}

export function createTransport(opts: GitHubClientOptions): Transport {
  if (!opts.token.trim()) throw new Error("GitHub client: the github-token is empty");
  const redactor = createRedactor([opts.token]);
  const base = apiBase(opts.apiUrl);
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = opts.now ?? Date.now;
  const log = (line: string) => (opts.log ?? console.log)(redactor.redact(line));
  const relative = (url: string): string => {
    const { pathname, search } = new URL(url, base);
    return (pathname.startsWith(base.pathname) ? pathname.slice(base.pathname.length - 1) : pathname) + search;
  };
  const shape: ShapeContext = { scope: opts.scope, relative, timeoutMs, now, redact: (text) => redactor.redact(text) };
  const policy: PolicyDeps = { settings: retrySettings(opts.retry), sleep, random: opts.random ?? Math.random, log };
  const writeTurn = opts.spaceWrites === false ? undefined : writeTurns(now, sleep);

  // The one hook around every attempt of every request (the plugin is registered first, so nothing else loops
  // around it; Octokit's auth hook, inside it, sets the token on each attempt).
  const perRequest = (octokit: Octokit) => {
    octokit.hook.wrap("request", (request, options) => {
      options.headers.accept = "application/vnd.github+json";
      options.headers["x-github-api-version"] = API_VERSION;
      const method = options.method;
      const attempt = async () => {
        if (writeTurn && isWrite(method)) await writeTurn();
        // A caller that gave up while this waited its turn (a cancelled start) sends nothing, nor a re-send.
        (options.request as { signal?: AbortSignal } | undefined)?.signal?.throwIfAborted();
        try {
          return await request(options);
        } catch (err) {
          throw isOctokitError(err) ? shapeError(err, shape) : err;
        }
      };
      const given = (options.request as { policy?: RequestPolicy } | undefined)?.policy ?? {};
      return sendWithRetries(method, attempt, given, policy);
    });
  };
  // Octokit's own warnings (a deprecated endpoint) go to the same redacted log.
  const octokitLog = { debug: () => {}, info: () => {}, warn: log, error: log };
  const octokit = new (Octokit.plugin(perRequest, paginateRest))({
    auth: opts.token,
    baseUrl: base.href.replace(/\/$/, ""),
    userAgent: USER_AGENT,
    log: octokitLog,
    request: {
      log: octokitLog,
      // A fresh timeout per attempt: a signal made once per call would already be spent on a re-send.
      fetch: (url: string, init: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
    },
  });

  const send: Transport["send"] = (method, path, options = {}) =>
    octokit.request({
      method,
      url: path,
      ...options.body,
      request: { policy: options.policy, signal: options.signal },
    });

  return {
    scope: opts.scope,
    send,
    async unlessGone(method, path) {
      try {
        return await send(method, path);
      } catch (err) {
        if (err instanceof GitHubApiError && err.status === 404) return "gone";
        throw err;
      }
    },
    paginate(path, query, key, pick) {
      const params = { method: "GET" as const, url: path, ...query, per_page: PER_PAGE };
      const seen = new Set([octokit.request.endpoint(params).url]);
      return octokit.paginate(params, (response) => {
        // paginate unwraps {total_count, <key>: [...]} into the list; an answer without total_count stays whole.
        const data: unknown = response.data;
        const list = Array.isArray(data) ? data : (data as Record<string, unknown> | undefined)?.[key];
        if (!Array.isArray(list)) throw unexpected("GET", path, response.status, `no ${key} array`);
        const next = /<([^<>]+)>;\s*rel="next"/.exec(response.headers.link ?? "")?.[1];
        if (next !== undefined) {
          // Checked before paginate follows it: the token is never sent anywhere but the API URL.
          const url = new URL(next, base);
          if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
            throw new Error(
              `GitHub API GET ${path}: the next-page link leaves the API URL (${url.origin}); not following it`,
            );
          }
          if (seen.has(url.href) || seen.size >= MAX_PAGES) {
            throw new Error(`GitHub API GET ${path}: pagination does not end (at ${relative(url.href)}); stopped`);
          }
          seen.add(url.href);
        }
        return list.flatMap(pick);
      });
    },
    secret(value) {
      redactor.add(value);
      opts.onSecret?.(value);
    },
    log,
  };
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
    throw new Error(
      `GitHub client: the API URL "${apiUrl}" must be http(s) without query or fragment (e.g. https://ghe.example.com/api/v3)`,
    );
  }
  // Not echoed: whatever sits there is a credential.
  if (base.username || base.password)
    throw new Error("GitHub client: the API URL must not hold a user name or password; the token is sent as a header");
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/`;
  return base;
}
