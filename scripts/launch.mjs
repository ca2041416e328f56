// The main step's entry, `node scripts/launch.mjs scripts/main.ts`: plain JavaScript that node runs as it is, before
// any TypeScript loader exists, so that the transpiler never sees the step's secrets.
//
// The step's environment holds them: the github-token and the state passphrase (in the inputs variable), the job's
// token (JOB_GITHUB_TOKEN), the OIDC request token that GitHub gives every run: step of a job with id-token: write
// (ACTIONS_ID_TOKEN_REQUEST_TOKEN: actions/runner, src/Runner.Worker/Handlers/ScriptHandler.cs), the cloud's
// credentials, and whatever the workflow's env: adds. tsx transpiles through esbuild, a child process (esbuild's JS
// API spawns `esbuild --service` with the environment of that moment: node_modules/esbuild/lib/main.js) started at the
// first TypeScript file and kept for the life of the process; on Node 20 from tsx's loader thread, whose environment
// is the copy taken when the loader is registered, on Node 24 from this thread (module.registerHooks). Either way a
// plain `node --import tsx/esm scripts/main.ts` hands it every secret, readable in /proc/<pid>/environ (measured:
// test/launch.test.ts). So this launcher takes the whole environment into a plain object, leaves in process.env only
// what is not secret (KEEP), and only then registers tsx and imports the entry, which gets that object as its argument
// (no file, no pipe, no variable). Each child the action starts gets what childEnvironment
// (scripts/adapters/child-env.ts) picks from it; the transpiler, and any child started with process.env, get KEEP.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * What stays in process.env: what node, tsx and esbuild read there, and what @actions/core reads there (the workflow
 * command files, RUNNER_DEBUG). The rest of the run's context (GITHUB_REPOSITORY, RUNNER_TEMP...) the action reads from
 * its argument, like everything else; a variable a workflow adds (GITHUB_TOKEN, a GITHUB_PAT) stays out.
 */
const KEEP = [
  /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TMP|TEMP|TZ|LANG|LANGUAGE|LC_[A-Z_]+)$/,
  /^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy)$/,
  /^(SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|NODE_OPTIONS|NODE_NO_WARNINGS)$/,
  /^(TSX|ESBUILD)_[A-Z0-9_]+$/,
  /^(GITHUB_(ACTIONS|OUTPUT|STATE|ENV|PATH|STEP_SUMMARY)|RUNNER_DEBUG|CI)$/,
];

/** Removes from `env` (process.env) every variable but KEEP's; returns them all, as they were. */
function takeEnvironment(env) {
  const taken = { ...env };
  for (const name of Object.keys(env)) if (!KEEP.some((keep) => keep.test(name))) delete env[name];
  return taken;
}

const entry = process.argv[2];
if (!entry?.endsWith(".ts")) {
  console.log("::error::usage: node scripts/launch.mjs scripts/ENTRY.ts");
  process.exit(1);
}
const env = takeEnvironment(process.env);
// The same module the test kit preloads (test/kit/register-local.mjs), so the loader is registered once.
await import("tsx/esm");
const { runAction } = await import(pathToFileURL(resolve(entry)).href);
await runAction(env);
