// The start inputs that say what each runner is and may do: its extra labels, its user, its group, the script that
// runs before it. Read with the rest by inputs.ts; here because each has rules of its own (labels any job could ask
// for, accounts an image already has, an organization's group names).
import type { Cloud } from "../../stacks/cloud.ts";
import type { InputReader } from "../../stacks/input-reader.ts";

const LABEL_ITEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Labels any queued job may ask for: a runner that carries one can be taken by another workflow's job before the
 * intended one is queued (a just-in-time runner gets exactly the labels it is registered with, no defaults). So do
 * the labels of GitHub-hosted runners and this action's own unique labels. GitHub compares labels case-insensitively.
 */
const GENERIC_LABEL =
  /^(self-hosted|linux|windows|macos|x64|x86|arm|arm64|(ubuntu|windows|macos)-.*|gpu-\d+-\d+-[0-9a-f]{8}(-\d+)?)$/i;

/** Accounts Linux images already have (system accounts, distributions' admin users; each cloud adds its own). */
const EXISTING_ACCOUNTS = new Set([
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "gnats",
  "nobody",
  "messagebus",
  "syslog",
  "sshd",
  "lxd",
  "uuidd",
  "tcpdump",
  "tss",
  "landscape",
  "pollinate",
  "polkitd",
  "chrony",
  "dnsmasq",
  "usbmux",
  "ntp",
  "postfix",
  "docker",
  "ubuntu",
  "debian",
  "admin",
  "centos",
  "rocky",
  "almalinux",
  "fedora",
  "cloud-user",
]);

export function parseLabels(read: InputReader): string[] {
  const labels = read.list(
    "labels",
    LABEL_ITEM,
    "comma-separated labels of letters, digits, '.', '_' and '-' (at most 100 characters each)",
    { max: 20 },
  );
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

export function parseRunnerUser(read: InputReader, cloud: Cloud): string {
  const expected = "a Linux user name (lower-case letters, digits, '_' and '-', at most 32 characters)";
  const user = read.matching("runner-user", /^[a-z_][a-z0-9_-]{0,31}$/, expected, "runner");
  if (
    EXISTING_ACCOUNTS.has(user) ||
    cloud.inputs.imageAccounts?.includes(user) ||
    user.startsWith("_") ||
    user.startsWith("systemd-")
  ) {
    read.fail(
      "runner-user",
      `a new user for the runner, not root nor an account images already have (${user} would keep its own rights, sudo included): the boot script creates it`,
    );
  }
  return user;
}

/** The script travels base64-encoded inside the user-data, which clouds cap (see each cloud's terraform.userDataLimitBytes). */
const PRE_RUNNER_SCRIPT_MAX = 8 * 1024;

export function parsePreRunnerScript(read: InputReader): string {
  const script = read.optional("pre-runner-script");
  // Stryker disable next-line StringLiteral: Buffer.byteLength counts UTF-8 for an empty (unknown) encoding name too
  if (Buffer.byteLength(script, "utf8") > PRE_RUNNER_SCRIPT_MAX) {
    read.fail(
      "pre-runner-script",
      `a script of at most ${PRE_RUNNER_SCRIPT_MAX} bytes (it travels in the machine's user-data); fetch longer ones from it`,
    );
  }
  return script;
}

export function parseRunnerGroupName(read: InputReader, scope: "repository" | "organization"): string | undefined {
  if (!read.isSet("runner-group")) return undefined;
  if (scope !== "organization")
    read.fail(
      "runner-group",
      "nothing with runner-scope repository: runner groups by name are an organization feature (set runner-scope: organization)",
    );
  if (read.isSet("runner-group-id"))
    read.fail("runner-group", "nothing when runner-group-id is set: name the group one way");
  return read.matching(
    "runner-group",
    /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/,
    "a runner group name of letters, digits, spaces, '.', '_' and '-'",
  );
}
