// The main step as action.yml runs it (its run: line, through bash, from the action's directory), with the step's
// secrets in its environment: no child process may inherit one. tsx's transpiler is such a child (esbuild's service,
// started at the first TypeScript file and kept); ESBUILD_BINARY_PATH, which esbuild's JS API honours, points it at a
// wrapper here that records the environment it was started with (/proc/self/environ), then runs the real binary.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { INPUTS_VARIABLE } from "../stacks/names.ts";
import { shellQuote } from "../stacks/boot-script.ts";
import { readActionFile } from "./kit/action-file.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "launch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Secret values as a step of a start job holds them (none of them real). */
const SECRETS = {
  token: "ghp_launch-test-github-token-0123456789",
  passphrase: "launch-test state passphrase",
  job: "ghs_launch-test-job-token",
  oidc: "launch-test-oidc-request-token",
  aws: "launch-test-aws-secret-access-key",
  workflowToken: "ghs_launch-test-GITHUB_TOKEN",
  workflowPat: "ghp_launch-test-GITHUB_PAT",
  workflowSecret: "launch-test-a-secret-of-the-workflow",
};

/** The step's environment: the inputs (a start whose count is out of range: main reads them, then fails on it). */
function stepEnvironment(records: string): Record<string, string> {
  const real = createRequire(import.meta.url).resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
  const wrapper = join(records, "esbuild");
  writeFileSync(
    wrapper,
    `#!/bin/bash\ntr '\\0' '\\n' </proc/$$/environ >${shellQuote(records)}/esbuild-$$.env\nexec ${shellQuote(real)} "$@"\n`,
    { mode: 0o755 },
  );
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    LANG: "C.UTF-8",
    ESBUILD_BINARY_PATH: wrapper,
    // tsx's cache of transformed files would spare it esbuild on a second run; the action's first run has none.
    TSX_DISABLE_CACHE: "1",
    [INPUTS_VARIABLE]: JSON.stringify({
      mode: "start",
      cloud: "aws",
      "github-token": SECRETS.token,
      "state-passphrase": SECRETS.passphrase,
      "machine-type": "g4dn.xlarge",
      region: "us-east-1",
      count: "99",
    }),
    JOB_GITHUB_TOKEN: SECRETS.job,
    ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/abc",
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: SECRETS.oidc,
    AWS_SECRET_ACCESS_KEY: SECRETS.aws,
    GITHUB_TOKEN: SECRETS.workflowToken,
    GITHUB_PAT: SECRETS.workflowPat,
    HF_TOKEN: SECRETS.workflowSecret,
    GITHUB_REPOSITORY: "octo-org/md-sim",
    GITHUB_OUTPUT: join(records, "output"),
    RUNNER_TEMP: dir,
  };
}

/** Runs `command` as the main step's run: line runs, and gives what it printed and each transpiler's environment. */
function runStep(name: string, command: string): { status: number | null; stdout: string; esbuild: string[] } {
  const records = join(dir, name);
  rmSync(records, { recursive: true, force: true });
  mkdirSync(records);
  const out = spawnSync("bash", ["-c", command], { cwd: ROOT, env: stepEnvironment(records), encoding: "utf8" });
  const esbuild = readdirSync(records)
    .filter((f) => f.startsWith("esbuild-"))
    .map((f) => readFileSync(join(records, f), "utf8"));
  return { status: out.status, stdout: `${out.stdout}${out.stderr}`, esbuild };
}

const mainStep = readActionFile().runs.steps.find((s) => s.id === "main");

describe("the main step's child processes", () => {
  it("tsx's transpiler, started by action.yml's own run: line, sees none of the step's secrets", () => {
    assert.ok(mainStep?.run, "action.yml has a main step");
    const { status, stdout, esbuild } = runStep("action", mainStep.run);
    // The action ran, with the inputs: it read them through the launcher and refused the count.
    assert.equal(status, 1, stdout);
    assert.match(stdout, /::error::.*Input 'count': got "99"/, stdout);
    assert.equal(esbuild.length, 1, `one transpiler, recorded by the wrapper:\n${stdout}`);
    const env = esbuild[0]!;
    assert.match(env, /^PATH=/m, "the record is an environment");
    for (const [what, value] of Object.entries(SECRETS)) assert.ok(!env.includes(value), `${what} reached esbuild`);
    for (const name of [
      INPUTS_VARIABLE,
      "JOB_GITHUB_TOKEN",
      "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
      "GITHUB_TOKEN",
      "GITHUB_PAT",
      "HF_TOKEN",
    ])
      assert.ok(!new RegExp(`^${name}=`, "m").test(env), `${name} reached esbuild`);
    // What @actions/core needs stays: the workflow command files.
    assert.match(env, /^GITHUB_OUTPUT=/m);
    // The secret inputs and the job token were masked (the runner reads ::add-mask:: and prints no such line), and no
    // other line holds a secret.
    for (const value of [SECRETS.token, SECRETS.passphrase, SECRETS.job])
      assert.ok(stdout.split("\n").includes(`::add-mask::${value}`), "masked");
    const printed = stdout.split("\n").filter((line) => !line.startsWith("::add-mask::"));
    for (const [what, value] of Object.entries(SECRETS))
      assert.ok(!printed.some((line) => line.includes(value)), `${what} printed`);
  });

  it("the check can fail: without the launcher (tsx preloaded), the transpiler holds every secret", () => {
    const { esbuild, stdout } = runStep("preloaded", "exec node --import tsx/esm scripts/main.ts");
    assert.equal(esbuild.length, 1, stdout);
    for (const [what, value] of Object.entries(SECRETS)) assert.ok(esbuild[0]!.includes(value), what);
    // And run that way, main.ts says how it is run instead of running.
    assert.match(
      stdout,
      /::error::scripts\/main\.ts runs through its launcher: node scripts\/launch\.mjs scripts\/main\.ts/,
    );
  });

  it("the launcher refuses to run anything but a TypeScript entry", () => {
    const { status, stdout } = runStep("usage", "exec node scripts/launch.mjs");
    assert.equal(status, 1);
    assert.match(stdout, /::error::usage: node scripts\/launch\.mjs scripts\/ENTRY\.ts/);
  });
});
