// Cuts the action's production install down to what one cloud needs, before action.yml caches it: the provider
// bindings of the other clouds (each cloud names its own in `providerPackages`), and the jsii metadata (.jsii, for
// other languages' bindings) that Node never reads. The clouds import their providers lazily, so a pruned one is
// simply never loaded.
//
//   tsx scripts/prune-install.ts CLOUD [NODE_MODULES]
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { cloudNamed, cloudNames } from "../stacks/clouds.ts";
import { InputError } from "../stacks/input-reader.ts";

/** Removes every @cdktf/provider-* package the cloud does not use; returns the packages removed. */
export async function pruneInstall(cloudName: string, modules: string): Promise<string[]> {
  const cloud = cloudNamed(cloudName);
  if (!cloud) throw new InputError("cloud", cloudName, `one of ${cloudNames().join(", ")}`);
  const scope = join(modules, "@cdktf");
  const providers = (await readdir(scope).catch(() => [] as string[])).filter((name) => name.startsWith("provider-"));
  const removed: string[] = [];
  for (const name of providers) {
    const dir = join(scope, name);
    if (cloud.providerPackages.includes(`@cdktf/${name}`)) {
      await rm(join(dir, ".jsii"), { force: true });
      await rm(join(dir, ".jsii.gz"), { force: true });
    } else {
      await rm(dir, { recursive: true, force: true });
      removed.push(`@cdktf/${name}`);
    }
  }
  return removed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cloudName = "", modules = "node_modules"] = process.argv.slice(2);
  try {
    const removed = await pruneInstall(cloudName, modules);
    console.log(`Pruned the install for cloud '${cloudName}': removed ${removed.length > 0 ? removed.join(", ") : "nothing"}.`);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
