import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Cloud } from "../stacks/cloud.ts";
import { allClouds } from "../stacks/clouds.ts";
import { explainFailure } from "../scripts/phases/explain.ts";
import { GitHubApiError } from "../scripts/adapters/github/errors.ts";
import { InputError } from "../stacks/input-reader.ts";
import { StartError } from "../scripts/phases/start.ts";
import { StopError } from "../scripts/phases/stop.ts";
import { TerraformError } from "../scripts/adapters/terraform.ts";
import { RunnersNotOnlineError } from "../scripts/phases/wait-online.ts";

const NEXT = "\n\nWhat to check next: ";

describe("explainFailure", () => {
  const cases: { name: string; error: unknown; hint: RegExp | undefined; cloud?: Cloud["terraform"] }[] = [
    {
      name: "a bad input",
      error: new InputError("count", "0", "a whole number from 1 to 10"),
      hint: /the input 'count' in the step's with: block/,
    },
    {
      name: "a token without permission, inside a failed start",
      error: new StartError("Start failed: ...", {
        cause: new GitHubApiError("HTTP 403", { status: 403, method: "POST", path: "/x" }),
      }),
      hint: /the github-token: that the secret is set for this event/,
    },
    {
      name: "GitHub failing after retries",
      error: new GitHubApiError("HTTP 502", { status: 502, method: "GET", path: "/x" }),
      hint: /GitHub's status page/,
    },
    {
      name: "terraform, cloud unknown",
      error: new StartError("Start failed", { cause: new TerraformError("apply", 1, "Error: UnauthorizedOperation") }),
      hint: /cloud's credentials step/,
    },
    // Each cloud's own hint: its credentials step, and its docs page.
    ...allClouds().map((cloud) => ({
      name: `terraform on ${cloud.name}`,
      cloud: cloud.terraform,
      error: new TerraformError("apply", 1, "Error: 403"),
      hint: new RegExp(`check (?!that the cloud's credentials step).*docs/${cloud.name}\\.md`),
    })),
    {
      name: "runners offline",
      error: new StartError("Start failed", { cause: new RunnersNotOnlineError([{ id: 1, name: "r" }], 60_000) }),
      hint: /the boot lines printed above/,
    },
    { name: "an unfinished stop", error: new StopError("Stop did not finish cleanly"), hint: /re-run the stop job/ },
    { name: "something unforeseen", error: new Error("boom"), hint: undefined },
  ];
  for (const { name, error, hint, cloud } of cases) {
    it(name, () => {
      const text = explainFailure(error, cloud);
      assert.ok(text.startsWith((error as Error).message), "the error's own message comes first");
      if (hint === undefined) assert.ok(!text.includes(NEXT));
      else assert.match(text.slice(text.indexOf(NEXT) + NEXT.length), hint);
    });
  }
});
