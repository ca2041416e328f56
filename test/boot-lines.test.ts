import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootLines } from "../scripts/phases/boot-lines.ts";

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
