// Azure's auto-shutdown as the lifetime cap outside the VM: a daily schedule, so a cap only while its first firing
// after creation is the one at max-lifetime.
import { LIFETIME_CAP_MARGIN_MINUTES } from "../lifetime-cap.ts";

/**
 * A daily schedule is a cap only while its first firing after creation is the one at max-lifetime: with the cap
 * more than 23 hours away (an hour left for apply and boot), it would fire the same time-of-day a day early.
 */
export function lifetimeScheduleFits(maxLifetimeMinutes: number): boolean {
  return maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES <= 23 * 60;
}

/** DevTest Labs' daily_recurrence_time: HHmm, read in the schedule's time zone (UTC). */
export function dailyTime(time: Date): string {
  return time.toISOString().slice(11, 16).replace(":", "");
}
