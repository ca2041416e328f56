// What the AWS CLI does that Terraform cannot: read a machine's console, and find and delete this action's machines
// (and what their starts made beside them) by their ownership tags, without Terraform state.
import {
  type CloudCli,
  checkFilter,
  type FoundLeftover,
  type FoundMachine,
  type MachineFilter,
  type StartFilter,
} from "../cloud-cli.ts";
import { type CommandRunner, jsonList, runChecked } from "../cloud-command.ts";
import type { Env } from "../input-reader.ts";
import { LABEL_PREFIX, MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import type { AwsConfig } from "./config.ts";
import { REGION_SOURCE, REGION_VARIABLES, regionFromEnv } from "./inputs.ts";
import { awsPreflight } from "./preflight.ts";
import { repositoryIdOfSchedule } from "./schedule-owner.ts";

/** The region of the start's parse when its input is empty (REGION_VARIABLES): sweep and stop have no region input. */
function regionOf(env: Env): string {
  const region = regionFromEnv(env);
  if (!region)
    throw new Error(
      `${REGION_VARIABLES.join(" and ")} are not set: ${REGION_SOURCE}; without one the machines cannot be looked up`,
    );
  return region;
}

/** EC2's tags as describe-* print them: a list of Key/Value (EC2 TagList), or null for a resource without any. */
type TagList = { Key?: string; Value?: string }[] | null | undefined;
const tagOf = (tags: TagList, key: string): string | undefined => tags?.find((t) => t.Key === key)?.Value;

/**
 * The EC2 filters that select this action's resources of one repository (by its id), of one start when the filter
 * has a label. `tag:<key>` filters are EC2's (DescribeInstances and DescribeSecurityGroups, Filters, in the ec2
 * service model that ships with the aws CLI); several filters must all match.
 */
function ownershipFilters(filter: MachineFilter): string[] {
  const { repositoryId, label } = checkFilter(filter);
  return [
    `Name=tag:${OWNERSHIP_KEYS.managedBy},Values=${MANAGED_BY_VALUE}`,
    `Name=tag:${OWNERSHIP_KEYS.repositoryId},Values=${repositoryId}`,
    ...(label === undefined ? [] : [`Name=tag:${OWNERSHIP_KEYS.label},Values=${label}`]),
  ];
}

/** `describe-instances` as JSON: EC2's states pending/running and stopping/stopped. */
function parseInstances(json: string, region: string): FoundMachine[] {
  const machines: FoundMachine[] = [];
  for (const item of jsonList(json, "aws ec2 describe-instances") as {
    id?: unknown;
    state?: unknown;
    launched?: unknown;
    tags?: TagList;
  }[]) {
    if (typeof item.id !== "string" || !/^i-[0-9a-f]+$/.test(item.id)) continue;
    const tag = (key: string) => tagOf(item.tags, key);
    const lifetime = Number(tag(OWNERSHIP_KEYS.maxLifetime));
    machines.push({
      id: item.id,
      name: tag("Name") ?? item.id,
      label: tag(OWNERSHIP_KEYS.label) ?? "",
      repositoryId: tag(OWNERSHIP_KEYS.repositoryId) ?? "",
      state: item.state === "stopping" || item.state === "stopped" ? "stopped" : "running",
      launchedAt: typeof item.launched === "string" ? new Date(item.launched) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: region,
    });
  }
  return machines;
}

/** The last line of an error (runChecked ends its message with the CLI's stderr). */
const lastLine = (error: Error) => error.message.trim().split("\n").at(-1) ?? "";

/** The schedule group the stack puts lifetime schedules in (stack.ts, lifetimeSchedule). */
const SCHEDULE_GROUP = "default";
/** A lifetime schedule's name is its runner's: the start's label, '-', the runner's index. */
const SCHEDULE_NAME = /^([A-Za-z0-9][\w.-]{0,58})-(\d{1,3})$/;

/** The names `list-schedules --name-prefix` prints (ListSchedulesOutput.Schedules[].Name; the CLI follows NextToken). */
async function listSchedules(
  prefix: string,
  region: string,
  run: CommandRunner,
): Promise<{ names: string[] } | { refused: string }> {
  // NamePrefix is 1-64 of [0-9a-zA-Z-_.] (scheduler service model): never empty, which would list every schedule.
  if (!/^[\w.-]{1,64}$/.test(prefix)) throw new Error(`"${prefix}" is not a schedule name prefix`);
  const listing = await run("aws", [
    "scheduler",
    "list-schedules",
    "--region",
    region,
    "--group-name",
    SCHEDULE_GROUP,
    "--name-prefix",
    prefix,
    "--query",
    "Schedules[].Name",
    "--output",
    "json",
  ]);
  if (listing.exitCode !== 0)
    return { refused: listing.stderr.trim().split("\n").slice(-1)[0] || `exit ${listing.exitCode}` };
  return {
    names: jsonList(listing.stdout, "aws scheduler list-schedules").filter(
      (name): name is string => typeof name === "string" && name.startsWith(prefix) && SCHEDULE_NAME.test(name),
    ),
  };
}

/** The repository id a schedule's description names (GetScheduleOutput.Description); "" when none. */
async function scheduleOwner(name: string, region: string, run: CommandRunner): Promise<string> {
  const description = await runChecked(run, "aws", [
    "scheduler",
    "get-schedule",
    "--region",
    region,
    "--group-name",
    SCHEDULE_GROUP,
    "--name",
    name,
    "--query",
    "Description",
    "--output",
    "json",
  ]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(description || "null");
  } catch {
    throw new Error("aws scheduler get-schedule did not print JSON");
  }
  return typeof parsed === "string" ? repositoryIdOfSchedule(parsed) : "";
}

/** The no-inbound security groups of the filter's starts (DescribeSecurityGroups; SecurityGroup.GroupId, GroupName, Tags). */
async function findSecurityGroups(filter: MachineFilter, region: string, run: CommandRunner): Promise<FoundLeftover[]> {
  const listed = await runChecked(run, "aws", [
    "ec2",
    "describe-security-groups",
    "--region",
    region,
    "--filters",
    ...ownershipFilters(filter),
    "--query",
    "SecurityGroups[].{id: GroupId, name: GroupName, tags: Tags}",
    "--output",
    "json",
  ]);
  const groups: FoundLeftover[] = [];
  for (const item of jsonList(listed, "aws ec2 describe-security-groups") as {
    id?: unknown;
    name?: unknown;
    tags?: TagList;
  }[]) {
    if (typeof item.id !== "string" || !/^sg-[0-9a-f]+$/.test(item.id)) continue;
    groups.push({
      kind: "security group",
      id: item.id,
      name: typeof item.name === "string" ? item.name : item.id,
      label: tagOf(item.tags, OWNERSHIP_KEYS.label) ?? "",
      repositoryId: tagOf(item.tags, OWNERSHIP_KEYS.repositoryId) ?? "",
      location: region,
    });
  }
  return groups;
}

/**
 * What one start made beside its instances, found again by its tags: the no-inbound security group, and the
 * lifetime schedules whose description names the start's repository id.
 */
async function deleteLeftovers(start: StartFilter, region: string, run: CommandRunner): Promise<string[]> {
  const { repositoryId, label } = checkFilter(start);
  const deleted: string[] = [];
  for (const group of await findSecurityGroups(start, region, run)) {
    await runChecked(run, "aws", ["ec2", "delete-security-group", "--region", region, "--group-id", group.id]);
    deleted.push(`security group ${group.id}`);
  }
  // The lifetime schedules last: until the instances are gone they are the cap that still holds. A start
  // without lifetime-role has none, and its stop role may not be allowed to list them; one left behind costs
  // nothing, and at the cap it terminates an instance already gone and deletes itself. So a refused listing
  // is reported, never the stop's failure.
  const listing = await listSchedules(`${label}-`, region, run);
  if ("refused" in listing) {
    deleted.push(`(lifetime schedules not looked up: ${listing.refused}; any left delete themselves once they fire)`);
    return deleted;
  }
  for (const name of listing.names) {
    if (SCHEDULE_NAME.exec(name)?.[1] !== label) continue;
    // A schedule takes no tags: only its description can say it is this repository's. Unread, it is left.
    const owner = await scheduleOwner(name, region, run).catch((error: unknown) => error as Error);
    if (owner instanceof Error) {
      deleted.push(`(lifetime schedule ${name} left: its description could not be read: ${lastLine(owner)})`);
      continue;
    }
    if (owner !== repositoryId) {
      deleted.push(`(lifetime schedule ${name} left: its description does not name repository id ${repositoryId})`);
      continue;
    }
    await runChecked(run, "aws", [
      "scheduler",
      "delete-schedule",
      "--region",
      region,
      "--group-name",
      SCHEDULE_GROUP,
      "--name",
      name,
    ]);
    deleted.push(`lifetime schedule ${name}`);
  }
  return deleted;
}

export const awsCli: CloudCli<AwsConfig> = {
  preflight: awsPreflight,
  async bootConsole(config, machine, run) {
    // --latest asks Nitro instances for the current buffer instead of the snapshot taken at boot.
    const args = [
      "ec2",
      "get-console-output",
      "--region",
      config.region,
      "--instance-id",
      machine.id,
      "--latest",
      "--output",
      "text",
      "--query",
      "Output",
    ];
    return runChecked(run, "aws", args);
  },
  async findMachines(filter, env, run) {
    const region = regionOf(env);
    const found = await runChecked(run, "aws", [
      "ec2",
      "describe-instances",
      "--region",
      region,
      "--filters",
      ...ownershipFilters(filter),
      "Name=instance-state-name,Values=pending,running,stopping,stopped",
      "--query",
      "Reservations[].Instances[].{id: InstanceId, state: State.Name, launched: LaunchTime, tags: Tags}",
      "--output",
      "json",
    ]);
    return parseInstances(found, region);
  },
  async findLeftovers(filter, env, run) {
    const region = regionOf(env);
    const leftovers = await findSecurityGroups(filter, region, run);
    const unchecked: string[] = [];
    // Every label starts with LABEL_PREFIX, so the repository's schedules are among those named so.
    const listing = await listSchedules(filter.label === undefined ? LABEL_PREFIX : `${filter.label}-`, region, run);
    if ("refused" in listing) unchecked.push(`lifetime schedules (${listing.refused})`);
    else {
      for (const name of listing.names) {
        const label = SCHEDULE_NAME.exec(name)?.[1] ?? "";
        if (filter.label !== undefined && label !== filter.label) continue;
        const repositoryId = await scheduleOwner(name, region, run).catch((error: unknown) => error as Error);
        if (repositoryId instanceof Error) {
          unchecked.push(`lifetime schedule ${name} (${lastLine(repositoryId)})`);
          continue;
        }
        // Another repository's schedule (or one whose description is not this action's) is not listed at all.
        if (repositoryId !== filter.repositoryId) continue;
        leftovers.push({ kind: "lifetime schedule", id: name, name, label, repositoryId, location: region });
      }
    }
    return { leftovers, unchecked };
  },
  async deleteMachines(machines, starts, env, run) {
    const region = regionOf(env);
    for (const start of starts) checkFilter(start);
    const ids = machines.map((m) => m.id).filter((id) => /^i-[0-9a-f]+$/.test(id));
    const deleted: string[] = [];
    if (ids.length > 0) {
      await runChecked(run, "aws", ["ec2", "terminate-instances", "--region", region, "--instance-ids", ...ids]);
      deleted.push(...ids.map((id) => `instance ${id}`));
      // A security group can only go once no instance uses it.
      await runChecked(run, "aws", [
        "ec2",
        "wait",
        "instance-terminated",
        "--region",
        region,
        "--instance-ids",
        ...ids,
      ]);
    }
    for (const start of starts) deleted.push(...(await deleteLeftovers(start, region, run)));
    return deleted;
  },
};
