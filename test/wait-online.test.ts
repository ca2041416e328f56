import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import nock from "nock";
import type { Clock } from "../scripts/adapters/action-io.ts";
import { createGitHubClient } from "../scripts/adapters/github.ts";
import { RunnersNotOnlineError, waitForRunnersOnline } from "../scripts/phases/wait-online.ts";
import { FAKE_TOKEN } from "./kit/env.ts";
import { recordingIO } from "./kit/io.ts";

const API = "https://api.github.com";
const RUNNERS = "/repos/octo-org/md-sim/actions/runners";

function runnerBody(id: number, status: string, busy = false) {
  return { id, name: `r-${id}`, os: "Linux", status, busy, labels: [{ id: 1, name: "gpu-1-1-00000000", type: "custom" }] };
}

/** A clock that advances only when the code under test sleeps, so the timeout logic runs instantly. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

function client() {
  return createGitHubClient({ token: FAKE_TOKEN, apiUrl: API, scope: { kind: "repository", owner: "octo-org", repo: "md-sim" }, log: () => {}, sleep: async () => {}, spaceWrites: false });
}

describe("waitForRunnersOnline", () => {
  before(() => nock.disableNetConnect());
  after(() => nock.enableNetConnect());
  afterEach(() => {
    assert.ok(nock.isDone(), `unused mocks: ${nock.pendingMocks().join(", ")}`);
    nock.cleanAll();
  });

  it("polls each runner by id until all are online, logging progress", async () => {
    const api = nock(API);
    api.get(`${RUNNERS}/11`).reply(200, runnerBody(11, "offline"));
    api.get(`${RUNNERS}/12`).reply(200, runnerBody(12, "offline"));
    api.get(`${RUNNERS}/11`).reply(200, runnerBody(11, "online"));
    api.get(`${RUNNERS}/12`).reply(200, runnerBody(12, "offline"));
    // Runner 11 is not asked again once online.
    api.get(`${RUNNERS}/12`).reply(200, runnerBody(12, "online"));
    const io = recordingIO();
    const clock = fakeClock();
    await waitForRunnersOnline(client(), [{ id: 11, name: "r-11" }, { id: 12, name: "r-12" }], { timeoutMs: 60_000, intervalMs: 5000 }, { io, clock });
    assert.deepEqual(clock.slept, [5000, 5000]);
    assert.deepEqual(
      io.lines.filter((l) => l.startsWith("Runners online")),
      ["Runners online 0/2 (0 s of 60 s)", "Runners online 1/2 (5 s of 60 s)", "Runners online 2/2 (10 s of 60 s)"],
    );
  });

  it("counts a busy runner, and one already gone after its job, as up", async () => {
    nock(API).get(`${RUNNERS}/21`).reply(200, runnerBody(21, "offline", true)).get(`${RUNNERS}/22`).reply(404, { message: "Not Found" });
    const io = recordingIO();
    await waitForRunnersOnline(client(), [{ id: 21, name: "r-21" }, { id: 22, name: "r-22" }], { timeoutMs: 60_000, intervalMs: 5000 }, { io, clock: fakeClock() });
    assert.ok(io.lines.includes("r-22 is no longer registered: it already ran its job."));
  });

  it("gives up at runner-timeout naming the runners still offline", async () => {
    nock(API).get(`${RUNNERS}/31`).times(4).reply(200, runnerBody(31, "online")).get(`${RUNNERS}/32`).times(4).reply(200, runnerBody(32, "offline"));
    const clock = fakeClock();
    await assert.rejects(
      waitForRunnersOnline(client(), [{ id: 31, name: "r-31" }, { id: 32, name: "r-32" }], { timeoutMs: 15_000, intervalMs: 5000 }, { io: recordingIO(), clock }),
      (error: unknown) => {
        assert.ok(error instanceof RunnersNotOnlineError);
        assert.deepEqual(error.offline, [{ id: 32, name: "r-32" }]);
        assert.match(error.message, /^r-32 did not come online within 15 s \(runner-timeout\)/);
        return true;
      },
    );
    // Never waits past the timeout: 0, 5, 10, 15 s polled, then no further sleep.
    assert.deepEqual(clock.slept, [5000, 5000, 5000]);
    nock.cleanAll();
  });
});

