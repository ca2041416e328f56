// What a start can cost at worst, before anything exists: checked against max-cost by the parser, shown in the review
// and in the start's job summary. Every machine may run until its max-lifetime cap, and the start may apply any of
// its capacity candidates (other machine types, places, on-demand after Spot), each with its own price: so the bound
// takes the highest hourly price among them. An upper bound of the machines' list price; disks and traffic are not in
// the price tables.
import type { MachinePlan } from "../../stacks/cloud.ts";

export interface WorstCase {
  /** The highest hourly list price of one machine among the candidates; undefined when one has no known price. */
  usdPerHour: number | undefined;
  /** usdPerHour x machines x max-lifetime in hours; undefined with it. */
  usd: number | undefined;
  /** The candidate whose price that is, as "type in place". */
  priciest: string | undefined;
  /** The candidates without a known price, as "type in place". */
  unpriced: string[];
  /** How many candidates were weighed. */
  candidates: number;
  count: number;
  maxLifetimeMinutes: number;
}

export function worstCase(plan: MachinePlan, count: number, maxLifetimeMinutes: number): WorstCase {
  const candidates = plan.alternatives();
  let usdPerHour: number | undefined;
  let priciest: string | undefined;
  const unpriced: string[] = [];
  for (const candidate of candidates) {
    const price = candidate.hourlyPriceUsd();
    const { machineType, location } = candidate.summary();
    if (price === undefined) unpriced.push(`${machineType} in ${location}`);
    else if (usdPerHour === undefined || price > usdPerHour) {
      usdPerHour = price;
      priciest = `${machineType} in ${location}`;
    }
  }
  // One candidate without a price leaves the bound unknown: that candidate may be the one applied.
  const known = unpriced.length === 0 ? usdPerHour : undefined;
  return {
    usdPerHour: known,
    usd: known === undefined ? undefined : (known * count * maxLifetimeMinutes) / 60,
    priciest: known === undefined ? undefined : priciest,
    unpriced,
    candidates: candidates.length,
    count,
    maxLifetimeMinutes,
  };
}

/** Dollars with cents: "$86.40". */
export function dollars(amount: number): string {
  return `$${amount.toFixed(2)}`;
}

/** Up to the next cent, for a bound that must not read lower than it is: $6.3126 -> "$6.32". */
export function dollarsUp(amount: number): string {
  return dollars(Math.ceil(Number((amount * 100).toFixed(6))) / 100);
}

/** An hourly price as the table has it, up to four decimals: "$0.526". */
function hourly(amount: number): string {
  return `$${Number(amount.toFixed(4))}`;
}

/**
 * The bound and how it was reached, in one line: "$12.08 = $1.006 per hour (g5.xlarge in us-east-1, the highest of 2
 * capacity candidates) x 2 machine(s) x 6 h max-lifetime".
 */
export function describeWorstCase(w: WorstCase): string {
  const hours = `${Number((w.maxLifetimeMinutes / 60).toFixed(2))} h max-lifetime`;
  // Stryker disable next-line LogicalOperator,ConditionalExpression: worstCase sets usd and usdPerHour together (both from one known price); the second test only narrows the type.
  if (w.usd === undefined || w.usdPerHour === undefined)
    return `unknown: no list price for ${w.unpriced.join(", ")} (${w.count} machine(s) x ${hours})`;
  const which = w.candidates > 1 ? `, the highest of ${w.candidates} capacity candidates` : "";
  return `${dollarsUp(w.usd)} = ${hourly(w.usdPerHour)} per hour (${w.priciest}${which}) x ${w.count} machine(s) x ${hours}`;
}
