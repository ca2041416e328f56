// The runners of a repository or organization: registering one (a just-in-time config), reading, listing and
// deleting them, and finding a runner group. Its own file because registration is the one call that is not safe to
// repeat: its recovery (removeRunnersNamed before a re-send) is decided here and handed to the retry policy.

import { unexpected } from "./errors.ts";
import type { Transport } from "./transport.ts";
import type { JitConfig, JitRequest, RunnerInfo, RunnerScope } from "./types.ts";

export function runnersPrefix(scope: RunnerScope): string {
  if (scope.kind === "repository") {
    if (!scope.owner || !scope.repo) throw new Error("GitHub client: repository scope needs an owner and a repo");
    return `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}/actions/runners`;
  }
  if (!scope.org) throw new Error("GitHub client: organization scope needs an org");
  return `/orgs/${encodeURIComponent(scope.org)}/actions/runners`;
}

/**
 * Generating a JIT config registers a runner, so this POST is not idempotent. After a 5xx, a timeout or a lost
 * connection the runner may have been registered although its config never reached us: sent again blindly, that
 * would leave a registered runner nobody can start (or fail with 409, name taken). So before such a re-send the
 * runners are listed and any of that name deleted first: its config is lost, nothing can ever use it. A 409 is
 * retried only after one of those unclear failures (the listing may have lagged behind the registration); otherwise
 * the name is taken by a runner we did not make, and that is for the caller to resolve. A rate limit created nothing
 * and is retried without a check. If the check itself fails we stop: better no runner than a second registration we
 * cannot account for.
 */
export async function createJitConfig(api: Transport, prefix: string, req: JitRequest): Promise<JitConfig> {
  const path = `${prefix}/generate-jitconfig`;
  const body = {
    name: req.name,
    runner_group_id: req.runnerGroupId,
    labels: req.labels,
    work_folder: req.workFolder ?? "_work",
  };
  const label = `GitHub: generate JIT config for runner ${req.name}`;
  const beforeResend = async () => {
    // Cancelled: no second registration. One the failed attempt may have made is left for the stop job, which
    // removes every runner named under the start's label; the step has no time to look for it now.
    req.signal?.throwIfAborted();
    try {
      await removeRunnersNamed(api, prefix, req.name, label);
    } catch (err) {
      api.log(`${label}: could not check whether the failed attempt registered a runner; not retrying`);
      throw err;
    }
  };
  const response = await api.send("POST", path, { body, policy: { label, beforeResend }, signal: req.signal });

  const data = response.data as { encoded_jit_config?: unknown; runner?: { id?: unknown; name?: unknown } } | string;
  if (typeof data !== "object" || data === null)
    throw unexpected("POST", path, response.status, "a body that is not JSON");
  const encoded = data.encoded_jit_config;
  if (typeof encoded !== "string" || encoded === "")
    throw unexpected("POST", path, response.status, "no encoded_jit_config");
  // Mask first: nothing below may print it, but the caller must know of it before anything can go wrong.
  api.secret(encoded);
  const { id, name } = data.runner ?? {};
  if (typeof id !== "number" || typeof name !== "string")
    throw unexpected("POST", path, response.status, "no runner id or name");
  return { runnerId: id, runnerName: name, encodedJitConfig: encoded };
}

export async function getRunner(api: Transport, prefix: string, id: number): Promise<RunnerInfo | undefined> {
  const path = `${prefix}/${checkId(id)}`;
  const response = await api.unlessGone("GET", path);
  if (response === "gone") return undefined;
  const runner = toRunner(response.data);
  if (!runner) throw unexpected("GET", path, response.status, "not a runner");
  return runner;
}

export function listRunners(api: Transport, prefix: string): Promise<RunnerInfo[]> {
  return api.paginate(prefix, {}, "runners", (raw) => {
    const runner = toRunner(raw);
    if (!runner) throw unexpected("GET", prefix, 200, "not a runner");
    return [runner];
  });
}

export async function deleteRunner(api: Transport, prefix: string, id: number): Promise<"deleted" | "gone"> {
  // A retried DELETE whose first attempt did succeed also ends as gone: that is what we wanted.
  const result = await api.unlessGone("DELETE", `${prefix}/${checkId(id)}`);
  return result === "gone" ? "gone" : "deleted";
}

export async function runnerGroupIdByName(api: Transport, name: string): Promise<number | undefined> {
  const scope = api.scope;
  if (scope.kind !== "organization") throw new Error("GitHub client: runner groups by name need organization scope");
  const ids = await api.paginate(
    `/orgs/${encodeURIComponent(scope.org)}/actions/runner-groups`,
    {},
    "runner_groups",
    (raw) => {
      const group = raw as { id?: unknown; name?: unknown } | null;
      return typeof group?.id === "number" && group.name === name ? [group.id] : [];
    },
  );
  return ids[0];
}

/** Deletes every runner called name; used before re-sending a JIT POST whose outcome is unknown. */
async function removeRunnersNamed(api: Transport, prefix: string, name: string, label: string): Promise<void> {
  const found = (await listRunners(api, prefix)).filter((r) => r.name === name);
  if (found.length === 0) api.log(`${label}: the failed attempt registered no runner of that name`);
  for (const runner of found) {
    api.log(`${label}: the failed attempt registered runner ${runner.id}, whose config was lost; deleting it`);
    await deleteRunner(api, prefix, runner.id);
  }
}

function toRunner(raw: unknown): RunnerInfo | undefined {
  const r = raw as { id?: unknown; name?: unknown; status?: unknown; busy?: unknown; labels?: unknown } | null;
  if (typeof r?.id !== "number" || typeof r.name !== "string") return undefined;
  const labels = (Array.isArray(r.labels) ? r.labels : [])
    .map((l: unknown) => (typeof l === "string" ? l : (l as { name?: unknown } | null)?.name))
    .filter((l): l is string => typeof l === "string");
  return {
    id: r.id,
    name: r.name,
    status: typeof r.status === "string" ? r.status : "unknown",
    busy: r.busy === true,
    labels,
  };
}

function checkId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`GitHub client: runner id ${id} is not a positive integer`);
  return id;
}
