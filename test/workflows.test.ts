// This repository's own automation is code too: its workflows must be valid for GitHub, pinned, least-privileged
// and free of script injection; the GPU self-test must never run for forks; a release must never tag a commit
// whose tests failed. Each rule is a function returning its problems, shown below to catch a broken file.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { readActionFile, workflowErrors } from "./kit/action-file.ts";
import { cloudNames } from "../stacks/clouds.ts";
import { casesOf } from "./kit/cloud-cases.ts";

type Permissions = string | Record<string, string>;

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}

interface Job {
  name?: string;
  if?: string;
  needs?: string | string[];
  "runs-on"?: unknown;
  environment?: string | { name: string };
  permissions?: Permissions;
  "timeout-minutes"?: number;
  outputs?: Record<string, string>;
  uses?: string;
  steps?: Step[];
}

interface Workflow {
  name?: string;
  on: string | string[] | Record<string, unknown>;
  permissions?: Permissions;
  concurrency?: string | { group: string; "cancel-in-progress"?: boolean | string };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const ROOT = new URL("../", import.meta.url);
const WORKFLOW_DIR = ".github/workflows/";
const read = (path: string): string => readFileSync(new URL(path, ROOT), "utf8");

const WORKFLOW_FILES = readdirSync(new URL(WORKFLOW_DIR, ROOT))
  .filter((file) => /\.ya?ml$/.test(file))
  .sort();
const TEXTS = new Map(WORKFLOW_FILES.map((file) => [file, read(WORKFLOW_DIR + file)]));
const WORKFLOWS = new Map([...TEXTS].map(([file, text]) => [file, parse(text) as Workflow]));

function workflow(file: string): Workflow {
  const parsed = WORKFLOWS.get(file);
  assert.ok(parsed, `${WORKFLOW_DIR}${file} exists`);
  return parsed;
}

const clone = <T>(value: T): T => structuredClone(value);
const needsOf = (job: Job): string[] => (job.needs === undefined ? [] : [job.needs].flat());
const triggers = (wf: Workflow): string[] =>
  typeof wf.on === "string" ? [wf.on] : Array.isArray(wf.on) ? wf.on : Object.keys(wf.on);
const stepLabel = (job: string, step: Step, index: number): string =>
  `${job}: ${step.name ?? step.id ?? step.uses ?? `step ${index + 1}`}`;

/** `uses: ./` steps: this action testing itself. */
const ownActionSteps = (job: Job): Step[] => (job.steps ?? []).filter((step) => step.uses === "./");
const actionMode = (job: Job): unknown => ownActionSteps(job)[0]?.with?.mode;

// ---- the rules ---------------------------------------------------------------------------------------------

const SHA_PIN = /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/;

/** Every `uses:` is a local action or pinned to a full commit sha with the version in a comment (for reviewers). */
function pinProblems(text: string): string[] {
  const problems: string[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    const match = /^\s*(?:-\s+)?uses:\s*(["']?)([^\s"'#]+)\1\s*(#.*)?$/.exec(line);
    if (!match) continue;
    const [, , target = "", comment = ""] = match;
    if (target.startsWith("./")) continue;
    if (!SHA_PIN.test(target)) problems.push(`line ${index + 1}: ${target} is not pinned to a 40-hex commit sha`);
    else if (!/^#\s*v\d+(\.\d+)*\b/.test(comment))
      problems.push(`line ${index + 1}: ${target} has no '# vX.Y.Z' comment`);
  }
  // A `uses:` the line scan missed (flow style, quoting) still shows up in the parsed file.
  const parsed = parse(text) as Workflow;
  for (const [name, job] of Object.entries(parsed.jobs ?? {})) {
    for (const uses of [job.uses, ...(job.steps ?? []).map((step) => step.uses)]) {
      if (uses !== undefined && !uses.startsWith("./") && !SHA_PIN.test(uses))
        problems.push(`${name}: ${uses} is not pinned to a commit sha`);
    }
  }
  return [...new Set(problems)];
}

/** Every action used in several places (workflows and action.yml) is pinned to one sha, so upgrades stay whole. */
function pinConsistencyProblems(texts: string[]): string[] {
  const shas = new Map<string, Set<string>>();
  for (const text of texts) {
    for (const match of text.matchAll(/uses:\s*["']?([\w.-]+\/[\w./-]+)@([0-9a-f]{40})/g)) {
      const [, action = "", sha = ""] = match;
      shas.set(action, (shas.get(action) ?? new Set()).add(sha));
    }
  }
  return [...shas]
    .filter(([, set]) => set.size > 1)
    .map(([action, set]) => `${action} is pinned to ${[...set].join(" and ")}`);
}

/** `${{ }}` inside `run:` is script injection waiting to happen: values reach scripts through `env:`. */
function expressionInRunProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  for (const [name, job] of Object.entries(wf.jobs)) {
    for (const [index, step] of (job.steps ?? []).entries()) {
      if (step.run?.includes("${{")) problems.push(`${stepLabel(name, step, index)} has \${{ }} in run:`);
    }
  }
  return problems;
}

/** The OIDC login actions of every registered cloud (each cloud's test folder names its own). */
const OIDC_LOGINS = await Promise.all(cloudNames().map(async (name) => (await casesOf(name)).oidcLogin));
const OIDC_ACTIONS = new RegExp(
  `^(${OIDC_LOGINS.map((action) => action.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")})@`,
);

/** Why a job may hold each write permission: a step that needs it. Anything else stays read-only. */
const WRITE_NEEDS: Record<string, (job: Job) => boolean> = {
  "id-token": (job) => (job.steps ?? []).some((step) => OIDC_ACTIONS.test(step.uses ?? "")),
  actions: (job) => actionMode(job) === "stop",
  contents: (job) => (job.steps ?? []).some((step) => /gh release create|git\/refs/.test(step.run ?? "")),
};

function isReadOnly(permissions: Permissions): boolean {
  if (typeof permissions === "string") return permissions === "read-all";
  return Object.values(permissions).every((level) => level === "read" || level === "none");
}

/** Every job declares its permissions or inherits read-only ones; every write is used; OIDC steps can get a token. */
function permissionProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  const inheritsReadOnly = wf.permissions !== undefined && isReadOnly(wf.permissions);
  for (const [name, job] of Object.entries(wf.jobs)) {
    if (job.permissions === undefined && !inheritsReadOnly)
      problems.push(`${name} neither declares permissions nor inherits read-only ones`);
    const effective = job.permissions ?? wf.permissions ?? {};
    if (typeof effective === "string") {
      if (effective !== "read-all") problems.push(`${name} has permissions: ${effective}`);
      continue;
    }
    for (const [scope, level] of Object.entries(effective)) {
      if (level !== "write") continue;
      const needed = WRITE_NEEDS[scope];
      if (!needed) problems.push(`${name} has ${scope}: write, which nothing here needs`);
      else if (!needed(job)) problems.push(`${name} has ${scope}: write but no step that uses it`);
    }
    if (WRITE_NEEDS["id-token"]?.(job) && effective["id-token"] !== "write")
      problems.push(`${name} uses OIDC without id-token: write`);
  }
  return problems;
}

/** Jobs that run steps have a timeout, checkouts leave no token behind, and fork code never gets secrets. */
function hygieneProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  for (const trigger of triggers(wf)) {
    if (trigger === "pull_request_target" || trigger === "workflow_run")
      problems.push(`triggered by ${trigger}, which runs with secrets for forks`);
  }
  if (!wf.concurrency) problems.push("no concurrency group");
  for (const [name, job] of Object.entries(wf.jobs)) {
    if (job.steps && typeof job["timeout-minutes"] !== "number") problems.push(`${name} has no timeout-minutes`);
    for (const step of job.steps ?? []) {
      if (step.uses?.startsWith("actions/checkout@") && step.with?.["persist-credentials"] !== false) {
        problems.push(`${name}: checkout without persist-credentials: false`);
      }
    }
  }
  return problems;
}

const FORK_GUARD =
  "github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository";
const STATE_ID_OF = (start: string) => `\${{ needs.${start}.outputs.state-id }}`;
const LABEL_OF = (start: string) => `\${{ needs.${start}.outputs.label }}`;

/** The self-test's start / GPU check / stop jobs, as the README teaches them and safer: guarded, gated, always torn down. */
function selfTestProblems(wf: Workflow, actionInputs: readonly string[]): string[] {
  const problems: string[] = [];
  const jobs = Object.entries(wf.jobs);
  const starts = jobs.filter(([, job]) => actionMode(job) === "start");
  if (starts.length === 0) problems.push("no job starts a runner with uses: ./");
  for (const [name, job] of jobs) {
    for (const step of ownActionSteps(job)) {
      for (const input of Object.keys(step.with ?? {})) {
        if (!actionInputs.includes(input)) problems.push(`${name}: '${input}' is not an input of action.yml`);
      }
      if (!String(step.with?.["github-token"] ?? "").startsWith("${{ secrets."))
        problems.push(`${name}: github-token does not come from a secret`);
    }
  }
  for (const [start, job] of starts) {
    if (!job.if?.includes(FORK_GUARD)) problems.push(`${start} is not guarded against forks at job level`);
    const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;
    if (environment !== "gpu-selftest") problems.push(`${start} does not wait in the gpu-selftest environment`);
    for (const output of ["label", "state-id"]) {
      if (!job.outputs?.[output]?.includes(`outputs.${output}`))
        problems.push(`${start} does not pass on the ${output} output`);
    }
    const followers = jobs.filter(([, other]) => needsOf(other).includes(start));
    const gpu = followers.filter(([, other]) => other["runs-on"] === LABEL_OF(start));
    if (gpu.length === 0) problems.push(`no job runs on the runner ${start} starts`);
    for (const [name, other] of gpu) {
      const runs = (other.steps ?? []).map((step) => step.run ?? "").join("\n");
      if (!/^nvidia-smi\b/m.test(runs)) problems.push(`${name} does not run nvidia-smi`);
      if (!/CUDA_ROUND_TRIP/.test(runs) || !/cuInit[\s\S]*cuDeviceGetCount/.test(wf.env?.CUDA_ROUND_TRIP ?? "")) {
        problems.push(`${name} does not run the CUDA driver check`);
      }
    }
    const stops = followers.filter(([, other]) => actionMode(other) === "stop");
    if (stops.length === 0) problems.push(`nothing stops what ${start} starts`);
    for (const [name, stop] of stops) {
      if (!stop.if?.includes("always()")) problems.push(`${name} does not run whatever happened (always())`);
      for (const [gpuName] of gpu)
        if (!needsOf(stop).includes(gpuName)) problems.push(`${name} may run before ${gpuName} is done`);
      if (stop.environment !== undefined)
        problems.push(`${name} waits for an environment: teardown must never wait for a reviewer`);
      if (ownActionSteps(stop)[0]?.with?.["state-id"] !== STATE_ID_OF(start))
        problems.push(`${name} does not stop ${start}'s state`);
    }
  }
  return problems;
}

/** The run: commands and the actions (without their pins) of a job, in order. */
const commands = (job: Job | undefined): string[] =>
  (job?.steps ?? [])
    .map((step) => step.run?.trim() ?? (step.uses ?? "").replace(/@.*/, ""))
    .filter((command) => command !== "");

/** The release tags only after the tests pass, and only from a job that is the only writer. */
function releaseProblems(wf: Workflow, ci: Workflow): string[] {
  const problems: string[] = [];
  const jobs = Object.entries(wf.jobs);
  const ciTest = Object.values(ci.jobs).find((job) => (job.steps ?? []).some((step) => step.run === "npm test"));
  const tests = jobs.filter(([, job]) => (job.steps ?? []).some((step) => step.run === "npm test"));
  if (tests.length === 0) problems.push("no job runs npm test");
  for (const [name, job] of tests) {
    if (JSON.stringify(commands(job)) !== JSON.stringify(commands(ciTest)))
      problems.push(`${name} does not run what ci.yml runs`);
  }
  const taggers = jobs.filter(([, job]) => WRITE_NEEDS.contents?.(job));
  if (taggers.length === 0) problems.push("no job tags the release");
  for (const [name, job] of taggers) {
    for (const [test] of tests) if (!needsOf(job).includes(test)) problems.push(`${name} tags without needing ${test}`);
  }
  const inputs = (wf.on as Record<string, { inputs?: Record<string, { required?: boolean }> } | null>).workflow_dispatch
    ?.inputs;
  if (!inputs?.version?.required) problems.push("no required version input on workflow_dispatch");
  return problems;
}

// ---- the files ---------------------------------------------------------------------------------------------

const action = readActionFile();
const ACTION_INPUTS = Object.keys(action.inputs);

describe("every workflow", () => {
  it("the directory holds ci, gpu-selftest and release", () => {
    for (const file of ["ci.yml", "gpu-selftest.yml", "release.yml"]) assert.ok(WORKFLOW_FILES.includes(file), file);
  });

  for (const file of WORKFLOW_FILES) {
    describe(file, () => {
      const text = TEXTS.get(file) ?? "";
      it("is valid for GitHub's workflow parser", () => assert.deepEqual(workflowErrors(text, file), []));
      it("pins every action to a commit sha, with its version in a comment", () =>
        assert.deepEqual(pinProblems(text), []));
      it("has no ${{ }} inside a run: block", () => assert.deepEqual(expressionInRunProblems(workflow(file)), []));
      it("gives each job only the permissions it uses", () => assert.deepEqual(permissionProblems(workflow(file)), []));
      it("has a concurrency group and job timeouts, and no fork-with-secrets trigger", () =>
        assert.deepEqual(hygieneProblems(workflow(file)), []));
    });
  }

  it("pins each action to the same sha everywhere, action.yml included", () => {
    assert.deepEqual(pinConsistencyProblems([...TEXTS.values(), read("action.yml")]), []);
  });
});

describe("ci.yml", () => {
  const ci = workflow("ci.yml");
  const job = Object.values(ci.jobs)[0];
  const step = (uses: string): Step | undefined => job?.steps?.find((s) => s.uses?.startsWith(`${uses}@`));

  it("runs on pushes to main and on every pull request, read-only", () => {
    const on = ci.on as Record<string, { branches?: string[] } | null>;
    assert.deepEqual(on.push?.branches, ["main"]);
    assert.ok("pull_request" in on);
    assert.deepEqual(ci.permissions, { contents: "read" });
  });

  it("cancels a superseded run of the same ref", () => {
    assert.ok(typeof ci.concurrency === "object" && ci.concurrency.group.includes("github.ref"));
    assert.equal(ci.concurrency["cancel-in-progress"], true);
  });

  it("runs the install and test commands of .ci/run and the README", () => {
    const runs = (job?.steps ?? []).map((s) => s.run?.trim());
    const ciRun = read(".ci/run")
      .split("\n")
      .filter((line) => line.startsWith("npm "));
    assert.deepEqual(ciRun.length, 2, ".ci/run has its npm ci and npm test lines");
    for (const command of ciRun) assert.ok(runs.includes(command), `ci.yml runs '${command}'`);
    assert.ok(runs.some((run) => run?.startsWith("npm ci")));
    assert.ok(runs.includes("npm test"));
    assert.match(read("README.md"), /npm ci && npm run review[\s\S]*\nnpm test\s/);
  });

  it("sets up node, terraform and shellcheck as the tests need them", () => {
    const engine = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
    assert.equal(`>=${step("actions/setup-node")?.with?.["node-version"]}`, engine);
    assert.deepEqual(step("hashicorp/setup-terraform")?.with, {
      terraform_version: "1.11.4",
      terraform_wrapper: false,
    });
    assert.ok(job?.steps?.some((s) => /apt-get install .*shellcheck/.test(s.run ?? "")));
  });

  it("uses no secret", () => assert.doesNotMatch(TEXTS.get("ci.yml") ?? "", /secrets\./));
});

describe("gpu-selftest.yml", () => {
  const selftest = workflow("gpu-selftest.yml");

  it("runs on demand, weekly, and for pull requests", () => {
    assert.deepEqual(triggers(selftest).sort(), ["pull_request", "schedule", "workflow_dispatch"]);
  });

  it("starts on every registered cloud, never for forks, each start behind the environment, each stopped always", () => {
    assert.deepEqual(selfTestProblems(selftest, ACTION_INPUTS), []);
    const clouds = Object.values(selftest.jobs)
      .filter((job) => actionMode(job) === "start")
      .map((job) => ownActionSteps(job)[0]?.with?.cloud);
    assert.deepEqual(clouds.sort(), cloudNames().sort());
  });

  it("gets cloud credentials through OIDC only", () => {
    const text = TEXTS.get("gpu-selftest.yml") ?? "";
    assert.doesNotMatch(text, /aws-access-key-id|aws-secret-access-key|credentials_json|\bcreds:|client-secret/);
    for (const job of Object.values(selftest.jobs)) {
      if (ownActionSteps(job).length > 0)
        assert.ok(WRITE_NEEDS["id-token"]?.(job), `${job.name} authenticates through OIDC`);
    }
  });

  it("its CUDA check is valid Python", (t) => {
    const python = spawnSync("python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"], {
      input: selftest.env?.CUDA_ROUND_TRIP ?? "",
    });
    if (python.error) return t.skip("python3 is not installed");
    assert.equal(python.status, 0, String(python.stderr));
  });
});

/** Runs a workflow step's script as GitHub's bash does (-e, pipefail), with only the given environment. */
function runStep(step: Step | undefined, env: Record<string, string>, cwd: string) {
  assert.ok(step?.run, "the step exists");
  const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8",
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("release.yml", () => {
  const release = workflow("release.yml");
  const steps = Object.values(release.jobs).flatMap((job) => job.steps ?? []);
  const named = (name: string): Step | undefined => steps.find((step) => step.name === name);
  const scratch = mkdtempSync(join(tmpdir(), "release-steps-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  writeFileSync(
    join(scratch, "CHANGELOG.md"),
    [
      "# Changelog",
      "## [Unreleased]",
      "## [1.3.0] - 2025-03-01",
      "## [1.2.3] - 2025-02-01",
      "### Fixed",
      "- the fix of 1.2.3",
      "## [1a2a4] - 2025-01-15",
      "- not a version: only an unescaped '.' would match it",
      "## [1.2.2] - 2025-01-01",
      "- older",
      "",
    ].join("\n"),
  );

  it("refuses to tag before the tests pass, and runs ci.yml's tests", () => {
    assert.deepEqual(releaseProblems(release, workflow("ci.yml")), []);
  });

  it("checks the version and the changelog before the tests run", () => {
    const checker = Object.entries(release.jobs).find(([, job]) =>
      (job.steps ?? []).some((step) => step.name === "Check the changelog"),
    );
    assert.ok(checker, "a job checks the changelog");
    assert.ok((checker[1].steps ?? []).some((step) => step.name === "Check the version"));
    for (const [name, job] of Object.entries(release.jobs)) {
      if (name !== checker[0]) assert.ok(needsOf(job).includes(checker[0]), `${name} needs ${checker[0]}`);
    }
  });

  const versions: [string, string, boolean][] = [
    ["v1.2.3", "refs/heads/main", true],
    ["v0.1.0", "refs/heads/main", true],
    ["v10.20.30", "refs/heads/releases/v10", true],
    ["1.2.3", "refs/heads/main", false],
    ["v1.2", "refs/heads/main", false],
    ["v1.2.3-rc.1", "refs/heads/main", false],
    ["v1.2.3 ", "refs/heads/main", false],
    ["v1.2.3\nv1.2.4", "refs/heads/main", false],
    ["v1.2.3; touch injected", "refs/heads/main", false],
    ["$(touch injected)", "refs/heads/main", false],
    ["v1.2.3", "refs/heads/feature", false],
    ["v1.2.3", "refs/tags/v1.2.3", false],
  ];
  for (const [version, ref, ok] of versions) {
    it(`the version check ${ok ? "accepts" : "refuses"} ${JSON.stringify(version)} on ${ref}`, () => {
      const result = runStep(
        named("Check the version"),
        { VERSION: version, GITHUB_REF: ref, GITHUB_SHA: "0".repeat(40) },
        scratch,
      );
      assert.equal(result.status === 0, ok, result.output);
      assert.equal(existsSync(join(scratch, "injected")), false, "the version is data, never code");
    });
  }

  const sections: [string, boolean][] = [
    ["v1.2.3", true],
    ["v1.2.2", true],
    ["v1.3.0", true],
    ["v1.2.4", false],
    ["v2.0.0", false],
  ];
  for (const [version, ok] of sections) {
    it(`the changelog check ${ok ? "finds" : "misses"} a section for ${version}`, () => {
      const result = runStep(named("Check the changelog"), { VERSION: version }, scratch);
      assert.equal(result.status === 0, ok, result.output);
    });
  }

  it("the release notes are the version's changelog section and nothing else", () => {
    const result = runStep(
      named("Release notes from the changelog"),
      { VERSION: "v1.2.3", RUNNER_TEMP: scratch },
      scratch,
    );
    assert.equal(result.status, 0, result.output);
    assert.equal(readFileSync(join(scratch, "release-notes.md"), "utf8"), "### Fixed\n- the fix of 1.2.3\n");
  });

  it("an empty changelog section stops the release", () => {
    const result = runStep(
      named("Release notes from the changelog"),
      { VERSION: "v1.3.0", RUNNER_TEMP: scratch },
      scratch,
    );
    assert.notEqual(result.status, 0);
  });
});

describe("dependabot.yml", () => {
  interface Update {
    "package-ecosystem": string;
    directory: string;
    schedule: { interval: string };
    "versioning-strategy"?: string;
    groups?: Record<string, { patterns: string[] }>;
    ignore?: { "dependency-name": string }[];
  }
  const config = parse(read(".github/dependabot.yml")) as { version: number; updates: Update[] };
  const packageJson = JSON.parse(read("package.json")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const dependencies = Object.keys({ ...packageJson.dependencies, ...packageJson.devDependencies });
  const update = (ecosystem: string) => config.updates.find((u) => u["package-ecosystem"] === ecosystem);

  it("is version 2", () => assert.equal(config.version, 2));

  for (const ecosystem of ["npm", "github-actions"]) {
    it(`updates ${ecosystem} weekly from the repository root`, () => {
      assert.equal(update(ecosystem)?.directory, "/");
      assert.equal(update(ecosystem)?.schedule.interval, "weekly");
    });
  }

  it("keeps exact npm pins exact", () => assert.equal(update("npm")?.["versioning-strategy"], "increase"));

  it("updates the cdktf family in one group", () => {
    assert.deepEqual(cdktfFamilyProblems(update("npm")?.groups ?? {}, dependencies), []);
  });

  it("ignores only dependencies that exist", () => {
    for (const rule of update("npm")?.ignore ?? [])
      assert.ok(dependencies.includes(rule["dependency-name"]), rule["dependency-name"]);
  });
});

const CDKTF_FAMILY = /^(cdktf|cdktf-cli|constructs|@cdktf\/.+)$/;

function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+?^${}()|[\]\\/]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${source}$`).test(name);
}

/** Every cdktf-family dependency falls in the same Dependabot group (bindings and cdktf must move together). */
function cdktfFamilyProblems(groups: Record<string, { patterns: string[] }>, dependencies: string[]): string[] {
  const family = dependencies.filter((name) => CDKTF_FAMILY.test(name));
  if (family.length === 0) return ["no cdktf dependency in package.json"];
  const groupOf = (name: string) =>
    Object.entries(groups).find(([, group]) => group.patterns.some((p) => globMatches(p, name)))?.[0];
  const found = new Set(family.map(groupOf));
  return found.size === 1 && !found.has(undefined) ? [] : [`the cdktf family falls in groups ${[...found].join(", ")}`];
}

interface FormElement {
  type: string;
  id?: string;
  attributes?: { label?: string; value?: string; options?: unknown[] };
  validations?: { required?: boolean };
}

interface IssueForm {
  name?: string;
  description?: string;
  body?: FormElement[];
}

const FORM_TYPES = ["markdown", "input", "textarea", "dropdown", "checkboxes"];

/** What GitHub requires of an issue form: name, description, a body of known elements with labels and unique ids. */
function issueFormProblems(form: IssueForm): string[] {
  const problems: string[] = [];
  for (const key of ["name", "description"] as const)
    if (typeof form[key] !== "string" || form[key] === "") problems.push(`no ${key}`);
  if (!Array.isArray(form.body) || form.body.length === 0) return [...problems, "no body"];
  const ids = new Set<string>();
  for (const [index, element] of form.body.entries()) {
    const where = `body[${index}]`;
    if (!FORM_TYPES.includes(element.type)) problems.push(`${where}: unknown type ${element.type}`);
    if (element.type === "markdown") {
      if (!element.attributes?.value) problems.push(`${where}: markdown without a value`);
      continue;
    }
    if (!element.attributes?.label) problems.push(`${where}: no label`);
    if (!element.id || !/^[a-z0-9_-]+$/.test(element.id) || ids.has(element.id))
      problems.push(`${where}: missing, malformed or repeated id`);
    if (element.id) ids.add(element.id);
    if ((element.type === "dropdown" || element.type === "checkboxes") && !element.attributes?.options?.length)
      problems.push(`${where}: no options`);
  }
  if (!form.body.some((element) => element.validations?.required)) problems.push("no required field");
  return problems;
}

describe("the cloud request issue form", () => {
  const form = parse(read(".github/ISSUE_TEMPLATE/cloud-request.yml")) as IssueForm;

  it("is a valid issue form", () => assert.deepEqual(issueFormProblems(form), []));

  it("asks for the cloud, its GPU machine types, OIDC, the terraform provider and who will contribute", () => {
    const ids = (form.body ?? []).map((element) => element.id);
    for (const id of ["cloud", "machine-types", "authentication", "terraform-provider", "contribute"])
      assert.ok(ids.includes(id), id);
  });
});

describe("the checks catch what they guard against", () => {
  const ci = () => clone(workflow("ci.yml"));
  const selftest = () => clone(workflow("gpu-selftest.yml"));
  const release = () => clone(workflow("release.yml"));
  const ciJob = (wf: Workflow): Job => Object.values(wf.jobs)[0]!;
  const startAws = (wf: Workflow): Job => wf.jobs["start-aws"]!;
  const stopAws = (wf: Workflow): Job => wf.jobs["stop-aws"]!;
  const selftestText = TEXTS.get("gpu-selftest.yml") ?? "";

  const cases: [string, () => string[]][] = [
    ["a broken workflow (parser)", () => workflowErrors((TEXTS.get("ci.yml") ?? "").replace("runs-on:", "runs-onn:"))],
    [
      "an action pinned to a tag",
      () => pinProblems(selftestText.replace(/configure-aws-credentials@[0-9a-f]{40}/, "configure-aws-credentials@v4")),
    ],
    [
      "a pinned sha without its version comment",
      () => pinProblems(selftestText.replace(/(checkout@[0-9a-f]{40}) # v[0-9.]+/, "$1")),
    ],
    [
      "an action pinned to two shas",
      () =>
        pinConsistencyProblems([
          selftestText,
          selftestText.replace(/checkout@[0-9a-f]{40}/, `checkout@${"a".repeat(40)}`),
        ]),
    ],
    [
      "an expression inside run:",
      () => {
        const wf = ci();
        ciJob(wf).steps?.push({ run: "echo ${{ github.head_ref }}" });
        return expressionInRunProblems(wf);
      },
    ],
    [
      "a job without permissions under a writable default",
      () => {
        const wf = ci();
        wf.permissions = "write-all";
        return permissionProblems(wf);
      },
    ],
    [
      "id-token: write with no OIDC step",
      () => {
        const wf = ci();
        ciJob(wf).permissions = { contents: "read", "id-token": "write" };
        return permissionProblems(wf);
      },
    ],
    [
      "actions: write on a start job",
      () => {
        const wf = selftest();
        startAws(wf).permissions = { contents: "read", "id-token": "write", actions: "write" };
        return permissionProblems(wf);
      },
    ],
    [
      "an OIDC step without id-token: write",
      () => {
        const wf = selftest();
        stopAws(wf).permissions = { contents: "read", actions: "write" };
        return permissionProblems(wf);
      },
    ],
    [
      "contents: write on the test job",
      () => {
        const wf = release();
        wf.jobs.test!.permissions = { contents: "write" };
        return permissionProblems(wf);
      },
    ],
    [
      "a pull_request_target trigger",
      () => {
        const wf = ci();
        wf.on = { pull_request_target: null };
        return hygieneProblems(wf);
      },
    ],
    [
      "a job without a timeout",
      () => {
        const wf = ci();
        delete ciJob(wf)["timeout-minutes"];
        return hygieneProblems(wf);
      },
    ],
    [
      "a checkout that keeps its token",
      () => {
        const wf = ci();
        const checkout = ciJob(wf).steps?.find((step) => step.uses?.startsWith("actions/checkout@"));
        if (checkout?.with) delete checkout.with["persist-credentials"];
        return hygieneProblems(wf);
      },
    ],
    [
      "a start job without the fork guard",
      () => {
        const wf = selftest();
        startAws(wf).if = "vars.AWS_ROLE_ARN != ''";
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "a start job outside the environment",
      () => {
        const wf = selftest();
        delete startAws(wf).environment;
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "a stop job that does not always run",
      () => {
        const wf = selftest();
        stopAws(wf).if = "success()";
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "a stop job that waits for a reviewer",
      () => {
        const wf = selftest();
        stopAws(wf).environment = "gpu-selftest";
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "an input action.yml does not have",
      () => {
        const wf = selftest();
        const step = ownActionSteps(startAws(wf))[0];
        if (step?.with) step.with.machine_type = "g5.xlarge";
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "a GPU job without the CUDA check",
      () => {
        const wf = selftest();
        delete wf.env?.CUDA_ROUND_TRIP;
        return selfTestProblems(wf, ACTION_INPUTS);
      },
    ],
    [
      "a tagging job that does not need the tests",
      () => {
        const wf = release();
        wf.jobs.release!.needs = ["check"];
        return releaseProblems(wf, workflow("ci.yml"));
      },
    ],
    [
      "release tests that differ from CI's",
      () => {
        const wf = release();
        wf.jobs.test!.steps = wf.jobs.test!.steps?.filter((step) => !step.run?.startsWith("npm ci"));
        return releaseProblems(wf, workflow("ci.yml"));
      },
    ],
    [
      "a cdktf package outside the group",
      () =>
        cdktfFamilyProblems({ cdktf: { patterns: ["cdktf", "@cdktf/*"] } }, [
          "cdktf",
          "@cdktf/provider-aws",
          "constructs",
        ]),
    ],
    ["an issue form without a body", () => issueFormProblems({ name: "x", description: "y" })],
    [
      "an issue form field without a label",
      () =>
        issueFormProblems({
          name: "x",
          description: "y",
          body: [{ type: "input", id: "a", validations: { required: true } }],
        }),
    ],
  ];

  for (const [name, problems] of cases) {
    it(name, () => assert.ok(problems().length > 0, "the check reports it"));
  }
});
