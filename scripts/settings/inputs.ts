// The one parser from the environment to typed settings. Everything is validated here, before any runner or
// cloud resource exists.
import type { Cloud, MachinePlan, StateStore } from "../../stacks/cloud.ts";
import { allClouds, cloudNamed, cloudNames, DEFAULT_CLOUD } from "../../stacks/clouds.ts";
import { OWNERSHIP_KEYS } from "../../stacks/names.ts";
import { type Env, InputReader } from "../../stacks/input-reader.ts";

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

const LABEL_ITEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Labels any queued job may ask for: a runner that carries one can be taken by another workflow's job before the
 * intended one is queued (a just-in-time runner gets exactly the labels it is registered with, no defaults). So do
 * the labels of GitHub-hosted runners and this action's own unique labels. GitHub compares labels case-insensitively.
 */
const GENERIC_LABEL = /^(self-hosted|linux|windows|macos|x64|x86|arm|arm64|(ubuntu|windows|macos)-.*|gpu-\d+-\d+-[0-9a-f]{8}(-\d+)?)$/i;

/** Accounts Linux images already have (system accounts, distributions' admin users; each cloud adds its own). */
const EXISTING_ACCOUNTS = new Set([
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup",
  "list", "irc", "gnats", "nobody", "messagebus", "syslog", "sshd", "lxd", "uuidd", "tcpdump", "tss", "landscape",
  "pollinate", "polkitd", "chrony", "dnsmasq", "usbmux", "ntp", "postfix", "docker",
  "ubuntu", "debian", "admin", "centos", "rocky", "almalinux", "fedora", "cloud-user",
]);

/** An explicit passphrase is the key of an artifact anyone signed in can download: short ones are guessed offline. */
const MIN_PASSPHRASE = 16;

export function parseInputs(env: Env): Inputs {
  const read = new InputReader(env);
  const mode = read.oneOf<Mode>("mode", ["start", "stop", "sweep"]);
  const cloud = cloudNamed(read.oneOf("cloud", cloudNames(), DEFAULT_CLOUD))!;
  const githubToken = read.required("github-token", "a token with repository Administration: write (fine-grained PAT or GitHub App)");
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
      stateId: read.matching("state-id", STATE_ID_PATTERN, "the state-id output of the start step, such as gpu-123456789-1-0a1b2c3d"),
    };
  }
  const notices = otherCloudsInputs(read, cloud);
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
    extraLabels: parseLabels(read),
    runnerGroupId: read.integer("runner-group-id", { min: 1, max: 2 ** 31 - 1, fallback: 1 }),
    runnerGroupName: parseRunnerGroupName(read, common.runnerScope),
    runnerTimeoutMinutes,
    maxLifetimeMinutes,
    idleTimeoutMinutes,
    expectedGpus: read.isSet("expected-gpus") ? read.integer("expected-gpus", { min: 0, max: 16 }) : undefined,
    preRunnerScript: parsePreRunnerScript(read),
    runnerUser: parseRunnerUser(read, cloud),
    runnerSudo: read.boolean("runner-sudo", true),
    runnerPreinstalled: read.boolean("runner-preinstalled", false),
    tags: parseTags(read, ["gpu-runner-", ...cloud.reservedTagPrefixes]),
    allowForks: read.boolean("allow-forks", false),
    dryRun: read.boolean("dry-run", false),
    plan: cloud.configure(read),
    notices,
  };
}

function parsePassphrase(read: InputReader): string | undefined {
  const passphrase = read.optional("state-passphrase");
  if (passphrase === "") return undefined;
  if (passphrase.length < MIN_PASSPHRASE) {
    read.fail("state-passphrase", `a passphrase of at least ${MIN_PASSPHRASE} characters (or none: the github-token is then the key)`);
  }
  return passphrase;
}

function parseLabels(read: InputReader): string[] {
  const labels = read.list("labels", LABEL_ITEM, "comma-separated labels of letters, digits, '.', '_' and '-' (at most 100 characters each)", { max: 20 });
  const generic = labels.filter((label) => GENERIC_LABEL.test(label));
  if (generic.length > 0) {
    read.fail(
      "labels",
      `labels only your jobs ask for: ${generic.join(", ")} would let any queued job that asks for it (another workflow's) take the runner; ` +
        "runs-on: the label output is enough, add labels such as a100-80gb or md-sim-gpu only to tell jobs apart",
    );
  }
  return labels;
}

function parseRunnerUser(read: InputReader, cloud: Cloud): string {
  const expected = "a Linux user name (lower-case letters, digits, '_' and '-', at most 32 characters)";
  const user = read.matching("runner-user", /^[a-z_][a-z0-9_-]{0,31}$/, expected, "runner");
  if (EXISTING_ACCOUNTS.has(user) || cloud.imageAccounts?.includes(user) || user.startsWith("_") || user.startsWith("systemd-")) {
    read.fail("runner-user", `a new user for the runner, not root nor an account images already have (${user} would keep its own rights, sudo included): the boot script creates it`);
  }
  return user;
}

/** The script travels base64-encoded inside the user-data, which clouds cap (see each cloud's userDataLimitBytes). */
const PRE_RUNNER_SCRIPT_MAX = 8 * 1024;

function parsePreRunnerScript(read: InputReader): string {
  const script = read.optional("pre-runner-script");
  // Stryker disable next-line StringLiteral: Buffer.byteLength counts UTF-8 for an empty (unknown) encoding name too
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
  // Stryker disable next-line MethodExpression: the chosen cloud's own inputs are all in cloud.inputs, so it adds no notice
  for (const other of allClouds().filter((c) => c !== cloud)) {
    for (const input of other.inputs.filter((i) => read.isSet(i) && !cloud.inputs.includes(i) && !notices.has(i))) {
      notices.set(input, `Input '${input}' is read only with cloud ${other.name}; ignored with cloud ${cloud.name}.`);
    }
  }
  return [...notices.values()];
}

const TAG_KEY = /^[A-Za-z0-9 _.:/=+@-]{1,128}$/;
const TAG_VALUE = /^[A-Za-z0-9 _.:/=+@-]{0,256}$/;

function parseTags(read: InputReader, reservedPrefixes: string[]): Record<string, string> {
  const expected = 'a JSON object of string tags, such as {"team": "md-sim"}';
  const tags = read.stringMap("tags", expected);
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_KEY.test(key) || !TAG_VALUE.test(value)) {
      read.fail("tags", `${expected}; keys of at most 128 and values of at most 256 letters, digits, spaces and _ . : / = + @ -`);
    }
    if (reservedPrefixes.some((p) => key.toLowerCase().startsWith(p))) {
      read.fail("tags", `${expected}; keys starting with ${reservedPrefixes.join(", ")} are reserved (ownership tags such as ${OWNERSHIP_KEYS.label} are set by the action)`);
    }
  }
  return tags;
}
