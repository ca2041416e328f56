// The worst case a start can cost (scripts/settings/worst-case.ts): the highest hourly price among every capacity
// candidate the start may apply, whatever their order, and unknown as soon as one candidate has no list price.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MachinePlan } from "../stacks/cloud.ts";
import { describeWorstCase, worstCase } from "../scripts/settings/worst-case.ts";

/** A plan whose capacity candidates are these machine types, each at its hourly price (undefined: no list price). */
function planOf(prices: [string, number | undefined][]): MachinePlan {
  const candidate = ([machineType, price]: [string, number | undefined]) =>
    ({
      summary: () => ({ machineType, location: "zone-1", image: "image" }),
      hourlyPriceUsd: () => price,
    }) as unknown as MachinePlan;
  return { alternatives: () => prices.map(candidate) } as unknown as MachinePlan;
}

describe("worstCase", () => {
  const cases: { name: string; prices: [string, number | undefined][]; usdPerHour?: number; priciest?: string }[] = [
    {
      name: "the dearer candidate first",
      prices: [
        ["big", 2],
        ["small", 0.5],
      ],
      usdPerHour: 2,
      priciest: "big in zone-1",
    },
    {
      name: "the dearer candidate last",
      prices: [
        ["small", 0.5],
        ["big", 2],
      ],
      usdPerHour: 2,
      priciest: "big in zone-1",
    },
    {
      name: "a tie names the first",
      prices: [
        ["one", 1],
        ["two", 1],
      ],
      usdPerHour: 1,
      priciest: "one in zone-1",
    },
    {
      name: "one candidate without a price leaves it unknown",
      prices: [
        ["big", 2],
        ["odd", undefined],
      ],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const w = worstCase(planOf(c.prices), 3, 90);
      assert.equal(w.usdPerHour, c.usdPerHour);
      assert.equal(w.priciest, c.priciest);
      assert.equal(w.usd, c.usdPerHour === undefined ? undefined : c.usdPerHour * 3 * 1.5);
      assert.equal(w.candidates, c.prices.length);
    });
});

describe("describeWorstCase", () => {
  it("says the bound, the price it comes from and how it was reached", () => {
    assert.equal(
      describeWorstCase(
        worstCase(
          planOf([
            ["small", 0.5],
            ["big", 1.006],
          ]),
          2,
          360,
        ),
      ),
      "$12.08 = $1.006 per hour (big in zone-1, the highest of 2 capacity candidates) x 2 machine(s) x 6 h max-lifetime",
    );
  });

  it("says which candidates have no list price when the bound is unknown", () => {
    assert.equal(
      describeWorstCase(
        worstCase(
          planOf([
            ["big", 2],
            ["odd", undefined],
            ["new", undefined],
          ]),
          2,
          90,
        ),
      ),
      "unknown: no list price for odd in zone-1, new in zone-1 (2 machine(s) x 1.5 h max-lifetime)",
    );
  });
});
