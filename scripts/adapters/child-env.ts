// The environment of every child process the action starts (terraform, its providers and provisioners, the clouds'
// CLIs): only what they need. The step's own environment holds the github-token and the state passphrase (in the
// inputs variable, GPU_RUNNER_INPUTS), the job's token (JOB_GITHUB_TOKEN), the OIDC request token GitHub gives run:
// steps of a job with id-token: write (ACTIONS_ID_TOKEN_REQUEST_TOKEN; the cloud's login step has already used it),
// and a GITHUB_TOKEN a workflow may set: no child has any use for them, and terraform would otherwise hand them on to
// every provider and provisioner it runs. (The transpiler, a child too, is kept from them by scripts/launch.mjs.)
import type { Env } from "../../stacks/input-reader.ts";
import { INPUTS_VARIABLE } from "../../stacks/names.ts";

/** What any program needs to run here: its PATH, home, temporary directory, locale, proxies and CA certificates. */
const ALWAYS: readonly RegExp[] = [
  /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TMP|TEMP|TZ|LANG|LANGUAGE|LC_[A-Z_]+)$/,
  /^(HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy)$/,
  /^(SSL_CERT_FILE|SSL_CERT_DIR|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE)$/,
  // terraform's own settings (plugin cache, CLI configuration and registry credentials, logging), never TF_VAR_*:
  // the action passes the variables it means to pass itself.
  /^TF_(?!VAR_)[A-Z0-9_]+$/,
  /^CHECKPOINT_DISABLE$/,
];

/** The step's tokens, passed to no child whatever a cloud allows. */
const NEVER: readonly string[] = [
  INPUTS_VARIABLE,
  "JOB_GITHUB_TOKEN",
  "GITHUB_TOKEN",
  "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
  "ACTIONS_RUNTIME_TOKEN",
];

/**
 * The variables of `env` that a child may see: the common ones above, plus those matching `allowed` (a cloud's
 * credentials and settings, which each cloud names for itself), never the step's tokens (NEVER), whatever a cloud allows.
 */
export function childEnvironment(env: Env, allowed: readonly RegExp[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !NEVER.includes(name) && [...ALWAYS, ...allowed].some((pattern) => pattern.test(name)))
      out[name] = value;
  }
  return out;
}
