// The action.yml driver (test/kit/local-github/action-runner.ts) behaves as GitHub's runner does where the action
// depends on it (the inputs context toJSON(inputs) writes included), refuses what it does not understand, and shows
// a broken inputs variable in action.yml failing clearly.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { decodeInputs } from "../stacks/input-reader.ts";
import { INPUTS_VARIABLE } from "../stacks/names.ts";
import {
  ACTION_ROOT,
  type ActionDefinition,
  type ArtifactStore,
  createWorld,
  evaluate,
  evaluateCondition,
  ExpressionError,
  explain,
  HarnessError,
  interpolate,
  type LocalWorld,
  parseFileCommand,
  runAction,
  step,
} from "./kit/action-harness.ts";

const ctx = (failed = false) => ({
  contexts: {
    inputs: { mode: "start", "state-id": "", count: "2" },
    steps: {
      main: { outputs: { "state-id": "gpu-1-1-0a1b2c3d", empty: "" }, outcome: "success", conclusion: "success" },
      terraform: { outputs: { install: "false" } },
    },
    github: { action_path: "/a" },
    runner: { temp: "/t" },
  },
  status: { failed, cancelled: false },
});

describe("expressions", () => {
  const conditions: [string | undefined, boolean, boolean][] = [
    // condition, after a failure?, runs?
    [undefined, false, true],
    [undefined, true, false],
    ["always()", true, true],
    ["inputs.mode == 'start'", false, true],
    ["inputs.mode == 'START'", false, true], // strings compare case-insensitively
    ["inputs.mode == 'stop'", false, false],
    ["inputs.mode == 'start'", true, false], // implicit success() &&
    ["${{ inputs.mode == 'start' }}", false, true],
    ["inputs.mode == 'stop' && inputs.state-id != ''", false, false],
    ["steps.main.outputs.state-id != ''", false, true],
    ["steps.main.outputs.missing != ''", false, false], // a missing output is null, and null == ''
    ["steps.main.outputs.empty != ''", false, false],
    ["steps.terraform.outputs.install == 'true'", false, false],
    ["always() && inputs.mode == 'start' && steps.main.outputs.state-id != ''", true, true],
    ["failure()", true, true],
    ["failure()", false, false],
    ["!(inputs.mode == 'stop') || inputs.count == 2", false, true], // '2' == 2 compares as numbers
    ["inputs['state-id'] == ''", false, true],
    ["inputs.mode == 'stop' || failure()", true, true], // a status function anywhere: no implicit success()
    ["cancelled()", true, false],
  ];
  for (const [condition, failed, runs] of conditions) {
    it(`if: ${condition ?? "(none)"}${failed ? " after a failure" : ""} -> ${runs ? "runs" : "skipped"}`, () => {
      assert.equal(evaluateCondition(condition, ctx(failed)), runs);
    });
  }

  it("interpolates ${{ }} into text: null as '', booleans and numbers as text", () => {
    assert.equal(
      interpolate("x-${{ inputs.count }}-${{ inputs.nope-not-there }}-${{ inputs.count == '2' }}", ctx()),
      "x-2--true",
    );
    assert.equal(interpolate("${{ '}}' }}", ctx()), "}}");
    assert.equal(evaluate("github.action_path", ctx()), "/a");
  });

  // GitHub's documented semantics: mixed types compare as numbers (null and '' -> 0, true -> 1, a string parsed as a
  // JSON number, else NaN, which equals nothing), two strings compare as strings ignoring case, objects by identity.
  const values: [string, unknown][] = [
    ["'1' == 1", true],
    ["null == ''", true],
    ["'' == 0", true],
    ["true == 1", true],
    ["'true' == true", false], // 'true' is NaN as a number: why action.yml compares outputs with == 'true'
    ["'a' == 1", false],
    ["inputs.count > 10", false], // '2' -> 2
    ["inputs.count > '10'", true], // two strings: '2' > '10'
    ["fromJSON('[]') == fromJSON('[]')", false],
    ["inputs.count && inputs.mode", "start"], // && and || return an operand
    ["inputs.state-id || 'none'", "none"],
    ["contains(inputs.mode, 'TAR')", true], // the library's own functions, as GitHub evaluates them
    ["format('{0}-{1}', inputs.mode, 1)", "start-1"],
    ["fromJSON('[1,2]')[1]", 2],
  ];
  for (const [expression, value] of values) {
    it(`${expression} -> ${JSON.stringify(value)}`, () => {
      assert.deepEqual(evaluate(expression, ctx()), value);
    });
  }

  // hashFiles() is the runner's, not the library's; status functions belong to `if:` only.
  for (const bad of [
    "secrets.TOKEN",
    "matrix.os",
    "inputs.mode ==",
    "inputs.mode = 'x'",
    "hashFiles('x')",
    "success()",
  ]) {
    it(`refuses what it does not understand, naming the expression: ${bad}`, () => {
      assert.throws(
        () => evaluate(bad, ctx()),
        (e) => e instanceof ExpressionError && e.message.includes(`\`${bad}\``),
      );
      assert.throws(() => interpolate(`x \${{ ${bad} }}`, ctx()), ExpressionError);
    });
  }
});

describe("GITHUB_OUTPUT and GITHUB_ENV files", () => {
  it("reads name=value and name<<DELIMITER blocks", () => {
    assert.deepEqual(parseFileCommand("a=1\nb=x=y\nc<<EOF_9\nline 1\nd=not a pair\nEOF_9\n\ne=\n", "GITHUB_OUTPUT"), {
      a: "1",
      b: "x=y",
      c: "line 1\nd=not a pair",
      e: "",
    });
  });
  it("rejects a line that is neither, and an unclosed block", () => {
    assert.throws(() => parseFileCommand("just text\n", "GITHUB_OUTPUT"), HarnessError);
    assert.throws(() => parseFileCommand("c<<EOF\nx\n", "GITHUB_OUTPUT"), HarnessError);
  });
});

/** Artifacts kept in memory: enough for the driver's own tests. */
class MemoryArtifacts implements ArtifactStore {
  readonly stored = new Map<string, Map<string, Buffer>>();
  private nextId = 1;
  async upload(name: string, path: string, options: { overwrite: boolean }) {
    let files: string[];
    try {
      files = (await import("node:fs")).readdirSync(path);
    } catch {
      return undefined;
    }
    if (files.length === 0) return undefined;
    if (this.stored.has(name) && !options.overwrite) return "exists" as const;
    this.stored.set(
      name,
      new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(path, f))] as [string, Buffer]))),
    );
    return { id: this.nextId++, digest: "sha256:0" };
  }
  async download(name: string, path: string) {
    const files = this.stored.get(name);
    if (!files) return false;
    await mkdir(path, { recursive: true });
    for (const [f, bytes] of files) await writeFile(join(path, f), bytes);
    return true;
  }
}

const FIXTURE: ActionDefinition = {
  inputs: {
    mode: { description: "m", required: true },
    count: { description: "c", default: "1" },
    empty: { description: "e" },
  },
  outputs: {
    greeting: { value: "${{ steps.first.outputs.greeting }}" },
    multi: { value: "${{ steps.first.outputs.multi }}" },
  },
  runs: {
    using: "composite",
    steps: [
      {
        id: "first",
        shell: "bash",
        env: {
          MY_COUNT: "${{ inputs.count }}",
          MY_MODE: "${{ inputs.mode }}",
          MY_EMPTY: "${{ inputs.empty }}",
          MY_PATH: "${{ github.action_path }}",
          MY_TEMP: "${{ runner.temp }}",
        },
        run: [
          'env | sort > "$RUNNER_TEMP/env-first.txt"',
          'echo "greeting=hello $MY_COUNT" >> "$GITHUB_OUTPUT"',
          '{ echo "multi<<EOF_1"; echo "line one"; echo "line=two"; echo "EOF_1"; } >> "$GITHUB_OUTPUT"',
          'echo "FROM_ENV_FILE=carried" >> "$GITHUB_ENV"',
          'echo "::add-mask::s3cr3t-value"',
          'echo "printed s3cr3t-value here"',
          'echo "## summary of $MY_MODE" >> "$GITHUB_STEP_SUMMARY"',
        ].join("\n"),
      },
      {
        id: "second",
        if: "steps.first.outputs.greeting != '' && inputs.mode == 'START'",
        shell: "bash",
        "working-directory": "${{ runner.temp }}",
        run: 'pwd > second-pwd.txt\necho "carried=$FROM_ENV_FILE" >> "$GITHUB_OUTPUT"',
      },
      { id: "skipped", if: "inputs.mode == 'stop'", shell: "bash", run: "echo should-not-run" },
      { id: "failing", if: "inputs.count == '2'", shell: "bash", run: "false | true\necho not-reached" },
      { id: "after-failure", shell: "bash", run: "echo ran-after-failure" },
      { id: "always", if: "always()", shell: "bash", run: "echo always-ran" },
      { id: "soft", if: "always()", "continue-on-error": true, shell: "bash", run: "exit 3" },
      {
        id: "after-soft",
        if: "always() && steps.soft.outcome == 'failure' && steps.soft.conclusion == 'success'",
        shell: "bash",
        run: "echo soft-was-absorbed",
      },
    ],
  },
};

const ARTIFACTS_FIXTURE: ActionDefinition = {
  inputs: { suffix: { description: "s", default: "x" } },
  runs: {
    using: "composite",
    steps: [
      { shell: "bash", run: 'mkdir -p "$RUNNER_TEMP/up" && echo data > "$RUNNER_TEMP/up/a.txt"' },
      {
        uses: "actions/upload-artifact@v4",
        with: { name: "art-${{ inputs.suffix }}", path: "${{ runner.temp }}/up", "if-no-files-found": "error" },
      },
      {
        id: "none",
        uses: "actions/upload-artifact@v4",
        with: { name: "none", path: "${{ runner.temp }}/nothing-here", "if-no-files-found": "ignore" },
      },
      {
        id: "again",
        "continue-on-error": true,
        uses: "actions/upload-artifact@v4",
        with: { name: "art-${{ inputs.suffix }}", path: "${{ runner.temp }}/up" },
      },
      {
        uses: "actions/download-artifact@v4",
        with: { name: "art-${{ inputs.suffix }}", path: "${{ runner.temp }}/down" },
      },
      {
        id: "missing",
        "continue-on-error": true,
        uses: "actions/download-artifact@v4",
        with: { name: "does-not-exist", path: "${{ runner.temp }}/down2" },
      },
      { id: "read", shell: "bash", run: 'cat "$RUNNER_TEMP/down/a.txt"' },
    ],
  },
};

describe("the composite action driver", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "action-harness-test-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function run(
    definition: ActionDefinition,
    inputs: Record<string, string>,
    name: string,
    artifacts: ArtifactStore = new MemoryArtifacts(),
  ) {
    const root = join(dir, name);
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "action.yml"), stringify(definition));
    const runnerTemp = join(root, "temp");
    const result = await runAction({
      actionPath: root,
      inputs,
      runnerTemp,
      env: { PATH: process.env.PATH ?? "", HOME: root, JOB_LEVEL: "job-env" },
      github: {
        repository: "octo-org/md-sim",
        runId: "42",
        runAttempt: "1",
        apiUrl: "http://127.0.0.1:9",
        token: "local-test-job-token",
      },
      artifacts,
    });
    return { result, runnerTemp, root };
  }

  it("gives a run step exactly the job env, the runner's variables and its own env: mapping, with inputs defaulted", async () => {
    process.env.HARNESS_SENTINEL = "must-not-leak";
    try {
      const { result, runnerTemp, root } = await run(FIXTURE, { mode: "start" }, "env");
      assert.equal(result.failed, false, explain(result));
      const env = Object.fromEntries(
        (await readFile(join(runnerTemp, "env-first.txt"), "utf8"))
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      assert.equal(env.HARNESS_SENTINEL, undefined, "the test process's environment leaked into the step");
      assert.deepEqual(
        [env.MY_COUNT, env.MY_MODE, env.MY_EMPTY, env.MY_PATH, env.MY_TEMP],
        ["1", "start", "", root, runnerTemp],
      );
      assert.equal(env.JOB_LEVEL, "job-env");
      for (const name of [
        "GITHUB_ACTION_PATH",
        "RUNNER_TEMP",
        "GITHUB_OUTPUT",
        "GITHUB_ENV",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_API_URL",
      ]) {
        assert.ok(env[name], `${name} is set`);
      }
      assert.deepEqual(result.outputs, { greeting: "hello 1", multi: "line one\nline=two" });
      assert.equal(step(result, "second").outputs.carried, "carried", "GITHUB_ENV reaches later steps");
      assert.equal(
        (await readFile(join(runnerTemp, "second-pwd.txt"), "utf8")).trim(),
        runnerTemp,
        "working-directory",
      );
      assert.equal(step(result, "skipped").ran, false);
      assert.equal(step(result, "failing").ran, false);
      assert.equal(step(result, "after-failure").outcome, "success");
      assert.match(result.summary, /## summary of start/);
      assert.deepEqual(result.masks, ["s3cr3t-value"]);
      assert.match(result.log, /printed \*\*\* here/);
      assert.ok(!result.log.includes("s3cr3t-value"), "masked in the log");
    } finally {
      delete process.env.HARNESS_SENTINEL;
    }
  });

  it("a failing step (bash -e -o pipefail) fails the action, skips later default steps, runs always() ones; continue-on-error absorbs", async () => {
    const { result } = await run(FIXTURE, { mode: "start", count: "2" }, "failure");
    assert.equal(result.failed, true);
    assert.equal(step(result, "failing").outcome, "failure");
    assert.equal(step(result, "failing").exitCode, 1);
    assert.ok(!step(result, "failing").stdout.includes("not-reached"));
    assert.equal(step(result, "after-failure").ran, false);
    assert.match(step(result, "always").stdout, /always-ran/);
    assert.deepEqual([step(result, "soft").outcome, step(result, "soft").conclusion], ["failure", "success"]);
    assert.match(step(result, "after-soft").stdout, /soft-was-absorbed/);
  });

  it("stands in for upload-artifact (if-no-files-found, overwrite) and download-artifact (missing fails the step)", async () => {
    const artifacts = new MemoryArtifacts();
    const { result } = await run(ARTIFACTS_FIXTURE, {}, "artifacts", artifacts);
    assert.equal(result.failed, false, explain(result));
    assert.deepEqual([...artifacts.stored.keys()], ["art-x"]);
    assert.equal(step(result, "none").outcome, "success");
    assert.equal(step(result, "again").outcome, "failure", "a second upload of the same name without overwrite: 409");
    assert.equal(step(result, "missing").outcome, "failure");
    assert.match(step(result, "missing").errors.join(), /Artifact not found for name: does-not-exist/);
    assert.equal(step(result, "read").stdout, "data\n");
  });

  it("gives toJSON(inputs) every input as GitHub does: the given ones as spelled, undeclared too, the rest at their defaults", async () => {
    const definition: ActionDefinition = {
      inputs: {
        mode: { description: "m", required: true },
        count: { description: "c", default: "1" },
        empty: { description: "e" },
        flag: { description: "f", default: true as unknown as string },
      },
      runs: {
        using: "composite",
        steps: [
          { shell: "bash", env: { ALL: "${{ toJSON(inputs) }}" }, run: 'printf "%s" "$ALL" > "$RUNNER_TEMP/all.json"' },
        ],
      },
    };
    const { result, runnerTemp } = await run(definition, { Mode: "start", extra: "x" }, "to-json");
    assert.equal(result.failed, false, explain(result));
    const text = await readFile(join(runnerTemp, "all.json"), "utf8");
    assert.match(text, /^\{\n {2}"Mode": "start",\n/, "pretty-printed, two spaces, as GitHub's toJSON writes it");
    assert.deepEqual(JSON.parse(text), { Mode: "start", extra: "x", count: "1", empty: "", flag: "true" });
    assert.deepEqual(result.warnings, [
      "Unexpected input(s) 'extra', valid inputs are ['mode', 'count', 'empty', 'flag']",
    ]);
  });

  it("refuses actions it does not stand in for, setup-terraform when it would run, and unknown inputs in expressions", async () => {
    const only = (s: ActionDefinition["runs"]["steps"][number]): ActionDefinition => ({
      inputs: { x: { description: "x" } },
      runs: { using: "composite", steps: [s] },
    });
    await assert.rejects(
      run(only({ uses: "actions/cache@v4", with: { path: "x" } }), {}, "other-action"),
      HarnessError,
    );
    await assert.rejects(
      run(only({ uses: "hashicorp/setup-terraform@v3", with: { terraform_version: "1.11.4" } }), {}, "terraform"),
      /terraform >= 1.11/,
    );
    await assert.rejects(
      run(only({ shell: "bash", env: { A: "${{ inputs.y }}" }, run: "true" }), {}, "undeclared"),
      /input 'y' is not declared/,
    );
    await assert.rejects(run(only({ shell: "sh", run: "true" }), {}, "sh"), HarnessError);
  });
});

describe("action.yml through the driver", () => {
  let world: LocalWorld;
  let dir: string;
  before(async () => {
    world = await createWorld();
    dir = await mkdtemp(join(tmpdir(), "action-yml-copies-"));
  });
  after(async () => {
    await world?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** action.yml with the main step's env changed: a broken copy. */
  async function brokenCopy(name: string, change: (env: Record<string, string>) => void): Promise<string> {
    const action = parse(await readFile(join(ACTION_ROOT, "action.yml"), "utf8")) as ActionDefinition;
    const main = action.runs.steps.find((s) => s.id === "main");
    assert.ok(main?.env);
    change(main.env as Record<string, string>);
    const file = join(dir, `${name}.yml`);
    await writeFile(file, stringify(action));
    return file;
  }

  async function dryRunCount(actionFile?: string): Promise<number> {
    const result = await world.start({ count: "3", "dry-run": "true" }, { actionFile });
    assert.equal(result.failed, false, explain(result));
    const said = /^ {2}machines +(\d+) x local process$/m.exec(step(result, "main").stdout);
    assert.ok(said, step(result, "main").stdout);
    return Number(said[1]);
  }

  it("the clouds' own inputs are ignored with a notice annotation, so one with: block serves every cloud", async () => {
    const result = await world.start({
      "dry-run": "true",
      region: "us-east-1",
      zone: "us-central1-a",
      "launch-template": "lt-0123456789abcdef0",
    });
    assert.equal(result.failed, false, explain(result));
    const notices = step(result, "main")
      .stdout.split("\n")
      .filter((line) => line.startsWith("::notice::"));
    assert.deepEqual(notices, [
      "::notice::Input 'region' is read only with cloud aws; ignored with cloud local.",
      "::notice::Input 'launch-template' is read only with cloud aws; ignored with cloud local.",
      "::notice::Input 'zone' is read only with cloud gcp; ignored with cloud local.",
    ]);
  });

  it("runs every step as action.yml says: npm ci recorded (not rerun), terraform found, the main step's env exactly as mapped", async () => {
    const result = await world.start({ count: "3", "dry-run": "true", labels: "cuda,big" });
    assert.equal(result.failed, false, explain(result));
    const action = parse(await readFile(join(ACTION_ROOT, "action.yml"), "utf8")) as Required<ActionDefinition>;
    // A cold cache: the install step runs (here: is recorded, not run, since node_modules is there).
    for (const cache of result.stepResults.filter((s) => s.uses?.startsWith("actions/cache@"))) {
      assert.deepEqual([cache.ran, cache.outputs["cache-hit"], cache.warnings], [true, "false", []], cache.name);
    }
    const npm = step(result, /production dependencies/);
    const npmInFile = action.runs.steps.find((s) => /production dependencies/.test(s.name ?? ""));
    assert.equal(npm.command, npmInFile?.run);
    assert.match(npm.command ?? "", /^npm ci --omit=dev /);
    assert.equal(npm.workingDirectory, ACTION_ROOT);
    assert.match(npm.note ?? "", /not run/);
    assert.equal(step(result, "terraform").outputs.install, "false");
    assert.equal(step(result, /setup-terraform/).ran, false);
    assert.equal(step(result, /Download the state/).ran, false, "start downloads nothing");
    // The scripts get every declared input, given or at its default: what GitHub's toJSON(inputs) holds.
    const values = decodeInputs(step(result, "main").env ?? {});
    const given: Record<string, string> = {
      mode: "start",
      cloud: "local",
      "github-token": world.token,
      count: "3",
      "dry-run": "true",
      labels: "cuda,big",
    };
    const expected = Object.fromEntries(
      Object.entries(action.inputs).map(([input, spec]) => [
        input,
        given[input] ?? (spec.default === undefined ? "" : String(spec.default)),
      ]),
    );
    assert.deepEqual({ ...values }, expected);
    // A dry run names a state id but writes no state: the upload step runs and finds nothing (if-no-files-found: ignore).
    const upload = step(result, /Upload the encrypted state/);
    assert.deepEqual([upload.ran, upload.outcome], [true, "success"]);
    assert.match(upload.stdout, /No files were found/);
    assert.equal(world.server.artifacts.length, 0);
    assert.equal(await dryRunCount(), 3);
  });

  it("a broken inputs variable fails the main step, naming it and showing nothing of it, before anything starts", async () => {
    const copies = {
      dropped: await brokenCopy("no-inputs", (env) => {
        delete env[INPUTS_VARIABLE];
      }),
      "not JSON": await brokenCopy("not-json", (env) => {
        env[INPUTS_VARIABLE] = "${{ inputs.github-token }}";
      }),
    };
    const issued = world.server.issued.length;
    for (const [what, actionFile] of Object.entries(copies)) {
      const result = await world.start({ count: "2" }, { actionFile });
      assert.equal(result.failed, true, what);
      const main = step(result, "main");
      assert.equal(main.outcome, "failure", what);
      assert.match(
        main.errors.join("\n"),
        new RegExp(`${INPUTS_VARIABLE} (is not set|is not valid JSON); expected the JSON object`),
        what,
      );
      assert.ok(!result.log.includes(world.token), `${what}: the token is not in the log`);
      assert.equal(result.outputs["state-id"], "", `${what}: no start`);
    }
    assert.equal(world.server.issued.length, issued, "no runner registered");
    assert.deepEqual(world.machineDirs(), []);
    assert.deepEqual(world.findSecrets(), [], "secrets readable in clear");
  });

  it("a copy of action.yml in another directory still runs the scripts from GITHUB_ACTION_PATH", async () => {
    const copy = join(dir, "elsewhere", "action.yml");
    await mkdir(join(dir, "elsewhere"), { recursive: true });
    await cp(join(ACTION_ROOT, "action.yml"), copy);
    assert.equal(await dryRunCount(copy), 3);
  });
});
