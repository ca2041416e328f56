// The floors of the project, as rules that stay true: what action.yml runs never reaches the test kit or a
// development dependency, imports point down only (stacks/ at the bottom, then scripts/lib, adapters, settings,
// phases, the entry points; developer tools and tests on top), there is no import cycle, a cloud's files live in its
// folder (stacks/<name>/, reached only through its index.ts by the registry), and no production file outside that
// folder (and the registry's line) names that cloud.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { allClouds } from "../stacks/clouds.ts";
import { casesOf } from "./kit/cloud-cases.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .filter(keep)
    .sort();
}

const SOURCES = ["scripts", "stacks", "test"].flatMap((dir) => filesUnder(dir, (path) => /\.(ts|mjs)$/.test(path)));

/** Every module specifier a file imports: static imports and exports, and dynamic imports. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(
    /(?:^|\n)\s*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

/** file -> the project files it imports (relative specifiers resolved). */
const GRAPH = new Map(
  SOURCES.map((file) => [
    file,
    specifiers(file)
      .filter((s) => s.startsWith("."))
      .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s))),
  ]),
);

/** The floor of a file; a file may import only from its own floor or below (developer tools may use the test kit). */
function floor(file: string): { rank: number; name: string } {
  if (file.startsWith("stacks/")) return { rank: 0, name: "stacks (the clouds)" };
  if (file.startsWith("scripts/lib/")) return { rank: 1, name: "scripts/lib" };
  if (file.startsWith("scripts/adapters/")) return { rank: 2, name: "scripts/adapters" };
  if (file.startsWith("scripts/settings/")) return { rank: 3, name: "scripts/settings" };
  if (file.startsWith("scripts/phases/")) return { rank: 4, name: "scripts/phases" };
  if (/^scripts\/[^/]+$/.test(file)) return { rank: 5, name: "scripts (entry points)" };
  if (file.startsWith("scripts/dev/")) return { rank: 6, name: "scripts/dev" };
  if (file.startsWith("test/")) return { rank: 7, name: "test" };
  throw new Error(`${file} is on no floor: add it to test/layers.test.ts`);
}

/** The entry points action.yml runs, read from its run: lines. */
function actionEntryPoints(): string[] {
  const action = readFileSync(join(ROOT, "action.yml"), "utf8");
  return [...new Set([...action.matchAll(/\b(scripts\/[\w/-]+\.ts)\b/g)].map((m) => m[1]!))];
}

function closure(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...entries];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...(GRAPH.get(file) ?? []));
  }
  return seen;
}

describe("floors", () => {
  it("sees the imports it checks (the analysis is not vacuous)", () => {
    assert.ok(SOURCES.length > 50, `${SOURCES.length} source files`);
    assert.ok(GRAPH.get("scripts/main.ts")?.includes("scripts/phases/start.ts"));
    assert.ok(GRAPH.get("stacks/clouds.ts")?.includes("stacks/aws/index.ts"));
    assert.ok(
      specifiers("stacks/aws/stack.ts").includes("@cdktf/provider-aws/lib/instance/index.js"),
      "dynamic imports are seen",
    );
    for (const [file, imports] of GRAPH)
      for (const target of imports)
        assert.ok(
          SOURCES.includes(target) || /\.(json|sh)$/.test(target),
          `${file} imports ${target}, which is not a source file`,
        );
  });

  it("imports point down: each file imports only from its own floor or below", () => {
    const upward: string[] = [];
    for (const [file, imports] of GRAPH) {
      const from = floor(file);
      for (const target of imports) {
        const to = floor(target);
        const devToolUsesKit = file.startsWith("scripts/dev/") && target.startsWith("test/kit/");
        if (to.rank > from.rank && !devToolUsesKit)
          upward.push(`${file} (${from.name}) imports ${target} (${to.name})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (file: string) => {
      state.set(file, "open");
      path.push(file);
      for (const next of GRAPH.get(file) ?? []) {
        if (state.get(next) === "open") cycles.push([...path.slice(path.indexOf(next)), next].join(" -> "));
        else if (!state.has(next)) visit(next);
      }
      path.pop();
      state.set(file, "done");
    };
    for (const file of GRAPH.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it("what action.yml runs never reaches the test kit, a developer tool, or a development dependency", () => {
    const entries = actionEntryPoints();
    assert.ok(entries.includes("scripts/main.ts"), `action.yml's entry points: ${entries.join(", ")}`);
    const reached = closure(entries);
    assert.deepEqual(
      [...reached].filter((file) => file.startsWith("test/") || file.startsWith("scripts/dev/")),
      [],
    );
    const { devDependencies = {}, dependencies = {} } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const packageOf = (spec: string) =>
      spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
    const misuse: string[] = [];
    for (const file of reached) {
      for (const spec of specifiers(file).filter((s) => !s.startsWith(".") && !s.startsWith("node:"))) {
        const pkg = packageOf(spec);
        if (!(pkg in dependencies))
          misuse.push(
            `${file} imports ${spec}, ${pkg in devDependencies ? "a development dependency" : "not a dependency"}`,
          );
      }
    }
    assert.deepEqual(misuse, []);
  });
});

/** The name the registry imports a cloud's definition under, from its import line: `import { X } from "./NAME/index.ts"`. */
function registryName(cloud: string): string {
  const registry = readFileSync(join(ROOT, "stacks/clouds.ts"), "utf8");
  const found = new RegExp(`import \\{ (\\w+) \\} from "\\./${cloud}/index\\.ts";`).exec(registry)?.[1];
  assert.ok(found, `stacks/clouds.ts imports ${cloud}'s definition from ./${cloud}/index.ts`);
  return found;
}

/** The folders under stacks/ that are not a cloud's: the boot script's. */
const SHARED_FOLDERS = ["stacks/boot"];

describe("a cloud's files live in its folder", () => {
  const folders = readdirSync(join(ROOT, "stacks"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `stacks/${entry.name}`);
  const cloudFolder = (file: string) =>
    folders.find((folder) => !SHARED_FOLDERS.includes(folder) && file.startsWith(`${folder}/`));

  it("every folder under stacks/ is a registered cloud's (or the boot script's), and every cloud has one with an index.ts", () => {
    const names = allClouds().map((cloud) => `stacks/${cloud.name}`);
    assert.deepEqual(folders.filter((folder) => !SHARED_FOLDERS.includes(folder)).sort(), [...names].sort());
    for (const name of names)
      assert.ok(GRAPH.get("stacks/clouds.ts")?.includes(`${name}/index.ts`), `the registry imports ${name}/index.ts`);
  });

  it("no production file outside a cloud's folder imports from it, but the registry its index.ts; no cloud imports another", () => {
    const reaching: string[] = [];
    for (const [file, imports] of GRAPH) {
      if (file.startsWith("test/") || file.startsWith("scripts/dev/")) continue;
      for (const target of imports) {
        const folder = cloudFolder(target);
        if (!folder || cloudFolder(file) === folder) continue;
        if (file === "stacks/clouds.ts" && target === `${folder}/index.ts`) continue;
        reaching.push(`${file} imports ${target}`);
      }
    }
    assert.deepEqual(reaching, []);
  });
});

describe("every cloud fact lives in its cloud's folder", () => {
  const production = [
    ...filesUnder("scripts", (path) => !path.startsWith("scripts/dev/")),
    ...filesUnder("stacks", () => true),
  ];

  for (const cloud of allClouds()) {
    const name = cloud.name;
    it(`no production file but stacks/${name}/ (and the registry's line) names ${name}`, async () => {
      // Each cloud's words are in its test folder (test/clouds/<name>/cases.ts).
      const { words } = await casesOf(name);
      assert.match(name, words, "the words name the cloud at least by its own name");
      const found: string[] = [];
      for (const file of production.filter((f) => !f.startsWith(`stacks/${name}/`))) {
        readFileSync(join(ROOT, file), "utf8")
          .split("\n")
          .forEach((line, index) => {
            // The registry's own line for the cloud (its import and its entry) is the one allowed mention.
            const registryLine = file === "stacks/clouds.ts" && new RegExp(`\\b${registryName(name)}\\b`).test(line);
            if (words.test(line) && !registryLine) found.push(`${file}:${index + 1}: ${line.trim()}`);
          });
      }
      assert.deepEqual(found, []);
    });
  }
});
