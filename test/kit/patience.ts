// How long the tests wait, and how many heavy tests run at once. Nothing here is a verdict: a test proves its property
// from what the code recorded (a log line, a deadline file, a process still alive), never from how long something
// took. These bounds only turn a test that would wait forever into one that fails saying what it was waiting for.
// They are generous on purpose: a shared 2-core machine with a busy neighbour runs many times slower than a quiet one.
import { availableParallelism } from "node:os";

/** After this long, a wait is reported as hung. */
export const HUNG_MS = 120_000;

/**
 * A test's own bound (node:test's `timeout`), past every wait above; `npm run test:unit` gives it to every test
 * (--test-timeout=360000), so that even a test stuck outside the kit's waits ends as a failure.
 */
export const TEST_HUNG_MS = 3 * HUNG_MS;

/**
 * How many boot sandboxes or local worlds a suite runs at once: two per core. Each is a handful of processes that
 * spend most of their time waiting (the boot script polls its runner once a second), so two per core keep the cores
 * busy; a dozen at once, as before, made every one of them slower without finishing the suite sooner.
 */
export const PARALLEL = 2 * Math.max(1, availableParallelism());

/** Resolves when `check` holds (polled every 25 ms); rejects naming `what` once `hungAfterMs` has passed. */
export async function waitFor(what: string, check: () => boolean, hungAfterMs = HUNG_MS): Promise<void> {
  const deadline = Date.now() + hungAfterMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`hung: still waiting for ${what} after ${hungAfterMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
