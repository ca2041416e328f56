// Cuts the action's production install down to what one cloud runs, before action.yml caches it. A provider
// package holds bindings for every resource of its cloud (hundreds of MB); a stack imports a handful. What to keep is
// computed from the cloud's own definition, not from a list: the cloud's `load()` imports exactly the modules its
// stack uses (and they import what they need), so whatever of its provider packages `load()` did not bring in is
// removed, with every other cloud's provider packages. Type declarations and source maps go too, in every package:
// Node never reads them (the action's own TypeScript is compiled by tsx from source, not from these).
//
//   tsx scripts/prune-install.ts CLOUD [NODE_MODULES]
import { createRequire } from "node:module";
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { InputError } from "../stacks/input-reader.ts";

export interface PruneResult {
  /** Provider packages removed whole (other clouds'). */
  removedPackages: string[];
  /** Files removed from the chosen cloud's provider packages. */
  removedFiles: number;
  /** Files kept in them (package.json and the modules loaded). */
  keptFiles: number;
  /** Type declarations and source maps removed across the install. */
  removedTypes: number;
}

/**
 * `modules` must be the node_modules this process loads its packages from when the modules loaded are to be
 * recognised there (the install step runs this script from the action's own directory).
 */
export async function pruneInstall(cloudName: string, modules: string): Promise<PruneResult> {
  const cloud = cloudNamed(cloudName);
  if (!cloud) throw new InputError("cloud", cloudName, `one of ${cloudNames().join(", ")}`);
  const root = resolve(modules);
  await cloud.terraform.load();
  // The provider bindings are CommonJS: every file load() brought in is in require's cache.
  const loaded = new Set(Object.keys(createRequire(import.meta.url).cache).map((file) => resolve(file)));
  const result: PruneResult = { removedPackages: [], removedFiles: 0, keptFiles: 0, removedTypes: 0 };
  for (const scope of ["@cdktf"]) {
    const names = (await readdir(join(root, scope)).catch(() => [] as string[])).filter((name) =>
      name.startsWith("provider-"),
    );
    for (const name of names) {
      const dir = join(root, scope, name);
      if (!cloud.terraform.providerPackages.includes(`${scope}/${name}`)) {
        await rm(dir, { recursive: true, force: true });
        result.removedPackages.push(`${scope}/${name}`);
        continue;
      }
      for (const file of await filesUnder(dir)) {
        const keep = loaded.has(file) || relative(dir, file) === "package.json";
        if (keep) result.keptFiles++;
        else {
          await rm(file, { force: true });
          result.removedFiles++;
        }
      }
      await removeEmptyDirectories(dir);
    }
  }
  if (cloud.terraform.providerPackages.length > 0 && result.keptFiles <= cloud.terraform.providerPackages.length) {
    // Nothing of the provider was recognised as loaded: pruning would leave the cloud unable to synthesize.
    throw new Error(
      `prune-install: ${cloudName}'s load() loaded nothing from ${root}; run it from the install it prunes`,
    );
  }
  for (const file of await filesUnder(root)) {
    if (/\.d\.[cm]?ts$|\.map$/.test(file)) {
      await rm(file, { force: true });
      result.removedTypes++;
    }
  }
  return result;
}

/** Depth first: a directory whose files were all removed goes too (thousands of them in a provider package). */
async function removeEmptyDirectories(dir: string): Promise<boolean> {
  let empty = true;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !(await removeEmptyDirectories(join(dir, entry.name)))) empty = false;
  }
  if (empty) await rm(dir, { recursive: true, force: true });
  return empty;
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() || entry.isSymbolicLink()) files.push(join(entry.parentPath, entry.name));
  }
  return files;
}

async function megabytes(dir: string): Promise<string> {
  let bytes = 0;
  for (const file of await filesUnder(dir)) bytes += (await stat(file).catch(() => ({ size: 0 }))).size;
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cloudName = "", modules = "node_modules"] = process.argv.slice(2);
  try {
    const result = await pruneInstall(cloudName, modules);
    console.log(
      `Pruned the install for cloud '${cloudName}': removed ${result.removedPackages.join(", ") || "no package"}, and ` +
        `${result.removedFiles} unused file(s) of its provider (${result.keptFiles} kept), ${result.removedTypes} type declaration(s) and ` +
        `source map(s); ${await megabytes(modules)} left.`,
    );
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
