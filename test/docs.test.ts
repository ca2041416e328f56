// The documentation's workflows are copied into real repositories, so each one is held to what a user would find
// out the hard way: GitHub's own workflow parser, the inputs action.yml declares, the values the action's input
// parser accepts, and a stop job that runs whatever happened and can decrypt what its start encrypted. Each rule
// is a function returning its problems; the last table shows every rule catching a broken snippet.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import { parse, parseDocument } from "yaml";
import { startSummary, stopSummary } from "../scripts/phases/job-summary.ts";
import { POLL_INTERVAL_MS } from "../scripts/phases/wait-online.ts";
import { parseInputs } from "../scripts/settings/inputs.ts";
import { cloudNames } from "../stacks/clouds.ts";
import { bundleKey } from "../stacks/state-store.ts";
import { readActionFile, workflowErrors } from "./kit/action-file.ts";
import { AWS_START, FAKE_TOKEN, inputEnv } from "./kit/env.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), "utf8");

const DOC_PAGES = readdirSync(new URL("docs/", ROOT))
  .filter((file) => file.endsWith(".md"))
  .sort()
  .map((file) => `docs/${file}`);
const DOC_FILES = ["README.md", ...DOC_PAGES];
const TEXTS = new Map(DOC_FILES.map((file) => [file, read(file)]));
const ACTION_INPUTS = new Set(Object.keys(readActionFile().inputs));

// ---- markdown ----------------------------------------------------------------------------------------------

interface Fence {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
}

/** Fenced code blocks, indented ones (inside list items) included, with the indentation removed. */
function fences(markdown: string, file: string): Fence[] {
  const found: Fence[] = [];
  let open: { indent: number; marker: string; lang: string; line: number; lines: string[] } | undefined;
  for (const [index, line] of markdown.split("\n").entries()) {
    if (open === undefined) {
      const start = /^( *)(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
      if (start) open = { indent: start[1]!.length, marker: start[2]!, lang: start[3]!, line: index + 1, lines: [] };
    } else if (line.trim() === open.marker) {
      found.push({ file, line: open.line, lang: open.lang, body: `${open.lines.join("\n")}\n` });
      open = undefined;
    } else {
      open.lines.push(line.slice(Math.min(open.indent, line.length - line.trimStart().length)));
    }
  }
  return found;
}

/** The markdown with code blocks and inline code blanked out, so that links and headings inside them are ignored. */
function prose(markdown: string): string {
  let inFence = false;
  return markdown
    .split("\n")
    .map((line) => {
      if (/^ *(`{3,}|~{3,})/.test(line)) {
        inFence = !inFence;
        return "";
      }
      return inFence ? "" : line.replace(/`[^`]*`/g, "``");
    })
    .join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(markdown: string): Set<string> {
  let inFence = false;
  const found = new Set<string>();
  for (const line of markdown.split("\n")) {
    if (/^ *(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) found.add(slug(heading[1]!));
  }
  return found;
}

/** Relative links that point at nothing: a missing file, or a heading the target page does not have. */
function linkProblems(markdown: string, file: string, readTarget: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const base = new URL(file, "file:///repo/");
  for (const match of prose(markdown).matchAll(/(?<!!)\[[^\]]*\]\(([^)\s]+)\)/g)) {
    const target = match[1]!;
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    const [path = "", anchor] = target.split("#");
    const resolved = path === "" ? file : new URL(path, base).pathname.replace(/^\/repo\//, "");
    const text = readTarget(resolved);
    if (text === undefined) {
      problems.push(`${target}: ${resolved} does not exist`);
    } else if (anchor !== undefined && resolved.endsWith(".md") && !anchors(text).has(anchor)) {
      problems.push(`${target}: ${resolved} has no heading #${anchor}`);
    }
  }
  return problems;
}

function readRepoFile(path: string): string | undefined {
  const url = new URL(path, ROOT);
  if (!existsSync(url)) return undefined;
  if (statSync(url).isDirectory()) return "";
  return TEXTS.get(path) ?? readFileSync(url, "utf8");
}

// ---- workflows as data -------------------------------------------------------------------------------------

type With = Record<string, unknown>;

interface Step {
  id?: string;
  uses?: string;
  with?: With;
}

interface Job {
  if?: string;
  permissions?: unknown;
  needs?: string | string[];
  environment?: string | { name: string };
  outputs?: Record<string, string>;
  "runs-on"?: unknown;
  steps?: Step[];
}

interface Workflow {
  on?: string | string[] | Record<string, unknown>;
  permissions?: unknown;
  jobs?: Record<string, Job>;
}

/** A step of this action: the published name in the docs, or `./` in this repository's own workflows. */
const isThisAction = (uses: unknown): boolean =>
  typeof uses === "string" && (uses === "./" || uses.startsWith("OWNER/REPO@"));
const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isWorkflowText = (body: string): boolean => /^jobs:/m.test(body);
const needsOf = (job: Job): string[] => (job.needs === undefined ? [] : [job.needs].flat());
const triggers = (wf: Workflow): string[] =>
  wf.on === undefined ? [] : typeof wf.on === "string" ? [wf.on] : Array.isArray(wf.on) ? wf.on : Object.keys(wf.on);
const modeOf = (step: Step): unknown => step.with?.mode;
const thisActionSteps = (job: Job): Step[] => (job.steps ?? []).filter((step) => isThisAction(step.uses));

/**
 * Every use of this action in a YAML snippet: maps whose `uses:` names it, anywhere. By the docs' convention a
 * snippet that is only a `with:` map (no `uses:`) is this action's inputs too.
 */
function actionStepsIn(value: unknown, top = true): Step[] {
  if (Array.isArray(value)) return value.flatMap((item) => actionStepsIn(item, false));
  if (!isMap(value)) return [];
  if (isThisAction(value.uses)) return [value as Step];
  if (top && value.uses === undefined && isMap(value.with) && Object.keys(value).length === 1)
    return [{ with: value.with }];
  return Object.values(value).flatMap((item) => actionStepsIn(item, false));
}

// ---- the rules ---------------------------------------------------------------------------------------------

function yamlProblems(body: string): string[] {
  return parseDocument(body).errors.map((error) => error.message);
}

/** Inputs this action does not declare: GitHub only warns about them, and the step runs without the setting. */
function inputNameProblems(steps: Step[]): string[] {
  return steps.flatMap((step) =>
    Object.keys(step.with ?? {})
      .filter((input) => !ACTION_INPUTS.has(input))
      .map((input) => `'${input}' is not an input of action.yml`),
  );
}

const GCP_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580";

/** What an expression stands for when the action's parser checks a snippet; any other expression is a problem. */
const PLACEHOLDERS: Readonly<Record<string, (cloud: string) => string>> = {
  "github-token": () => FAKE_TOKEN,
  "state-passphrase": () => "a-test-state-passphrase",
  "state-id": () => "gpu-123456789-1-0a1b2c3d",
  image: (cloud) => (cloud === "gcp" ? GCP_IMAGE : "ami-0123456789abcdef0"),
};

/** Each use that names a mode goes through the action's own input parser, as configure-aws-credentials / auth leave the environment. */
function inputValueProblems(steps: Step[]): string[] {
  const problems: string[] = [];
  for (const step of steps) {
    if (modeOf(step) === undefined) continue;
    const given = step.with ?? {};
    const cloud = String(given.cloud ?? "aws");
    const inputs: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
      const text = String(value);
      if (!text.includes("${{")) {
        inputs[name] = text;
        continue;
      }
      const placeholder = PLACEHOLDERS[name];
      if (placeholder) inputs[name] = placeholder(cloud);
      else
        problems.push(
          `'${name}: ${text}' is an expression the check cannot stand in for: write the value, or add a placeholder`,
        );
    }
    try {
      parseInputs(inputEnv(inputs, { AWS_REGION: "us-east-1", GOOGLE_CLOUD_PROJECT: "my-project" }));
    } catch (error) {
      problems.push(`mode ${String(modeOf(step))}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** The key of the state encryption as a workflow writes it: state-passphrase, else the github-token. */
const stateKey = (step: Step): string => String(step.with?.["state-passphrase"] ?? step.with?.["github-token"] ?? "");

/**
 * Every start is torn down: a stop job that needs the start and every job on its label, runs `if: ${{ always() ...`,
 * stops the start's state id with the same key, and the label reaches runs-on.
 */
function pairingProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  const jobs = Object.entries(wf.jobs ?? {});
  for (const [name, job] of jobs) {
    const start = thisActionSteps(job).find((step) => modeOf(step) === "start");
    if (!start) continue;
    for (const output of ["label", "state-id"]) {
      if (!job.outputs?.[output]?.includes(`steps.${start.id}.outputs.${output}`))
        problems.push(`${name} does not pass on the ${output} output of its start step`);
    }
    const users = jobs
      .filter(([, other]) => other["runs-on"] === `\${{ needs.${name}.outputs.label }}`)
      .map(([user]) => user);
    if (users.length === 0) problems.push(`no job runs on the label of ${name}`);
    const stops = jobs.filter(([, other]) =>
      thisActionSteps(other).some(
        (step) => modeOf(step) === "stop" && step.with?.["state-id"] === `\${{ needs.${name}.outputs.state-id }}`,
      ),
    );
    if (stops.length === 0) problems.push(`no stop job stops the state of ${name}`);
    for (const [stopName, stop] of stops) {
      if (!(stop.if ?? "").trim().startsWith("${{ always()"))
        problems.push(`${stopName} does not run if: \${{ always() ... }}`);
      for (const needed of [name, ...users]) {
        if (!needsOf(stop).includes(needed))
          problems.push(`${stopName} does not need ${needed}, so it may tear down before it ends`);
      }
      const stopStep = thisActionSteps(stop).find((step) => modeOf(step) === "stop")!;
      if (stateKey(stopStep) !== stateKey(start))
        problems.push(
          `${stopStep.with?.["state-passphrase"] ? "state-passphrase" : "github-token"} of ${stopName} differs from ${name}'s: stop cannot decrypt the state`,
        );
      else if (stateKey(start).includes("steps."))
        problems.push(
          `${name} encrypts with a token made in its own job: set the same state-passphrase in start and stop`,
        );
    }
  }
  return problems;
}

/** The `actions` scope a job's GITHUB_TOKEN gets: its own permissions block, else the workflow's. */
function actionsPermission(wf: Workflow, job: Job): string {
  const block = job.permissions ?? wf.permissions;
  if (block === "write-all") return "write";
  if (block === undefined) return "default"; // the repository's default, which may be read-only
  return isMap(block) ? String(block.actions ?? "none") : "none";
}

/**
 * One stop job pattern everywhere. The stop job's own GITHUB_TOKEN lists the run's jobs and deletes the state
 * artifact (scripts/phases/stop.ts: without `actions: write` it warns on every run), so every job with a stop step
 * says `actions: write`; one that stops a start of the same workflow runs
 * `if: ${{ always() && needs.<start>.outputs.state-id != '' }}`: after failures and cancellations, once the start
 * named its state (it sets that output first), and not when the start was skipped.
 */
function stopPatternProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  for (const [name, job] of Object.entries(wf.jobs ?? {})) {
    const stop = thisActionSteps(job).find((step) => modeOf(step) === "stop");
    if (!stop) continue;
    const actions = actionsPermission(wf, job);
    if (actions !== "write")
      problems.push(
        `${name} gives its GITHUB_TOKEN actions: ${actions}, not write: stop warns that it cannot delete the state artifact`,
      );
    const start = /^\$\{\{ needs\.([\w-]+)\.outputs\.state-id \}\}$/.exec(String(stop.with?.["state-id"] ?? ""))?.[1];
    if (start === undefined) continue;
    const expected = `\${{ always() && needs.${start}.outputs.state-id != '' }}`;
    if ((job.if ?? "").trim() !== expected) problems.push(`${name} runs if: ${job.if ?? "(none)"}, not ${expected}`);
  }
  return problems;
}

const FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository";

/** A start for pull requests skips forks at job level; one for pull_request_target waits in an environment. */
function forkProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  const on = triggers(wf);
  for (const [name, job] of Object.entries(wf.jobs ?? {})) {
    if (!thisActionSteps(job).some((step) => modeOf(step) === "start")) continue;
    if (on.includes("pull_request") && !(job.if ?? "").includes(FORK_GUARD))
      problems.push(`${name} runs for pull_request without the fork guard in its if:`);
    if (on.includes("pull_request_target") && job.environment === undefined)
      problems.push(`${name} runs for pull_request_target outside an environment with reviewers`);
  }
  return problems;
}

function jsonProblems(body: string): string[] {
  try {
    JSON.parse(body);
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** Every problem a YAML fence has, by rule. */
function yamlFenceProblems(body: string, name = "snippet.yml"): Record<string, string[]> {
  const syntax = yamlProblems(body);
  if (syntax.length > 0) return { syntax };
  const parsed: unknown = parse(body);
  const steps = actionStepsIn(parsed);
  const result: Record<string, string[]> = {
    syntax,
    names: inputNameProblems(steps),
    values: inputValueProblems(steps),
  };
  if (isWorkflowText(body)) {
    result.parser = workflowErrors(body, name);
    result.pairing = pairingProblems(parsed as Workflow);
    result.forks = forkProblems(parsed as Workflow);
    result.stop = stopPatternProblems(parsed as Workflow);
  }
  return result;
}

// ---- the docs ----------------------------------------------------------------------------------------------

const ALL_FENCES = DOC_FILES.flatMap((file) => fences(TEXTS.get(file)!, file));
const YAML_FENCES = ALL_FENCES.filter((fence) => fence.lang === "yaml" || fence.lang === "yml");
const JSON_FENCES = ALL_FENCES.filter((fence) => fence.lang === "json");
const label = (fence: Fence): string => `${fence.file}:${fence.line}`;

describe("documentation snippets", () => {
  it("finds the workflows and policies it checks (so the checks below cannot pass on nothing)", () => {
    const workflows = YAML_FENCES.filter((fence) => isWorkflowText(fence.body));
    assert.ok(workflows.length >= 8, `found ${workflows.length} workflows`);
    for (const page of [
      ...cloudNames().map((name) => `docs/${name}.md`),
      "docs/tokens.md",
      "docs/fork-safety.md",
      "docs/limits.md",
    ]) {
      assert.ok(
        workflows.some((fence) => fence.file === page),
        `${page} has a complete workflow`,
      );
    }
    assert.ok(JSON_FENCES.length >= 5, `found ${JSON_FENCES.length} JSON blocks`);
    const partial = YAML_FENCES.filter((fence) => !isWorkflowText(fence.body));
    assert.ok(
      partial.some((fence) => actionStepsIn(parse(fence.body)).length > 0),
      "a partial snippet uses the action",
    );
  });

  for (const fence of YAML_FENCES) {
    const kind = isWorkflowText(fence.body) ? "workflow" : "snippet";
    describe(`${label(fence)} (${kind})`, () => {
      const problems = yamlFenceProblems(fence.body, `${fence.file.replace(/\W+/g, "-")}-${fence.line}.yml`);
      for (const [rule, found] of Object.entries(problems)) {
        it(rule, () => assert.deepEqual(found, []));
      }
    });
  }

  for (const fence of JSON_FENCES) {
    it(`${label(fence)} (json) parses`, () => assert.deepEqual(jsonProblems(fence.body), []));
  }
});

describe("documentation pages", () => {
  for (const file of DOC_PAGES) {
    it(`${file}: every relative link and anchor resolves`, () => {
      assert.deepEqual(linkProblems(TEXTS.get(file)!, file, readRepoFile), []);
    });
  }

  it("README.md: its links into docs/ resolve", () => {
    const docsLinks = [...(TEXTS.get("README.md") ?? "").matchAll(/\]\((docs\/[^)\s]*)\)/g)]
      .map((m) => `[x](${m[1]})`)
      .join("\n");
    assert.ok(docsLinks.length > 0, "the README links the docs");
    assert.deepEqual(linkProblems(docsLinks, "README.md", readRepoFile), []);
  });

  it("docs/README.md indexes every page", () => {
    const index = TEXTS.get("docs/README.md") ?? "";
    const missing = DOC_PAGES.filter(
      (page) => page !== "docs/README.md" && !index.includes(`](${page.slice("docs/".length)})`),
    );
    assert.deepEqual(missing, []);
  });
});

// ---- each rule can fail ------------------------------------------------------------------------------------

/** aws.md's complete workflow (section 8), not its first-run one: the mutations below edit its lines. */
const AWS_WORKFLOW =
  YAML_FENCES.find(
    (fence) => fence.file === "docs/aws.md" && isWorkflowText(fence.body) && fence.body.includes("state-backend: s3"),
  )?.body ?? "";
const FORK_WORKFLOW =
  YAML_FENCES.find((fence) => fence.file === "docs/fork-safety.md" && isWorkflowText(fence.body))?.body ?? "";
const WITH_ONLY = YAML_FENCES.find((fence) => /^with:/.test(fence.body))?.body ?? "";

interface Mutation {
  name: string;
  original: string;
  mutate: (text: string) => string;
  rule: string;
}

const MUTATIONS: Mutation[] = [
  {
    name: "an input renamed",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("machine-type:", "instance-type:"),
    rule: "names",
  },
  {
    name: "an input renamed in a with: block",
    original: WITH_ONLY,
    mutate: (t) => t.replace("max-lifetime:", "max-lifetime-minutes:"),
    rule: "names",
  },
  {
    name: "a value the action refuses",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("machine-type: g5.xlarge,g4dn.xlarge", "machine-type: g5 xlarge"),
    rule: "values",
  },
  {
    name: "a Google Cloud disk type on an AWS start",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("spot: true", "spot: true\n          disk-type: pd-ssd"),
    rule: "values",
  },
  {
    name: "a GPU AWS does not offer",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("spot: true", "spot: true\n          accelerator: p100"),
    rule: "values",
  },
  {
    name: "an expression with no stand-in",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("machine-type: g5.xlarge,g4dn.xlarge", "machine-type: ${{ vars.TYPE }}"),
    rule: "values",
  },
  {
    name: "a misspelt job key",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("runs-on: ubuntu-latest", "runs-onn: ubuntu-latest"),
    rule: "parser",
  },
  {
    name: "a stop without always()",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("if: ${{ always() && ", "if: ${{ "),
    rule: "pairing",
  },
  {
    name: "a stop that does not wait for the GPU job",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("needs: [start-runner, gpu-tests]", "needs: start-runner"),
    rule: "pairing",
  },
  {
    name: "a stop with another token",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace(/(mode: stop[\s\S]*?github-token: \$\{\{ secrets\.)RUNNER_ADMIN_TOKEN/, "$1OTHER_TOKEN"),
    rule: "pairing",
  },
  {
    name: "no stop job at all",
    original: AWS_WORKFLOW,
    mutate: (t) => t.slice(0, t.indexOf("  stop-runner:")),
    rule: "pairing",
  },
  {
    name: "the start's state-id not passed on",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("state-id: ${{ steps.gpu.outputs.state-id }}", "state-id: gpu"),
    rule: "pairing",
  },
  {
    name: "no fork guard for pull_request",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace(/ {4}if: github\.event_name.*\n/, ""),
    rule: "forks",
  },
  {
    name: "pull_request_target outside an environment",
    original: FORK_WORKFLOW,
    mutate: (t) => t.replace("environment: gpu-fork-review", ""),
    rule: "forks",
  },
  {
    name: "a stop job without actions: write",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace(/ +actions: write.*\n/, ""),
    rule: "stop",
  },
  {
    name: "a stop job that runs when start was skipped",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("always() && needs.start-runner.outputs.state-id != ''", "always()"),
    rule: "stop",
  },
  {
    name: "broken YAML",
    original: AWS_WORKFLOW,
    mutate: (t) => t.replace("permissions: {}", "permissions: {"),
    rule: "syntax",
  },
];

describe("each documentation rule catches a broken snippet", () => {
  for (const mutation of MUTATIONS) {
    it(`${mutation.name} (${mutation.rule})`, () => {
      assert.ok(mutation.original.length > 0, "the snippet to mutate exists");
      assert.deepEqual(
        yamlFenceProblems(mutation.original)[mutation.rule] ?? [],
        [],
        "the snippet passes before the change",
      );
      const mutated = mutation.mutate(mutation.original);
      assert.notEqual(mutated, mutation.original, "the mutation changed the snippet");
      const found = yamlFenceProblems(mutated)[mutation.rule] ?? [];
      assert.ok(found.length > 0, `the ${mutation.rule} rule reported nothing`);
    });
  }

  it("an App token made in each job, without a shared state-passphrase (pairing)", () => {
    const tokens =
      YAML_FENCES.find((fence) => fence.file === "docs/tokens.md" && isWorkflowText(fence.body))?.body ?? "";
    assert.deepEqual(yamlFenceProblems(tokens).pairing, []);
    const mutated = tokens.replace(/ +state-passphrase: .*\n/g, "");
    assert.notEqual(mutated, tokens);
    assert.ok((yamlFenceProblems(mutated).pairing ?? []).some((p) => /state-passphrase/.test(p)));
  });

  it("a JSON block with a trailing comma (json)", () => {
    assert.ok(jsonProblems('{ "Version": "2012-10-17", }').length > 0);
  });

  it("a link to a missing page, and to a missing heading (links)", () => {
    assert.deepEqual(linkProblems("[ok](aws.md#1-the-oidc-identity-provider)", "docs/x.md", readRepoFile), []);
    assert.equal(linkProblems("[gone](nope.md)", "docs/x.md", readRepoFile).length, 1);
    assert.equal(linkProblems("[gone](aws.md#no-such-heading)", "docs/x.md", readRepoFile).length, 1);
    assert.deepEqual(linkProblems("`[in code](nope.md)`", "docs/x.md", readRepoFile), []);
  });
});

// ---- facts the prose states: the numbers and names the code decides -------------------------------------------

const doc = (file: string): string => TEXTS.get(file) ?? "";

/** Whether the action's parser accepts a start with these inputs on top of a valid AWS start. */
function accepts(inputs: Record<string, string>): boolean {
  try {
    parseInputs(inputEnv({ ...AWS_START, ...inputs }));
    return true;
  } catch {
    return false;
  }
}

/** The largest n in [low, high] for which accepts(n), where every smaller n is accepted too. */
function largestAccepted(low: number, high: number, ok: (n: number) => boolean): number {
  assert.ok(ok(low) && !ok(high), `the limit lies between ${low} and ${high}`);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (ok(mid)) low = mid;
    else high = mid;
  }
  return low;
}

describe("documentation facts agree with the code", () => {
  it("the pre-runner-script limit the docs give is the one the parser enforces", () => {
    const max = largestAccepted(1, 1 << 20, (n) => accepts({ "pre-runner-script": "x".repeat(n) }));
    for (const file of ["README.md", "docs/limits.md"]) {
      const stated = /`pre-runner-script`[^.]*?at most (\d+) bytes/s.exec(doc(file))?.[1];
      assert.equal(Number(stated), max, `${file} states ${stated} bytes`);
    }
  });

  it("the state-passphrase minimum the docs give is the one the parser enforces", () => {
    // An empty passphrase is accepted (the github-token is the key): the search starts at one character.
    const min = largestAccepted(1, 256, (n) => !accepts({ "state-passphrase": "p".repeat(n) })) + 1;
    for (const file of ["README.md", "docs/tokens.md"]) {
      const stated = /at least (\d+) characters/.exec(doc(file))?.[1];
      assert.equal(Number(stated), min, `${file} states ${stated} characters`);
    }
  });

  it("migration.md gives start's polling interval (POLL_INTERVAL_MS)", () => {
    const every = POLL_INTERVAL_MS === 1000 ? "every second" : `every ${POLL_INTERVAL_MS / 1000} seconds`;
    assert.match(doc("docs/migration.md"), new RegExp(`start polls GitHub ${every}`));
  });

  it("limits.md counts the clouds the registry has", () => {
    const words = ["no", "one", "two", "three", "four", "five", "six"];
    const stated = /\*\*(\w+) clouds\*\*/i.exec(doc("docs/limits.md"))?.[1]?.toLowerCase();
    assert.equal(stated, words[cloudNames().length]);
  });

  it("the state in a bucket is the one encrypted object the stores write, with no Terraform backend", () => {
    assert.equal(bundleKey({ bucket: "b", prefix: "gpu-runner" }, "<state-id>"), "gpu-runner/<state-id>.bin");
    for (const file of ["docs/aws.md", "docs/gcp.md"]) assert.match(doc(file), /`gpu-runner\/<state-id>\.bin`/, file);
    for (const [file, body] of TEXTS) {
      assert.doesNotMatch(
        body,
        /\.tfstate|tflock|use_lockfile/,
        `${file} describes a Terraform backend the code does not use`,
      );
      assert.doesNotMatch(
        body,
        /artifact (still|then only) carries/,
        `${file}: with a bucket, no artifact is uploaded`,
      );
    }
  });

  it("costs.md counts the stop summary from before apply, and covers every cloud", () => {
    const costs = doc("docs/costs.md");
    assert.doesNotMatch(costs, /counts from the end of the start/);
    assert.match(costs, /counts from just before start's `terraform apply`/);
    assert.match(costs, /Azure pay-as-you-go/);
  });

  it("costs.md quotes the tables the start and stop summaries write", () => {
    const label = "gpu-9876543210-1-0a1b2c3d";
    const start = startSummary({
      label,
      runners: [{ name: `${label}-0`, id: 1, machineId: "i-0123456789abcdef0" }],
      machine: { machineType: "g4dn.xlarge", location: "us-east-1", image: "ami-0123456789abcdef0" },
      gpusPerMachine: 1,
      gpuCheck: "1 per machine",
      maxLifetimeMinutes: 360,
      usdPerHour: 0.526,
      pricesAsOf: "2026-09",
    });
    const stop = stopSummary({
      label,
      machineCount: 1,
      machine: { type: "g4dn.xlarge", location: "us-east-1", usdPerHour: 0.526, pricesAsOf: "2026-09" },
      startedAt: "2026-09-01T10:00:00Z",
      stoppedAt: new Date("2026-09-01T10:26:00Z"),
      machines: [`${label}-0`],
    });
    const quoted = new Set(doc("docs/costs.md").split("\n"));
    const tableLines = `${start}${stop}`.split("\n").filter((line) => line.startsWith("|"));
    assert.ok(tableLines.length >= 6, "both summaries have a table");
    assert.deepEqual(
      tableLines.filter((line) => !quoted.has(`> ${line}`)),
      [],
    );
  });

  it("sweep.md sweeps every cloud, with the accounts each cloud's page creates", () => {
    const sweep = YAML_FENCES.filter((fence) => fence.file === "docs/sweep.md" && isWorkflowText(fence.body));
    const swept = sweep.flatMap((fence) => actionStepsIn(parse(fence.body))).map((step) => String(step.with?.cloud));
    assert.deepEqual([...new Set(swept)].sort(), [...cloudNames()].sort());
    const identity = /(role-to-assume|workload_identity_provider|service_account|client-id): (\S+)/g;
    for (const fence of sweep) {
      for (const [, key, value] of fence.body.matchAll(identity)) {
        const page = key === "role-to-assume" ? "docs/aws.md" : key === "client-id" ? "docs/azure.md" : "docs/gcp.md";
        assert.ok(doc(page).includes(value!), `${key}: ${value} is not in ${page}`);
      }
    }
  });

  it("aws.md's first run creates the reference's stop trust and start policy (less the instance-profile statement)", () => {
    const aws = doc("docs/aws.md");
    const shell = fences(aws, "docs/aws.md").find(
      (fence) => fence.lang === "sh" && fence.body.includes("cat > policy.json"),
    );
    assert.ok(shell, "the first run's shell block");
    const files = new Map(
      [...shell.body.matchAll(/^cat > ([\w.-]+) <<'?EOF'?\n([\s\S]*?)^EOF$/gm)].map(([, name, body]) => [
        name!,
        JSON.parse(body!.replaceAll("${ACCOUNT}", "123456789012").replaceAll("${REPO}", "my-org/my-repo")),
      ]),
    );
    /** The JSON block that follows the first mention of `name` in the reference. */
    const reference = (name: string): { Statement: { Sid?: string }[] } => {
      const from = aws.indexOf(`\`${name}\``, aws.indexOf("## The full setup"));
      return JSON.parse(/```json\n([\s\S]*?)```/.exec(aws.slice(from))?.[1] ?? "");
    };
    assert.deepEqual(files.get("trust.json"), reference("trust-stop.json"));
    const start = reference("policy-start.json");
    start.Statement = start.Statement.filter((statement) => statement.Sid !== "PassInstanceProfileRole");
    assert.deepEqual(files.get("policy.json"), start);
  });

  it("tokens.md: its table and its steps agree that the github-token needs no Actions permission", () => {
    const tokens = doc("docs/tokens.md");
    assert.match(tokens, /\| Repository: \*\*Actions\*\* \| not needed \|/);
    assert.doesNotMatch(tokens, /\*\*Actions: Read and write\*\*|permission-actions:/);
  });
});
