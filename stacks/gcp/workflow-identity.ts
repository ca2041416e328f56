// The service account the workflow itself acts as, when google-github-actions/auth says so: the machine must never
// be given it. That account may create and delete instances (docs/gcp.md); on the machine, with the cloud-platform
// scope, a job could lift its own max_run_duration, or delete and change every VM and disk the account can reach.
import { readFileSync } from "node:fs";
import type { Env } from "../input-reader.ts";

/**
 * Where google-github-actions/auth leaves its credentials file (v2 and v3, src/main.ts: it exports the path as all
 * three when export_environment_variables is on, the default). The action exports no variable with the service
 * account's email; the file names it.
 */
export const CREDENTIALS_VARIABLES = [
  "GOOGLE_GHA_CREDS_PATH",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
] as const;

/**
 * The service account email in a credentials file: an external_account file (Workload Identity Federation through a
 * service account) names it in service_account_impersonation_url, ".../serviceAccounts/EMAIL:generateAccessToken"
 * (auth's src/client/workload_identity_federation.ts, createCredentialsFile); a service account key names it in
 * client_email. Undefined for anything else (direct federation acts as no service account). Only those two fields
 * are read: the file also holds the OIDC request token or a private key, which nothing here keeps or prints.
 */
export function serviceAccountOf(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { client_email: email, service_account_impersonation_url: url } = parsed as Record<string, unknown>;
  if (typeof email === "string" && email !== "") return email.toLowerCase();
  const impersonated = typeof url === "string" ? /\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(url) : null;
  return impersonated?.[1]?.toLowerCase();
}

/** The workflow's own service account, from the first credentials file the environment names; undefined if none. */
export function workflowServiceAccount(
  env: Env,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): { email: string; variable: string } | undefined {
  for (const variable of CREDENTIALS_VARIABLES) {
    const path = env[variable];
    if (!path) continue;
    let text: string;
    try {
      text = readFile(path);
    } catch {
      continue;
    }
    const email = serviceAccountOf(text);
    if (email) return { email, variable };
  }
  return undefined;
}
