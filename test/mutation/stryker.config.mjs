// StrykerJS over the action's safety-critical modules: `npm run mutation` (see CONTRIBUTING.md, "Mutation testing").
// Each mutant (a flipped comparison, a dropped statement, a changed constant...) is run against the test files that
// load the mutated module; one that no test notices survives, and the score is the share that did not.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // node:test prints TAP when told to; the tap runner runs each test file under node with tsx's loader and its hook.
  testRunner: "tap",
  tap: {
    // The fast files (a second or two each) that load the modules below; each runs once per mutant it covers, so the
    // end-to-end files (a minute each, real terraform and sandboxes) are left to `npm test`.
    testFiles: [
      "test/fork-guard.test.ts",
      "test/inputs.test.ts",
      "test/label.test.ts",
      "test/child-env.test.ts",
      "test/state-crypto.test.ts",
      "test/state-bundle.test.ts",
      "test/stop-layers.test.ts",
      "test/sweep.test.ts",
      "test/accelerators.test.ts",
      "test/boot-render.test.ts",
      "test/cloud-rules.test.ts",
      "test/runner-jobs.test.ts",
      "test/runner-user.test.ts",
      "test/preflight.test.ts",
      "test/worst-case.test.ts",
    ],
    nodeArgs: ["-r", "{{hookFile}}", "--import", "tsx", "--test-reporter=tap", "{{testFile}}"],
    forceBail: true,
  },
  mutate: [
    "scripts/phases/fork-guard.ts",
    "scripts/lib/redact.ts",
    "scripts/settings/inputs.ts",
    "scripts/settings/runner-inputs.ts",
    "scripts/settings/label.ts",
    "stacks/input-reader.ts",
    "scripts/adapters/state-crypto.ts",
    "scripts/adapters/state-bundle.ts",
    "scripts/phases/stop.ts",
    "scripts/phases/teardown.ts",
    "scripts/phases/sweep.ts",
    "scripts/phases/runner-jobs.ts",
    "scripts/settings/worst-case.ts",
    "stacks/preflight.ts",
    "scripts/adapters/child-env.ts",
    "stacks/accelerator.ts",
    "stacks/boot-script.ts",
    "stacks/capacity.ts",
    "stacks/lifetime-cap.ts",
    "stacks/tag-rules.ts",
  ],
  // Only the test files that load a mutant's module run for it.
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 20_000,
  // Stryker rewrites tsconfig.json through the TypeScript compiler's JavaScript API, which the native compiler (7.x)
  // does not have; tsx ignores tsconfig's paths here, so there is nothing to rewrite: point it at no file.
  tsconfigFile: "test/mutation/no-tsconfig.json",
  tempDirName: ".stryker-tmp",
  // Not copied into the sandbox: other runs' scratch directories and build output.
  ignorePatterns: [".stryker-tmp*", "cdktf.out", "coverage"],
  cleanTempDir: "always",
  // Mutants whose code and tests did not change keep their last result: a rerun after a test fix is minutes.
  incremental: true,
  incrementalFile: ".stryker-tmp/incremental.json",
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: ".stryker-tmp/mutation.json" },
  thresholds: { high: 95, low: 90, break: null },
};
