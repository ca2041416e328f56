// What every cloud promises, as test/cloud-contract.test.ts checks it: the shape of one cloud's answers (where it keeps
// its machines, tags and boot script in the synthesized JSON), which each cloud's test folder supplies in its
// cases.ts, and the loader that finds them. A registered cloud without a cases.ts fails the contract test.
import assert from "node:assert/strict";
import type { Env } from "../../stacks/input-reader.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed cdk.tf.json is walked freely; the assertions check its shape.
export type Json = Record<string, any>;

/** One machine as the contract sees it, whatever the cloud calls its parts. */
export interface Machine {
  /** The machine's name in the cloud (instance name, Name tag...). */
  name: string;
  /** The Terraform resource itself, for the cloud's own assertions. */
  resource: Json;
  /** The boot script as a Terraform string (literal `${` escaped as `$${`, the JIT config a `${var...}`). */
  bootScript: string;
  /** Every tag or label set this machine's resources carry (the machine, its disks...), by what carries it. */
  tagSets: Record<string, Record<string, string>>;
}

/** A promise a cloud cannot keep by its nature, with the reason: written down, never silently skipped. */
export interface NotApplicable {
  notApplicable: string;
}

export interface CloudContract {
  /** Variables the example needs beyond its inputs (a harness's settings), if any. */
  env?: Env;
  machines(json: Json): Machine[];
  /**
   * The cloud's own hard lifetime in seconds (enforced even if the machine hangs or its job disarms the machine's
   * timer), or why there is none: a duration the cloud counts from the machine's start, or a point in time
   * counted from `synthesizedAt` (epoch milliseconds).
   */
  cloudLifetimeSeconds(machine: Machine, json: Json, synthesizedAt: number): number | NotApplicable;
  /** Asserts that powering off (or reaching the cloud's lifetime) removes the machine rather than stopping it. */
  endsRatherThanStops: ((machine: Machine) => void) | NotApplicable;
  /** The bytes the cloud receives for a rendered boot script (compressed where the stack compresses it). */
  deliveredBytes(script: string): number;
  /** Whether the machines carry ownership tags at all. */
  ownership: true | NotApplicable;
}

/** The boot script a user-data expression points at: `${ENCODING(local.boot_script_N)}`, the script being that local. */
export /** The EC2 user-data is `${base64gzip(local.boot_script_N)}` (Azure's custom data `${base64encode(...)}`): the script is that local. */
function bootScriptLocal(json: Json, userDataBase64: unknown, encoding: "base64gzip" | "base64encode"): string {
  const match = new RegExp(`^\\$\\{${encoding}\\(local\\.(boot_script_\\d+)\\)\\}$`).exec(String(userDataBase64));
  assert.ok(
    match,
    `the user-data is the ${encoding} of a boot script local, got ${String(userDataBase64).slice(0, 80)}`,
  );
  return json.locals?.[match[1] ?? ""];
}

/** The words that name a cloud and the accelerators it offers, as the layers and accelerator tests read them. */
export interface CloudCases {
  contract: CloudContract;
  /** Words that name this cloud (its services, its CLI): no production file outside its folder may use them. */
  words: RegExp;
  accelerators: AcceleratorCases;
  /** The action a workflow logs in to this cloud with through OIDC (`uses:` without its version). */
  oidcLogin: string;
}

/** What the cloud makes of the accelerator input, read as the shared `with:` block of a matrix over clouds. */
export interface AcceleratorCases {
  /** The image a machine of this architecture boots by default, as the summary starts it. */
  defaultImage(arch: string): string;
  /** accelerator (and other inputs) -> the machine the review shows, or the part of the accelerator error. */
  rows: {
    accelerator: string;
    want: string | RegExp;
    arch?: string;
    inputs?: Record<string, string>;
    unpriced?: boolean;
  }[];
  /** A value that fits another cloud and not this one fails, naming its input. */
  wrongValues: { input: string; value: string; expected: RegExp }[];
}

/** The cases of a registered cloud, from its test folder: test/clouds/<name>/cases.ts. */
export async function casesOf(name: string): Promise<CloudCases> {
  const module = (await import(`../clouds/${name}/cases.ts`)) as { cases?: CloudCases };
  if (!module.cases) throw new Error(`test/clouds/${name}/cases.ts exports no cases`);
  return module.cases;
}
