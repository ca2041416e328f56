// Runs a composite action.yml step by step the way the GitHub Actions runner does, on this machine: for tests and
// the demo of the local machine kind. What it reproduces, because the action depends on it:
//
// - each step's `if:` (status functions, implicit success(), GitHub's comparison rules; see ./expressions.ts);
// - the inputs context, as GitHub's runner builds it (ActionRunner.cs, CompositeActionHandler.cs in actions/runner):
//   every input the step gives, under its spelling (input names ignore case), an undeclared one too (after a
//   warning), then every declared input it leaves out, at action.yml's default or ''; all strings, so that
//   toJSON(inputs) (GitHub's evaluator, pretty-printed) holds every declared input (required is not enforced, as on
//   GitHub);
// - `${{ }}` in env, with, working-directory, name and run, from the inputs, github, runner and steps contexts;
// - a `run:` step's environment: the job's environment, what earlier steps wrote to GITHUB_ENV/GITHUB_PATH, the
//   variables the runner sets (GITHUB_ACTION_PATH, RUNNER_TEMP, GITHUB_OUTPUT, ...), then the step's own env:
//   nothing else, so an input the file forgets to map is missing, as it would be on GitHub;
// - `shell: bash` as `bash --noprofile --norc -eo pipefail <script file>`, in working-directory, in its own process
//   group (killed at the step timeout); continue-on-error;
// - cancellation (ActionRunOptions.cancel), as when the job is cancelled: SIGINT to the running step's entry process
//   (for a run: step, bash; not its children), SIGTERM 7.5 s later, then every process of the step is killed 2.5 s
//   after that; the step's outcome is `cancelled`, and the later steps run only where their `if:` uses a status
//   function that lets them (always(), cancelled());
// - file commands (GITHUB_OUTPUT and GITHUB_ENV in both name=value and name<<DELIMITER forms, GITHUB_PATH,
//   GITHUB_STEP_SUMMARY) and workflow commands on stdout (::add-mask:: masks the log from that line on, ::error::,
//   ::warning::, ::group::);
// - `uses:` steps, stood in for: actions/setup-node (notes which node the scripts run on), hashicorp/setup-terraform
//   (refused: the stand-in cannot install terraform, so a run that needs it is an error), actions/upload-artifact and
//   actions/download-artifact (through an ArtifactStore). Any other action throws.
//
// With skipInstalledNpmCi, an `npm ci` step whose working directory already has node_modules is recorded and not run
// (tests must not reinstall the project they run from); everything else runs for real.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { RUN_CONTEXT_ENV } from "../env.ts";
import { ExpressionError, type ExpressionContext, evaluateCondition, interpolate, type Value } from "./expressions.ts";

export interface ActionStep {
  id?: string;
  name?: string;
  if?: string | boolean;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string | number | boolean>;
  with?: Record<string, string | number | boolean>;
  "continue-on-error"?: boolean | string;
  "working-directory"?: string;
}

export interface ActionDefinition {
  inputs?: Record<string, { description?: string; required?: boolean; default?: string | number | boolean }>;
  outputs?: Record<string, { description?: string; value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

/** Where uploaded artifacts go and come back from (a stand-in for the Actions artifact service). */
export interface ArtifactStore {
  /** Stores the file or directory at `path` as `name`; returns undefined when there was nothing to upload. */
  upload(
    name: string,
    path: string,
    options: { overwrite: boolean; retentionDays?: number },
  ): Promise<{ id: number; digest: string } | "exists" | undefined>;
  /** Copies artifact `name` into `path`; false when there is no such artifact. */
  download(name: string, path: string): Promise<boolean>;
}

/**
 * Cancels the run the way GitHub cancels a job. GitHub's runner sends SIGINT to the step's entry process (bash for
 * a run: step), waits 7.5 s, sends SIGTERM to it, waits 2.5 s, then destroys every process of the step before the
 * `if: always()` steps run. bash, waiting for a foreground command, defers its SIGINT until that command ends and
 * dies on SIGTERM: the command itself gets no signal unless the step `exec`s it.
 */
export interface CancelOptions {
  /** Cancels when a run: step prints a line (as the log shows it) for which this holds. */
  when: (line: string, step: StepResult) => boolean;
  /**
   * Who gets SIGINT and SIGTERM: "entry-process" (default, what GitHub does) or "process-group" (every process of the
   * step, as Ctrl-C in a terminal would). The final kill always takes the whole process group.
   */
  signal?: "entry-process" | "process-group";
  /** From SIGINT to SIGTERM. Default 7500 ms, GitHub's. */
  interruptGraceMs?: number;
  /** From SIGTERM to the kill of every process of the step. Default 2500 ms, GitHub's. */
  terminateGraceMs?: number;
}

export interface ActionRunOptions {
  /** The action's directory (GITHUB_ACTION_PATH): the scripts run from here. */
  actionPath: string;
  /** The action.yml to follow; <actionPath>/action.yml by default (a test may give a modified copy). */
  actionFile?: string;
  /** The `with:` of the calling step. */
  inputs: Record<string, string>;
  /** RUNNER_TEMP; created if missing. */
  runnerTemp: string;
  /** GITHUB_WORKSPACE; <runnerTemp>/workspace by default. */
  workspace?: string;
  /** The job's environment, as the runner process would have it (PATH, HOME, workflow/job env:). */
  env: Record<string, string>;
  /** `token` is the job's GITHUB_TOKEN (github.token). */
  github: {
    repository: string;
    /** GITHUB_REPOSITORY_ID; a fixed one when left out. */
    repositoryId?: string;
    runId: string;
    runAttempt: string;
    apiUrl: string;
    token: string;
    serverUrl?: string;
    eventName?: string;
    eventPath?: string;
  };
  artifacts: ArtifactStore;
  /** Do not rerun `npm ci` where node_modules exists (recorded in the step result). Default true. */
  skipInstalledNpmCi?: boolean;
  /**
   * actions/cache: whether the cache holds `key` for `path`. Default: never (a cold cache: every restore misses).
   * Nothing is saved: the action's post step, which would, is outside one action run.
   */
  cacheHit?: (key: string, path: string) => boolean;
  /** Each step is killed (its whole process group) after this long. Default 5 minutes. */
  stepTimeoutMs?: number;
  /** Each line as it is printed, masked as the log would show it. */
  onLine?: (line: string, step: StepResult, stream: "stdout" | "stderr") => void;
  onStep?: (step: StepResult, phase: "start" | "end") => void;
  /** Cancel the run (the job) when a step prints a given line. */
  cancel?: CancelOptions;
}

export interface StepResult {
  index: number;
  id?: string;
  /** The step's name as the log shows it (expressions evaluated). */
  name: string;
  kind: "run" | "uses";
  uses?: string;
  /** Whether its `if:` let it run. */
  ran: boolean;
  outcome: "success" | "failure" | "cancelled" | "skipped";
  conclusion: "success" | "failure" | "cancelled" | "skipped";
  exitCode?: number;
  /** The pid of a run step's entry process (bash), which is also the id of the step's process group. */
  pid?: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  /** The environment the step got (run steps), for tests of the mapping. */
  env?: Record<string, string>;
  /** The script of a run step, expressions evaluated. */
  command?: string;
  workingDirectory?: string;
  /** What the stand-in did instead of the real thing, when it did. */
  note?: string;
  /** Signals sent to the step's processes when the run was cancelled, in order, with whom they went to. */
  signals?: { signal: "SIGINT" | "SIGTERM" | "SIGKILL"; to: "entry-process" | "process-group"; at: number }[];
  errors: string[];
  warnings: string[];
  startedAt: number;
  endedAt: number;
}

export interface ActionRunResult {
  /** The action's outputs (its outputs: values evaluated at the end). */
  outputs: Record<string, string>;
  stepResults: StepResult[];
  /** Every step's stdout / stderr, as printed (add-mask lines included: they are what a leak check must skip). */
  stdout: string;
  stderr: string;
  /** The log as GitHub would show it: masked, workflow commands consumed. */
  log: string;
  summary: string;
  masks: string[];
  /** Whether the action failed (a step failed without continue-on-error). */
  failed: boolean;
  /** Whether the run was cancelled (ActionRunOptions.cancel). */
  cancelled: boolean;
  errors: string[];
  warnings: string[];
}

export class HarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HarnessError";
  }
}

const SETUP_NODE = "actions/setup-node";
const SETUP_TERRAFORM = "hashicorp/setup-terraform";
const CACHE = "actions/cache";
const UPLOAD = "actions/upload-artifact";
const DOWNLOAD = "actions/download-artifact";

export function readActionDefinition(path: string): Promise<ActionDefinition> {
  return readFile(path, "utf8").then((text) => parse(text) as ActionDefinition);
}

export async function runAction(options: ActionRunOptions): Promise<ActionRunResult> {
  const action = await readActionDefinition(options.actionFile ?? join(options.actionPath, "action.yml"));
  if (action.runs?.using !== "composite")
    throw new HarnessError(`only composite actions are supported (runs.using: ${action.runs?.using})`);
  const runnerTemp = resolve(options.runnerTemp);
  const workspace = resolve(options.workspace ?? join(runnerTemp, "workspace"));
  const commandsDir = join(runnerTemp, "_runner_file_commands");
  await mkdir(commandsDir, { recursive: true });
  await mkdir(workspace, { recursive: true });

  const declared = action.inputs ?? {};
  const isDeclared = (name: string) => Object.keys(declared).some((d) => d.toLowerCase() === name.toLowerCase());
  const warnings: string[] = [];
  const unexpected = Object.keys(options.inputs).filter((name) => !isDeclared(name));
  if (unexpected.length > 0)
    warnings.push(
      `Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${Object.keys(declared).join("', '")}']`,
    );
  const inputs: Record<string, string> = { ...options.inputs };
  const given = new Set(Object.keys(options.inputs).map((name) => name.toLowerCase()));
  for (const [name, spec] of Object.entries(declared)) {
    if (!given.has(name.toLowerCase())) inputs[name] = spec.default === undefined ? "" : String(spec.default);
  }

  const steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }> = {};
  const stepIds = new Set(action.runs.steps.map((s) => s.id).filter((id): id is string => id !== undefined));
  const githubContext = {
    action_path: options.actionPath,
    repository: options.github.repository,
    repository_owner: options.github.repository.split("/")[0] ?? "",
    run_id: options.github.runId,
    run_attempt: options.github.runAttempt,
    api_url: options.github.apiUrl,
    server_url: options.github.serverUrl ?? "https://github.com",
    workspace,
    event_name: options.github.eventName ?? "workflow_dispatch",
    token: options.github.token,
  };
  const runnerContext = {
    temp: runnerTemp,
    os: "Linux",
    arch: process.arch === "arm64" ? "ARM64" : "X64",
    name: "local-runner",
    tool_cache: join(runnerTemp, "tool-cache"),
  };
  const status = { failed: false, cancelled: false };
  const ctx: ExpressionContext = {
    contexts: { inputs, github: githubContext, runner: runnerContext, steps: steps as unknown as Value },
    status,
    checkPath: (path) => {
      const [root, key] = path;
      if (key === undefined) return;
      if (root === "inputs" && !isDeclared(key))
        throw new ExpressionError(path.join("."), `input '${key}' is not declared in action.yml`);
      if ((root === "github" && !(key in githubContext)) || (root === "runner" && !(key in runnerContext))) {
        throw new ExpressionError(path.join("."), `${root}.${key} is not provided by this stand-in`);
      }
      if (root === "steps" && !stepIds.has(key)) throw new ExpressionError(path.join("."), `no step has id '${key}'`);
    },
  };

  const masks: string[] = [];
  const mask = (line: string) => {
    let out = line;
    for (const secret of masks) if (secret) out = out.split(secret).join("***");
    return out;
  };
  const results: StepResult[] = [];
  const logLines: string[] = [];
  const errors: string[] = [];
  const extraEnv: Record<string, string> = {};
  const extraPath: string[] = [];
  let summary = "";
  let stdoutAll = "";
  let stderrAll = "";
  /** Starts the cancellation of the run: step now running (its processes' signals); undefined between them. */
  let cancelRunning: (() => void) | undefined;
  /** The step that was running when the run was cancelled. */
  let cancelledStep: StepResult | undefined;

  for (const [index, step] of action.runs.steps.entries()) {
    const result: StepResult = {
      index,
      id: step.id,
      name: step.name
        ? interpolate(step.name, ctx)
        : step.uses
          ? `Run ${step.uses}`
          : `Run ${(step.run ?? "").split("\n")[0]}`,
      kind: step.uses ? "uses" : "run",
      uses: step.uses,
      ran: false,
      outcome: "skipped",
      conclusion: "skipped",
      stdout: "",
      stderr: "",
      outputs: {},
      errors: [],
      warnings: [],
      startedAt: Date.now(),
      endedAt: Date.now(),
    };
    results.push(result);
    if (!evaluateCondition(step.if, ctx)) {
      if (step.id) steps[step.id] = { outputs: {}, outcome: "skipped", conclusion: "skipped" };
      logLines.push(`(skipped) ${result.name}`);
      continue;
    }
    result.ran = true;
    options.onStep?.(result, "start");
    logLines.push(`##[group]${result.name}`);
    const onLine = (stream: "stdout" | "stderr", raw: string) => {
      const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(raw);
      if (command) {
        const [, name, value = ""] = command;
        if (name === "add-mask") {
          if (value.trim()) masks.push(value.trim());
          return;
        }
        if (name === "error") result.errors.push(mask(value));
        if (name === "warning") result.warnings.push(mask(value));
      }
      const shown = mask(raw);
      logLines.push(shown);
      options.onLine?.(shown, result, stream);
      if (options.cancel && !status.cancelled && options.cancel.when(shown, result)) {
        status.cancelled = true;
        cancelledStep = result;
        cancelRunning?.();
      }
    };

    let ok: boolean;
    try {
      ok = step.uses
        ? await runUses(step, result, ctx, options, workspace, onLine)
        : await runScript(step, result, ctx, options, {
            runnerTemp,
            workspace,
            commandsDir,
            extraEnv,
            extraPath,
            onLine,
            onSummary: (text) => (summary += text),
            onCancellable: (cancel) => (cancelRunning = cancel),
          });
    } catch (error) {
      if (error instanceof HarnessError || error instanceof ExpressionError) throw error;
      result.errors.push((error as Error).message);
      ok = false;
    }
    result.endedAt = Date.now();
    stdoutAll += result.stdout;
    stderrAll += result.stderr;
    const continueOnError =
      step["continue-on-error"] === true ||
      (typeof step["continue-on-error"] === "string" && interpolate(step["continue-on-error"], ctx) === "true");
    result.outcome = ok ? "success" : "failure";
    result.conclusion = ok || continueOnError ? "success" : "failure";
    if (cancelledStep === result) {
      // Whatever its exit code, a step that was running when the job was cancelled is cancelled, not failed.
      result.outcome = "cancelled";
      result.conclusion = "cancelled";
      result.errors.push("The operation was canceled.");
      errors.push(`${result.name}: The operation was canceled.`);
      logLines.push("##[error]The operation was canceled.");
    } else if (!ok) {
      for (const e of result.errors) errors.push(`${result.name}: ${e}`);
      if (!continueOnError) status.failed = true;
    }
    if (step.id) steps[step.id] = { outputs: result.outputs, outcome: result.outcome, conclusion: result.conclusion };
    warnings.push(...result.warnings);
    logLines.push("##[endgroup]");
    options.onStep?.(result, "end");
  }

  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.outputs ?? {})) outputs[name] = interpolate(spec.value, ctx);
  return {
    outputs,
    stepResults: results,
    stdout: stdoutAll,
    stderr: stderrAll,
    log: logLines.join("\n"),
    summary,
    masks,
    failed: status.failed,
    cancelled: status.cancelled,
    errors,
    warnings,
  };
}

interface ScriptContext {
  runnerTemp: string;
  workspace: string;
  commandsDir: string;
  extraEnv: Record<string, string>;
  extraPath: string[];
  onLine: (stream: "stdout" | "stderr", line: string) => void;
  onSummary: (text: string) => void;
  /** Told how to cancel the step while its processes run, and undefined once they have ended. */
  onCancellable: (cancel: (() => void) | undefined) => void;
}

async function runScript(
  step: ActionStep,
  result: StepResult,
  ctx: ExpressionContext,
  options: ActionRunOptions,
  sc: ScriptContext,
): Promise<boolean> {
  if (step.run === undefined) throw new HarnessError(`step ${result.name}: neither run: nor uses:`);
  if (step.shell !== "bash")
    throw new HarnessError(
      `step ${result.name}: shell '${step.shell}' is not supported by this stand-in (composite run steps need shell:, and action.yml uses bash)`,
    );
  const script = interpolate(step.run, ctx);
  const cwd = step["working-directory"]
    ? resolve(sc.workspace, interpolate(step["working-directory"], ctx))
    : sc.workspace;
  result.command = script;
  result.workingDirectory = cwd;

  const id = randomUUID();
  const files = {
    GITHUB_OUTPUT: join(sc.commandsDir, `set_output_${id}`),
    GITHUB_ENV: join(sc.commandsDir, `set_env_${id}`),
    GITHUB_PATH: join(sc.commandsDir, `add_path_${id}`),
    GITHUB_STEP_SUMMARY: join(sc.commandsDir, `step_summary_${id}`),
    GITHUB_STATE: join(sc.commandsDir, `save_state_${id}`),
  };
  for (const file of Object.values(files)) await writeFile(file, "");
  const env: Record<string, string> = { ...options.env, ...sc.extraEnv };
  if (sc.extraPath.length > 0) env.PATH = [...sc.extraPath, env.PATH ?? ""].join(":");
  Object.assign(env, {
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_ACTION_PATH: options.actionPath,
    GITHUB_ACTION_REPOSITORY: "",
    GITHUB_REPOSITORY: options.github.repository,
    GITHUB_REPOSITORY_OWNER: options.github.repository.split("/")[0] ?? "",
    GITHUB_REPOSITORY_ID: options.github.repositoryId ?? RUN_CONTEXT_ENV.GITHUB_REPOSITORY_ID,
    GITHUB_RUN_ID: options.github.runId,
    GITHUB_RUN_ATTEMPT: options.github.runAttempt,
    GITHUB_API_URL: options.github.apiUrl,
    GITHUB_SERVER_URL: options.github.serverUrl ?? "https://github.com",
    GITHUB_EVENT_NAME: options.github.eventName ?? "workflow_dispatch",
    GITHUB_WORKSPACE: sc.workspace,
    RUNNER_TEMP: sc.runnerTemp,
    RUNNER_OS: "Linux",
    RUNNER_ARCH: process.arch === "arm64" ? "ARM64" : "X64",
    ...files,
  });
  if (options.github.eventPath) env.GITHUB_EVENT_PATH = options.github.eventPath;
  for (const [name, value] of Object.entries(step.env ?? {})) env[name] = interpolate(String(value), ctx);
  result.env = env;

  const skip =
    options.skipInstalledNpmCi !== false && /^\s*npm ci(\s|$)/.test(script) && existsSync(join(cwd, "node_modules"));
  try {
    if (skip) {
      result.note = `not run: ${join(cwd, "node_modules")} exists (the stand-in does not reinstall the project it runs from)`;
      result.exitCode = 0;
      return true;
    }
    const scriptFile = join(sc.runnerTemp, `${id}.sh`);
    await writeFile(scriptFile, script);
    try {
      result.exitCode = await spawnStep(
        "bash",
        ["--noprofile", "--norc", "-eo", "pipefail", scriptFile],
        { cwd, env },
        result,
        sc.onLine,
        {
          timeoutMs: options.stepTimeoutMs ?? 300_000,
          cancel: options.cancel,
          onCancellable: sc.onCancellable,
        },
      );
    } finally {
      sc.onCancellable(undefined);
      await rm(scriptFile, { force: true });
    }
    if (result.exitCode !== 0) result.errors.push(`Process completed with exit code ${result.exitCode}.`);
    Object.assign(result.outputs, parseFileCommand(await readFile(files.GITHUB_OUTPUT, "utf8"), "GITHUB_OUTPUT"));
    Object.assign(sc.extraEnv, parseFileCommand(await readFile(files.GITHUB_ENV, "utf8"), "GITHUB_ENV"));
    sc.extraPath.unshift(
      ...(await readFile(files.GITHUB_PATH, "utf8"))
        .split("\n")
        .filter((l) => l.trim() !== "")
        .reverse(),
    );
    sc.onSummary(await readFile(files.GITHUB_STEP_SUMMARY, "utf8"));
    return result.exitCode === 0;
  } finally {
    for (const file of Object.values(files)) await rm(file, { force: true });
  }
}

const GITHUB_INTERRUPT_GRACE_MS = 7500;
const GITHUB_TERMINATE_GRACE_MS = 2500;

function spawnStep(
  command: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
  result: StepResult,
  onLine: (stream: "stdout" | "stderr", line: string) => void,
  control: { timeoutMs: number; cancel?: CancelOptions; onCancellable: (cancel: (() => void) | undefined) => void },
): Promise<number> {
  const { timeoutMs } = control;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The step is a process group of its own (detached): its pid is the group's id.
    result.pid = child.pid;
    let exited = false;
    let cancelled = false;
    const cancelTimers: NodeJS.Timeout[] = [];
    child.on("exit", () => {
      exited = true;
    });
    const send = (signal: "SIGINT" | "SIGTERM" | "SIGKILL", to: "entry-process" | "process-group") => {
      if (!child.pid) return;
      result.signals = [...(result.signals ?? []), { signal, to, at: Date.now() }];
      try {
        process.kill(to === "process-group" ? -child.pid : child.pid, signal);
      } catch {
        // already gone
      }
    };
    control.onCancellable(() => {
      if (cancelled) return;
      cancelled = true;
      const to = control.cancel?.signal ?? "entry-process";
      if (!exited) send("SIGINT", to);
      cancelTimers.push(
        setTimeout(() => {
          if (!exited) send("SIGTERM", to);
          cancelTimers.push(
            setTimeout(
              () => send("SIGKILL", "process-group"),
              control.cancel?.terminateGraceMs ?? GITHUB_TERMINATE_GRACE_MS,
            ),
          );
        }, control.cancel?.interruptGraceMs ?? GITHUB_INTERRUPT_GRACE_MS),
      );
    });
    const partial = { stdout: "", stderr: "" };
    const take = (stream: "stdout" | "stderr") => (chunk: string) => {
      result[stream] += chunk;
      const lines = (partial[stream] + chunk).split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) onLine(stream, line);
    };
    child.stdout.setEncoding("utf8").on("data", take("stdout"));
    child.stderr.setEncoding("utf8").on("data", take("stderr"));
    const timer = setTimeout(() => {
      result.errors.push(`The step timed out after ${timeoutMs} ms; its process group was killed.`);
      killGroup(child.pid);
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      for (const stream of ["stdout", "stderr"] as const) if (partial[stream]) onLine(stream, partial[stream]);
      for (const t of cancelTimers) clearTimeout(t);
      // GitHub destroys every process of a cancelled step before the next step runs: what did not hold the output
      // pipes open (a background process writing elsewhere) goes too.
      if (cancelled) killGroup(child.pid);
      resolvePromise(code ?? (signal ? 128 : 1));
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks. */
export function parseFileCommand(text: string, file: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const equals = line.indexOf("=");
    const heredoc = line.indexOf("<<");
    if (heredoc > 0 && (equals < 0 || heredoc < equals)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      const body: string[] = [];
      for (i++; ; i++) {
        if (i >= lines.length) throw new HarnessError(`${file}: no closing '${delimiter}' for ${name}`);
        if (lines[i] === delimiter) break;
        body.push(lines[i]!);
      }
      values[name] = body.join("\n");
    } else if (equals > 0) {
      values[line.slice(0, equals)] = line.slice(equals + 1);
    } else {
      throw new HarnessError(`${file}: invalid line '${line.slice(0, 80)}'`);
    }
  }
  return values;
}

async function runUses(
  step: ActionStep,
  result: StepResult,
  ctx: ExpressionContext,
  options: ActionRunOptions,
  workspace: string,
  onLine: (stream: "stdout" | "stderr", line: string) => void,
): Promise<boolean> {
  const uses = step.uses ?? "";
  const action = uses.split("@")[0] ?? "";
  const withs: Record<string, string> = {};
  for (const [name, value] of Object.entries(step.with ?? {})) withs[name] = interpolate(String(value), ctx);
  const say = (line: string) => {
    result.stdout += `${line}\n`;
    onLine("stdout", line);
  };
  switch (action) {
    case SETUP_NODE: {
      const wanted = Number.parseInt(withs["node-version"] ?? "", 10);
      const have = Number.parseInt(process.versions.node, 10);
      if (!Number.isInteger(wanted))
        throw new HarnessError(`${uses}: node-version '${withs["node-version"]}' is not understood by this stand-in`);
      // The stand-in installs nothing: the action's scripts run on the node running the tests. CI runs them on the
      // version action.yml asks for; an older one (the tests support node 20) is said, not hidden.
      result.note =
        have < wanted
          ? `stand-in: node ${wanted} wanted; the tests run it on node ${process.versions.node}`
          : `stand-in: node ${process.versions.node} is already here (node-version ${wanted} wanted)`;
      say(`Found in cache @ node ${process.versions.node} (stand-in)`);
      return true;
    }
    case SETUP_TERRAFORM:
      throw new HarnessError(
        `${uses} would run: action.yml found no terraform >= 1.11 on PATH. The stand-in cannot install it; put terraform >= 1.11 on PATH.`,
      );
    case CACHE: {
      const key = withs.key ?? "";
      const path = withs.path ?? "";
      if (!key || !path) throw new HarnessError(`${uses}: key and path are required (key '${key}', path '${path}')`);
      if (/--|-$/.test(key))
        result.warnings.push(`cache key '${key}' has an empty part: an expression in it evaluated to ''`);
      const hit = options.cacheHit?.(key, path) === true;
      result.outputs["cache-hit"] = String(hit);
      result.outputs["cache-primary-key"] = key;
      if (hit) result.outputs["cache-matched-key"] = key;
      result.note = `stand-in: cache ${hit ? "hit" : "miss"} for ${key}; nothing restored or saved`;
      say(hit ? `Cache restored from key: ${key}` : `Cache not found for input keys: ${key}`);
      return true;
    }
    case UPLOAD: {
      const name = withs.name ?? "artifact";
      const path = withs.path ?? "";
      const ifNone = withs["if-no-files-found"] || "warn";
      if (path.includes("\n") || /[*?[]/.test(path))
        throw new HarnessError(`${uses}: path '${path}' (several paths or globs) is not supported by this stand-in`);
      const retention = withs["retention-days"] ? Number(withs["retention-days"]) : undefined;
      const uploaded = await options.artifacts.upload(name, resolve(workspace, path), {
        overwrite: withs.overwrite === "true",
        retentionDays: retention,
      });
      if (uploaded === "exists") {
        result.errors.push(
          `Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run`,
        );
        return false;
      }
      if (uploaded === undefined) {
        const message = `No files were found with the provided path: ${path}. No artifacts will be uploaded.`;
        if (ifNone === "error") {
          result.errors.push(message);
          return false;
        }
        if (ifNone === "warn") result.warnings.push(message);
        say(message);
        return true;
      }
      say(
        `Artifact ${name} has been successfully uploaded! Final size is known to the store. Artifact ID is ${uploaded.id}`,
      );
      result.outputs["artifact-id"] = String(uploaded.id);
      result.outputs["artifact-digest"] = uploaded.digest;
      result.outputs["artifact-url"] =
        `${options.github.serverUrl ?? "https://github.com"}/${options.github.repository}/actions/runs/${options.github.runId}/artifacts/${uploaded.id}`;
      return true;
    }
    case DOWNLOAD: {
      const name = withs.name;
      if (!name)
        throw new HarnessError(`${uses}: downloading every artifact (no name) is not supported by this stand-in`);
      const path = resolve(workspace, withs.path || ".");
      if (!(await options.artifacts.download(name, path))) {
        result.errors.push(`Unable to download artifact(s): Artifact not found for name: ${name}`);
        return false;
      }
      say(`Artifact download completed successfully (${name} -> ${path}).`);
      result.outputs["download-path"] = path;
      return true;
    }
    default:
      throw new HarnessError(`uses: ${uses} is not stood in for by this harness`);
  }
}
