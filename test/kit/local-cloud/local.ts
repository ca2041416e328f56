// The `local` machine kind, for tests and demos: each "machine" is the real boot script run as a local process
// in a scratch directory, started by a terraform_data resource's local-exec provisioner and stopped by its
// destroy-time provisioner. Terraform runs init/apply/output/destroy on it for real, offline: the built-in
// terraform_data resource needs no provider download. Power-off, timers and user management are stood in for by the
// scripts in test/kit/local-cloud/bin, so nothing outside the scratch directory is touched.
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DataResource } from "cdktf";
import { shellQuote } from "../../../stacks/boot-script.ts";
import type { InputReader } from "../../../stacks/input-reader.ts";
import { defineCloud } from "../../../stacks/cloud.ts";
import type { FoundMachine } from "../../../stacks/cloud-cli.ts";
import { runChecked } from "../../../stacks/cloud-command.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../../../stacks/names.ts";
import { RunnerStack, type RunnerSlot } from "../../../stacks/runner-stack.ts";

/** Not action inputs: the local kind is configured by the test harness or the demo through these variables. */
export const LOCAL_ENV = {
  root: "LOCAL_KIND_ROOT",
  runnerUrl: "LOCAL_KIND_RUNNER_URL",
  runnerSha256: "LOCAL_KIND_RUNNER_SHA256",
} as const;

export interface LocalConfig {
  /** Scratch directory under which each machine gets its own directory. */
  root: string;
  /** Base URL of the runner release stand-in (the boot script appends /v<version>/actions-runner-...). */
  runnerUrl: string;
  runnerSha256: string;
}

const LOCAL_DIR = fileURLToPath(new URL("./", import.meta.url));

export class LocalRunnerStack extends RunnerStack<LocalConfig> {
  protected override configureProvider(config: LocalConfig): LocalConfig {
    return config; // terraform_data is built into Terraform: no provider to declare.
  }

  protected override bootOverrides(config: LocalConfig, runner: RunnerSlot): Record<string, string> {
    const dir = machineDir(config, runner);
    return {
      GR_RUNNER_DOWNLOAD_BASE: config.runnerUrl,
      GR_RUNNER_SHA256_X64: config.runnerSha256,
      GR_RUNNER_SHA256_ARM64: config.runnerSha256,
      GR_INSTALL_DIR: join(dir, "actions-runner"),
      GR_SUDOERS_DIR: join(dir, "sudoers.d"),
      GR_CLOUD_INIT_DIR: join(dir, "cloud"),
      // A guest agent's directory: under the machine directory too, never this host's.
      GR_AGENT_DIR: join(dir, "agent"),
      // The lifetime re-arm's deadline and systemd unit go under the machine directory, not this host's /etc.
      GR_SYSTEM_ROOT: dir,
      // The script's output already goes to console.log (launch.sh): writing each line there again would double it.
      GR_CONSOLE: "/dev/null",
    };
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: LocalConfig): string {
    const dir = machineDir(config, runner);
    const machine = new DataResource(this, `runner-${runner.index}`, {
      input: { dir },
      provisioners: [
        {
          type: "local-exec",
          command: `bash ${shellQuote(join(LOCAL_DIR, "launch.sh"))}`,
          // The user-data (JIT config included) reaches the launcher through its environment, as cloud-init
          // would hand it to the machine; launch.sh writes it where the boot script expects cloud-init's copy.
          environment: {
            GR_MACHINE_DIR: dir,
            GR_USER_DATA: userData,
            GR_STAND_INS: join(LOCAL_DIR, "bin"),
            GR_MACHINE_TAGS: JSON.stringify(this.ownershipTags()),
          },
        },
        {
          type: "local-exec",
          when: "destroy",
          // Destroy-time provisioners may only reference self.
          command: `bash ${shellQuote(join(LOCAL_DIR, "halt.sh"))} "\${self.input.dir}"`,
        },
      ],
    });
    return machine.id;
  }
}

function machineDir(config: LocalConfig, runner: RunnerSlot): string {
  return join(config.root, runner.name);
}

export const localCloud = defineCloud<LocalConfig>({
  name: "local",
  // The local kind's settings and the test kit's fault knobs (read by launch.sh through a PATH shim).
  environment: [/^LOCAL_[A-Z0-9_]+$/],
  inputs: {
    names: [],
    example: {},
    parse(read: InputReader): LocalConfig {
      const root = read.env[LOCAL_ENV.root] ?? "";
      const runnerUrl = read.env[LOCAL_ENV.runnerUrl] ?? "";
      const runnerSha256 = read.env[LOCAL_ENV.runnerSha256] ?? "";
      if (!root.startsWith("/"))
        read.fail(
          "cloud",
          `cloud 'local' (tests and demos) to have ${LOCAL_ENV.root} set to an absolute scratch directory`,
        );
      if (!/^http:\/\/127\.0\.0\.1:\d+(\/.*)?$/.test(runnerUrl))
        read.fail("cloud", `cloud 'local' to have ${LOCAL_ENV.runnerUrl} set to a runner release server on 127.0.0.1`);
      if (!/^[0-9a-f]{64}$/.test(runnerSha256))
        read.fail("cloud", `cloud 'local' to have ${LOCAL_ENV.runnerSha256} set to the stand-in release's sha256`);
      return { root, runnerUrl, runnerSha256 };
    },
    tags: { max: 50, limitOf: "the local kind", noun: "tags", setByStack: 0, reservedPrefixes: [] },
  },
  catalog: {
    gpus: () => ({ count: 0, source: "a local process has no GPU" }),
    summary: (config) => ({ machineType: "local process", location: config.root, image: "this machine" }),
    hourlyPriceUsd: () => 0,
    pricesAsOf: "always",
    // One machine, one place: the local kind has no alternatives to move on to.
    capacity: (config) => ({
      spot: false,
      machineTypes: ["local process"],
      places: [config.root],
      candidate: () => config,
    }),
  },
  terraform: {
    // terraform_data is built into cdktf and Terraform: nothing to load, and no provider package to keep.
    load: async () => {},
    providerPackages: [],
    createStack: (scope, id, shared, config) => new LocalRunnerStack(scope, id, shared, config),
    // A launch that fails is not a capacity answer.
    capacityErrors: [],
    credentialsHint: "that the local kind's variables (LOCAL_KIND_*) are set: the test kit's world sets them.",
    // The user-data travels in one environment variable, and Linux caps a single one at 128 KiB.
    userDataLimitBytes: 128 * 1024,
    userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
  },
  cli: {
    async bootConsole(config, machine) {
      return readFile(join(config.root, machine.name, "console.log"), "utf8");
    },
    // The machines are the directories under LOCAL_KIND_ROOT; launch.sh keeps each one's tags in tags.json, and the
    // power-off stand-in leaves "powered-off" behind, as a stopped instance stays listed until it is deleted.
    async findMachines(filter, env) {
      const root = env[LOCAL_ENV.root];
      if (!root) throw new Error(`${LOCAL_ENV.root} is not set: the local machines cannot be looked up`);
      const machines: FoundMachine[] = [];
      for (const entry of await readdir(root).catch(() => [] as string[])) {
        const tagsFile = join(root, entry, "tags.json");
        const tags = await readFile(tagsFile, "utf8").then(
          (text) => JSON.parse(text) as Record<string, string>,
          () => undefined,
        );
        if (!tags || tags[OWNERSHIP_KEYS.managedBy] !== MANAGED_BY_VALUE) continue;
        if (tags[OWNERSHIP_KEYS.repositoryId] !== filter.repositoryId) continue;
        if (filter.label !== undefined && tags[OWNERSHIP_KEYS.label] !== filter.label) continue;
        machines.push({
          id: entry,
          name: entry,
          label: tags[OWNERSHIP_KEYS.label] ?? "",
          repositoryId: tags[OWNERSHIP_KEYS.repositoryId] ?? "",
          state: existsSync(join(root, entry, "powered-off")) ? "stopped" : "running",
          launchedAt: (await stat(tagsFile)).mtime,
          maxLifetimeMinutes: Number(tags[OWNERSHIP_KEYS.maxLifetime]) || undefined,
          location: root,
        });
      }
      return machines;
    },
    // A local machine is one directory: nothing is made beside it.
    async findLeftovers() {
      return { leftovers: [], unchecked: [] };
    },
    async deleteMachines(machines, _starts, env, run) {
      const root = env[LOCAL_ENV.root];
      if (!root) throw new Error(`${LOCAL_ENV.root} is not set: the local machines cannot be deleted`);
      const deleted: string[] = [];
      for (const machine of machines) {
        await runChecked(run, "bash", [join(LOCAL_DIR, "halt.sh"), join(root, machine.name)]);
        deleted.push(`local machine ${machine.name}`);
      }
      return deleted;
    },
    // What a local start needs that can be missing: its scratch directory, where each machine gets its own.
    async preflight(config) {
      const check = `the scratch directory ${config.root}`;
      const isDirectory = await stat(config.root).then(
        (found) => found.isDirectory(),
        () => false,
      );
      return [
        isDirectory
          ? { check, status: "ok", detail: "exists", scope: "start" }
          : { check, status: "failed", detail: "missing", fix: `create it, or set ${LOCAL_ENV.root}`, scope: "start" },
      ];
    },
  },
});
