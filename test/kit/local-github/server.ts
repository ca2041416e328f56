// A GitHub stand-in on 127.0.0.1 for the local machine kind (tests and `npm run demo`): the REST endpoints the
// action's client calls (scripts/adapters/github/), the runner release download, and the side the runner talks to.
//
// - API (Authorization: Bearer <token> or token <token> required, 401 otherwise; User-Agent required, as on GitHub):
//   POST   /repos/{o}/{r}/actions/runners/generate-jitconfig   registers a runner, returns its JIT config
//   GET    /repos/{o}/{r}/actions/runners/{id}                 status: offline until its runner reports online
//   GET    /repos/{o}/{r}/actions/runners                      per_page/page with a Link header, name filter
//   DELETE /repos/{o}/{r}/actions/runners/{id}
//   GET    /repos/{o}/{r}/actions/runs/{run_id}/artifacts      name filter, per_page/page
//   DELETE /repos/{o}/{r}/actions/artifacts/{id}
// - GET /_releases/v<version>/actions-runner-linux-<arch>-<version>.tar.gz: the runner release stand-in.
// - The runner's side (authenticated by the credential inside its JIT config, as the real runner is):
//   POST /_local/runners/{id}/online, GET /_local/runners/{id}/job, POST /_local/runners/{id}/done. After "done" the
//   runner is removed: a JIT runner deregisters after its one job.
//
// Jobs are queued for a label (queueJob), like a workflow job with `runs-on: <label>`; an online, idle runner with
// that label takes the oldest. Fault knobs: failNext (5xx for a path; optionally after doing the work, as when
// GitHub's answer is lost), rateLimitNext (429 + retry-after), dropOnline (a runner that never comes online),
// disconnect (a runner whose machine died). Every API exchange can be checked against GitHub's OpenAPI
// description (./openapi.ts); departures are collected in `violations`.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "../patience.ts";
import { gitHubOpenApi, type OpenApiChecker } from "./openapi.ts";
import type { RunnerRelease } from "./runner-release.ts";

export interface RunnerRecord {
  id: number;
  name: string;
  labels: string[];
  runnerGroupId: number;
  workFolder: string;
  status: "online" | "offline";
  busy: boolean;
  encodedJitConfig: string;
  /** The credential inside the config, with which the runner authenticates its reports. */
  credential: string;
  createdAt: number;
  /** When the runner reported online (epoch ms). */
  onlineAt?: number;
  /** When an API client first saw it online (GET of the runner or a listing). */
  seenOnlineAt?: number;
  job?: JobRecord;
  doneAt?: number;
  removedAt?: number;
  removedBy?: "api" | "job-done";
  /** Registered by a request whose answer was lost (failNext with handled): its JIT config never left the stand-in. */
  replyLost?: boolean;
}

export interface JobRecord {
  id: number;
  name: string;
  label: string;
  /** The workflow run the job belongs to (its attempt 1 unless given). */
  runId: string;
  runAttempt: number;
  seconds: number;
  result: "Succeeded" | "Failed";
  queuedAt: number;
  runnerId?: number;
  takenAt?: number;
  doneAt?: number;
}

export interface ArtifactRecord {
  id: number;
  name: string;
  runId: string;
  sizeInBytes: number;
  createdAt: number;
  expiresAt: number;
  digest: string;
  deletedAt?: number;
}

export interface RequestRecord {
  at: number;
  method: string;
  url: string;
  status: number;
  /** The API operation (OpenAPI path template) or the local route it matched. */
  route: string;
}

interface Fault {
  method?: string;
  path: RegExp;
  remaining: number;
  status: number;
  retryAfterSeconds?: number;
  /** The request is handled (a runner registered, say) and only then answered `status`. */
  handled?: boolean;
}

export interface LocalGitHubOptions {
  /** The token the API requires as `Authorization: Bearer <token>` or `token <token>` (GitHub takes both). */
  token: string;
  /** owner/repo the API serves; any other repository is 404. */
  repository: string;
  /** Served under /_releases when given. */
  release?: RunnerRelease;
  /** Checks every API exchange; its findings go to `violations`. */
  openApi?: OpenApiChecker;
  /** A lower page size cap than GitHub's 100, to make pagination happen with few runners. */
  maxPerPage?: number;
  /** Runner groups that exist (GitHub answers 404 for others). Default [1], the default group. */
  runnerGroups?: number[];
  /** The workflow run queued jobs belong to unless queueJob says otherwise (the world's run). */
  runId?: string;
}

/** Obviously fake, and shaped like no real GitHub token. */
export const TEST_TOKEN = "local-test-token-0123456789abcdef";
export const TEST_REPOSITORY = "octo-org/md-sim";

/** For tests: a started stand-in with the test token and repository, checked against GitHub's OpenAPI description. */
export async function startLocalGitHub(options: Partial<LocalGitHubOptions> = {}): Promise<LocalGitHub> {
  const server = new LocalGitHub({
    token: TEST_TOKEN,
    repository: TEST_REPOSITORY,
    openApi: gitHubOpenApi(),
    ...options,
  });
  await server.start();
  return server;
}

/** For tests: a call to the runner's side of the stand-in, authenticated as `runner` (or with another credential). */
export async function asRunner(
  server: LocalGitHub,
  runner: RunnerRecord,
  action: "online" | "job" | "done",
  credential = runner.credential,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}/_local/runners/${runner.id}/${action}`, {
    method: action === "job" ? "GET" : "POST",
    headers: { authorization: `RunnerCredential ${credential}` },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const API_VERSIONS = ["2022-11-28"];
const DOCS = "https://docs.github.com/rest";

export class LocalGitHub {
  readonly requests: RequestRecord[] = [];
  readonly violations: string[] = [];
  /** Every runner ever registered, removed ones included (they have removedAt). */
  readonly issued: RunnerRecord[] = [];
  readonly jobs: JobRecord[] = [];
  /** Every artifact ever registered, deleted ones included (they have deletedAt). */
  readonly artifactLog: ArtifactRecord[] = [];
  /** Called when an artifact is deleted through the API, so its bytes can go too. */
  onArtifactDeleted: (artifact: ArtifactRecord) => void = () => {};

  private readonly faults: Fault[] = [];
  private readonly dropped: (string | RegExp)[] = [];
  private server: Server | undefined;
  private port = 0;
  private nextRunnerId = 20_000 + Math.floor(Math.random() * 1000);
  private nextArtifactId = 4_000_000 + Math.floor(Math.random() * 1000);
  private nextJobId = 1;
  private nextLabelId = 100;
  private readonly owner: string;
  private readonly repo: string;

  constructor(private readonly options: LocalGitHubOptions) {
    const [owner, repo] = options.repository.split("/");
    if (!owner || !repo) throw new Error(`LocalGitHub: repository "${options.repository}" is not owner/repo`);
    this.owner = owner;
    this.repo = repo;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.violations.push(`stand-in error on ${req.method} ${req.url}: ${(error as Error).stack ?? error}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: "Server Error" }));
      });
    });
    // Short keep-alive: a closed test must not wait for idle sockets.
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The API root: GITHUB_API_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The runner download base the boot script appends /v<version>/actions-runner-... to (LOCAL_KIND_RUNNER_URL). */
  get releaseUrl(): string {
    return `${this.url}/_releases`;
  }

  /** Whether exchanges are checked against GitHub's OpenAPI description. */
  get checksOpenApi(): boolean {
    return this.options.openApi !== undefined;
  }

  /** Runners registered and not removed. */
  get runners(): RunnerRecord[] {
    return this.issued.filter((r) => r.removedAt === undefined);
  }

  get artifacts(): ArtifactRecord[] {
    return this.artifactLog.filter((a) => a.deletedAt === undefined);
  }

  runner(id: number): RunnerRecord | undefined {
    return this.issued.find((r) => r.id === id);
  }

  /** Every JIT config handed out, and every credential inside them: what must never be seen in clear. */
  secrets(): string[] {
    return this.issued.flatMap((r) => [r.encodedJitConfig, r.credential]);
  }

  // ------------------------------------------------------------------------------------------------ knobs

  /** Queues a job for `label`; an online, idle runner with that label takes it. */
  /** Status of workflow runs (GET .../actions/runs/{id}): in_progress unless a test completes one. */
  readonly runStatuses = new Map<string, "in_progress" | "completed">();

  /** The workflow run ends (its jobs are done or cancelled): a sweep may now clean up after it. */
  completeRun(runId: string): void {
    this.runStatuses.set(runId, "completed");
  }

  /** A job with `runs-on: <label>`, of this world's run unless `runId` names another (a job of another workflow run). */
  queueJob(
    label: string,
    options: {
      name?: string;
      seconds?: number;
      result?: "Succeeded" | "Failed";
      runId?: string;
      runAttempt?: number;
    } = {},
  ): JobRecord {
    const job: JobRecord = {
      id: this.nextJobId++,
      name: options.name ?? "gpu-tests",
      label,
      runId: options.runId ?? this.options.runId ?? "1",
      runAttempt: options.runAttempt ?? 1,
      seconds: options.seconds ?? 0,
      result: options.result ?? "Succeeded",
      queuedAt: Date.now(),
    };
    this.jobs.push(job);
    return job;
  }

  /**
   * The next `count` API requests whose path (query included) matches answer `status` (5xx). With `handled`, each
   * is carried out first and only its answer is lost, as when GitHub did the work and the response never arrived;
   * with `retryAfterSeconds`, the answer carries a retry-after header.
   */
  failNext(
    path: RegExp,
    count: number,
    status = 502,
    method?: string,
    options: { handled?: boolean; retryAfterSeconds?: number } = {},
  ): void {
    this.faults.push({
      path,
      remaining: count,
      status,
      method,
      handled: options.handled,
      retryAfterSeconds: options.retryAfterSeconds,
    });
  }

  /** The next `count` API requests whose path matches answer 429 with retry-after. */
  rateLimitNext(path: RegExp, count: number, retryAfterSeconds = 1, method?: string): void {
    this.faults.push({ path, remaining: count, status: 429, retryAfterSeconds, method });
  }

  /**
   * Runners of that name (or whose name matches) never come online: their reports are accepted and ignored, so the
   * runner cannot tell, as when a runner's connection never reaches GitHub's side.
   */
  dropOnline(name: string | RegExp): void {
    this.dropped.push(name);
  }

  /**
   * The runners of that name (or whose name matches) lost their connection: their machine died. GitHub shows such a
   * runner offline once its session times out; the stand-in has no heartbeat, so the test that kills a machine says
   * so. The runner stays registered, and cannot take a job. Returns the runners it marked.
   */
  disconnect(name: string | RegExp): RunnerRecord[] {
    const hit = this.runners.filter((r) => (typeof name === "string" ? r.name === name : name.test(r.name)));
    for (const runner of hit) {
      runner.status = "offline";
      runner.busy = false;
    }
    return hit;
  }

  /** Adds an artifact to a run's list, as an upload does; replaces one of the same name when `overwrite`. */
  addArtifact(runId: string, name: string, sizeInBytes: number, digest: string): ArtifactRecord {
    const now = Date.now();
    const artifact: ArtifactRecord = {
      id: this.nextArtifactId++,
      name,
      runId,
      sizeInBytes,
      createdAt: now,
      expiresAt: now + 86_400_000,
      digest,
    };
    this.artifactLog.push(artifact);
    return artifact;
  }

  /** Marks an artifact deleted (the store side of an overwrite); the API's DELETE does the same. */
  deleteArtifact(id: number): boolean {
    const artifact = this.artifacts.find((a) => a.id === id);
    if (!artifact) return false;
    artifact.deletedAt = Date.now();
    this.onArtifactDeleted(artifact);
    return true;
  }

  /** Resolves when `check` holds; fails as hung, naming `what`, past the kit's bound (test/kit/patience.ts). */
  waitFor(what: string, check: () => boolean): Promise<void> {
    return waitFor(what, check);
  }

  // ------------------------------------------------------------------------------------------------ routing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const rawUrl = req.url ?? "/";
    const url = new URL(rawUrl, this.url);
    const body = await readBody(req);
    const reply = (status: number, data?: unknown, headers: Record<string, string> = {}, route = "?") => {
      const text = data === undefined ? "" : JSON.stringify(data);
      this.requests.push({ at: Date.now(), method, url: rawUrl, status, route });
      if (route.startsWith("/repos/") || route === "api") {
        for (const problem of this.options.openApi?.check({
          method,
          url: rawUrl,
          requestBody: body,
          status,
          responseBody: text,
        }) ?? []) {
          this.violations.push(problem);
        }
      }
      const head: Record<string, string> = {
        ...headers,
        "x-github-request-id": randomUUID().toUpperCase().slice(0, 23),
      };
      if (text) head["content-type"] = "application/json; charset=utf-8";
      res.writeHead(status, head).end(text);
      return true as const;
    };

    if (url.pathname.startsWith("/_releases/")) this.release(method, url, res);
    else if (url.pathname.startsWith("/_local/")) this.runnerSide(method, url, req, reply);
    else this.api(method, url, req, body, reply);
  }

  private release(method: string, url: URL, res: ServerResponse): void {
    const release = this.options.release;
    const path = url.pathname.slice("/_releases".length);
    const found = release && (["x64", "arm64"] as const).some((arch) => release.path(arch) === path);
    this.requests.push({ at: Date.now(), method, url: url.pathname, status: found ? 200 : 404, route: "release" });
    if (!found || (method !== "GET" && method !== "HEAD")) {
      res.writeHead(404).end("Not Found");
      return;
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(release.tarball.length),
    });
    res.end(method === "HEAD" ? undefined : release.tarball);
  }

  private api(method: string, url: URL, req: IncomingMessage, body: string, send: Reply): Sent {
    const template = this.options.openApi?.template(method, url.pathname) ?? "api";
    let reply = send;
    const error = (status: number, message: string, headers: Record<string, string> = {}) =>
      reply(status, { message, documentation_url: DOCS, status: String(status) }, headers, template);

    if (!req.headers["user-agent"]) {
      return error(
        403,
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
      );
    }
    const auth = req.headers.authorization ?? "";
    if (auth !== `Bearer ${this.options.token}` && auth !== `token ${this.options.token}`)
      return error(401, "Bad credentials");
    const version = req.headers["x-github-api-version"];
    if (version !== undefined && !API_VERSIONS.includes(String(version))) {
      return error(400, `Invalid API version ${version}`);
    }
    const fault = this.faults.find(
      (f) => f.remaining > 0 && f.path.test(url.pathname + url.search) && (!f.method || f.method === method),
    );
    if (fault) {
      fault.remaining--;
      if (fault.status === 429) {
        return error(429, "API rate limit exceeded", {
          "retry-after": String(fault.retryAfterSeconds ?? 1),
          "x-ratelimit-remaining": "0",
        });
      }
      const status = fault.status;
      const message = status === 502 ? "Server Error" : "Service Unavailable";
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
      if (!fault.handled) return error(status, message, headers);
      // Carried out below; whatever it answers is replaced by the error, and what it registered is marked.
      const before = this.issued.length;
      reply = () => {
        for (const runner of this.issued.slice(before)) runner.replyLost = true;
        return send(status, { message, documentation_url: DOCS, status: String(status) }, headers, template);
      };
    }

    const repoPrefix = `/repos/${this.owner}/${this.repo}/actions`;
    const path = url.pathname;
    if (!path.toLowerCase().startsWith(repoPrefix.toLowerCase())) return error(404, "Not Found");
    const rest = path.slice(repoPrefix.length);

    if (rest === "/runners/generate-jitconfig" && method === "POST")
      return this.generateJitConfig(body, reply, error, template);
    if (rest === "/runners" && method === "GET") {
      let runners = this.runners;
      const name = url.searchParams.get("name");
      if (name !== null) runners = runners.filter((r) => r.name === name);
      return this.page(
        url,
        runners,
        "runners",
        (r) => this.runnerJson(r),
        reply,
        error,
        template,
        (r) => this.seen(r),
      );
    }
    const runnerMatch = /^\/runners\/(\d+)$/.exec(rest);
    if (runnerMatch) {
      const runner = this.runners.find((r) => r.id === Number(runnerMatch[1]));
      if (!runner) return error(404, "Not Found");
      if (method === "GET") {
        this.seen(runner);
        return reply(200, this.runnerJson(runner), {}, template);
      }
      if (method === "DELETE") {
        runner.removedAt = Date.now();
        runner.removedBy = "api";
        runner.status = "offline";
        return reply(204, undefined, {}, template);
      }
    }
    const listMatch = /^\/runs\/(\d+)\/artifacts$/.exec(rest);
    if (listMatch && method === "GET") {
      const runId = listMatch[1]!;
      let artifacts = this.artifacts.filter((a) => a.runId === runId);
      const name = url.searchParams.get("name");
      if (name !== null) artifacts = artifacts.filter((a) => a.name === name);
      return this.page(url, artifacts, "artifacts", (a) => this.artifactJson(a), reply, error, template);
    }
    const runMatch = /^\/runs\/(\d+)$/.exec(rest);
    if (runMatch && method === "GET") return reply(200, this.runJson(runMatch[1]!), {}, template);
    const jobsMatch = /^\/runs\/(\d+)\/jobs$/.exec(rest);
    if (jobsMatch && method === "GET") {
      const filter = url.searchParams.get("filter") ?? "latest";
      let jobs = this.jobs.filter((j) => j.runId === jobsMatch[1]);
      // latest: the jobs of the run's last attempt only; all: of every attempt.
      if (filter === "latest") jobs = jobs.filter((j) => j.runAttempt === Math.max(...jobs.map((x) => x.runAttempt)));
      return this.page(url, jobs, "jobs", (j) => this.jobJson(j), reply, error, template);
    }
    const artifactMatch = /^\/artifacts\/(\d+)$/.exec(rest);
    if (artifactMatch && method === "DELETE") {
      return this.deleteArtifact(Number(artifactMatch[1]))
        ? reply(204, undefined, {}, template)
        : error(404, "Not Found");
    }
    return error(404, "Not Found");
  }

  private generateJitConfig(body: string, reply: Reply, error: ErrorReply, template: string): Sent {
    let request: { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
    try {
      request = JSON.parse(body) as typeof request;
    } catch {
      return error(400, "Problems parsing JSON");
    }
    const { name, runner_group_id: groupId, labels, work_folder: workFolder } = request ?? {};
    const labelList = Array.isArray(labels) ? labels : [];
    if (
      typeof name !== "string" ||
      name === "" ||
      !Number.isInteger(groupId) ||
      !Array.isArray(labels) ||
      labelList.length < 1 ||
      labelList.length > 100 ||
      !labelList.every((l) => typeof l === "string" && l !== "") ||
      (workFolder !== undefined && typeof workFolder !== "string")
    ) {
      return reply(
        422,
        { message: "Validation Failed", documentation_url: DOCS, errors: ["Invalid request."] },
        {},
        template,
      );
    }
    if (!(this.options.runnerGroups ?? [1]).includes(groupId as number)) return error(404, "Not Found");
    if (this.runners.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
      return error(409, `Already exists - A runner with the name ${name} already exists.`);
    }
    const id = this.nextRunnerId++;
    const credential = randomBytes(24).toString("hex");
    const runner: RunnerRecord = {
      id,
      name,
      labels: labelList as string[],
      runnerGroupId: groupId as number,
      workFolder: (workFolder as string | undefined) ?? "_work",
      status: "offline",
      busy: false,
      credential,
      encodedJitConfig: this.jitConfig(id, name, workFolder as string | undefined, credential),
      createdAt: Date.now(),
    };
    this.issued.push(runner);
    return reply(201, { runner: this.runnerJson(runner), encoded_jit_config: runner.encodedJitConfig }, {}, template);
  }

  /**
   * Opaque base64 of the files a real JIT config carries (.runner, .credentials, .credentials_rsaparams, each base64),
   * 1-3 KB like GitHub's. The stand-in runner finds the service URL and its credential inside.
   */
  private jitConfig(id: number, name: string, workFolder: string | undefined, credential: string): string {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64");
    const key = (bytes: number) => randomBytes(bytes).toString("base64");
    const files = {
      ".runner": b64({
        agentId: String(id),
        agentName: name,
        poolId: "1",
        poolName: "Default",
        serverUrl: `${this.url}/`,
        gitHubUrl: `${this.url}/${this.owner}/${this.repo}`,
        workFolder: workFolder ?? "_work",
        ephemeral: "true",
      }),
      ".credentials": b64({
        scheme: "OAuth",
        data: {
          clientId: credential,
          authorizationUrl: `${this.url}/_local/oauth2/token`,
          requireFipsCryptography: "True",
        },
      }),
      ".credentials_rsaparams": b64({
        d: key(128),
        dp: key(64),
        dq: key(64),
        exponent: "AQAB",
        inverseQ: key(64),
        modulus: key(128),
        p: key(64),
        q: key(64),
      }),
    };
    return Buffer.from(JSON.stringify(files)).toString("base64");
  }

  private runnerJson(runner: RunnerRecord) {
    return {
      id: runner.id,
      name: runner.name,
      os: runner.onlineAt ? "Linux" : "unknown",
      status: runner.status,
      busy: runner.busy,
      ephemeral: true,
      runner_group_id: runner.runnerGroupId,
      // A just-in-time runner carries exactly the labels it was registered with: generate-jitconfig adds no
      // default ones (self-hosted, OS, architecture), as runners registered with config.sh get.
      labels: runner.labels.map((name) => ({ id: this.labelId(name), name, type: "custom" })),
    };
  }

  /** A workflow run as GitHub's REST API shows one; every run exists, in progress unless completeRun said otherwise. */
  private runJson(runId: string) {
    const status = this.runStatuses.get(runId) ?? "in_progress";
    const api = `${this.url}/repos/${this.owner}/${this.repo}`;
    const html = `https://github.com/${this.owner}/${this.repo}`;
    const repository = this.repositoryJson();
    return {
      id: Number(runId),
      node_id: Buffer.from(`WorkflowRun${runId}`).toString("base64"),
      head_branch: "main",
      run_number: 1,
      run_attempt: 1,
      display_title: "gpu-tests",
      event: "workflow_dispatch",
      status,
      conclusion: status === "completed" ? "success" : null,
      head_sha: "0".repeat(40),
      path: ".github/workflows/gpu-tests.yml",
      workflow_id: 1,
      url: `${api}/actions/runs/${runId}`,
      html_url: `${html}/actions/runs/${runId}`,
      created_at: iso(Date.now()),
      updated_at: iso(Date.now()),
      head_commit: null,
      head_repository: repository,
      repository,
      jobs_url: `${api}/actions/runs/${runId}/jobs`,
      logs_url: `${api}/actions/runs/${runId}/logs`,
      check_suite_url: `${api}/check-suites/1`,
      cancel_url: `${api}/actions/runs/${runId}/cancel`,
      rerun_url: `${api}/actions/runs/${runId}/rerun`,
      artifacts_url: `${api}/actions/runs/${runId}/artifacts`,
      workflow_url: `${api}/actions/workflows/1`,
      pull_requests: [],
    };
  }

  /** The repository as GitHub's "minimal repository" (every *_url field of the schema, pointing at the stand-in). */
  private repositoryJson() {
    const api = `${this.url}/repos/${this.owner}/${this.repo}`;
    const urls = Object.fromEntries(
      [
        "archive",
        "assignees",
        "blobs",
        "branches",
        "collaborators",
        "comments",
        "commits",
        "compare",
        "contents",
        "contributors",
        "deployments",
        "downloads",
        "events",
        "forks",
        "git_commits",
        "git_refs",
        "git_tags",
        "hooks",
        "issue_comment",
        "issue_events",
        "issues",
        "keys",
        "labels",
        "languages",
        "merges",
        "milestones",
        "notifications",
        "pulls",
        "releases",
        "stargazers",
        "statuses",
        "subscribers",
        "subscription",
        "tags",
        "teams",
        "trees",
      ].map((name) => [`${name}_url`, `${api}/${name.replace(/_/g, "/")}`]),
    );
    const userApi = `${this.url}/users/${this.owner}`;
    return {
      ...urls,
      id: 42,
      node_id: "R_kgDOAAAAKg",
      name: this.repo,
      full_name: `${this.owner}/${this.repo}`,
      private: false,
      fork: false,
      description: null,
      html_url: `https://github.com/${this.owner}/${this.repo}`,
      url: api,
      owner: {
        login: this.owner,
        id: 1,
        node_id: "O_kgDOAAAAAQ",
        avatar_url: "https://avatars.githubusercontent.com/u/1",
        gravatar_id: "",
        url: userApi,
        html_url: `https://github.com/${this.owner}`,
        type: "Organization",
        site_admin: false,
        ...Object.fromEntries(
          [
            "events",
            "followers",
            "following",
            "gists",
            "organizations",
            "received_events",
            "repos",
            "starred",
            "subscriptions",
          ].map((name) => [`${name}_url`, `${userApi}/${name}`]),
        ),
      },
    };
  }

  /** A job as GitHub's REST API shows one: its runner by name once taken. */
  private jobJson(j: JobRecord) {
    const runner = this.issued.find((r) => r.id === j.runnerId);
    const base = `${this.url}/repos/${this.owner}/${this.repo}/actions`;
    const status = j.doneAt !== undefined ? "completed" : j.takenAt !== undefined ? "in_progress" : "queued";
    return {
      id: j.id,
      run_id: Number(j.runId),
      run_url: `${base}/runs/${j.runId}`,
      run_attempt: j.runAttempt,
      node_id: Buffer.from(`Job${j.id}`).toString("base64"),
      head_sha: "0".repeat(40),
      url: `${base}/jobs/${j.id}`,
      html_url: `https://github.com/${this.owner}/${this.repo}/actions/runs/${j.runId}/job/${j.id}`,
      status,
      conclusion: j.doneAt === undefined ? null : j.result === "Succeeded" ? "success" : "failure",
      created_at: iso(j.queuedAt),
      started_at: iso(j.takenAt ?? j.queuedAt),
      completed_at: j.doneAt === undefined ? null : iso(j.doneAt),
      name: j.name,
      steps: [],
      check_run_url: `${this.url}/repos/${this.owner}/${this.repo}/check-runs/${j.id}`,
      labels: [j.label],
      runner_id: runner?.id ?? null,
      runner_name: runner?.name ?? null,
      runner_group_id: runner?.runnerGroupId ?? null,
      runner_group_name: runner ? "Default" : null,
      workflow_name: "gpu-tests",
      head_branch: "main",
    };
  }

  private readonly labelIds = new Map<string, number>();
  private labelId(name: string): number {
    let id = this.labelIds.get(name);
    if (id === undefined) {
      id = this.nextLabelId++;
      this.labelIds.set(name, id);
    }
    return id;
  }

  private artifactJson(a: ArtifactRecord) {
    const base = `${this.url}/repos/${this.owner}/${this.repo}/actions/artifacts/${a.id}`;
    return {
      id: a.id,
      node_id: Buffer.from(`Artifact${a.id}`).toString("base64"),
      name: a.name,
      size_in_bytes: a.sizeInBytes,
      url: base,
      archive_download_url: `${base}/zip`,
      expired: false,
      created_at: iso(a.createdAt),
      updated_at: iso(a.createdAt),
      expires_at: iso(a.expiresAt),
      digest: a.digest,
      workflow_run: {
        id: Number(a.runId),
        repository_id: 42,
        head_repository_id: 42,
        head_branch: "main",
        head_sha: "0".repeat(40),
      },
    };
  }

  /** One page of `items` as GitHub pages: per_page (default 30, at most 100), page, and a Link header. */
  private page<T>(
    url: URL,
    items: T[],
    key: "runners" | "artifacts" | "jobs",
    toJson: (item: T) => unknown,
    reply: Reply,
    error: ErrorReply,
    template: string,
    onListed: (item: T) => void = () => {},
  ): Sent {
    const perPageRaw = url.searchParams.get("per_page");
    const pageRaw = url.searchParams.get("page");
    if ((perPageRaw !== null && !/^\d+$/.test(perPageRaw)) || (pageRaw !== null && !/^\d+$/.test(pageRaw))) {
      return error(422, "Validation Failed");
    }
    const perPage = Math.min(Math.max(Number(perPageRaw ?? 30), 1), 100, this.options.maxPerPage ?? 100);
    const page = Math.max(Number(pageRaw ?? 1), 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number) => {
      const target = new URL(url.pathname + url.search, this.url);
      target.searchParams.set("page", String(p));
      return `<${target.href}>`;
    };
    const links: string[] = [];
    if (page > 1) links.push(`${link(page - 1)}; rel="prev"`);
    if (page < last) links.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) links.push(`${link(1)}; rel="first"`);
    for (const item of slice) onListed(item);
    return reply(
      200,
      { total_count: items.length, [key]: slice.map(toJson) },
      links.length > 0 ? { link: links.join(", ") } : {},
      template,
    );
  }

  private seen(runner: RunnerRecord): void {
    if (runner.status === "online" && runner.seenOnlineAt === undefined) runner.seenOnlineAt = Date.now();
  }

  // -------------------------------------------------------------------------------------------- runner side

  private runnerSide(method: string, url: URL, req: IncomingMessage, reply: Reply): Sent {
    const route = "runner";
    const m = /^\/_local\/runners\/(\d+)\/(online|job|done)$/.exec(url.pathname);
    if (!m) return reply(404, { message: "Not Found" }, {}, route);
    const runner = this.issued.find((r) => r.id === Number(m[1]));
    if (!runner || runner.removedAt !== undefined) return reply(404, { message: "Runner not found" }, {}, route);
    if (req.headers.authorization !== `RunnerCredential ${runner.credential}`)
      return reply(401, { message: "Bad credential" }, {}, route);
    const action = m[2];
    if (action === "online" && method === "POST") {
      if (!this.dropped.some((d) => (typeof d === "string" ? d === runner.name : d.test(runner.name)))) {
        runner.status = "online";
        runner.onlineAt ??= Date.now();
      }
      return reply(200, { ok: true }, {}, route);
    }
    if (action === "job" && method === "GET") {
      if (runner.status !== "online") return reply(200, { name: null }, {}, route);
      let job = runner.job;
      if (!job) {
        job = this.jobs.find((j) => j.runnerId === undefined && runner.labels.includes(j.label));
        if (job) {
          job.runnerId = runner.id;
          job.takenAt = Date.now();
          runner.job = job;
          runner.busy = true;
        }
      }
      return reply(200, job ? { name: job.name, seconds: job.seconds, result: job.result } : { name: null }, {}, route);
    }
    if (action === "done" && method === "POST") {
      const now = Date.now();
      if (runner.job) runner.job.doneAt = now;
      runner.doneAt = now;
      runner.busy = false;
      runner.status = "offline";
      // A JIT runner deregisters after its one job.
      runner.removedAt = now;
      runner.removedBy = "job-done";
      return reply(200, { ok: true }, {}, route);
    }
    return reply(405, { message: "Method Not Allowed" }, {}, route);
  }
}

/** What a route handler returns once it has answered. */
type Sent = true;
type Reply = (status: number, data?: unknown, headers?: Record<string, string>, route?: string) => Sent;
type ErrorReply = (status: number, message: string, headers?: Record<string, string>) => Sent;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
