// What a cloud must provide to be selectable by the `cloud` input. A new cloud is one file that exports a
// CloudDefinition, plus one line in clouds.ts.
import type { Construct } from "constructs";
import type { CommandRunner } from "../scripts/adapters/command.ts";
import type { Env, InputReader } from "./input-reader.ts";
import type { RunnerStack, SharedStackConfig } from "./runner-stack.ts";

export interface MachineSummary {
  machineType: string;
  location: string;
  image: string;
}

export interface CloudDefinition<C> {
  /** The value of the `cloud` input. */
  name: string;
  /** Inputs that only this cloud reads; any other cloud rejects them when set. */
  inputs: readonly string[];
  /** Reads and validates this cloud's inputs (errors name the input). */
  parse(read: InputReader): C;
  /** Loads the cloud's provider bindings; await it before createStack (synthesizeStack does). */
  load(): Promise<void>;
  createStack(scope: Construct, id: string, shared: SharedStackConfig, config: C): RunnerStack<C>;
  /** The GPUs a machine of this config carries, when known; the GPU gate expects that many. */
  gpusPerMachine(config: C): number | undefined;
  summary(config: C): MachineSummary;
  /** Estimated on-demand price of one machine, from the dated table in prices.ts; undefined when unknown. */
  hourlyPriceUsd(config: C): number | undefined;
  /** Example input values (input name -> value) that synthesize without any cloud account. */
  example: Readonly<Record<string, string>>;
  /** The most bytes of boot script the cloud accepts as user-data / startup-script metadata. */
  userDataLimitBytes: number;
  /**
   * The machine's console (serial port) output, where the boot script's lines appear: shown when a runner does
   * not come online, before the machine is destroyed.
   */
  bootConsole(config: C, machine: { name: string; id: string }, run: CommandRunner): Promise<string>;
  /**
   * Deletes every machine (and shared piece) carrying this start's label tag, without Terraform state: the stop
   * fallback when the state is missing or cannot be decrypted. `env` holds the cloud's usual variables (region,
   * project). Returns one line per thing deleted.
   */
  sweep(label: string, env: Env, run: CommandRunner): Promise<string[]>;
  /**
   * The configurations to try in order when the cloud reports no capacity: the user's candidate machine types,
   * zones or subnets, and Spot before on-demand. The first is `config` itself.
   */
  alternatives(config: C): C[];
}

/** Erases the config type so clouds of different configs share one registry; each definition stays typed inside. */
export function defineCloud<C>(definition: CloudDefinition<C>): CloudDefinition<unknown> {
  return definition as unknown as CloudDefinition<unknown>;
}
