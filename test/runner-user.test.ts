// runner-user is refused before anything exists when it names an account the default images already have (system
// accounts, the images' default and agents' users: scripts/settings/runner-inputs.ts and each cloud's imageAccounts),
// rather than on the machine, once it is paid for. The boot script's own checks of the account on the machine are in
// test/boot-user.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { InputError } from "../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { FAKE_TOKEN, inputEnv } from "./kit/env.ts";

/** A start on `cloud` with its example inputs and the given runner-user. */
function start(cloud: string, user: string): StartInputs {
  const example = cloudNamed(cloud)!.inputs.example;
  const inputs = parseInputs(
    inputEnv({ mode: "start", cloud, "github-token": FAKE_TOKEN, ...example, "runner-user": user }),
  );
  assert.equal(inputs.mode, "start");
  return inputs as StartInputs;
}

function refused(cloud: string, user: string): void {
  assert.throws(
    () => start(cloud, user),
    (error: unknown) =>
      error instanceof InputError &&
      error.input === "runner-user" &&
      error.message.startsWith(`Input 'runner-user': got "${user}"; expected a new user for the runner`) &&
      error.message.includes(`${user} would keep its own rights`),
    `${user} on ${cloud}`,
  );
}

describe("runner-user: accounts the default images have are refused before anything exists", () => {
  // The case, then one of each source the list names: Ubuntu's packages, snapd, the RHEL family's base
  // accounts, the prefixes.
  const everywhere = [
    "nvidia-persistenced",
    "nvidia-fabricmanager",
    "fwupd-refresh",
    "usbmux",
    "dhcpcd",
    "snap_daemon",
    "adm",
    "operator",
    "dbus",
    "rpcuser",
    "_chrony",
    "systemd-oom",
  ];
  for (const user of everywhere) {
    it(`${user}, on every cloud`, () => {
      for (const cloud of cloudNames()) refused(cloud, user);
    });
  }

  // Each cloud's own images' accounts (its imageAccounts: ec2-instance-connect, ssm-user, jupyter...): refused on that
  // cloud, a plain name on a cloud whose images do not have it.
  for (const cloud of cloudNames()) {
    for (const user of cloudNamed(cloud)!.inputs.imageAccounts ?? []) {
      it(`${user} on ${cloud}, and not on a cloud whose images lack it`, () => {
        refused(cloud, user);
        for (const other of cloudNames().filter((c) => !cloudNamed(c)!.inputs.imageAccounts?.includes(user)))
          assert.equal(start(other, user).runnerUser, user);
      });
    }
  }

  it("the agents' and notebook accounts (ec2-instance-connect, ssm-user, jupyter) are in their clouds' lists", () => {
    const all = cloudNames().flatMap((c) => cloudNamed(c)!.inputs.imageAccounts ?? []);
    for (const user of ["ec2-instance-connect", "ssm-user", "jupyter"]) assert.ok(all.includes(user), user);
  });

  it("a new account's name is taken as given (the checks can pass)", () => {
    for (const user of ["runner", "ci", "gpu-ci", "nvidia", "systemd", "jupyter-ci"])
      for (const cloud of cloudNames()) assert.equal(start(cloud, user).runnerUser, user);
  });
});
