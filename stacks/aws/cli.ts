// What the AWS CLI does that Terraform cannot: read a machine's console, and find and delete this action's machines
// (and what their starts made beside them) by their ownership tags, without Terraform state.
import { type CloudCli, type CommandRunner, type FoundMachine, jsonList, runChecked } from "../cloud.ts";
import type { Env } from "../input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "../names.ts";
import type { AwsConfig } from "./config.ts";
import { REGION_SOURCE, REGION_VARIABLES, regionFromEnv } from "./inputs.ts";

/** The region of the start's parse when its input is empty (REGION_VARIABLES): sweep and stop have no region input. */
function regionOf(env: Env): string {
  const region = regionFromEnv(env);
  if (!region)
    throw new Error(
      `${REGION_VARIABLES.join(" and ")} are not set: ${REGION_SOURCE}; without one the machines cannot be looked up`,
    );
  return region;
}

/** `describe-instances` as JSON: EC2's states pending/running and stopping/stopped. */
function parseInstances(json: string, region: string): FoundMachine[] {
  const machines: FoundMachine[] = [];
  for (const item of jsonList(json, "aws ec2 describe-instances") as {
    id?: unknown;
    state?: unknown;
    launched?: unknown;
    tags?: { Key?: string; Value?: string }[] | null;
  }[]) {
    if (typeof item.id !== "string" || !/^i-[0-9a-f]+$/.test(item.id)) continue;
    const tag = (key: string) => item.tags?.find((t) => t.Key === key)?.Value;
    const lifetime = Number(tag(OWNERSHIP_KEYS.maxLifetime));
    machines.push({
      id: item.id,
      name: tag("Name") ?? item.id,
      label: tag(OWNERSHIP_KEYS.label) ?? "",
      state: item.state === "stopping" || item.state === "stopped" ? "stopped" : "running",
      launchedAt: typeof item.launched === "string" ? new Date(item.launched) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: region,
    });
  }
  return machines;
}

/** What a start makes beside its instances, found by its label: the no-inbound security group, the lifetime schedules. */
async function deleteLeftovers(label: string, region: string, run: CommandRunner): Promise<string[]> {
  const deleted: string[] = [];
  const filter = `Name=tag:${OWNERSHIP_KEYS.label},Values=${label}`;
  const groups = await runChecked(run, "aws", [
    "ec2",
    "describe-security-groups",
    "--region",
    region,
    "--filters",
    filter,
    "--query",
    "SecurityGroups[].GroupId",
    "--output",
    "text",
  ]);
  for (const group of groups.split(/\s+/).filter((id) => /^sg-[0-9a-f]+$/.test(id))) {
    await runChecked(run, "aws", ["ec2", "delete-security-group", "--region", region, "--group-id", group]);
    deleted.push(`security group ${group}`);
  }
  // The lifetime schedules last: until the instances are gone they are the cap that still holds. A start
  // without lifetime-role has none, and its stop role may not be allowed to list them; one left behind costs
  // nothing, and at the cap it terminates an instance already gone and deletes itself. So a refused listing
  // is reported, never the stop's failure.
  const listing = await run("aws", [
    "scheduler",
    "list-schedules",
    "--region",
    region,
    "--group-name",
    "default",
    "--name-prefix",
    label,
    "--query",
    "Schedules[].Name",
    "--output",
    "text",
  ]);
  if (listing.exitCode !== 0) {
    const reason = listing.stderr.trim().split("\n").slice(-1)[0] || `exit ${listing.exitCode}`;
    deleted.push(`(lifetime schedules not looked up: ${reason}; any left delete themselves once they fire)`);
    return deleted;
  }
  for (const name of listing.stdout
    .split(/\s+/)
    .filter((name) => name.startsWith(label) && /^[\w.-]{1,64}$/.test(name))) {
    await runChecked(run, "aws", [
      "scheduler",
      "delete-schedule",
      "--region",
      region,
      "--group-name",
      "default",
      "--name",
      name,
    ]);
    deleted.push(`lifetime schedule ${name}`);
  }
  return deleted;
}

export const awsCli: CloudCli<AwsConfig> = {
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
    const [key, value] =
      "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
    const found = await runChecked(run, "aws", [
      "ec2",
      "describe-instances",
      "--region",
      region,
      "--filters",
      `Name=tag:${OWNERSHIP_KEYS.managedBy},Values=${MANAGED_BY_VALUE}`,
      `Name=tag:${key},Values=${value}`,
      "Name=instance-state-name,Values=pending,running,stopping,stopped",
      "--query",
      "Reservations[].Instances[].{id: InstanceId, state: State.Name, launched: LaunchTime, tags: Tags}",
      "--output",
      "json",
    ]);
    return parseInstances(found, region);
  },
  async deleteMachines(machines, labels, env, run) {
    const region = regionOf(env);
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
    for (const label of labels) deleted.push(...(await deleteLeftovers(label, region, run)));
    return deleted;
  },
};
