// The rules every cloud shares, written once in stacks/ and tested once here: the order of capacity alternatives,
// the outside lifetime cap, the tag limits, the lazy provider bindings. Each cloud's own tests check the data it
// gives them (test/clouds/<cloud>/).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { capacityOrder } from "../stacks/capacity.ts";
import { InputError, InputReader } from "../stacks/input-reader.ts";
import { LIFETIME_CAP_MARGIN_MINUTES, lifetimeCapTime } from "../stacks/lifetime-cap.ts";
import { OWNERSHIP_KEYS } from "../stacks/names.ts";
import { lazyBindings } from "../stacks/provider-bindings.ts";
import { actionTagCount, checkTagsFit, type TagRules } from "../stacks/tag-rules.ts";
import { inputEnv } from "./kit/env.ts";

describe("capacity order", () => {
  const candidate = (machineType: string, place: string, spot: boolean) =>
    `${spot ? "spot" : "on-demand"} ${machineType} ${place}`;

  it("Spot everywhere first, then on-demand; within each, every place of a type before the next type", () => {
    assert.deepEqual(capacityOrder({ spot: true, machineTypes: ["a", "b"], places: ["z1", "z2"], candidate }), [
      "spot a z1",
      "spot a z2",
      "spot b z1",
      "spot b z2",
      "on-demand a z1",
      "on-demand a z2",
      "on-demand b z1",
      "on-demand b z2",
    ]);
  });

  it("without Spot, on-demand only; the configuration itself first", () => {
    assert.deepEqual(capacityOrder({ spot: false, machineTypes: ["a", "b"], places: ["z1"], candidate }), [
      "on-demand a z1",
      "on-demand b z1",
    ]);
  });

  it("a type sold only as Spot gets no on-demand candidate, and keeps its Spot ones", () => {
    const spotOnly = (type: string) => type === "b";
    assert.deepEqual(capacityOrder({ spot: true, machineTypes: ["a", "b"], places: ["z1"], spotOnly, candidate }), [
      "spot a z1",
      "spot b z1",
      "on-demand a z1",
    ]);
    assert.deepEqual(capacityOrder({ spot: false, machineTypes: ["b", "a"], places: ["z1"], spotOnly, candidate }), [
      "on-demand a z1",
    ]);
  });
});

describe("outside lifetime cap", () => {
  const synthesized = new Date("2026-03-01T12:00:00.250Z");

  it("fires at synthesis + max-lifetime + the margin, rounded up to the cloud's step, never earlier", () => {
    const exact = synthesized.getTime() + (95 + LIFETIME_CAP_MARGIN_MINUTES) * 60_000;
    assert.equal(lifetimeCapTime(synthesized, 95, "second").toISOString(), "2026-03-01T13:45:01.000Z");
    assert.equal(lifetimeCapTime(synthesized, 95, "minute").toISOString(), "2026-03-01T13:46:00.000Z");
    for (const step of ["second", "minute"] as const)
      assert.ok(lifetimeCapTime(synthesized, 95, step).getTime() >= exact, step);
  });

  it("an instant already on the step stays where it is", () => {
    assert.equal(
      lifetimeCapTime(new Date("2026-03-01T12:00:00Z"), 50, "minute").toISOString(),
      "2026-03-01T13:00:00.000Z",
    );
  });

  it("leaves the machine's own timer room to act first: a margin of a few minutes", () => {
    assert.ok(
      LIFETIME_CAP_MARGIN_MINUTES >= 5 && LIFETIME_CAP_MARGIN_MINUTES <= 15,
      String(LIFETIME_CAP_MARGIN_MINUTES),
    );
  });
});

describe("tag limits", () => {
  const rules: TagRules = {
    max: 12,
    limitOf: "MyCloud",
    noun: "labels",
    setByStack: 1,
    reservedPrefixes: ["my:", "mine-"],
  };
  const ownership = Object.keys(OWNERSHIP_KEYS).length;
  const tags = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "v"]));
  const check = (given: Record<string, string>, with_: TagRules = rules) =>
    checkTagsFit(new InputReader(inputEnv({ tags: JSON.stringify(given) })), "mycloud", with_, given);
  const refusal = (given: Record<string, string>, with_?: TagRules) => {
    try {
      check(given, with_);
    } catch (error) {
      assert.ok(error instanceof InputError && error.input === "tags", String(error));
      return error.message;
    }
    return undefined;
  };

  it("the action's own tags are the ownership keys and what the stack adds", () => {
    assert.equal(actionTagCount(rules), ownership + 1);
  });

  it("takes up to the limit less the action's tags, and refuses one more, naming the cloud and the numbers", () => {
    const room = 12 - ownership - 1;
    assert.equal(refusal(tags(room)), undefined);
    assert.match(
      refusal(tags(room + 1)) ?? "",
      new RegExp(
        `expected at most ${room} tags with cloud mycloud \\(MyCloud allows 12 labels per resource, ${ownership + 1} are the action's\\)`,
      ),
    );
  });

  it("refuses a key with any reserved prefix in any case, naming the prefixes and every such key", () => {
    assert.match(
      refusal({ "My:Team": "x" }) ?? "",
      /do not start with my:, mine-, which are reserved by MyCloud \(My:Team does\)/,
    );
    assert.match(refusal({ "mine-x": "x", "My:Team": "y", ok: "z" }) ?? "", /\(mine-x, My:Team does\)\.$/);
    assert.equal(refusal({ "team-my:": "x" }), undefined);
  });

  it("the cloud's own rule speaks last, in its own words", () => {
    const strict: TagRules = { ...rules, check: (given) => ("bad" in given ? "tags without bad" : undefined) };
    assert.match(refusal({ bad: "x" }, strict) ?? "", /expected tags without bad/);
    assert.equal(refusal({ good: "x" }, strict), undefined);
  });
});

describe("lazy provider bindings", () => {
  it("are imported once, on load, and refused before it, naming the cloud", async () => {
    let imports = 0;
    const bindings = lazyBindings("mycloud", async () => ({ Instance: ++imports }));
    assert.throws(() => bindings.get(), /the mycloud provider bindings are not loaded/);
    assert.equal(imports, 0, "nothing is imported before load()");
    await bindings.load();
    await bindings.load();
    assert.deepEqual(bindings.get(), { Instance: 1 });
    assert.equal(imports, 1);
  });
});
