// The preflight's shared part: the rule that turns a cloud's answers into a verdict, and what start does with it
// (nothing registered, nothing applied when it fails; the answers in the dry-run review and the job summary). Each
// cloud's own questions are tested through its real CLI in test/clouds/<cloud>/preflight.test.ts.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import nock from "nock";
import { commandRunner } from "../scripts/adapters/command.ts";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import { createTerraform } from "../scripts/adapters/terraform.ts";
import { PreflightError } from "../scripts/phases/preflight.ts";
import { start } from "../scripts/phases/start.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { readRunContext } from "../scripts/settings/run-context.ts";
import { judgePreflight, type PreflightFinding } from "../stacks/preflight.ts";
import { AWS_START, FAKE_TOKEN, inputEnv } from "./kit/env.ts";
import { recordingIO } from "./kit/io.ts";
import { type TestCloudConfig, testCloud } from "./kit/test-cloud.ts";

const ok = (check: string, scope: PreflightFinding["scope"] = "start"): PreflightFinding => ({
  check,
  status: "ok",
  detail: "allowed",
  scope,
});
const failed = (check: string, scope: PreflightFinding["scope"], fix = "grant it"): PreflightFinding => ({
  check,
  status: "failed",
  detail: "denied",
  fix,
  scope,
});
const unchecked = (check: string): PreflightFinding => ({
  check,
  status: "unchecked",
  detail: "not allowed to read it",
  scope: "candidate",
});

describe("judgePreflight: the shared rule", () => {
  const cases: {
    name: string;
    candidates: { candidate: string; findings: PreflightFinding[] }[];
    failed: boolean;
    reasons: string[];
    warnings: string[];
  }[] = [
    {
      name: "every answer ok: the start may go on",
      candidates: [{ candidate: "a", findings: [ok("dry run"), ok("quota", "candidate")] }],
      failed: false,
      reasons: [],
      warnings: [],
    },
    {
      name: "a start-wide failure fails it, with its fix, even when another candidate is fine",
      candidates: [
        { candidate: "a", findings: [failed("dry run", "start", "add the Launch statement")] },
        { candidate: "b", findings: [ok("dry run")] },
      ],
      failed: true,
      reasons: ["dry run: denied. add the Launch statement"],
      warnings: [],
    },
    {
      name: "a candidate's own failure only drops it while another candidate passes",
      candidates: [
        { candidate: "a (Spot)", findings: [failed("Spot quota", "candidate")] },
        { candidate: "a", findings: [ok("quota", "candidate")] },
      ],
      failed: false,
      reasons: [],
      warnings: ["a (Spot) would be skipped: Spot quota: denied. grant it"],
    },
    {
      name: "when every candidate fails its own check, the start fails, naming each",
      candidates: [
        { candidate: "a (Spot)", findings: [failed("Spot quota", "candidate")] },
        { candidate: "a", findings: [failed("quota", "candidate")] },
      ],
      failed: true,
      reasons: ["a (Spot): Spot quota: denied. grant it", "a: quota: denied. grant it"],
      warnings: [],
    },
    {
      name: "a dropped candidate is said by its failed candidate checks only, not by its other answers",
      candidates: [
        {
          candidate: "a",
          findings: [
            failed("quota", "candidate"),
            ok("zone offer", "candidate"),
            unchecked("Spot quota"),
            failed("image", "start", "set image"),
          ],
        },
        { candidate: "b", findings: [ok("quota", "candidate")] },
      ],
      failed: true,
      reasons: ["image: denied. set image"],
      warnings: ["not checked: Spot quota: not allowed to read it", "a would be skipped: quota: denied. grant it"],
    },
    {
      name: "a start-wide failure does not drop its candidate: another candidate's own failure stays a warning",
      candidates: [
        { candidate: "a", findings: [failed("image", "start", "set image")] },
        { candidate: "b", findings: [failed("quota", "candidate")] },
      ],
      failed: true,
      reasons: ["image: denied. set image"],
      warnings: ["b would be skipped: quota: denied. grant it"],
    },
    {
      name: "a question that could not be asked is a warning, never a failure",
      candidates: [{ candidate: "a", findings: [unchecked("quota")] }],
      failed: false,
      reasons: [],
      warnings: ["not checked: quota: not allowed to read it"],
    },
    {
      name: "the same answer of several candidates is said once",
      candidates: [
        { candidate: "a", findings: [failed("image", "start"), unchecked("role")] },
        { candidate: "b", findings: [failed("image", "start"), unchecked("role")] },
      ],
      failed: true,
      reasons: ["image: denied. grant it"],
      warnings: ["not checked: role: not allowed to read it"],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.deepEqual(judgePreflight(c.candidates), { failed: c.failed, reasons: c.reasons, warnings: c.warnings });
    });
});

describe("start runs the preflight before anything exists", () => {
  const root = mkdtempSync(join(tmpdir(), "preflight-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  // Any GitHub call would be refused: a start that registered a runner would fail with nock's error instead.
  before(() => nock.disableNetConnect());
  after(() => nock.enableNetConnect());
  let n = 0;

  function fixture(config: Partial<TestCloudConfig>, overrides: Record<string, string> = {}) {
    const dir = join(root, `case-${n++}`);
    const markerDir = join(dir, "markers");
    mkdirSync(markerDir, { recursive: true });
    const eventPath = join(dir, "event.json");
    writeFileSync(eventPath, JSON.stringify({ repository: { full_name: "octo-org/md-sim" } }));
    const env = inputEnv(
      { ...AWS_START, count: "2", "state-passphrase": "a passphrase for tests", ...overrides },
      { RUNNER_TEMP: join(dir, "temp"), GITHUB_EVENT_NAME: "push", GITHUB_EVENT_PATH: eventPath },
    );
    const cloudConfig: TestCloudConfig = {
      markerDir,
      machineType: "a",
      fallbackMachineTypes: [],
      noCapacity: [],
      broken: [],
      consoles: {},
      ...config,
    };
    const parsed = parseInputs(env) as StartInputs;
    const io = recordingIO();
    const deps = {
      github: createGitHubClient({
        token: FAKE_TOKEN,
        apiUrl: "https://api.github.com",
        scope: { kind: "repository" as const, owner: "octo-org", repo: "md-sim" },
        onSecret: () => {},
        log: () => {},
        sleep: async () => {},
        spaceWrites: false,
      }),
      terraform: createTerraform({ pluginCacheDir: join(root, "plugins"), log: (line) => io.info(line) }),
      io,
      clock: { now: () => 0, sleep: async () => {} },
      workDir: join(dir, "work"),
      label: () => "gpu-987654321-2-0a1b2c3d",
      run: commandRunner(process.env, []),
    };
    return {
      inputs: { ...parsed, cloud: testCloud, plan: testCloud.plan(cloudConfig) },
      context: readRunContext(env, dir),
      deps,
      io,
      markerDir,
    };
  }

  it("a failed start-wide check fails the start: no runner registered, no machine, the fix in the error and summary", async () => {
    const f = fixture({
      preflight: { a: [failed("EC2 dry run of run-instances", "start", "add the Launch statement")] },
    });
    await assert.rejects(start(f.inputs, f.context, f.deps), (error: unknown) => {
      assert.ok(error instanceof PreflightError, String(error));
      assert.match(
        error.message,
        /nothing was created:\n- EC2 dry run of run-instances: denied\. add the Launch statement$/,
      );
      return true;
    });
    assert.deepEqual(readdirSync(f.markerDir), [], "no machine was created");
    const summary = f.io.summaries.join("");
    assert.match(summary, /the preflight found this start cannot succeed/);
    assert.match(
      summary,
      /\| failed \| a in test-zone \| EC2 dry run of run-instances \| denied \| add the Launch statement \|/,
    );
    assert.deepEqual(f.io.outputs.runners, undefined, "no runner output: none was registered");
  });

  it("the tags it sends are the stack's: the ownership tags with the user's", async () => {
    const seen: Record<string, string>[] = [];
    const f = fixture({}, { "dry-run": "true", tags: '{"team":"md"}' });
    const plan = f.inputs.plan;
    const spied = {
      ...plan,
      alternatives: () =>
        plan.alternatives().map((candidate) => ({
          ...candidate,
          preflight: async (request: { tags: Readonly<Record<string, string>> }) => {
            seen.push({ ...request.tags });
            return [];
          },
        })),
    };
    await start({ ...f.inputs, plan: spied }, f.context, f.deps);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.team, "md");
    assert.equal(seen[0]!["gpu-runner-label"], "gpu-987654321-2-0a1b2c3d");
    assert.equal(seen[0]!["gpu-runner-repository-id"], "612345678");
  });

  it("dry-run: a candidate dropped by its quota is a warning; the review's summary shows every answer", async () => {
    const f = fixture(
      {
        fallbackMachineTypes: ["b"],
        preflight: { a: [failed("G vCPU quota", "candidate", "ask for more")], b: [ok("G vCPU quota", "candidate")] },
      },
      { "dry-run": "true" },
    );
    assert.deepEqual(await start(f.inputs, f.context, f.deps), []);
    assert.ok(
      f.io.warnings.includes("Preflight: a in test-zone would be skipped: G vCPU quota: denied. ask for more"),
      f.io.warnings.join("\n"),
    );
    const summary = f.io.summaries.join("");
    assert.match(summary, /answered the preflight/);
    assert.match(summary, /\| failed \| a in test-zone \| G vCPU quota \|/);
    assert.match(summary, /\| ok \| b in test-zone \| G vCPU quota \| allowed \|/);
    assert.ok(f.io.lines.includes("Plan: 2 to add, 0 to change, 0 to destroy."), "terraform plan ran");
  });

  it("dry-run fails when no candidate can start, naming each, and creates nothing", async () => {
    const f = fixture(
      {
        fallbackMachineTypes: ["b"],
        preflight: { a: [failed("quota", "candidate")], b: [failed("quota", "candidate")] },
      },
      { "dry-run": "true" },
    );
    await assert.rejects(
      start(f.inputs, f.context, f.deps),
      /- a in test-zone: quota: denied\. grant it\n- b in test-zone: quota/,
    );
    assert.deepEqual(readdirSync(f.markerDir), []);
  });
});
