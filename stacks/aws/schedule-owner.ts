// Whose a lifetime schedule is. EventBridge Scheduler schedules take no tags (only schedule groups do: the
// scheduler service model in botocore, CreateScheduleInput, has no Tags member, TagResource names a group's ARN), so
// the repository id that every other resource carries as a tag is written into the schedule's description, which
// GetSchedule returns (GetScheduleOutput.Description, 0-512 characters) and ListSchedules does not.

/** The description the stack gives a machine's lifetime schedule: it names the repository id the sweep judges by. */
export function scheduleDescription(runnerName: string, repositoryId: string): string {
  return `Terminates ${runnerName} at its lifetime cap (ephemeral GPU runner of repository id ${repositoryId})`;
}

const OWNER = /\(ephemeral GPU runner of repository id ([1-9][0-9]{0,19})\)$/;

/** The repository id a schedule's description names; "" for a description of another shape (not provably ours). */
export function repositoryIdOfSchedule(description: string): string {
  return OWNER.exec(description)?.[1] ?? "";
}
