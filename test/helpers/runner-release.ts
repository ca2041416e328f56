// The runner release stand-in for tests: scripts/local-github/runner-release.ts (shared with `npm run demo`), built
// once per test process.
import { buildRunnerRelease, type RunnerRelease } from "../../scripts/local-github/runner-release.ts";

export { buildRunnerRelease, type RunnerArch, type RunnerRelease, releasePath, runScript } from "../../scripts/local-github/runner-release.ts";

let release: Promise<RunnerRelease> | undefined;

export function testRelease(): Promise<RunnerRelease> {
  release ??= buildRunnerRelease();
  return release;
}
