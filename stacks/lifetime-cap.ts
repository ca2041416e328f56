// The cap outside the machine, for a cloud that sets it as a point in time (a one-time schedule, a daily shutdown)
// rather than as a run duration the cloud counts itself: when it fires, and how a sweep reads a machine's lifetime.

/**
 * How long after synthesis the outside cap fires beyond max-lifetime. The boot script's timer counts from boot, which
 * comes after synthesis by Terraform's apply and the machine's start (a few minutes): the margin lets that timer,
 * which powers off cleanly, act first in the normal case, while the outside cap still bounds the bill at max-lifetime
 * plus this margin from the start when the timer was disarmed or never armed. Should apply and boot take longer than
 * the margin, the outside cap ends the machine that much before its own timer would. A sweep gives a machine the same
 * margin past its max-lifetime before it counts as outliving it.
 */
export const LIFETIME_CAP_MARGIN_MINUTES = 10;

/**
 * The instant the outside cap fires: synthesis + max-lifetime + margin, rounded up to the cloud's step (a schedule
 * that takes whole seconds, a daily time that takes whole minutes), so it never fires before.
 */
export function lifetimeCapTime(synthesizedAt: Date, maxLifetimeMinutes: number, step: "second" | "minute"): Date {
  const at = synthesizedAt.getTime() + (maxLifetimeMinutes + LIFETIME_CAP_MARGIN_MINUTES) * 60_000;
  const stepMs = step === "second" ? 1000 : 60_000;
  return new Date(Math.ceil(at / stepMs) * stepMs);
}
