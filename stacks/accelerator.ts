// The `accelerator` input: a GPU by its common name and an optional count, NAME[:COUNT] such as t4 or l4:2, so one
// `with:` block asks every cloud for the same hardware. Each cloud keeps its own catalog (which machine types carry
// which GPU, how many, at what price, and where that is documented) in its own file; this module only reads the
// input against a catalog and picks from it.
import type { InputReader } from "./input-reader.ts";

export const ACCELERATOR_INPUT = "accelerator";

/** What the user asked for: a GPU name from the catalogs' vocabulary (lower case) and how many per machine. */
export interface AcceleratorRequest {
  name: string;
  count: number;
}

/** One machine of a cloud's catalog. */
export interface CatalogMachine {
  machineType: string;
  /** The GPU's common name: t4, a10g, l4, l40s, a100, a100-80gb, h100, h200... */
  gpu: string;
  /** GPUs on one machine of this type. */
  gpus: number;
  /** On-demand list price of one machine, USD per hour, in the region the cloud's table names. */
  usdPerHour: number;
  /** The cloud sells this type only as Spot (or reserved) capacity, never plain on-demand. */
  spotOnly?: boolean;
}

/** NAME or NAME:COUNT: a lower-case name of letters, digits and inner hyphens (a100-80gb), and 1 to 99 GPUs. */
const REQUEST = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?::([1-9]\d?))?$/;

export function formatAccelerator(request: AcceleratorRequest): string {
  return `${request.name}:${request.count}`;
}

/** "<cloud> offers t4 (1, 4 or 8), l4 (1 or 2), ...": every GPU of a catalog with the counts one machine carries. */
export function describeOffer(catalog: readonly CatalogMachine[], cloud: string): string {
  const names = [...new Set(catalog.map((m) => m.gpu))];
  return `${cloud} offers ${names.map((name) => `${name} (${orList(countsOf(catalog, name).map(String))})`).join(", ")}`;
}

/** Reads the accelerator input, if set, and checks it against the catalog: a GPU it offers, in a count it offers. */
export function readAccelerator(
  read: InputReader,
  catalog: readonly CatalogMachine[],
  cloud: string,
): AcceleratorRequest | undefined {
  if (!read.isSet(ACCELERATOR_INPUT)) return undefined;
  const offer = describeOffer(catalog, cloud);
  const match = REQUEST.exec(read.raw(ACCELERATOR_INPUT).toLowerCase());
  if (!match)
    read.fail(ACCELERATOR_INPUT, `a GPU by name with an optional count, NAME[:COUNT] such as t4 or l4:2 (${offer})`);
  const request = { name: match[1]!, count: match[2] === undefined ? 1 : Number(match[2]) };
  const counts = countsOf(catalog, request.name);
  if (counts.length === 0) read.fail(ACCELERATOR_INPUT, `a GPU that ${cloud} offers: ${offer}`);
  if (!counts.includes(request.count)) {
    read.fail(
      ACCELERATOR_INPUT,
      `${request.name} in a count that one ${cloud} machine carries, ${orList(counts.map(String))} (${offer})`,
    );
  }
  return request;
}

/** The catalog's machines that carry exactly the GPU and count asked for, cheapest first. */
export function machinesCarrying<M extends CatalogMachine>(catalog: readonly M[], request: AcceleratorRequest): M[] {
  return catalog
    .filter((m) => m.gpu === request.name && m.gpus === request.count)
    .sort((a, b) => a.usdPerHour - b.usdPerHour);
}

/**
 * The cheapest machine that carries the request, on-demand unless `spot`. A request only Spot capacity can meet
 * without `spot` fails on the accelerator input, before anything exists.
 */
export function cheapestCarrying<M extends CatalogMachine>(
  read: InputReader,
  catalog: readonly M[],
  request: AcceleratorRequest,
  opts: { spot: boolean; cloud: string },
): M {
  const all = machinesCarrying(catalog, request);
  const usable = opts.spot ? all : all.filter((m) => !m.spotOnly);
  if (usable[0] === undefined) {
    read.fail(
      ACCELERATOR_INPUT,
      `a GPU and count that ${opts.cloud} sells on demand: ${formatAccelerator(request)} comes only as Spot capacity (${all.map((m) => m.machineType).join(", ")}); set spot: true`,
    );
  }
  return usable[0];
}

/**
 * The machine types to try, in order, for machine-type's list (`types`, read by the cloud with its own pattern) and
 * the accelerator: the list, each of which must carry the accelerator when both are set (the accelerator is what is
 * refused, so a review can drop its example value); or, with no list, the catalog's cheapest machine carrying it.
 * `example` names a few of the cloud's GPUs for the error asking for one of the two. `ignoreCase` for a cloud whose
 * machine type names are case-insensitive.
 */
export function machineTypesFor(
  read: InputReader,
  catalog: readonly CatalogMachine[],
  accelerator: AcceleratorRequest | undefined,
  types: string[],
  opts: { spot: boolean; cloud: string; example: string; ignoreCase?: boolean },
): string[] {
  if (types.length === 0) {
    if (!accelerator) read.fail(ACCELERATOR_INPUT, `a GPU such as ${opts.example}, or a machine-type`);
    return [cheapestCarrying(read, catalog, accelerator, opts).machineType];
  }
  if (!accelerator) return types;
  const same = (a: string, b: string) => (opts.ignoreCase ? a.toLowerCase() === b.toLowerCase() : a === b);
  const carrying = machinesCarrying(catalog, accelerator).map((m) => m.machineType);
  for (const type of types.filter((t) => !carrying.some((c) => same(c, t)))) {
    const known = catalog.find((m) => same(m.machineType, type));
    const why = known
      ? `${type} carries ${known.gpu}:${known.gpus}`
      : `${type} is not in the action's catalog, so that cannot be checked`;
    read.fail(
      ACCELERATOR_INPUT,
      `the GPU that machine-type carries (${why}; ${formatAccelerator(accelerator)} comes with ${carrying.join(", ")}), or one of accelerator and machine-type left empty`,
    );
  }
  return types;
}

function countsOf(catalog: readonly CatalogMachine[], name: string): number[] {
  return [...new Set(catalog.filter((m) => m.gpu === name).map((m) => m.gpus))].sort((a, b) => a - b);
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

export const EXPECTED_GPUS_INPUT = "expected-gpus";

/** expected-gpus: 0, the user's own word that a machine without a GPU is meant (a CPU-only check of the pipeline). */
export function noGpuExpected(read: InputReader): boolean {
  return (
    read.isSet(EXPECTED_GPUS_INPUT) &&
    read.integer(EXPECTED_GPUS_INPUT, { min: 0, max: 16, unit: "GPUs per machine" }) === 0
  );
}

/**
 * Refuses machine types the cloud's naming says carry no GPU (`gpulessWhy` says why, or undefined for a GPU type),
 * unless expected-gpus is 0: otherwise a CPU machine would register under the label and take the GPU job, the GPU
 * gate having nothing to count.
 */
export function refuseGpuless(
  read: InputReader,
  machineTypes: readonly string[],
  gpulessWhy: (machineType: string) => string | undefined,
): void {
  const why = machineTypes.map(gpulessWhy).find((reason) => reason !== undefined);
  if (why === undefined || noGpuExpected(read)) return;
  read.fail(
    "machine-type",
    `machine types that carry a GPU (${why}), the ${ACCELERATOR_INPUT} input instead, or ${EXPECTED_GPUS_INPUT}: 0 for a machine without one`,
  );
}
