// Runs the real terraform binary for one stack directory (the folder holding cdk.tf.json).
//
// Secrets (the runners' JIT configs) reach terraform only through the child's environment as TF_VAR_*: never argv
// (visible in `ps`), never a file. Terraform hides sensitive variables in plans, but not everywhere (a failed
// `validation` block prints the offending value), so every secret value is scrubbed from what we log or throw.

import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Env } from "../../stacks/input-reader.ts";
import { createRedactor } from "../lib/redact.ts";
import { childEnvironment } from "./child-env.ts";

export interface TerraformRunOptions {
  /** Merged into the child's environment only, e.g. { TF_VAR_jit_config_0: "..." }. Never argv, never logged. */
  secretEnv?: Record<string, string>;
}

export interface Terraform {
  init(dir: string): Promise<void>;
  apply(dir: string, opts?: TerraformRunOptions): Promise<void>;
  /** `terraform output -json`, as name -> value. */
  output(dir: string): Promise<Record<string, unknown>>;
  /** `terraform plan`: what apply would do, changing nothing. */
  plan(dir: string, opts?: TerraformRunOptions): Promise<void>;
  destroy(dir: string, opts?: TerraformRunOptions): Promise<void>;
  /** Lines of `terraform state list`; 0 when there is no state at all. */
  stateResourceCount(dir: string): Promise<number>;
  /**
   * Interrupts every terraform command still running, as Ctrl-C would: terraform stops its operation, writes what
   * it created to the state and exits. Resolves once they have exited (or after `graceMs`, when they are killed).
   */
  interrupt(graceMs?: number): Promise<void>;
}

export interface TerraformOptions {
  /** The executable, looked up on PATH when not absolute. Default "terraform". */
  binary?: string;
  /** TF_PLUGIN_CACHE_DIR; created when missing. */
  pluginCacheDir?: string;
  /** Receives terraform's stdout (init/apply/destroy) line by line, secrets scrubbed. Default: process.stdout. */
  log?: (line: string) => void;
  /** The environment to take terraform's from (process.env by default); only part of it is passed on. */
  env?: Env;
  /**
   * Variables of `env` terraform may see beside the common ones (PATH, HOME, proxies, TF_*): the chosen cloud's
   * credentials and settings. Nothing else of the step's environment reaches terraform, its providers or provisioners.
   */
  passEnv?: readonly RegExp[];
}

export class TerraformError extends Error {
  readonly command: string;
  readonly exitCode: number;
  readonly stderrTail: string;

  constructor(command: string, exitCode: number, stderrTail: string) {
    const detail = stderrTail ? `:\n${stderrTail}` : " (no error output)";
    super(`terraform ${command} failed with exit code ${exitCode}${detail}`);
    this.name = "TerraformError";
    this.command = command;
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
  }
}

/** The base64 of "destroy": passes the base64 validation of the JIT variables and grants nothing. */
export const PLACEHOLDER_SECRET = "ZGVzdHJveQ==";

/**
 * `terraform destroy` evaluates the whole configuration, so every variable without a default needs a value even
 * though the JIT configs are no longer needed (and must not be kept anywhere to be given again). This returns
 * TF_VAR_<name> = a harmless placeholder for every variable of the stack JSON whose name starts with `prefix`.
 */
export function placeholderSecretEnv(stackJson: unknown, prefix: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (!isObject(stackJson)) return env;
  const variables = stackJson.variable;
  if (!isObject(variables)) return env;
  for (const name of Object.keys(variables)) {
    if (name.startsWith(prefix)) env[`TF_VAR_${name}`] = PLACEHOLDER_SECRET;
  }
  return env;
}

const STDERR_TAIL_LINES = 40;
const STDERR_TAIL_CHARS = 4000;

export function createTerraform(opts: TerraformOptions = {}): Terraform {
  const binary = opts.binary ?? "terraform";
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  let cacheReady: Promise<unknown> | undefined;

  /** The running commands, so that a cancel can interrupt them and wait for them to exit. */
  const running = new Set<{ child: ReturnType<typeof spawn>; exited: Promise<void> }>();

  /** `label` names the command in errors ("apply", "state list"); `argv` is everything after the binary. */
  async function run(
    label: string,
    argv: string[],
    dir: string,
    secretEnv: Record<string, string> = {},
    stream = false,
  ): Promise<string> {
    if (opts.pluginCacheDir) {
      cacheReady ??= mkdir(opts.pluginCacheDir, { recursive: true });
      await cacheReady;
    }
    const scrub = createRedactor(Object.values(secretEnv)).redact;
    const env: Record<string, string> = {
      ...childEnvironment(opts.env ?? process.env, opts.passEnv),
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      ...(opts.pluginCacheDir ? { TF_PLUGIN_CACHE_DIR: opts.pluginCacheDir } : {}),
      ...secretEnv,
    };
    const { exitCode, stdout, stderr } = await spawnTerraform(
      argv,
      dir,
      env,
      stream ? (line) => log(scrub(line)) : undefined,
    );
    if (exitCode !== 0) {
      // A directory that never applied anything has no state file: that is "nothing there", not an error.
      if (label === "state list" && /No state file was found/i.test(stderr)) return "";
      throw new TerraformError(label, exitCode, tail(scrub(stderr)));
    }
    // Terraform's warnings about the CLI or the configuration go to stderr even on success: keep them visible.
    if (stream && stderr.trim()) for (const line of stderr.trimEnd().split("\n")) log(scrub(line));
    return stdout;
  }

  /** One terraform process: stdout line by line to `onLine` (when streaming) and collected, stderr collected. */
  function spawnTerraform(argv: string[], cwd: string, env: Record<string, string>, onLine?: (line: string) => void) {
    return new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve, reject) => {
      // In the step's process group, so that whatever kills the step also ends terraform; GitHub signals only the
      // step's entry process on a cancel, and interrupt() passes that on.
      const child = spawn(binary, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        stdout += `${line}\n`;
        onLine?.(line);
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
      });
      let settled: () => void = () => {};
      const entry = { child, exited: new Promise<void>((done) => (settled = done)) };
      running.add(entry);
      child.on("error", (error) => {
        running.delete(entry);
        settled();
        reject(new TerraformError(argv[0] ?? "run", 127, `could not run ${binary}: ${error.message}`));
      });
      child.on("close", (code, signal) => {
        running.delete(entry);
        settled();
        resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  return {
    async init(dir) {
      // No -upgrade: the lock file (when the bundle carries one) pins the providers that created the resources.
      await run("init", ["init", "-input=false", "-no-color"], dir, {}, true);
    },
    async apply(dir, runOpts) {
      await run("apply", ["apply", "-input=false", "-no-color", "-auto-approve"], dir, runOpts?.secretEnv, true);
    },
    async output(dir) {
      // `output` and `state list` reject -input; TF_INPUT=0 covers them.
      const stdout = await run("output", ["output", "-json", "-no-color"], dir);
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout.trim() || "{}");
      } catch {
        // Not echoed: outputs may be sensitive.
        throw new Error("terraform output -json printed something that is not JSON");
      }
      if (!isObject(parsed)) throw new Error("terraform output -json did not print a JSON object");
      const values: Record<string, unknown> = {};
      for (const [name, entry] of Object.entries(parsed)) values[name] = isObject(entry) ? entry.value : undefined;
      return values;
    },
    async plan(dir, runOpts) {
      // -lock=false: a review must never hold (or wait for) a lock on a state that a real start uses.
      await run("plan", ["plan", "-input=false", "-no-color", "-lock=false"], dir, runOpts?.secretEnv, true);
    },
    async destroy(dir, runOpts) {
      // -refresh=false: destroy then reads no data source (an image's SSM parameter, a machine type's description),
      // so teardown never depends on a read-only permission or on a lookup that has since changed. The providers
      // treat a machine that is already gone as destroyed. Measured with terraform 1.11.4: a data source that
      // fails to read blocks a plain destroy, not this one.
      await run(
        "destroy",
        ["destroy", "-input=false", "-no-color", "-auto-approve", "-refresh=false"],
        dir,
        runOpts?.secretEnv,
        true,
      );
    },
    async stateResourceCount(dir) {
      const stdout = await run("state list", ["state", "list", "-no-color"], dir);
      return stdout.split("\n").filter((line) => line.trim() !== "").length;
    },
    async interrupt(graceMs = 6000) {
      const waiting = [...running];
      for (const { child } of waiting) child.kill("SIGINT");
      const timeout = new Promise<"late">((done) => setTimeout(() => done("late"), graceMs).unref());
      if ((await Promise.race([Promise.all(waiting.map((w) => w.exited)), timeout])) === "late") {
        // Past the grace: the job is about to be killed anyway; an interrupted terraform has written its state.
        for (const { child } of running) child.kill("SIGKILL");
      }
    },
  };
}

function tail(text: string): string {
  const lines = text.trimEnd().split("\n");
  const last = lines.slice(-STDERR_TAIL_LINES).join("\n");
  return last.length > STDERR_TAIL_CHARS ? last.slice(-STDERR_TAIL_CHARS) : last;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
