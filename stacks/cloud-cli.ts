// What a cloud's CLI does for the action where Terraform cannot (each cloud's cli.ts, preflight.ts and
// state-store.ts): read a boot console, find and delete what a start made without its state, keep the encrypted state
// in the cloud's bucket, and ask the cloud before anything exists whether a start can succeed.
import type { CommandRunner } from "./cloud-command.ts";
import type { Env, InputReader } from "./input-reader.ts";
import type { PreflightFinding, PreflightRequest } from "./preflight.ts";

/**
 * A bucket of the cloud that keeps a start's encrypted state bundle (the same bytes as the workflow artifact) when
 * `state-backend` names it. Terraform's own state never goes there: it holds the machines' user-data, runner
 * credential included, in clear, so it stays in the job's scratch directory and leaves only inside the bundle.
 */
export interface StateStore {
  /** The value of the `state-backend` input that selects it (not "artifact", which is the workflow artifact). */
  kind: string;
  /** Where the bundles go, for logs and the review. */
  description: string;
  put(stateId: string, file: string, run: CommandRunner): Promise<void>;
  /** Copies the bundle to `file`; false when the store has none for this state id. */
  get(stateId: string, file: string, run: CommandRunner): Promise<boolean>;
  remove(stateId: string, run: CommandRunner): Promise<void>;
}

export interface StateStoreDefinition {
  kind: string;
  /** Reads state-bucket, state-prefix and whatever else the store needs (errors name the input). */
  parse(read: InputReader): StateStore;
}

/**
 * Whose resources a cloud's CLI looks for: always one repository's, by the numeric id its ownership tag carries
 * (a name can be folded into another repository's by a cloud's label rules, a number cannot), and, with `label`,
 * only one start's of it. A label alone proves nothing: another repository's start can carry any label.
 */
export interface MachineFilter {
  /** The repository's numeric id (GITHUB_REPOSITORY_ID). */
  repositoryId: string;
  /** One start's label (its state id); every start of the repository when absent. Never empty. */
  label?: string;
}

/** One start of one repository: what deleteMachines deletes the leftovers of. */
export type StartFilter = Required<MachineFilter>;

/** What a filter may hold before it reaches a command line: digits for the id, a label's characters for the label. */
const FILTER_REPOSITORY_ID = /^[1-9][0-9]{0,19}$/;
const FILTER_LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The filter, once its repository id is a number and its label (when given) a non-empty label: an empty label is a
 * prefix or a tag value that matches every start ("--name-prefix ''" would list every schedule of the account).
 */
export function checkFilter<F extends MachineFilter>(filter: F): F {
  if (!FILTER_REPOSITORY_ID.test(filter.repositoryId))
    throw new Error(`the repository id "${filter.repositoryId}" is not a positive number (GITHUB_REPOSITORY_ID)`);
  if (filter.label !== undefined && !FILTER_LABEL.test(filter.label))
    throw new Error(`the label "${filter.label}" is not a start's label (1-64 of A-Z a-z 0-9 _ . -)`);
  return filter;
}

/** A machine found by its tags. */
export interface FoundMachine {
  /** What the cloud's CLI deletes it by (instance id; name for clouds that address machines by name). */
  id: string;
  /** Its name: the runner's. */
  name: string;
  /** The ownership label of its start (its state id); "" when the tag is missing. */
  label: string;
  /**
   * The repository id its ownership tag carries ("" when missing): the proof that it is this repository's. The sweep
   * deletes a machine only when this is its own repository's id, whatever the filter asked the cloud for.
   */
  repositoryId: string;
  /** running (or starting); stopped (or stopping): powered off but not deleted, its disk still billed. */
  state: "running" | "stopped";
  launchedAt?: Date;
  /** The max-lifetime it was started with, from its tags. */
  maxLifetimeMinutes?: number;
  /** Where it is (region, zone), for the sweep's table. */
  location: string;
}

/**
 * Something a start made beside its machines (a security group, a lifetime schedule, a network interface, a public
 * IP, a disk...), found by its ownership tags: left behind when its machine is already gone.
 */
export interface FoundLeftover {
  /** What it is, in words: "security group", "lifetime schedule", "network interface"... */
  kind: string;
  /** What the cloud's CLI addresses it by. */
  id: string;
  name: string;
  /** The ownership label of its start; "" when the tag is missing (then nothing can judge it). */
  label: string;
  /** The repository id its ownership tag (or, for what takes no tags, its description) carries; "" when missing. */
  repositoryId: string;
  /** Where it is (region, location), for the sweep's table. */
  location: string;
}

/** What findLeftovers found, and what it could not look for (in words, e.g. a listing the credentials may not make). */
export interface LeftoverSearch {
  leftovers: FoundLeftover[];
  unchecked: string[];
}

/** What the cloud's CLI does that Terraform cannot (cli.ts): read a boot console, find and delete machines without state. */
export interface CloudCli<C> {
  /**
   * The machine's console (serial port) output, where the boot script's lines appear: shown when a runner does
   * not come online, before the machine is destroyed.
   */
  bootConsole(config: C, machine: { name: string; id: string }, run: CommandRunner): Promise<string>;
  /**
   * The machines this action made that still exist (not yet terminated or deleted), found by their ownership tags
   * with the cloud's CLI, without Terraform state: those of the filter's repository (by its id), of one start when
   * it has a label. `env` holds the cloud's usual variables (region, project), which say where to look.
   */
  findMachines(filter: MachineFilter, env: Env, run: CommandRunner): Promise<FoundMachine[]>;
  /**
   * What the filter's starts made beside their machines (security groups, schedules, NICs, IPs, disks...), found by
   * their own ownership tags, whether or not their machine still exists: what the sweep judges by its start's label.
   */
  findLeftovers(filter: MachineFilter, env: Env, run: CommandRunner): Promise<LeftoverSearch>;
  /**
   * Deletes these machines, then what each of `starts` made beside them (security groups, schedules...), found
   * again by their tags (repository id and label both) once the machines are gone. Returns one line per thing
   * deleted (and, in parentheses, per harmless leftover it could not look for). Used by stop after its destroy,
   * and by mode: sweep.
   */
  deleteMachines(machines: FoundMachine[], starts: StartFilter[], env: Env, run: CommandRunner): Promise<string[]>;
  /**
   * Asks the cloud, before anything exists, whether a start of this configuration can succeed (stacks/preflight.ts):
   * its dry runs, quotas, images and permissions. Quick (the calls run at once) and read-only; a question it cannot
   * ask is an "unchecked" finding, never a throw.
   */
  preflight(config: C, request: PreflightRequest, run: CommandRunner): Promise<PreflightFinding[]>;
}
