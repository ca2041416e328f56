// What every cloud's tags (labels, on some clouds) must satisfy before anything exists, written once: how many a
// resource may carry beside the action's own, and the key prefixes the cloud keeps for itself. A cloud supplies its
// numbers and, where it has them, rules of its own (characters, case); the count and prefix checks are here.
import type { InputReader } from "./input-reader.ts";
import { OWNERSHIP_KEYS } from "./names.ts";

export interface TagRules {
  /** The most tags the cloud allows on one resource. */
  max: number;
  /** Who sets that limit, for the error: the cloud's compute service. */
  limitOf: string;
  /** What the cloud calls them: "tags", "labels". */
  noun: string;
  /** Tags the stack sets beside the ownership keys (a Name tag, a provider's attribution label). */
  setByStack: number;
  /** Key prefixes the cloud reserves for itself (any case): a user tag starting with one is refused. */
  reservedPrefixes: readonly string[];
  /** The cloud's own rules beyond count and prefixes: what is expected when the tags break one, else undefined. */
  check?(tags: Readonly<Record<string, string>>): string | undefined;
}

/** The tags the action itself sets on every resource of a cloud with these rules. */
export function actionTagCount(rules: Pick<TagRules, "setByStack">): number {
  return Object.keys(OWNERSHIP_KEYS).length + rules.setByStack;
}

/** Fails on the tags input, naming the cloud, where the cloud would refuse the user's tags at apply. */
export function checkTagsFit(
  read: InputReader,
  cloud: string,
  rules: TagRules,
  tags: Readonly<Record<string, string>>,
): void {
  const count = Object.keys(tags).length;
  const action = actionTagCount(rules);
  const max = rules.max - action;
  if (count > max)
    read.fail(
      "tags",
      `at most ${max} tags with cloud ${cloud} (${rules.limitOf} allows ${rules.max} ${rules.noun} per resource, ${action} are the action's)`,
    );
  const reserved = Object.keys(tags).filter((key) =>
    rules.reservedPrefixes.some((prefix) => key.toLowerCase().startsWith(prefix)),
  );
  if (reserved.length > 0)
    read.fail(
      "tags",
      `keys that do not start with ${rules.reservedPrefixes.join(", ")}, which are reserved by ${rules.limitOf} (${reserved.join(", ")} does)`,
    );
  const broken = rules.check?.(tags);
  if (broken !== undefined) read.fail("tags", broken);
}
