// The runner's account on the machine (stacks/boot/runner.sh, ensure_user and no_way_to_root), run for real in the
// boot sandbox (test/kit/boot-sandbox.ts): with GR_RUNNER_SUDO=false the runner user must have no way to root, so an
// account the image already has that holds one (a group that is root without sudo, a sudoers rule of its own or of
// its group) is refused before the runner is installed, with one power-off line that says why.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BOOT_LOG_PREFIX } from "../stacks/names.ts";
import { type BootSandbox, type RunResult, type SandboxOptions, sandboxesOfThisFile } from "./kit/boot-sandbox.ts";
import { PARALLEL } from "./kit/patience.ts";

const { server, create } = sandboxesOfThisFile();

async function boot(options: Omit<SandboxOptions, "server">): Promise<{ sandbox: BootSandbox; result: RunResult }> {
  const sandbox = await create({ ...options });
  return { sandbox, result: await sandbox.run() };
}

/** The one "powering off:" line's reason; it is the last line. */
function powerOffReason(result: RunResult): string {
  const lines = result.lines.filter((l) => l.startsWith(`${BOOT_LOG_PREFIX} powering off: `));
  assert.equal(lines.length, 1, `exactly one power-off line in:\n${result.stdout}`);
  assert.equal(result.lines.at(-1), lines[0], result.stdout);
  return lines[0]!.slice(`${BOOT_LOG_PREFIX} powering off: `.length);
}

/** Refused before anything ran as the user: no runner, no runuser, no download, one poweroff. */
function assertRefused(sandbox: BootSandbox, result: RunResult): void {
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.deepEqual(
    sandbox.calls("power").filter((c) => /^(poweroff|shutdown -h now|systemctl)/.test(c)),
    ["poweroff"],
  );
  assert.equal(sandbox.runnerRecord(), undefined, "the runner never ran");
  assert.deepEqual(sandbox.calls("runuser"), []);
  assert.deepEqual(server.requestsUnder(`/${sandbox.id}/`), [], "nothing was downloaded for it");
  assert.ok(!result.stdout.includes("passwordless sudo: not granted"), result.stdout);
}

/** A sudoers drop-in under the sandbox's /etc/sudoers.d. */
const sudoers = (name: string, rule: string) => (s: BootSandbox) => ({
  [join(s.root, "etc", "sudoers.d", name)]: `# written by the image\n${rule}\n`,
});

const NO_SUDO = { GR_RUNNER_USER: "ci", GR_RUNNER_SUDO: "false" };

describe("boot script: with GR_RUNNER_SUDO=false, an account with a way to root is refused", {
  concurrency: PARALLEL,
}, () => {
  // Groups whose members are root without any sudo rule (the default images put their default user in docker and lxd).
  for (const group of ["docker", "lxd", "incus-admin", "libvirt", "disk", "root"]) {
    it(`a member of ${group}`, async () => {
      const { sandbox, result } = await boot({ users: [`ci:1500:adm ${group} video`], values: NO_SUDO });
      assertRefused(sandbox, result);
      assert.equal(
        powerOffReason(result),
        `runner user ci is in group ${group}, which is root without sudo: refusing it with GR_RUNNER_SUDO=false (groups: ci adm ${group} video )`,
      );
    });
  }

  it("a member of an admin group (sudo, wheel, admin)", async () => {
    for (const group of ["sudo", "wheel", "admin"]) {
      const { sandbox, result } = await boot({ users: [`ci:1500:${group}`], values: NO_SUDO });
      assertRefused(sandbox, result);
      assert.equal(
        powerOffReason(result),
        `runner user ci already exists in an admin group (ci ${group} ): it would keep sudo although GR_RUNNER_SUDO=false`,
      );
    }
  });

  // Rules sudo itself resolves: one naming the account (cloud-init's 90-cloud-init-users), one naming a group it is
  // in (a guest agent's rule for the group it puts its users in), one for everybody.
  const rules: { name: string; users: string[]; file: string; rule: string; shown: string }[] = [
    {
      name: "its own NOPASSWD rule in sudoers.d",
      users: ["ci:1500:adm"],
      file: "90-cloud-init-users",
      rule: "ci ALL=(ALL) NOPASSWD:ALL",
      shown: "(ALL) NOPASSWD:ALL",
    },
    {
      name: "a NOPASSWD rule for a group it is in, of a name no list knows",
      users: ["ci:1500:adm cloud-admins"],
      file: "agent_sudoers",
      rule: "%cloud-admins ALL=(ALL:ALL) NOPASSWD:ALL",
      shown: "(ALL:ALL) NOPASSWD:ALL",
    },
    {
      name: "a rule for one command only",
      users: ["ci:1500"],
      file: "apt",
      rule: "ci ALL=(root) NOPASSWD: /usr/bin/apt-get",
      shown: "(root) NOPASSWD: /usr/bin/apt-get",
    },
    {
      name: "a rule for every user",
      users: ["ci:1500"],
      file: "everyone",
      rule: "ALL ALL=(ALL) NOPASSWD:ALL",
      shown: "(ALL) NOPASSWD:ALL",
    },
  ];
  for (const c of rules) {
    it(`an account with ${c.name}`, async () => {
      const { sandbox, result } = await boot({ users: c.users, values: NO_SUDO, files: sudoers(c.file, c.rule) });
      assertRefused(sandbox, result);
      assert.equal(
        powerOffReason(result),
        `runner user ci may run commands with sudo (${c.shown}), from a sudoers rule for it or its group: refusing it with GR_RUNNER_SUDO=false`,
      );
      assert.deepEqual(sandbox.calls("sudo"), ["-n -l -U ci"]);
    });
  }

  it("a new account that a rule for every user would give sudo: refused too", async () => {
    const { sandbox, result } = await boot({
      values: { GR_RUNNER_SUDO: "false" },
      files: sudoers("everyone", "ALL ALL=(ALL) NOPASSWD:ALL"),
    });
    assertRefused(sandbox, result);
    assert.ok(result.lines.includes(`${BOOT_LOG_PREFIX} user created: runner`), result.stdout);
    assert.match(powerOffReason(result), /^runner user runner may run commands with sudo /);
  });

  it("when sudo cannot say what the account may run, it is refused (fail closed)", async () => {
    const { sandbox, result } = await boot({ users: ["ci:1500"], values: NO_SUDO, sudo: "broken" });
    assertRefused(sandbox, result);
    assert.equal(
      powerOffReason(result),
      "could not tell what runner user ci may run with sudo (sudo -l exit code 1: sudo: unable to open /etc/sudoers: Permission denied): refusing it with GR_RUNNER_SUDO=false",
    );
  });
});

describe("boot script: with GR_RUNNER_SUDO=false, an account without a way to root runs the job", {
  concurrency: PARALLEL,
}, () => {
  const cases: { name: string; options: Omit<SandboxOptions, "server"> }[] = [
    {
      name: "an existing account in harmless groups, with another account's rule beside it",
      options: {
        users: ["ci:1500:adm video render plugdev", "ubuntu:1000:adm sudo lxd"],
        values: NO_SUDO,
        files: sudoers("90-cloud-init-users", "ubuntu ALL=(ALL) NOPASSWD:ALL"),
      },
    },
    {
      name: "a new account, a group rule for a group it is not in",
      options: {
        users: ["ubuntu:1000:adm sudo"],
        values: { GR_RUNNER_SUDO: "false" },
        files: sudoers("agent_sudoers", "%cloud-admins ALL=(ALL:ALL) NOPASSWD:ALL"),
      },
    },
    { name: "a machine without sudo", options: { users: ["ci:1500:adm"], values: NO_SUDO, sudo: "absent" } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { sandbox, result } = await boot(c.options);
      assert.equal(powerOffReason(result), "runner exited (exit code 0)");
      const user = c.options.values?.GR_RUNNER_USER ?? "runner";
      assert.equal(sandbox.runnerRecord()?.user, user);
      assert.ok(result.lines.includes(`${BOOT_LOG_PREFIX} passwordless sudo: not granted`), result.stdout);
      assert.deepEqual(sandbox.calls("sudo"), c.options.sudo === "absent" ? [] : [`-n -l -U ${user}`]);
    });
  }

  it("the boot script's own drop-in of an earlier boot is removed before sudo is asked", async () => {
    const { sandbox, result } = await boot({
      users: ["ci:1500"],
      values: NO_SUDO,
      files: sudoers("90-gpu-runner", "ci ALL=(ALL) NOPASSWD:ALL"),
    });
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    assert.ok(!existsSync(join(sandbox.root, "etc", "sudoers.d", "90-gpu-runner")));
  });

  it("with GR_RUNNER_SUDO=true sudo is not asked: the account gets sudo anyway", async () => {
    const { sandbox, result } = await boot({ users: ["ci:1500:docker"], values: { GR_RUNNER_USER: "ci" } });
    assert.equal(powerOffReason(result), "runner exited (exit code 0)");
    assert.deepEqual(sandbox.calls("sudo"), []);
  });
});
