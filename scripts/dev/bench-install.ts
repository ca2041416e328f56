// npm run bench's install figures: npm ci --omit=dev into a scratch copy of the action, then its prune for each
// cloud: what the cache holds and restores, against keeping whole provider packages.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { copyFile, cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allClouds } from "../../stacks/clouds.ts";
import { ACTION_ROOT } from "../../test/kit/local-github/world.ts";
import { mb, row, s, say } from "./bench-format.ts";

/** `loader`: the one the action's main step runs with. */
export async function install(loader: string): Promise<void> {
  say(
    "Production install: npm ci --omit=dev into a copy of the action (npm registry), then prune-install.ts per cloud",
  );
  const dir = await mkdtemp(join(tmpdir(), "bench-install-"));
  try {
    for (const file of ["package.json", "package-lock.json"]) await copyFile(join(ACTION_ROOT, file), join(dir, file));
    const began = Date.now();
    try {
      execFileSync("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: dir,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, npm_config_cache: join(dir, ".npm-cache") },
      });
    } catch (error) {
      say(
        `  npm ci failed (offline?): ${((error as { stderr?: Buffer }).stderr?.toString() ?? String(error)).trim().split("\n").slice(-3).join(" ")}`,
      );
      return;
    }
    const took = Date.now() - began;
    const du = (path: string) => Number(execFileSync("du", ["-sk", path], { encoding: "utf8" }).split("\t")[0]);
    say(`  npm ci --omit=dev: ${s(took)} (empty npm cache), node_modules ${mb(du(join(dir, "node_modules")))}`);
    const widths = [12, 26, 26, 22];
    say(row(["cloud", "whole provider packages", "pruned (what is cached)", "cache archive (tar.gz)"], widths));
    for (const cloud of allClouds()) {
      // A copy of the action: the prune loads the cloud's bindings from the install it prunes (hard links: cheap).
      const copy = join(dir, `action-${cloud.name}`);
      for (const entry of ["scripts", "stacks", "package.json"])
        await cp(join(ACTION_ROOT, entry), join(copy, entry), { recursive: true });
      execFileSync("cp", ["-al", join(dir, "node_modules"), join(copy, "node_modules")]);
      // The prune before this one kept the chosen cloud's provider packages whole and removed every other one.
      const providers = readdirSync(join(copy, "node_modules", "@cdktf")).filter((name) =>
        name.startsWith("provider-"),
      );
      const others = providers
        .filter((name) => !cloud.terraform.providerPackages.includes(`@cdktf/${name}`))
        .map((name) => du(join(copy, "node_modules", "@cdktf", name)));
      const whole = du(join(copy, "node_modules")) - others.reduce((a, b) => a + b, 0);
      execFileSync(process.execPath, ["--import", loader, "scripts/prune-install.ts", cloud.name], {
        cwd: copy,
        stdio: "ignore",
      });
      const archive = join(dir, `${cloud.name}.tar.gz`);
      execFileSync("tar", ["-czf", archive, "-C", copy, "node_modules"]);
      say(row([cloud.name, mb(whole), mb(du(join(copy, "node_modules"))), mb(du(archive))], widths));
    }
    say("  target: at most 60 MB cached for each cloud");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  say();
}
