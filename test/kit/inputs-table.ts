// The README's inputs table, computed from action.yml and from what the parser actually does: an input is
// required in a mode when removing it from a valid configuration makes parseInputs refuse it by name, and "-"
// when that mode never reads it. `npx tsx test/kit/inputs-table.ts --write` rewrites the README's table.
import { readFileSync, writeFileSync } from "node:fs";
import { allClouds, cloudNamed, cloudNames } from "../../stacks/clouds.ts";
import { decodeInputs, InputError } from "../../stacks/input-reader.ts";
import { type Mode, parseInputs } from "../../scripts/settings/inputs.ts";
import { reviewEnvironment } from "../../scripts/dev/review-env.ts";
import { readActionFile } from "./action-file.ts";
import { FAKE_TOKEN, inputEnv, LOCAL_KIND_ENV, reviewVariables } from "./env.ts";

export const README_PATH = new URL("../../README.md", import.meta.url);
const START = "<!-- inputs-table:start -->";
const END = "<!-- inputs-table:end -->";

type Requirement = "yes" | "no" | "-";

/** Inputs read only when state-backend names the cloud's own store: probed with it set, shown with the store's name. */
const STORE_INPUTS = ["state-bucket", "state-prefix", "state-region"];

function probeInputs(input: string, cloud: string): Record<string, string> | undefined {
  const store = cloudNamed(cloud)?.stateStore;
  if (!STORE_INPUTS.includes(input) || !store) return undefined;
  return { "state-backend": store.kind, "state-bucket": "bucket-name", "state-region": "us-east-1" };
}

function validEnv(mode: Mode, cloud: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  if (mode === "stop")
    return inputEnv(
      { mode, cloud, "github-token": FAKE_TOKEN, "state-id": "gpu-1-1-0a1b2c3d", ...extra },
      LOCAL_KIND_ENV,
    );
  if (mode === "sweep") return inputEnv({ mode, cloud, "github-token": FAKE_TOKEN, ...extra }, LOCAL_KIND_ENV);
  const env = reviewEnvironment(reviewVariables({ cloud, ...extra }, LOCAL_KIND_ENV));
  delete env.AWS_REGION; // the region input must stand on its own in this probe
  return env;
}

/** The inputs parseInputs reads for an env (set or not), recorded through a proxy over the decoded inputs. */
export function inputsRead(env: Record<string, string | undefined>): Set<string> {
  const read = new Set<string>();
  const proxy = new Proxy(decodeInputs(env), {
    // Asking whether an input is there (as the reader does first) counts as reading it, as does reading it.
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    get(target, key) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key);
    },
  });
  parseInputs(env, proxy);
  return read;
}

function requirement(input: string, mode: Mode, cloud: string): Requirement {
  const probe = probeInputs(input, cloud);
  if (STORE_INPUTS.includes(input) && !probe) return "-";
  const env = validEnv(mode, cloud, probe);
  if (!inputsRead(env).has(input)) return "-";
  try {
    parseInputs(env, { ...decodeInputs(env), [input]: "" });
    return "no";
  } catch (error) {
    return error instanceof InputError && error.input === input ? "yes" : "no";
  }
}

/** The clouds that may read an input: its owner for a cloud-only input, every cloud for a shared one. */
function cloudsFor(input: string): string[] {
  for (const cloud of allClouds()) if (cloud.inputs.names.includes(input)) return [cloud.name];
  return cloudNames();
}

/** Over several clouds: required if any cloud requires it, read if any reads it. */
function combined(input: string, mode: Mode): string {
  const clouds = cloudsFor(input);
  const found = clouds.map((cloud) => requirement(input, mode, cloud));
  const result: Requirement = found.includes("yes") ? "yes" : found.includes("no") ? "no" : "-";
  if (!STORE_INPUTS.includes(input) || result === "-") return result;
  const stores = clouds.filter((_, i) => found[i] !== "-").map((cloud) => cloudNamed(cloud)?.stateStore?.kind);
  return `${stores.join("/")}: ${result}`;
}

/**
 * One table of the inputs every cloud reads, then one per cloud of the inputs only it reads (in action.yml's
 * order), so a reader of one cloud's setup skips the others' rows.
 */
export function inputsTable(): string {
  const action = readActionFile();
  const header = ["| Input | Start | Stop | Sweep | Default | Description |", "| --- | --- | --- | --- | --- | --- |"];
  const row = (name: string) => {
    const spec = action.inputs[name]!;
    const fallback = spec.default === undefined ? "" : `\`${spec.default}\``;
    const modes = (["start", "stop", "sweep"] as const).map((mode) => combined(name, mode));
    return `| \`${name}\` | ${modes.join(" | ")} | ${fallback} | ${spec.description.replace(/\|/g, "\\|")} |`;
  };
  const names = Object.keys(action.inputs);
  const owned = new Set(allClouds().flatMap((cloud) => cloud.inputs.names));
  const sections = [
    ["#### Every cloud", "", ...header, ...names.filter((name) => !owned.has(name)).map(row)].join("\n"),
  ];
  for (const cloud of allClouds()) {
    const own = names.filter((name) => cloud.inputs.names.includes(name));
    if (own.length > 0)
      sections.push([`#### \`cloud: ${cloud.name}\` only`, "", ...header, ...own.map(row)].join("\n"));
  }
  return sections.join("\n\n");
}

export function readmeTable(readme: string): string {
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < 0) throw new Error("README has no inputs-table markers");
  return readme.slice(from + START.length, to).trim();
}

if (process.argv.includes("--write")) {
  const readme = readFileSync(README_PATH, "utf8");
  const from = readme.indexOf(START) + START.length;
  writeFileSync(README_PATH, `${readme.slice(0, from)}\n${inputsTable()}\n${readme.slice(readme.indexOf(END))}`);
}
