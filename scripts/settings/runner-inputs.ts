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

/**
 * Accounts the default images already have (each cloud adds its own: imageAccounts). An existing account keeps its
 * own rights (a system account's files and services, an admin's sudo, docker or lxd), and the boot script refuses it
 * only on the machine, after it was paid for; these names are refused here, before anything exists. Where the names
 * come from (from the packages that create them; no image was booted to list its /etc/passwd):
 * - Debian's base-passwd (the fixed accounts, /usr/share/base-passwd/passwd.master): root to nobody below;
 * - accounts that Ubuntu 22.04/24.04 and Debian 12 server images' packages create: messagebus (dbus), syslog
 *   (rsyslog), sshd (openssh-server), lxd, uuidd, tcpdump, tss (tpm2-tss), landscape, pollinate, polkitd, fwupd-refresh,
 *   usbmux, dnsmasq, dhcpcd, chrony and _chrony, snap_daemon (snapd), systemd-* and _apt (the prefixes below);
 * - the RHEL family's base accounts (setup and its packages): adm, halt, shutdown, operator, ftp, dbus, rpc, rpcuser,
 *   sssd, libstoragemgmt, unbound, rngd, cloud-user;
 * - the NVIDIA driver's nvidia-persistenced (the daemon's own user, created by the driver packages the GPU images
 *   install), and any nvidia-* account beside it;
 * - the images' default users (cloud-init's default_user: ubuntu, debian, admin, centos, rocky, almalinux, fedora);
 *   docker (the name of the group Docker's packages create, root-equivalent), postfix and ntp (mail and time daemons).
 */
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
  "fwupd-refresh",
  "usbmux",
  "dhcpcd",
  "snap_daemon",
  "chrony",
  "dnsmasq",
  "ntp",
  "postfix",
  "docker",
  "adm",
  "halt",
  "shutdown",
  "operator",
  "ftp",
  "dbus",
  "rpc",
  "rpcuser",
  "sssd",
  "libstoragemgmt",
  "unbound",
  "rngd",
  "ubuntu",
  "debian",
  "admin",
  "centos",
  "rocky",
  "almalinux",
  "fedora",
  "cloud-user",
]);

/** Prefixes of system accounts: _apt, _chrony...; systemd-network, systemd-resolve...; nvidia-persistenced... */
const SYSTEM_PREFIXES = ["_", "systemd-", "nvidia-"];

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
    SYSTEM_PREFIXES.some((prefix) => user.startsWith(prefix))
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
