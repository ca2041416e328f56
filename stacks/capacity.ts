// The order in which a start tries places when a cloud has no capacity, the same for every cloud: Spot everywhere
// first (the user asked for the cheaper capacity), then on-demand as the fallback; within each, the machine types in
// the user's order, and for each type the places (zones, subnets) in the user's order. A cloud supplies its choices,
// never the loops.

export interface CapacityChoices<C, P> {
  /** Whether the user asked for Spot: then every Spot candidate comes before the first on-demand one. */
  spot: boolean;
  /** The machine types to try, the configuration's own first. */
  machineTypes: readonly string[];
  /** The places to try (zones, subnets; `undefined` where the cloud places the machine), the configuration's own first. */
  places: readonly P[];
  /** A type sold only as Spot gets no on-demand candidate: asking would fail with something else than no capacity. */
  spotOnly?: (machineType: string) => boolean;
  /** The configuration of one candidate: this type, in this place, Spot or not, with no further alternatives. */
  candidate(machineType: string, place: P, spot: boolean): C;
}

/** Every candidate, in the order a start tries them; the first is the configuration itself. */
export function capacityOrder<C, P>(choices: CapacityChoices<C, P>): C[] {
  const candidates: C[] = [];
  for (const spot of choices.spot ? [true, false] : [false]) {
    for (const machineType of choices.machineTypes.filter((type) => spot || !choices.spotOnly?.(type))) {
      for (const place of choices.places) candidates.push(choices.candidate(machineType, place, spot));
    }
  }
  return candidates;
}
