// The runner release stand-in for tests: test/kit/local-github/runner-release.ts (shared with `npm run demo`), built
// once per test process.
import { buildRunnerRelease, type RunnerRelease } from "./local-github/runner-release.ts";

export { buildRunnerRelease, type RunnerArch, type RunnerRelease, releasePath, runScript } from "./local-github/runner-release.ts";

let release: Promise<RunnerRelease> | undefined;

export function testRelease(): Promise<RunnerRelease> {
  release ??= buildRunnerRelease();
  return release;
}
