import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MachinePlan } from "../stacks/cloud.ts";
import { commandRunner } from "../scripts/adapters/command.ts";
import { bootLines, gpuFacts, readConsole, showBootLines } from "../scripts/phases/boot-lines.ts";
import { recordingIO } from "./kit/io.ts";

describe("bootLines", () => {
  it("picks the boot script's lines out of a console, whatever precedes them on the line", () => {
    const console = [
      "[    0.000000] Linux version 6.8.0-1015-aws",
      "[   12.345678] cloud-init[912]: gpu-runner: booting",
      "Nov 27 10:00:01 host google_metadata_script_runner[1234]: startup-script: gpu-runner: lifetime armed: powering off after 360 minute(s) whatever happens",
      "ci-info: +++++ Net device info +++++",
      "gpu-runner: GPU check failed: found 0 GPU(s), expected 1\r",
    ].join("\n");
    assert.deepEqual(bootLines(console), [
      "gpu-runner: booting",
      "gpu-runner: lifetime armed: powering off after 360 minute(s) whatever happens",
      "gpu-runner: GPU check failed: found 0 GPU(s), expected 1",
    ]);
  });

  it("drops the copy of a line that reached the console twice", () => {
    const console = [
      "gpu-runner: booting",
      "[ 5.1] cloud-init[9]: gpu-runner: booting",
      "gpu-runner: user created: runner",
      "gpu-runner: user created: runner",
    ].join("\n");
    assert.deepEqual(bootLines(console), ["gpu-runner: booting", "gpu-runner: user created: runner"]);
  });

  it("keeps only the newest 40 lines", () => {
    const console = Array.from({ length: 100 }, (_, i) => `gpu-runner: line ${i}`).join("\n");
    const lines = bootLines(console);
    assert.equal(lines.length, 40);
    assert.equal(lines[0], "gpu-runner: line 60");
    assert.equal(lines.at(-1), "gpu-runner: line 99");
  });
});

describe("gpuFacts", () => {
  const cases: { name: string; console: string; want: ReturnType<typeof gpuFacts> }[] = [
    {
      name: "the boot script's line, behind a relay's prefix",
      console:
        "[ 40.1] cloud-init[912]: gpu-runner: gpu-facts: count=1 driver=580.159.04 cuda=13.0 model=NVIDIA H100 80GB HBM3\r\n",
      want: { count: 1, driver: "580.159.04", cuda: "13.0", model: "NVIDIA H100 80GB HBM3" },
    },
    {
      name: "two models, the CUDA version unknown",
      console: "gpu-runner: gpu-facts: count=2 driver=580.159.04 cuda=unknown model=NVIDIA H200, NVIDIA H100 80GB HBM3",
      want: { count: 2, driver: "580.159.04", cuda: "unknown", model: "NVIDIA H200, NVIDIA H100 80GB HBM3" },
    },
    {
      name: "only a boot line that looks like it (its text is the machine's, not the script's)",
      console:
        "gpu-runner: job taken: gpu-facts: count=9 driver=x cuda=y model=z\ngpu-facts: count=1 driver=a cuda=b model=c",
      want: undefined,
    },
    { name: "no line: the check was skipped or not reached", console: "gpu-runner: booting\n", want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(gpuFacts(c.console), c.want));
});

describe("readConsole: best effort, one line when it fails", () => {
  const plan = (bootConsole: MachinePlan["bootConsole"]) => ({ bootConsole }) as unknown as MachinePlan;
  const machine = { name: "gpu-1-1-0a1b2c3d-0", id: "i-0aaa" };
  const missing = "; the machine's own lines are missing here";
  const cases: {
    name: string;
    bootConsole: MachinePlan["bootConsole"];
    want: Awaited<ReturnType<typeof readConsole>>;
  }[] = [
    { name: "a console", bootConsole: async () => "gpu-runner: booting\n", want: { text: "gpu-runner: booting\n" } },
    {
      name: "refused: the first line of the error",
      bootConsole: async () => {
        throw new Error("aws ec2 get-console-output failed\nAccessDenied: not authorized");
      },
      want: {
        failure: `could not read the console of gpu-1-1-0a1b2c3d-0: aws ec2 get-console-output failed${missing}`,
      },
    },
    {
      name: "a throw before any promise",
      bootConsole: () => {
        throw new Error("no CLI");
      },
      want: { failure: `could not read the console of gpu-1-1-0a1b2c3d-0: no CLI${missing}` },
    },
    {
      name: "no answer within the limit",
      bootConsole: () => new Promise(() => {}),
      want: { failure: `could not read the console of gpu-1-1-0a1b2c3d-0: no answer within 0.05 s${missing}` },
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      assert.deepEqual(await readConsole(plan(c.bootConsole), machine, commandRunner(process.env, []), 50), c.want);
    });

  it("showBootLines warns in that one line and goes on to the next machine", async () => {
    const io = recordingIO();
    const consoles: Record<string, string> = { ok: "gpu-runner: booting\n" };
    await showBootLines(
      plan(async (m) => {
        const text = consoles[m.name];
        if (text === undefined) throw new Error("InvalidInstanceID.NotFound");
        return text;
      }),
      [
        { name: "gone", id: "i-1" },
        { name: "ok", id: "i-2" },
      ],
      { io, run: commandRunner(process.env, []) },
    );
    assert.deepEqual(io.warnings, [`could not read the console of gone: InvalidInstanceID.NotFound${missing}`]);
    assert.ok(io.lines.includes("gpu-runner: booting"));
  });
});
