// The GitHub stand-in for tests: test/kit/local-github/server.ts (shared with `npm run demo`), started with GitHub's
// OpenAPI description checking every exchange.
import { type OpenApiChecker, loadGitHubOpenApi } from "./local-github/openapi.ts";
import { LocalGitHub, type LocalGitHubOptions, type RunnerRecord } from "./local-github/server.ts";

export { type Exchange, loadGitHubOpenApi, OpenApiChecker } from "./local-github/openapi.ts";
export { type ArtifactRecord, type JobRecord, LocalGitHub, type RunnerRecord } from "./local-github/server.ts";

/** Obviously fake, and shaped like no real GitHub token. */
export const TEST_TOKEN = "local-test-token-0123456789abcdef";
export const TEST_REPOSITORY = "octo-org/md-sim";

let openApi: OpenApiChecker | undefined;

/** GitHub's OpenAPI description, loaded once per test process (13 MB of JSON). */
export function gitHubOpenApi(): OpenApiChecker {
  openApi ??= loadGitHubOpenApi();
  if (!openApi) throw new Error("@octokit/openapi is not installed: run npm ci (it is a development dependency)");
  return openApi;
}

/** A started stand-in with the test token and repository, checked against the OpenAPI description. */
export async function startLocalGitHub(options: Partial<LocalGitHubOptions> = {}): Promise<LocalGitHub> {
  const server = new LocalGitHub({ token: TEST_TOKEN, repository: TEST_REPOSITORY, openApi: gitHubOpenApi(), ...options });
  await server.start();
  return server;
}

/** A call to the runner's side of the stand-in, authenticated as `runner` (or with another credential). */
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
