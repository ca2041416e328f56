// A cloud for orchestration tests: a real RunnerStack subclass whose "machines" are terraform_data resources, so
// the real terraform binary applies and destroys them offline. Each machine writes a marker file (holding the
// sha256 of the JIT config it received) and its destroy-time provisioner removes it. A machine type in
// `noCapacity` fails its apply with EC2's capacity error text; one in `broken` fails with any other error.
import { join } from "node:path";
import { DataResource, Fn } from "cdktf";
import { defineCloud } from "../../stacks/cloud.ts";
import type { PreflightFinding } from "../../stacks/preflight.ts";
import { type MachineMade, RunnerStack, type RunnerSlot } from "../../stacks/runner-stack.ts";

export interface TestCloudConfig {
  markerDir: string;
  machineType: string;
  fallbackMachineTypes: string[];
  noCapacity: string[];
  broken: string[];
  /** Console text bootConsole returns per machine name. */
  consoles: Record<string, string>;
  /** What the plan's summary says the user should know (a safety net this configuration lacks). */
  caveats?: string[];
  /** A GPU count the stack reads at apply (a terraform_data output), as a cloud reads its machine type's description. */
  gpusAtApply?: number;
  /** The image a machine reports having booted, as a cloud resolves a family or parameter at apply. */
  resolvedImage?: string;
  /** Boot script values this cloud adds (as Azure adds its deallocate command). */
  bootExtra?: Record<string, string>;
  /** What the cloud answers a preflight of each machine type (nothing asked when absent). */
  preflight?: Record<string, PreflightFinding[]>;
}

export function markerOf(config: Pick<TestCloudConfig, "markerDir">, runnerName: string): string {
  return join(config.markerDir, runnerName);
}

class TestCloudStack extends RunnerStack<TestCloudConfig> {
  protected override configureProvider(config: TestCloudConfig): TestCloudConfig {
    return config;
  }

  protected override bootOverrides(config: TestCloudConfig): Record<string, string> {
    return config.bootExtra ?? {};
  }

  protected override gpuCountAtApply(config: TestCloudConfig): string | undefined {
    if (config.gpusAtApply === undefined) return undefined;
    const described = new DataResource(this, "machine-type", { input: { gpus: config.gpusAtApply } });
    return Fn.lookupNested(described.output, ["gpus"]);
  }

  protected override createMachine(
    runner: RunnerSlot,
    userData: string,
    config: TestCloudConfig,
  ): string | MachineMade {
    const marker = markerOf(config, runner.name);
    const create = config.noCapacity.includes(config.machineType)
      ? `echo "Error: creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have sufficient ${config.machineType} capacity" >&2; exit 1`
      : config.broken.includes(config.machineType)
        ? 'echo "Error: UnauthorizedOperation: You are not authorized to perform this operation" >&2; exit 1'
        : // The JIT config reaches the machine inside its user-data; record a digest, never the value.
          `printf '%s' "$USER_DATA" | grep -o "GR_JIT_CONFIG='[^']*'" | sha256sum | cut -d' ' -f1 > "$MARKER.jit"; ` +
          `printf '%s' "$USER_DATA" | grep "^export GR_EXPECTED_GPUS=" > "$MARKER.gpus"; printf '%s' "${config.machineType}" > "$MARKER"`;
    const machine = new DataResource(this, `runner-${runner.index}`, {
      input: { marker },
      provisioners: [
        { type: "local-exec", command: create, environment: { USER_DATA: userData, MARKER: marker } },
        {
          type: "local-exec",
          when: "destroy",
          command: 'rm -f "$MARKER" "$MARKER.jit" "$MARKER.gpus"',
          environment: { MARKER: "${self.input.marker}" },
        },
      ],
    });
    return config.resolvedImage === undefined ? machine.id : { id: machine.id, image: config.resolvedImage };
  }
}

/** The definition, with its config given directly (tests build StartInputs themselves). */
export const testCloud = defineCloud<TestCloudConfig>({
  name: "test",
  environment: [],
  inputs: {
    names: [],
    example: {},
    parse: () => {
      throw new Error("the test cloud is configured directly, not from inputs");
    },
    tags: { max: 50, limitOf: "the test cloud", noun: "tags", setByStack: 0, reservedPrefixes: [] },
  },
  catalog: {
    gpus: (config) =>
      config.gpusAtApply === undefined
        ? { count: 0, source: "the test cloud has no GPU" }
        : {
            count: undefined,
            source: `${config.machineType} is not in the test cloud's catalog`,
            atApply: "the test cloud's description",
          },
    summary: (config) => ({
      machineType: config.machineType,
      location: "test-zone",
      image: "test-image",
      caveats: config.caveats,
    }),
    hourlyPriceUsd: (config) => (config.machineType === "a" ? 1.5 : undefined),
    pricesAsOf: "2025-06",
    capacity: (config) => ({
      spot: false,
      machineTypes: [config.machineType, ...config.fallbackMachineTypes],
      places: ["test-zone"],
      candidate: (machineType) => ({ ...config, machineType, fallbackMachineTypes: [] }),
    }),
  },
  terraform: {
    // terraform_data is built into cdktf and Terraform: nothing to load.
    load: async () => {},
    providerPackages: [],
    createStack: (scope, id, shared, config) => new TestCloudStack(scope, id, shared, config),
    // What createMachine prints for a machine type in noCapacity: EC2's wording, as the real one would.
    capacityErrors: [/InsufficientInstanceCapacity/],
    credentialsHint: "the test cloud's markers.",
    userDataLimitBytes: 128 * 1024,
    userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
  },
  cli: {
    bootConsole: async (config, machine) => config.consoles[machine.name] ?? "",
    // A stop without state looks here; TEST_SWEEP answers as the cloud would ("fail" for an unreachable CLI).
    findMachines: async (filter, env) => {
      if (env.TEST_SWEEP === "fail") throw new Error("the cloud's CLI is not configured");
      const label = filter.label ?? "gpu-1-1-00000000";
      const { repositoryId } = filter;
      return env.TEST_SWEEP === "found"
        ? [{ id: `${label}-0`, name: `${label}-0`, label, repositoryId, state: "running", location: "test-zone" }]
        : [];
    },
    findLeftovers: async () => ({ leftovers: [], unchecked: [] }),
    deleteMachines: async (machines) => machines.map((m) => `instance ${m.name}`),
    preflight: async (config) => config.preflight?.[config.machineType] ?? [],
  },
});
