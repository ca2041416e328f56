// The one parser from the inputs (and the environment, for the clouds' own defaults) to typed settings. Everything is
// validated here, before any runner or cloud resource exists.
import type { Cloud, MachinePlan } from "../../stacks/cloud.ts";
import type { StateStore } from "../../stacks/cloud-cli.ts";
import { allClouds, cloudNamed, cloudNames, DEFAULT_CLOUD } from "../../stacks/clouds.ts";
import { OWNERSHIP_KEYS } from "../../stacks/names.ts";
import { decodeInputs, type Env, InputReader, type InputValues, MIN_SECRET_LENGTH } from "../../stacks/input-reader.ts";
import { parseLabels, parsePreRunnerScript, parseRunnerGroupName, parseRunnerUser } from "./runner-inputs.ts";
import { describeWorstCase, dollars, dollarsUp, worstCase } from "./worst-case.ts";

export type Mode = "start" | "stop" | "sweep";

interface CommonInputs {
  cloud: Cloud;
  githubToken: string;
  /** Key material for the state artifact; the github-token when not given. */
  statePassphrase: string;
  /** The cloud's bucket that keeps the encrypted state; undefined: the workflow artifact (state-backend: artifact). */
  stateStore: StateStore | undefined;
  /** Where the runners are registered: this repository, or its organization (shared GPU budget). */
  runnerScope: "repository" | "organization";
}

export interface StartInputs extends CommonInputs {
  mode: "start";
  count: number;
  extraLabels: string[];
  runnerGroupId: number;
  /** A runner group by name (organization scope); resolved to its id before anything is created. */
  runnerGroupName: string | undefined;
  runnerTimeoutMinutes: number;
  maxLifetimeMinutes: number;
  idleTimeoutMinutes: number;
  /** Undefined: the count the cloud describes for the machine type, or the offline count (see gpuCheck). */
  expectedGpus: number | undefined;
  preRunnerScript: string;
  runnerUser: string;
  runnerSudo: boolean;
  /** The image has the Actions runner baked in: the download is skipped when it is the pinned release or later. */
  runnerPreinstalled: boolean;
  tags: Record<string, string>;
  allowForks: boolean;
  dryRun: boolean;
  /** The machines to make: the chosen cloud's own inputs, parsed and bound to it. */
  plan: MachinePlan;
  /** Said to the user, not failed on: inputs of another cloud that this start ignores. */
  notices: string[];
  /** max-cost in US dollars: the start's worst case (worst-case.ts) was checked to be within it. Undefined: unset. */
  maxCostUsd?: number;
}

export interface StopInputs extends CommonInputs {
  mode: "stop";
  stateId: string;
}

/** A scheduled clean-up of whatever this repository's starts left in the cloud (see phases/sweep.ts). */
export interface SweepInputs extends CommonInputs {
  mode: "sweep";
  /** List what would be deleted, delete nothing. */
  dryRun: boolean;
}

export type Inputs = StartInputs | StopInputs | SweepInputs;

/** A start's label and state id: `gpu-<run id>-<attempt>-<8 hex>` (see label.ts). */
export const STATE_ID_PATTERN = /^gpu-\d{1,20}-\d{1,4}-[0-9a-f]{8}$/;

/** An explicit passphrase is the key of an artifact anyone signed in can download: short ones are guessed offline. */
const MIN_PASSPHRASE = 16;

/** A week: max-lifetime's cap, and so idle-timeout's. */
const MAX_LIFETIME_MINUTES = 7 * 24 * 60;

/** `values`: the inputs, decoded from `env` unless the caller has decoded (and masked) them already, as main does. */
export function parseInputs(env: Env, values: InputValues = decodeInputs(env)): Inputs {
  const read = new InputReader(env, values);
  const mode = read.oneOf<Mode>("mode", ["start", "stop", "sweep"]);
  const cloud = cloudNamed(read.oneOf("cloud", cloudNames(), DEFAULT_CLOUD))!;
  const githubToken = parseGithubToken(read);
  const common: CommonInputs = {
    cloud,
    githubToken,
    statePassphrase: parsePassphrase(read) ?? githubToken,
    stateStore: parseStateStore(read, cloud),
    runnerScope: read.oneOf("runner-scope", ["repository", "organization"] as const, "repository"),
  };
  if (mode === "sweep") return { ...common, mode, dryRun: read.boolean("dry-run", false) };
  if (mode === "stop") {
    return {
      ...common,
      mode,
      stateId: read.matching(
        "state-id",
        STATE_ID_PATTERN,
        "the state-id output of the start step, such as gpu-123456789-1-0a1b2c3d",
      ),
    };
  }
  const notices = otherCloudsInputs(read, cloud);
  const runnerTimeoutMinutes = read.integer("runner-timeout", { min: 1, max: 60, fallback: 10, unit: "minutes" });
  const maxLifetimeMinutes = read.integer("max-lifetime", {
    min: 10,
    max: MAX_LIFETIME_MINUTES,
    fallback: 360,
    unit: "minutes",
    dependency: {
      says: `more than runner-timeout (${runnerTimeoutMinutes})`,
      holds: (minutes) => minutes > runnerTimeoutMinutes,
      why: "or the machine powers off before its runner can come online",
    },
  });
  const idleTimeoutMinutes = read.integer("idle-timeout", {
    min: 1,
    max: MAX_LIFETIME_MINUTES,
    fallback: Math.min(30, maxLifetimeMinutes),
    unit: "minutes",
    dependency: {
      says: `at most max-lifetime (${maxLifetimeMinutes})`,
      holds: (minutes) => minutes <= maxLifetimeMinutes,
      why: "which powers the machine off, idle or not",
    },
  });
  const start: StartInputs = {
    ...common,
    mode,
    count: read.integer("count", { min: 1, max: 10, fallback: 1, unit: "machines" }),
    extraLabels: parseLabels(read),
    runnerGroupId: read.integer("runner-group-id", { min: 1, max: 2 ** 31 - 1, fallback: 1 }),
    runnerGroupName: parseRunnerGroupName(read, common.runnerScope),
    runnerTimeoutMinutes,
    maxLifetimeMinutes,
    idleTimeoutMinutes,
    expectedGpus: read.isSet("expected-gpus")
      ? read.integer("expected-gpus", { min: 0, max: 16, unit: "GPUs per machine" })
      : undefined,
    preRunnerScript: parsePreRunnerScript(read),
    runnerUser: parseRunnerUser(read, cloud),
    runnerSudo: read.boolean("runner-sudo", true),
    runnerPreinstalled: read.boolean("runner-preinstalled", false),
    tags: parseTags(read),
    allowForks: read.boolean("allow-forks", false),
    dryRun: read.boolean("dry-run", false),
    plan: cloud.configure(read),
    notices,
  };
  // Last, when the machines, their count and their lifetime are known: refused here, before anything exists.
  return { ...start, maxCostUsd: parseMaxCost(read, start) };
}

const MAX_COST = /^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$/;

/**
 * max-cost: US dollars the start's worst case (every machine at the highest price among its capacity candidates,
 * until max-lifetime) may reach. A machine type without a list price cannot be checked, so it is refused rather
 * than let through: the bound is the promise.
 */
function parseMaxCost(read: InputReader, start: StartInputs): number | undefined {
  const expected = "an amount of US dollars greater than 0, such as 25 or 12.50";
  const text = read.matching("max-cost", MAX_COST, expected, "");
  if (text === "") return undefined;
  const maxCost = Number(text);
  if (maxCost <= 0) read.fail("max-cost", expected);
  const worst = worstCase(start.plan, start.count, start.maxLifetimeMinutes);
  if (worst.usd === undefined) {
    read.fail(
      "max-cost",
      `no max-cost, or a machine type with a list price: the worst case cannot be checked without one, and the action's price table (of ${start.plan.cloud.catalog.pricesAsOf}) has none for ${worst.unpriced.join(", ")}`,
    );
  }
  if (worst.usd > maxCost) {
    read.fail(
      "max-cost",
      `at least ${dollarsUp(worst.usd)}, this start's worst case: ${describeWorstCase(worst)}; or a lower count, max-lifetime or machine type (every capacity candidate counts) to fit ${dollars(maxCost)}`,
    );
  }
  return maxCost;
}

/**
 * Required, and no shorter than any GitHub token: a shorter value is refused here, unshown and unmasked (readInputs
 * masks no value shorter than MIN_SECRET_LENGTH, which would star out its characters all over the log).
 */
function parseGithubToken(read: InputReader): string {
  const expected = "a token with repository Administration: write (fine-grained PAT or GitHub App)";
  const token = read.required("github-token", expected);
  if (token.length < MIN_SECRET_LENGTH)
    read.fail(
      "github-token",
      `${expected}, of at least ${MIN_SECRET_LENGTH} characters (GitHub's are some 40 and more)`,
    );
  return token;
}

function parsePassphrase(read: InputReader): string | undefined {
  const passphrase = read.optional("state-passphrase");
  if (passphrase === "") return undefined;
  if (passphrase.length < MIN_PASSPHRASE) {
    read.fail(
      "state-passphrase",
      `a passphrase of at least ${MIN_PASSPHRASE} characters (or none: the github-token is then the key)`,
    );
  }
  return passphrase;
}

/** artifact (the default), or the chosen cloud's own bucket when it has one. */
function parseStateStore(read: InputReader, cloud: Cloud): StateStore | undefined {
  const store = cloud.stateStore;
  const kind = read.oneOf("state-backend", store ? ["artifact", store.kind] : ["artifact"], "artifact");
  return kind === "artifact" || !store ? undefined : store.parse(read);
}

/**
 * Inputs only another cloud reads are ignored, each with a notice, so that one `with:` block serves a matrix over
 * clouds (region for one, zone for the other). Said, never silent: a typo'd cloud still shows what was dropped.
 */
function otherCloudsInputs(read: InputReader, cloud: Cloud): string[] {
  const notices = new Map<string, string>();
  // Stryker disable next-line MethodExpression,ConditionalExpression: the chosen cloud's own inputs are all in cloud.inputs.names, so it adds no notice
  for (const other of allClouds().filter((c) => c !== cloud)) {
    for (const input of other.inputs.names.filter(
      (i) => read.isSet(i) && !cloud.inputs.names.includes(i) && !notices.has(i),
    )) {
      notices.set(input, `Input '${input}' is read only with cloud ${other.name}; ignored with cloud ${cloud.name}.`);
    }
  }
  return [...notices.values()];
}

const TAG_KEY = /^[A-Za-z0-9 _.:/=+@-]{1,128}$/;
const TAG_VALUE = /^[A-Za-z0-9 _.:/=+@-]{0,256}$/;

/** The prefix of the action's own tags, reserved on every cloud; each cloud's own reserved prefixes are its tag rules'. */
const ACTION_TAG_PREFIX = "gpu-runner-";

function parseTags(read: InputReader): Record<string, string> {
  const expected = 'a JSON object of string tags, such as {"team": "md-sim"}';
  const tags = read.stringMap("tags", expected);
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      read.fail(
        "tags",
        `${expected}; keys of at most 128 and values of at most 256 letters, digits, spaces and _ . : / = + @ -`,
      );
    }
    if (key.toLowerCase().startsWith(ACTION_TAG_PREFIX)) {
      read.fail(
        "tags",
        `${expected}; keys starting with ${ACTION_TAG_PREFIX} are reserved (ownership tags such as ${OWNERSHIP_KEYS.label} are set by the action)`,
      );
    }
  }
  return tags;
}
