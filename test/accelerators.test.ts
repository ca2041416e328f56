// One `with:` block for every cloud: a GPU by its common name, the cloud's driver image by default, and each cloud's
// own inputs ignored (with a notice) on the others. What each cloud makes of the same accelerator is in its test
// folder (test/clouds/<name>/cases.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CatalogMachine,
  cheapestCarrying,
  describeOffer,
  machinesCarrying,
  refuseGpuless,
} from "../stacks/accelerator.ts";
import { InputError, InputReader } from "../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { allClouds, cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { type AcceleratorCases, casesOf } from "./kit/cloud-cases.ts";
import { FAKE_TOKEN, inputEnv } from "./kit/env.ts";

/**
 * The step, as a user writes it once for a matrix over clouds: every registered cloud's example inputs in
 * one `with:` block (the accelerator aside, which each row sets).
 */
const SHARED: Record<string, string> = { mode: "start", "github-token": FAKE_TOKEN };
for (const cloud of allClouds())
  for (const [input, value] of Object.entries(cloud.inputs.example)) if (input !== "accelerator") SHARED[input] = value;

function start(cloud: string, inputs: Record<string, string>): StartInputs {
  const parsed = parseInputs(inputEnv({ ...SHARED, cloud, ...inputs }));
  assert.equal(parsed.mode, "start");
  return parsed;
}

/** The accelerator of a cloud's own example: one it surely offers. */
const exampleAccelerator = (cloud: string) => cloudNamed(cloud)?.inputs.example.accelerator ?? "";

const CASES = new Map<string, AcceleratorCases>();
for (const name of cloudNames()) CASES.set(name, (await casesOf(name)).accelerators);

describe("accelerator x cloud", () => {
  for (const [cloud, cases] of CASES) {
    for (const { accelerator, want, arch = "x86_64", inputs = {}, unpriced = false } of cases.rows) {
      const extra = { accelerator, ...inputs };
      it(`${cloud} ${JSON.stringify(extra)} -> ${String(want)}`, () => {
        if (want instanceof RegExp) {
          assert.throws(
            () => start(cloud, extra),
            (error: unknown) => {
              assert.ok(error instanceof InputError, String(error));
              assert.equal(error.input, "accelerator");
              assert.match(error.message, want);
              // Every refusal lists what that cloud offers, so the fix is in the message.
              assert.match(error.message, new RegExp(`${cloud} offers [a-z0-9-]+ \\(|only as Spot`));
              return true;
            },
          );
          return;
        }
        const { plan } = start(cloud, extra);
        const summary = plan.summary();
        assert.equal(summary.machineType, want);
        const count = Number(/:(\d+)$/.exec(accelerator)?.[1] ?? 1);
        assert.equal(plan.gpus().count, count, "the GPU count the review shows");
        assert.match(
          plan.gpus().source,
          new RegExp(`^accelerator ${accelerator.toLowerCase().replace(/^([a-z0-9-]+)$/, "$1:1")}`),
        );
        assert.ok(summary.image.startsWith(cases.defaultImage(arch)), summary.image);
        // A machine without a list price in the action's table (a case says so) has its estimate say "unknown".
        assert.equal((plan.hourlyPriceUsd() ?? 0) > 0, !unpriced, "every catalog entry has a price");
      });
    }
  }

  it("machine-type and accelerator together must agree; Azure's size names compare without case", () => {
    const refusal = (cloud: string, machineType: string) => {
      try {
        start(cloud, { accelerator: "t4", "machine-type": machineType });
      } catch (error) {
        assert.ok(error instanceof InputError && error.input === "accelerator", String(error));
        return error.message;
      }
      return undefined;
    };
    assert.equal(refusal("aws", "g4dn.xlarge,g4dn.2xlarge"), undefined);
    assert.match(
      refusal("aws", "g4dn.xlarge,g5.xlarge") ?? "",
      /\(g5\.xlarge carries a10g:1; t4:1 comes with g4dn\.xlarge, .*\), or one of accelerator and machine-type left empty/,
    );
    assert.equal(refusal("azure", "Standard_NC4as_t4_V3"), undefined);
    assert.match(
      refusal("azure", "Standard_NC24ads_A100_v4") ?? "",
      /Standard_NC24ads_A100_v4 carries a100-80gb:1; t4:1 comes with Standard_NC4as_T4_v3/,
    );
    assert.deepEqual(
      start("azure", { accelerator: "t4", "machine-type": "Standard_NC4as_t4_V3" }).plan.summary().machineType,
      "Standard_NC4as_t4_V3",
    );
  });

  it("the other clouds' inputs are noticed, never refused", () => {
    for (const cloud of allClouds()) {
      const expected = allClouds()
        .filter((other) => other !== cloud)
        .flatMap((other) =>
          other.inputs.names
            .filter((input) => input in SHARED && !cloud.inputs.names.includes(input))
            .map((input) => ({ input, other })),
        )
        .map(
          ({ input, other }) =>
            `Input '${input}' is read only with cloud ${other.name}; ignored with cloud ${cloud.name}.`,
        );
      assert.ok(expected.length > 0, `${cloud.name}: the shared block sets another cloud's inputs`);
      assert.deepEqual(
        [...start(cloud.name, { accelerator: exampleAccelerator(cloud.name) }).notices].sort(),
        expected.sort(),
        cloud.name,
      );
    }
  });

  it("a value wrong for the chosen cloud still fails, naming its input", () => {
    for (const [cloud, cases] of CASES) {
      for (const { input, value, expected } of cases.wrongValues) {
        assert.throws(
          () =>
            start(cloud, {
              accelerator: exampleAccelerator(cloud),
              [input]: value,
              ...(input === "machine-type" ? { accelerator: "" } : {}),
            }),
          (error: unknown) => error instanceof InputError && error.input === input && expected.test(error.message),
          `${cloud} ${input}=${value}`,
        );
      }
    }
  });

  it("bad names and counts are refused before anything exists, naming accelerator", () => {
    // The whole value must be NAME[:COUNT]: a valid name at its end ("-t4", "1t4", "x/t4") is not enough.
    for (const value of [
      "t4:0",
      "t4:100",
      "t4x1",
      "nvidia-tesla-t4",
      ":2",
      "t4:two",
      "h100 x8",
      "-t4",
      "1t4",
      "x/t4",
      "t4:1:1",
    ]) {
      assert.throws(
        () => start("aws", { accelerator: value }),
        (error: unknown) => error instanceof InputError && error.input === "accelerator",
        value,
      );
    }
  });

  it("a value not of the shape NAME[:COUNT] is answered with the shape and the offer", () => {
    assert.throws(
      () => start("aws", { accelerator: "-t4" }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message.startsWith(
          `Input 'accelerator': got "-t4"; expected a GPU by name with an optional count, NAME[:COUNT] such as t4 or l4:2 (aws offers t4 (1, 4 or 8), t4g (1 or 2), `,
        ),
    );
  });
});

// The catalog functions over small hand-made catalogs, listed out of order on purpose: each cloud's own table happens
// to be sorted, which would hide a missing sort.
describe("catalog helpers", () => {
  const machine = (
    machineType: string,
    gpu: string,
    gpus: number,
    usdPerHour: number,
    spotOnly?: boolean,
  ): CatalogMachine => ({ machineType, gpu, gpus, usdPerHour, spotOnly });

  it("describeOffer lists each GPU once, in catalog order, with its counts from fewest to most", () => {
    const catalog = [
      machine("t4-8", "t4", 8, 8),
      machine("t4-1", "t4", 1, 1),
      machine("l4-2", "l4", 2, 2),
      machine("t4-4", "t4", 4, 4),
      machine("t4-1b", "t4", 1, 1.5),
      machine("h100-1", "h100", 1, 9),
    ];
    assert.equal(describeOffer(catalog, "mycloud"), "mycloud offers t4 (1, 4 or 8), l4 (2), h100 (1)");
  });

  it("describeOffer sorts counts as numbers, not as text", () => {
    assert.equal(
      describeOffer(
        [machine("a-16", "a100", 16, 40), machine("a-8", "a100", 8, 20), machine("a-2", "a100", 2, 5)],
        "mycloud",
      ),
      "mycloud offers a100 (2, 8 or 16)",
    );
  });

  it("machinesCarrying keeps the exact GPU and count, cheapest first", () => {
    const catalog = [
      machine("mid", "t4", 1, 2),
      machine("four", "t4", 4, 0.5),
      machine("dear", "t4", 1, 3),
      machine("other", "l4", 1, 0.1),
      machine("cheap", "t4", 1, 1),
    ];
    assert.deepEqual(
      machinesCarrying(catalog, { name: "t4", count: 1 }).map((m) => m.machineType),
      ["cheap", "mid", "dear"],
    );
  });

  it("refuseGpuless names the first machine type without a GPU; only expected-gpus: 0 lets it pass", () => {
    const why = (type: string) => (type.startsWith("cpu") ? `${type} has no GPU` : undefined);
    const refusal = (types: string[], inputs: Record<string, string> = {}) => {
      try {
        refuseGpuless(new InputReader(inputEnv({ "machine-type": types.join(","), ...inputs })), types, why);
      } catch (error) {
        assert.ok(error instanceof InputError, String(error));
        return error.message;
      }
      return undefined;
    };
    assert.equal(refusal(["gpu-a", "gpu-b"]), undefined);
    assert.equal(
      refusal(["gpu-a", "cpu-1", "cpu-2"]),
      `Input 'machine-type': got "gpu-a,cpu-1,cpu-2"; expected machine types that carry a GPU (cpu-1 has no GPU), the accelerator input instead, or expected-gpus: 0 for a machine without one.`,
    );
    assert.equal(refusal(["cpu-1"], { "expected-gpus": "0" }), undefined);
    assert.match(refusal(["cpu-1"], { "expected-gpus": "2" }) ?? "", /cpu-1 has no GPU/);
    assert.match(refusal(["cpu-1"], { "expected-gpus": "" }) ?? "", /cpu-1 has no GPU/);
  });

  it("cheapestCarrying refuses a request only Spot capacity meets, naming every such machine", () => {
    const catalog = [machine("spot-b", "h100", 1, 5, true), machine("spot-a", "h100", 1, 4, true)];
    const read = new InputReader(inputEnv({ accelerator: "h100" }));
    assert.throws(
      () => cheapestCarrying(read, catalog, { name: "h100", count: 1 }, { spot: false, cloud: "mycloud" }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message ===
          `Input 'accelerator': got "h100"; expected a GPU and count that mycloud sells on demand: h100:1 comes only as Spot capacity (spot-a, spot-b); set spot: true.`,
    );
    assert.equal(
      cheapestCarrying(read, catalog, { name: "h100", count: 1 }, { spot: true, cloud: "mycloud" }).machineType,
      "spot-a",
    );
  });
});
