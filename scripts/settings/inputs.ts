// The one parser from the environment to typed settings. Everything is validated here, before any runner or
// cloud resource exists.
import type { CloudDefinition } from "../../stacks/cloud.ts";
import { CLOUD_NAMES, CLOUDS, cloudOnlyInputs } from "../../stacks/clouds.ts";
import { OWNERSHIP_KEYS } from "../lib/constants.ts";
import { type Env, InputError, InputReader } from "../../stacks/input-reader.ts";

export type Mode = "start" | "stop";

export type StateBackendInput =
  | { kind: "artifact" }
  | { kind: "s3"; bucket: string; prefix: string; region: string }
  | { kind: "gcs"; bucket: string; prefix: string };

interface CommonInputs {
  cloud: CloudDefinition<unknown>;
  githubToken: string;
  /** Key material for the state artifact; the github-token when not given. */
  statePassphrase: string;
  stateBackend: StateBackendInput;
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
  /** Undefined: the machine type's known GPU count (or no gate when unknown). */
  expectedGpus: number | undefined;
  preRunnerScript: string;
  runnerUser: string;
  runnerSudo: boolean;
  tags: Record<string, string>;
  allowForks: boolean;
  dryRun: boolean;
  /** The chosen cloud's own settings, as its definition parsed them. */
  cloudConfig: unknown;
}

export interface StopInputs extends CommonInputs {
  mode: "stop";
  stateId: string;
}

export type Inputs = StartInputs | StopInputs;

/** A start's label and state id: `gpu-<run id>-<attempt>-<8 hex>` (see label.ts). */
export const STATE_ID_PATTERN = /^gpu-\d{1,20}-\d{1,4}-[0-9a-f]{8}$/;

const LABEL_ITEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const RESERVED_TAG_PREFIXES = ["gpu-runner-", "aws:", "goog-"];

export function parseInputs(env: Env): Inputs {
  const read = new InputReader(env);
  const mode = read.oneOf<Mode>("mode", ["start", "stop"]);
  const cloudName = read.oneOf("cloud", CLOUD_NAMES, "aws");
  const cloud = CLOUDS[cloudName]!;
  const githubToken = read.required("github-token", "a token with repository Administration: write (fine-grained PAT or GitHub App)");
  const common: CommonInputs = {
    cloud,
    githubToken,
    statePassphrase: read.optional("state-passphrase") || githubToken,
    stateBackend: parseStateBackend(read),
    runnerScope: read.oneOf("runner-scope", ["repository", "organization"] as const, "repository"),
  };
  if (mode === "stop") {
    return {
      ...common,
      mode,
      stateId: read.matching("state-id", STATE_ID_PATTERN, "the state-id output of the start step, such as gpu-123456789-1-0a1b2c3d"),
    };
  }
  rejectOtherCloudsInputs(read, cloud.name);
  const runnerTimeoutMinutes = read.integer("runner-timeout", { min: 1, max: 60, fallback: 10 });
  const maxLifetimeMinutes = read.integer("max-lifetime", { min: 10, max: 7 * 24 * 60, fallback: 360 });
  if (maxLifetimeMinutes <= runnerTimeoutMinutes) {
    read.fail("max-lifetime", `more minutes than runner-timeout (${runnerTimeoutMinutes}), or the machine powers off before its runner can come online`);
  }
  const idleTimeoutMinutes = read.integer("idle-timeout", { min: 1, max: maxLifetimeMinutes, fallback: Math.min(30, maxLifetimeMinutes) });
  return {
    ...common,
    mode,
    count: read.integer("count", { min: 1, max: 10, fallback: 1 }),
    extraLabels: read.list("labels", LABEL_ITEM, "comma-separated labels of letters, digits, '.', '_' and '-' (at most 100 characters each)", { max: 20 }),
    runnerGroupId: read.integer("runner-group-id", { min: 1, max: 2 ** 31 - 1, fallback: 1 }),
    runnerGroupName: parseRunnerGroupName(read, common.runnerScope),
    runnerTimeoutMinutes,
    maxLifetimeMinutes,
    idleTimeoutMinutes,
    expectedGpus: read.isSet("expected-gpus") ? read.integer("expected-gpus", { min: 0, max: 16 }) : undefined,
    preRunnerScript: parsePreRunnerScript(read),
    runnerUser: read.matching("runner-user", /^[a-z_][a-z0-9_-]{0,31}$/, "a Linux user name (lower-case letters, digits, '_' and '-', at most 32 characters)", "runner"),
    runnerSudo: read.boolean("runner-sudo", true),
    tags: parseTags(read),
    allowForks: read.boolean("allow-forks", false),
    dryRun: read.boolean("dry-run", false),
    cloudConfig: cloud.parse(read),
  };
}

/** The script travels base64-encoded inside the user-data, which clouds cap (16 KB on EC2, even gzipped). */
const PRE_RUNNER_SCRIPT_MAX = 8 * 1024;

function parsePreRunnerScript(read: InputReader): string {
  const script = read.optional("pre-runner-script");
  if (Buffer.byteLength(script, "utf8") > PRE_RUNNER_SCRIPT_MAX) {
    read.fail("pre-runner-script", `a script of at most ${PRE_RUNNER_SCRIPT_MAX} bytes (it travels in the machine's user-data); fetch longer ones from it`);
  }
  return script;
}

function parseRunnerGroupName(read: InputReader, scope: CommonInputs["runnerScope"]): string | undefined {
  if (!read.isSet("runner-group")) return undefined;
  if (scope !== "organization") read.fail("runner-group", "nothing with runner-scope repository: runner groups by name are an organization feature (set runner-scope: organization)");
  if (read.isSet("runner-group-id")) read.fail("runner-group", "nothing when runner-group-id is set: name the group one way");
  return read.matching("runner-group", /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/, "a runner group name of letters, digits, spaces, '.', '_' and '-'");
}

function parseStateBackend(read: InputReader): StateBackendInput {
  const kind = read.oneOf("state-backend", ["artifact", "s3", "gcs"] as const, "artifact");
  if (kind === "artifact") return { kind };
  const bucket = read.matching("state-bucket", /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, `the name of the ${kind} bucket that holds the state`);
  const prefix = read.matching("state-prefix", /^[A-Za-z0-9._/-]{1,200}$/, "a key prefix of letters, digits, '.', '_', '-' and '/'", "gpu-runner");
  if (kind === "gcs") return { kind, bucket, prefix };
  const region = read.matching("state-region", /^[a-z]{2}(-gov)?-[a-z]+-\d$/, "the AWS region of the state bucket, such as us-east-1", read.env.AWS_REGION || undefined);
  return { kind, bucket, prefix, region };
}

/** An input meant for another cloud is a mistake worth stopping for: silently ignoring it hides a wrong setup. */
function rejectOtherCloudsInputs(read: InputReader, cloudName: string): void {
  for (const [input, owner] of cloudOnlyInputs()) {
    if (owner !== cloudName && read.isSet(input)) {
      read.fail(input, `nothing: '${input}' is only read when cloud is ${owner}, and cloud is ${cloudName}`);
    }
  }
}

const TAG_KEY = /^[A-Za-z0-9 _.:/=+@-]{1,128}$/;
const TAG_VALUE = /^[A-Za-z0-9 _.:/=+@-]{0,256}$/;

function parseTags(read: InputReader): Record<string, string> {
  const expected = 'a JSON object of string tags, such as {"team": "md-sim"}';
  const tags = read.stringMap("tags", expected);
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      read.fail("tags", `${expected}; keys of at most 128 and values of at most 256 letters, digits, spaces and _ . : / = + @ -`);
    }
    if (RESERVED_TAG_PREFIXES.some((p) => key.toLowerCase().startsWith(p))) {
      read.fail("tags", `${expected}; keys starting with ${RESERVED_TAG_PREFIXES.join(", ")} are reserved (ownership tags such as ${OWNERSHIP_KEYS.label} are set by the action)`);
    }
  }
  return tags;
}

export interface RunContext {
  /** owner/repo */
  repository: string;
  owner: string;
  repo: string;
  runId: string;
  runAttempt: string;
  apiUrl: string;
  tempDir: string;
  eventName: string;
  eventPath: string;
}

/** The workflow run's own facts, from the variables GitHub sets on every job. */
export function readRunContext(env: Env, fallbackTempDir: string): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!match) throw new InputError("GITHUB_REPOSITORY", repository, "owner/repo, as GitHub Actions sets it");
  const runId = env.GITHUB_RUN_ID ?? "";
  if (!/^\d{1,20}$/.test(runId)) throw new InputError("GITHUB_RUN_ID", runId, "the numeric run id GitHub Actions sets");
  const runAttempt = env.GITHUB_RUN_ATTEMPT || "1";
  if (!/^\d{1,4}$/.test(runAttempt)) throw new InputError("GITHUB_RUN_ATTEMPT", runAttempt, "the attempt number GitHub Actions sets");
  return {
    repository,
    owner: match[1]!,
    repo: match[2]!,
    runId,
    runAttempt,
    apiUrl: (env.GITHUB_API_URL || "https://api.github.com").replace(/\/+$/, ""),
    tempDir: env.RUNNER_TEMP || fallbackTempDir,
    eventName: env.GITHUB_EVENT_NAME ?? "",
    eventPath: env.GITHUB_EVENT_PATH ?? "",
  };
}
