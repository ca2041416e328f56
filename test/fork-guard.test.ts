import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EventUnreadableError, ForkRefusedError, guardAgainstForks } from "../scripts/phases/fork-guard.ts";

const dir = mkdtempSync(join(tmpdir(), "fork-guard-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = "octo-org/md-sim";
let n = 0;
function eventFile(payload: unknown): string {
  return rawEventFile(JSON.stringify(payload));
}

function rawEventFile(text: string): string {
  const path = join(dir, `event-${n++}.json`);
  writeFileSync(path, text);
  return path;
}

const pr = (head: string | null) => ({
  repository: { full_name: BASE },
  pull_request: { head: { repo: head === null ? null : { full_name: head } } },
});

const CASES: { name: string; eventName: string; payload: unknown; refused: boolean }[] = [
  { name: "push", eventName: "push", payload: { repository: { full_name: BASE } }, refused: false },
  {
    name: "workflow_dispatch",
    eventName: "workflow_dispatch",
    payload: { repository: { full_name: BASE } },
    refused: false,
  },
  { name: "pull_request from a branch", eventName: "pull_request", payload: pr(BASE), refused: false },
  {
    name: "pull_request from a branch, other case",
    eventName: "pull_request",
    payload: pr("Octo-Org/MD-Sim"),
    refused: false,
  },
  { name: "pull_request from a fork", eventName: "pull_request", payload: pr("stranger/md-sim"), refused: true },
  {
    name: "pull_request_target from a fork",
    eventName: "pull_request_target",
    payload: pr("stranger/md-sim"),
    refused: true,
  },
  { name: "pull_request from a deleted fork", eventName: "pull_request", payload: pr(null), refused: true },
  {
    name: "pull_request_review on a fork's PR",
    eventName: "pull_request_review",
    payload: pr("stranger/md-sim"),
    refused: true,
  },
  {
    name: "workflow_run of a fork's PR",
    eventName: "workflow_run",
    payload: {
      repository: { full_name: BASE },
      workflow_run: { event: "pull_request", head_repository: { full_name: "stranger/md-sim" } },
    },
    refused: true,
  },
  {
    name: "a comment on a pull request (its head repository is not in the event)",
    eventName: "issue_comment",
    payload: {
      repository: { full_name: BASE },
      issue: { number: 7, pull_request: { url: "https://api.github.com/repos/octo-org/md-sim/pulls/7" } },
    },
    refused: true,
  },
  {
    name: "a comment on an issue",
    eventName: "issue_comment",
    payload: { repository: { full_name: BASE }, issue: { number: 8 } },
    refused: false,
  },
  {
    name: "pull_request_target from a deleted fork (GitHub's null head repository)",
    eventName: "pull_request_target",
    payload: pr(null),
    refused: true,
  },
  {
    name: "workflow_run of a deleted fork's PR",
    eventName: "workflow_run",
    payload: { repository: { full_name: BASE }, workflow_run: { event: "pull_request", head_repository: null } },
    refused: true,
  },
  {
    name: "workflow_run of a push",
    eventName: "workflow_run",
    payload: { repository: { full_name: BASE }, workflow_run: { event: "push", head_repository: { full_name: BASE } } },
    refused: false,
  },
];

describe("guardAgainstForks", () => {
  for (const c of CASES) {
    it(`${c.refused ? "refuses" : "allows"}: ${c.name}`, async () => {
      const context = { eventName: c.eventName, eventPath: eventFile(c.payload), repository: BASE };
      if (c.refused) {
        await assert.rejects(guardAgainstForks(context, false), (error: unknown) => {
          assert.ok(error instanceof ForkRefusedError, String(error));
          assert.equal(error.name, "ForkRefusedError");
          assert.match(error.message, /environment with required reviewers/);
          assert.match(error.message, /allow-forks: true/);
          return true;
        });
        // The explicit opt-in lets it through.
        await guardAgainstForks(context, true);
      } else {
        await guardAgainstForks(context, false);
      }
    });
  }

  // Fail closed: what the guard cannot read, it refuses (and allow-forks still lets through).
  const unreadable: { name: string; eventName: string; eventPath: () => string; why: RegExp }[] = [
    { name: "no event file named", eventName: "push", eventPath: () => "", why: /GITHUB_EVENT_PATH is not set/ },
    {
      name: "an event file that is missing",
      eventName: "pull_request",
      eventPath: () => join(dir, "missing.json"),
      why: /cannot be read/,
    },
    {
      name: "an empty event file",
      eventName: "pull_request",
      eventPath: () => rawEventFile(""),
      why: /cannot be read/,
    },
    {
      name: "an event that is not an object",
      eventName: "pull_request",
      eventPath: () => eventFile(["pull_request"]),
      why: /not a JSON object/,
    },
    { name: "an event that is null", eventName: "push", eventPath: () => eventFile(null), why: /not a JSON object/ },
    // `in` on a number or a string throws a TypeError: these must be refused before the head is looked for.
    {
      name: "an event that is a number",
      eventName: "pull_request",
      eventPath: () => eventFile(42),
      why: /not a JSON object/,
    },
    {
      name: "an event that is a string",
      eventName: "pull_request",
      eventPath: () => eventFile("pull_request"),
      why: /not a JSON object/,
    },
  ];
  for (const c of unreadable) {
    it(`refuses ${c.name}, rather than guess`, async () => {
      const context = { eventName: c.eventName, eventPath: c.eventPath(), repository: BASE };
      await assert.rejects(guardAgainstForks(context, false), (error: unknown) => {
        assert.ok(error instanceof EventUnreadableError, String(error));
        assert.equal(error.name, "EventUnreadableError");
        assert.match(error.message, c.why);
        return true;
      });
      await guardAgainstForks(context, true);
    });
  }

  // Fail closed: a payload that cannot prove where the code comes from is refused, whatever the event's name says,
  // not let through as an event without a head (the guard once allowed a pull_request_target event that was `{}`).
  const unproven: { name: string; eventName: string; payload: unknown; missing: string }[] = [
    ...["pull_request_target", "pull_request", "pull_request_review", "pull_request_review_comment"].map(
      (eventName) => ({
        name: `a ${eventName} event that is {}`,
        eventName,
        payload: {},
        missing: "pull_request.head.repo",
      }),
    ),
    {
      name: "a pull_request_target event whose pull_request is null",
      eventName: "pull_request_target",
      payload: { repository: { full_name: BASE }, pull_request: null },
      missing: "pull_request.head.repo",
    },
    {
      name: "a pull_request_target event without a head",
      eventName: "pull_request_target",
      payload: { repository: { full_name: BASE }, pull_request: {} },
      missing: "pull_request.head.repo",
    },
    {
      name: "a pull_request_target event whose head has no repo",
      eventName: "pull_request_target",
      payload: { repository: { full_name: BASE }, pull_request: { head: { ref: "main", sha: "0".repeat(40) } } },
      missing: "pull_request.head.repo",
    },
    {
      name: "a pull_request_target event whose head repo has no full_name",
      eventName: "pull_request_target",
      payload: { repository: { full_name: BASE }, pull_request: { head: { repo: { name: "md-sim" } } } },
      missing: "pull_request.head.repo.full_name",
    },
    {
      name: "a pull_request_target event whose head repo's full_name is not a string",
      eventName: "pull_request_target",
      payload: { repository: { full_name: BASE }, pull_request: { head: { repo: { full_name: 42 } } } },
      missing: "pull_request.head.repo.full_name",
    },
    {
      name: "a pull_request_target event whose head repo is not an object",
      eventName: "pull_request_target",
      payload: { pull_request: { head: { repo: "octo-org/md-sim" } } },
      missing: "pull_request.head.repo.full_name",
    },
    {
      name: "an event of another name that carries a pull request without a head",
      eventName: "check_suite",
      payload: { repository: { full_name: BASE }, pull_request: {} },
      missing: "pull_request.head.repo",
    },
    {
      name: "a workflow_run event without its workflow_run",
      eventName: "workflow_run",
      payload: { repository: { full_name: BASE } },
      missing: "workflow_run.head_repository",
    },
    {
      name: "a workflow_run without a head repository",
      eventName: "workflow_run",
      payload: { repository: { full_name: BASE }, workflow_run: { event: "pull_request" } },
      missing: "workflow_run.head_repository",
    },
    {
      name: "a comment event without its issue",
      eventName: "issue_comment",
      payload: { repository: { full_name: BASE } },
      missing: "issue",
    },
    {
      name: "a comment event whose issue is null",
      eventName: "issue_comment",
      payload: { repository: { full_name: BASE }, issue: null },
      missing: "issue",
    },
    {
      name: "a comment event whose issue is a string",
      eventName: "issue_comment",
      payload: { repository: { full_name: BASE }, issue: "pull_request" },
      missing: "issue",
    },
  ];
  for (const c of unproven) {
    it(`refuses ${c.name}: it cannot prove the code is this repository's`, async () => {
      const context = { eventName: c.eventName, eventPath: eventFile(c.payload), repository: BASE };
      await assert.rejects(guardAgainstForks(context, false), {
        name: "EventUnreadableError",
        message: `Refusing to start: the ${c.eventName} event does not name where its code comes from (no ${c.missing}), so the action cannot tell whether this run comes from a fork. Set allow-forks: true to skip this check.`,
      });
      await guardAgainstForks(context, true);
    });
  }

  it("says why it cannot read the event, and how to skip the check", async () => {
    await assert.rejects(guardAgainstForks({ eventName: "push", eventPath: "", repository: BASE }, false), {
      name: "EventUnreadableError",
      message:
        "Refusing to start: GITHUB_EVENT_PATH is not set, so the action cannot tell whether this run comes from a fork. Set allow-forks: true to skip this check.",
    });
  });

  // The message names the event, where the code comes from and the base; the rest is the same for every refusal.
  const HOW_TO_ALLOW =
    "A self-hosted GPU runner would run the fork's code with access to this repository's secrets and cloud account. To test fork pull requests, " +
    "run the start job in an environment with required reviewers (a maintainer approves each run after reading the change) and set allow-forks: true on it.";
  const refusals: { name: string; eventName: string; payload: unknown; message: string }[] = [
    {
      name: "a fork it can name",
      eventName: "pull_request_target",
      payload: pr("stranger/md-sim"),
      message: `Refusing to start: this pull_request_target run comes from stranger/md-sim, not ${BASE}. ${HOW_TO_ALLOW}`,
    },
    {
      name: "a deleted fork (no head repository)",
      eventName: "pull_request",
      payload: pr(null),
      message: `Refusing to start: this pull_request run comes from a fork, or a pull request whose head repository it cannot tell, not ${BASE}. ${HOW_TO_ALLOW}`,
    },
    {
      name: "an event without a name (GITHUB_EVENT_NAME unset)",
      eventName: "",
      payload: pr("stranger/md-sim"),
      message: `Refusing to start: this event run comes from stranger/md-sim, not ${BASE}. ${HOW_TO_ALLOW}`,
    },
  ];
  for (const c of refusals) {
    it(`names what it refuses: ${c.name}`, async () => {
      const context = { eventName: c.eventName, eventPath: eventFile(c.payload), repository: BASE };
      await assert.rejects(guardAgainstForks(context, false), { name: "ForkRefusedError", message: c.message });
    });
  }

  it("trusts GITHUB_REPOSITORY, not the payload's repository, as the base", async () => {
    // A payload claiming the fork as its own repository must not make the fork look like the base.
    const spoofed = {
      repository: { full_name: "stranger/md-sim" },
      pull_request: { head: { repo: { full_name: "stranger/md-sim" } } },
    };
    await assert.rejects(
      guardAgainstForks({ eventName: "pull_request_target", eventPath: eventFile(spoofed), repository: BASE }, false),
      ForkRefusedError,
    );
  });
});
