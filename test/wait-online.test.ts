import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import nock from "nock";
import type { Clock } from "../scripts/adapters/action-io.ts";
import { createGitHubClient } from "../scripts/adapters/github/client.ts";
import { RunnersNotOnlineError, waitForRunnersOnline } from "../scripts/phases/wait-online.ts";
import { FAKE_TOKEN } from "./kit/env.ts";
import { recordingIO } from "./kit/io.ts";

const API = "https://api.github.com";
const RUNNERS = "/repos/octo-org/md-sim/actions/runners";

function runnerBody(id: number, status: string, busy = false) {
  return {
    id,
    name: `r-${id}`,
    os: "Linux",
    status,
    busy,
    labels: [{ id: 1, name: "gpu-1-1-00000000", type: "custom" }],
  };
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
  return createGitHubClient({
    token: FAKE_TOKEN,
    apiUrl: API,
    scope: { kind: "repository", owner: "octo-org", repo: "md-sim" },
    log: () => {},
    sleep: async () => {},
    spaceWrites: false,
  });
}

describe("waitForRunnersOnline", () => {
  before(() => nock.disableNetConnect());
  after(() => nock.enableNetConnect());
  afterEach(() => {
    assert.ok(nock.isDone(), `unused mocks: ${nock.pendingMocks().join(", ")}`);
    nock.cleanAll();
  });

  const list = (...runners: ReturnType<typeof runnerBody>[]) => ({ total_count: runners.length, runners });

  it("asks once per poll for every runner (one listing), until all are online, logging progress", async () => {
    const api = nock(API);
    api
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, list(runnerBody(11, "offline"), runnerBody(12, "offline"), runnerBody(99, "online")));
    api.get(`${RUNNERS}?per_page=100`).reply(200, list(runnerBody(11, "online"), runnerBody(12, "offline")));
    api.get(`${RUNNERS}?per_page=100`).reply(200, list(runnerBody(11, "online"), runnerBody(12, "online")));
    const io = recordingIO();
    const clock = fakeClock();
    await waitForRunnersOnline(
      client(),
      [
        { id: 11, name: "r-11" },
        { id: 12, name: "r-12" },
      ],
      { timeoutMs: 60_000, intervalMs: 1000 },
      { io, clock },
    );
    // Three requests in all, for two runners: one a poll, never one a runner.
    assert.deepEqual(clock.slept, [1000, 1000]);
    assert.deepEqual(
      io.lines.filter((l) => l.startsWith("Runners online")),
      ["Runners online 0/2 (0 s of 60 s)", "Runners online 1/2 (1 s of 60 s)", "Runners online 2/2 (2 s of 60 s)"],
    );
  });

  it("ten runners cost one request a poll, not ten", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => 40 + i);
    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, list(...ids.map((id) => runnerBody(id, "offline"))));
    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, list(...ids.map((id) => runnerBody(id, "online"))));
    const clock = fakeClock();
    await waitForRunnersOnline(
      client(),
      ids.map((id) => ({ id, name: `r-${id}` })),
      { timeoutMs: 60_000, intervalMs: 1000 },
      { io: recordingIO(), clock },
    );
    assert.deepEqual(clock.slept, [1000]);
  });

  it("counts a busy runner, and one already gone after its job, as up", async () => {
    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .reply(200, list(runnerBody(21, "offline", true)));
    const io = recordingIO();
    await waitForRunnersOnline(
      client(),
      [
        { id: 21, name: "r-21" },
        { id: 22, name: "r-22" },
      ],
      { timeoutMs: 60_000, intervalMs: 1000 },
      { io, clock: fakeClock() },
    );
    assert.ok(io.lines.includes("r-22 is no longer registered: it already ran its job."));
  });

  it("gives up at runner-timeout naming the runners still offline", async () => {
    nock(API)
      .get(`${RUNNERS}?per_page=100`)
      .times(4)
      .reply(200, list(runnerBody(31, "online"), runnerBody(32, "offline")));
    const clock = fakeClock();
    await assert.rejects(
      waitForRunnersOnline(
        client(),
        [
          { id: 31, name: "r-31" },
          { id: 32, name: "r-32" },
        ],
        { timeoutMs: 15_000, intervalMs: 5000 },
        { io: recordingIO(), clock },
      ),
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
