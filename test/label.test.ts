// A start's label is also its state id and the prefix of its runners' names; a sweep reads the run back from any of
// them to decide whether that run is over. A label of the wrong shape, or a name read as another run's, would make
// a stop miss its runners or a sweep delete a live start's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { STATE_ID_PATTERN } from "../scripts/settings/inputs.ts";
import {
  labelOfRunner,
  newLabel,
  ownerLabel,
  runnerLabels,
  runnerName,
  runOfLabel,
} from "../scripts/settings/label.ts";

describe("newLabel", () => {
  it("is gpu-<run id>-<attempt>- and the first 4 random bytes in hex", () => {
    // Five bytes given: only the first four (8 hex digits) belong to the label.
    const label = newLabel({ runId: "987654321", runAttempt: "2" }, () => Buffer.from([0x0a, 0x1b, 0x2c, 0x3d, 0xff]));
    assert.equal(label, "gpu-987654321-2-0a1b2c3d");
  });

  it("draws fresh random bytes by default, in the shape stop's state-id accepts", () => {
    const first = newLabel({ runId: "1", runAttempt: "1" });
    const second = newLabel({ runId: "1", runAttempt: "1" });
    assert.match(first, /^gpu-1-1-[0-9a-f]{8}$/);
    assert.match(first, STATE_ID_PATTERN);
    // Two jobs of one matrix share run id and attempt: only the random part tells their runners apart.
    // (A collision of 32 random bits happens about once in four billion runs.)
    assert.notEqual(first, second);
  });
});

describe("runnerName", () => {
  it("is the label and the runner's index", () => {
    assert.equal(runnerName("gpu-987654321-2-0a1b2c3d", 0), "gpu-987654321-2-0a1b2c3d-0");
    assert.equal(runnerName("gpu-987654321-2-0a1b2c3d", 12), "gpu-987654321-2-0a1b2c3d-12");
  });
});

describe("runOfLabel", () => {
  const RUNS: { name: string; run: { runId: string; runAttempt: string } | undefined }[] = [
    { name: "gpu-987654321-2-0a1b2c3d", run: { runId: "987654321", runAttempt: "2" } },
    // A runner's name, also past the tenth runner; a re-run's attempt past the ninth.
    { name: "gpu-987654321-2-0a1b2c3d-0", run: { runId: "987654321", runAttempt: "2" } },
    { name: "gpu-987654321-2-0a1b2c3d-12", run: { runId: "987654321", runAttempt: "2" } },
    { name: "gpu-1-12-0a1b2c3d", run: { runId: "1", runAttempt: "12" } },
    { name: "gpu-12345678901234567890-1234-ffffffff", run: { runId: "12345678901234567890", runAttempt: "1234" } },
    // Names of another shape are not this action's: a sweep must leave them alone.
    { name: "my-gpu-1-1-0a1b2c3d", run: undefined },
    { name: "gpu-1-1-0a1b2c3d-x", run: undefined },
    { name: "gpu-1-12345-0a1b2c3d", run: undefined },
    { name: "gpu-1-1-0A1B2C3D", run: undefined },
    { name: "gpu-1-1-0a1b2c3", run: undefined },
    { name: "self-hosted", run: undefined },
  ];
  for (const { name, run } of RUNS) {
    it(`${name} -> ${run ? `run ${run.runId} attempt ${run.runAttempt}` : "not a start's"}`, () => {
      assert.deepEqual(runOfLabel(name), run);
    });
  }
});

describe("the owner label (which repository registered a runner)", () => {
  const LABEL = "gpu-987654321-2-0a1b2c3d";

  it("is the start's label and the repository id: unique per start, so no job asks for it without the label", () => {
    assert.equal(ownerLabel(LABEL, "612345678"), "gpu-987654321-2-0a1b2c3d-repository-612345678");
    // Not the repository id alone, nor any label a job could ask for without knowing the start's label.
    assert.ok(ownerLabel(LABEL, "612345678").startsWith(`${LABEL}-`));
    assert.notEqual(ownerLabel(LABEL, "612345678"), ownerLabel(LABEL, "612345679"));
    assert.notEqual(ownerLabel(LABEL, "612345678"), ownerLabel("gpu-987654321-2-ffffffff", "612345678"));
  });

  it("is registered second, between the start's label and the user's extra labels, and is no runner name", () => {
    assert.deepEqual(runnerLabels(LABEL, "612345678", ["a100", "big"]), [
      LABEL,
      ownerLabel(LABEL, "612345678"),
      "a100",
      "big",
    ]);
    // A label is not a name: the sweep never reads a run out of it.
    assert.equal(labelOfRunner(ownerLabel(LABEL, "612345678")), undefined);
  });
});

describe("labelOfRunner", () => {
  for (const [name, label] of [
    ["gpu-987654321-2-0a1b2c3d-0", "gpu-987654321-2-0a1b2c3d"],
    ["gpu-987654321-2-0a1b2c3d-12", "gpu-987654321-2-0a1b2c3d"],
    // A re-run's attempt has more than one digit.
    ["gpu-987654321-12-0a1b2c3d-0", "gpu-987654321-12-0a1b2c3d"],
    // A start's label alone, or another shape, is no runner's name.
    ["gpu-987654321-2-0a1b2c3d", undefined],
    ["gpu-987654321-2-0a1b2c3d-0-copy", undefined],
    ["gpu-1-1-0A1B2C3D-0", undefined],
    ["build-box-3", undefined],
    // A name that only ends like a runner's is not one (the pattern is anchored at both ends).
    ["my-gpu-987654321-2-0a1b2c3d-0", undefined],
  ] as const) {
    it(`${name} -> ${label ?? "not a runner of a start"}`, () => {
      assert.equal(labelOfRunner(name), label);
    });
  }
});
