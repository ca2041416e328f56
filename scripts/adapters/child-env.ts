// The environment of every child process the action starts (terraform, its providers and provisioners, the clouds'
// CLIs): only what they need. The step's own environment holds the github-token and the state passphrase (in the
// inputs variable, GPU_RUNNER_INPUTS) and the job's token (JOB_GITHUB_TOKEN), which no child has any use for, and which
// terraform would otherwise hand on to every provider and provisioner it runs.
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

/**
 * The variables of `env` that a child may see: the common ones above, plus those matching `allowed` (a cloud's
 * credentials and settings, which each cloud names for itself), never the inputs variable, whatever a cloud allows.
 */
export function childEnvironment(env: Env, allowed: readonly RegExp[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (
      value !== undefined &&
      name !== INPUTS_VARIABLE &&
      [...ALWAYS, ...allowed].some((pattern) => pattern.test(name))
    )
      out[name] = value;
  }
  return out;
}
