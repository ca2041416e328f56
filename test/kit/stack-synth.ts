// A cloud's stack as its tests see it: inputs set as action.yml sets them (one JSON variable of them all) over
// the test's base inputs, parsed by the action's own parser, synthesized through the one synthesis path to
// cdk.tf.json and read back. Each cloud's stack test makes one kit with its base inputs, so a new cloud's test
// starts from the same few lines and checks only what is true of that cloud.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { synthesizeLoaded } from "../../scripts/phases/synthesize.ts";
import { parseInputs, type StartInputs } from "../../scripts/settings/inputs.ts";
import { type RunContext, readRunContext } from "../../scripts/settings/run-context.ts";
import type { MachinePlan } from "../../stacks/cloud.ts";
import { InputError } from "../../stacks/input-reader.ts";
import { INPUTS_VARIABLE, MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../../stacks/names.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed cdk.tf.json is walked freely; the assertions check its shape.
export type Json = Record<string, any>;

/** Input name -> value; undefined leaves a base input out. */
export type Inputs = Record<string, string | undefined>;

/** The GITHUB_REPOSITORY_ID of every synthesis here: what the repository-id ownership tag must carry. */
export const REPOSITORY_ID = "612345678";

export interface StackKitOptions {
  /** The inputs every synthesis starts from (mode, cloud, github-token and the cloud's own). */
  base: Readonly<Record<string, string>>;
  /** The start's label, as start would make it for the run below. */
  label: string;
  repository: string;
  runId: string;
  runAttempt: string;
  /** The synthesis clock (epoch milliseconds), fixed for stacks that count a cap from it. */
  synthesizedAt?: number;
}

export interface StackKit {
  /** The step environment action.yml would give for these inputs (base inputs not included). */
  envOf(inputs: Inputs): Record<string, string | undefined>;
  /** The base inputs with `overrides`, parsed as a start, and the run's context. */
  prepare(overrides?: Inputs): { inputs: StartInputs; context: RunContext };
  /** Synthesizes already parsed inputs (a test may alter them first), as `plan` (a capacity alternative) if given, and reads cdk.tf.json back. */
  synthInputs(inputs: StartInputs, context: RunContext, plan?: MachinePlan): Json;
  /** prepare, then synthInputs. */
  synth(overrides?: Inputs): Json;
  /** The ownership tags every resource of this run's start carries (max-lifetime at its default). */
  ownership: Readonly<Record<string, string>>;
  /**
   * One test per bad input: parsing the base inputs with its overrides throws an InputError that names the input and
   * starts with it (and says `message`, where given), before anything is synthesized.
   */
  testRejections(bad: readonly BadInput[]): void;
}

/** A bad input: what it is in words, the inputs that make it, the input the error must name, and its wording. */
export type BadInput = readonly [what: string, overrides: Inputs, input: string, message?: RegExp];

export function stackKit(options: StackKitOptions): StackKit {
  const { base, label, repository, runId, runAttempt, synthesizedAt } = options;
  const envOf = (inputs: Inputs) => {
    // JSON leaves an undefined input out, as the base's own would be left out of with:.
    return {
      GITHUB_REPOSITORY: repository,
      GITHUB_REPOSITORY_ID: REPOSITORY_ID,
      GITHUB_RUN_ID: runId,
      GITHUB_RUN_ATTEMPT: runAttempt,
      [INPUTS_VARIABLE]: JSON.stringify(inputs),
    };
  };
  const prepare = (overrides: Inputs = {}) => {
    const env = envOf({ ...base, ...overrides });
    const inputs = parseInputs(env);
    assert.equal(inputs.mode, "start");
    return { inputs: inputs as StartInputs, context: readRunContext(env, tmpdir()) };
  };
  const synthInputs = (inputs: StartInputs, context: RunContext, plan = inputs.plan): Json => {
    const outdir = mkdtempSync(join(tmpdir(), `${inputs.cloud.name}-stack-`));
    try {
      const now = synthesizedAt === undefined ? undefined : () => synthesizedAt;
      const { stackJsonPath } = synthesizeLoaded({ inputs, context, label, now }, plan, outdir);
      return JSON.parse(readFileSync(stackJsonPath, "utf8")) as Json;
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  };
  return {
    envOf,
    prepare,
    synthInputs,
    synth: (overrides = {}) => {
      const { inputs, context } = prepare(overrides);
      return synthInputs(inputs, context);
    },
    ownership: {
      [OWNERSHIP_KEYS.managedBy]: MANAGED_BY_VALUE,
      [OWNERSHIP_KEYS.repository]: repository,
      [OWNERSHIP_KEYS.repositoryId]: REPOSITORY_ID,
      [OWNERSHIP_KEYS.runId]: runId,
      [OWNERSHIP_KEYS.runAttempt]: runAttempt,
      [OWNERSHIP_KEYS.label]: label,
      [OWNERSHIP_KEYS.maxLifetime]: "360",
    },
    testRejections: (bad) => {
      for (const [what, overrides, input, message] of bad) {
        test(`rejects ${what}, naming '${input}'`, () => {
          assert.throws(
            () => parseInputs(envOf({ ...base, ...overrides })),
            (error: unknown) => {
              assert.ok(error instanceof InputError, String(error));
              assert.equal(error.input, input);
              assert.match(error.message, new RegExp(`^Input '${input}'`));
              if (message) assert.match(error.message, message);
              return true;
            },
          );
        });
      }
    },
  };
}

/** A Terraform expression as cdk.tf.json spells it. */
export const tf = (expression: string) => `\${${expression}}`;

/** The indexes of the JIT variables a boot script references (escaped `$${` literals excluded). */
export function jitReferences(script: string): string[] {
  return [...script.matchAll(/(?<!\$)\$\{var\.jit_config_(\d+)\}/g)].map((m) => m[1]!);
}
