// The Compute Engine preflight's permission question: what the start asks of IAM, and which of it the project grants
// (testIamPermissions through curl, with gcloud's token kept out of argv). Apart because it alone handles a token.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandResult, CommandRunner } from "../cloud-command.ts";
import type { PreflightFinding } from "../preflight.ts";
import type { GcpConfig } from "./config.ts";
import { jsonObject, judgePermissions, type PermissionNeed } from "./preflight-answers.ts";
import { gcloud, unanswered } from "./preflight-gcloud.ts";
import { IMAGE_PATH } from "./preflight-image.ts";

/**
 * What the start asks of IAM, from what the stack creates (stack.ts: one google_compute_instance with a boot disk
 * from an image, labels, metadata, network tags, optionally a service account and an external IP; the machine-type
 * look-up; Terraform waits on the zone operation, reads the instance back and deletes it when a start fails) and
 * the permissions Compute Engine documents for creating such a VM ("Create a VM instance", required permissions:
 * https://cloud.google.com/compute/docs/instances/create-start-instance), as docs/gcp.md's two custom roles list them.
 */
export function startPermissions(config: GcpConfig): PermissionNeed[] {
  const named = (permission: string, why: string): PermissionNeed => ({ permission, why, grant: "named" });
  const onProject = (permission: string, why: string): PermissionNeed => ({ permission, why, grant: "project" });
  // A subnetwork input may be granted on that subnetwork alone (roles/compute.networkUser, a shared VPC).
  const network = (permission: string, why: string): PermissionNeed =>
    config.subnetwork
      ? {
          permission,
          why,
          grant: "resource",
          grantedBy: `roles/compute.networkUser on subnetwork ${config.subnetwork}`,
        }
      : { permission, why, grant: "project" };
  const [, imageProject] = IMAGE_PATH.exec(config.image) ?? [];
  return [
    named("compute.instances.create", "the runner"),
    named("compute.instances.get", "Terraform reads it back"),
    named("compute.instances.delete", "a failed start is destroyed"),
    named("compute.instances.setMetadata", "its startup-script"),
    named("compute.instances.setLabels", "its ownership labels"),
    named("compute.instances.setTags", "its network tag"),
    named("compute.disks.create", "its boot disk"),
    ...(config.serviceAccount ? [named("compute.instances.setServiceAccount", "service-account")] : []),
    onProject("compute.zoneOperations.get", "Terraform waits on the create"),
    // The GPU count read at apply (stack.ts machineTypeData), for types that carry their GPUs.
    ...(config.gpu ? [] : [onProject("compute.machineTypes.list", "the GPU count of the machine type")]),
    network("compute.subnetworks.use", "the network interface"),
    ...(config.publicIp ? [network("compute.subnetworks.useExternalIp", "public-ip")] : []),
    // Public images (the default) are readable by everyone; an image of the project needs this on it.
    ...(imageProject === config.project ? [onProject("compute.images.useReadOnly", "the project's own image")] : []),
    // Usually granted on the machine's service account itself (docs/gcp.md: roles/iam.serviceAccountUser on it).
    ...(config.serviceAccount
      ? [
          {
            permission: "iam.serviceAccounts.actAs",
            why: "service-account",
            grant: "resource" as const,
            grantedBy: `roles/iam.serviceAccountUser on ${config.serviceAccount.email}`,
          },
        ]
      : []),
  ];
}

/** gcloud's configuration as `gcloud config config-helper --format=json` prints it: the token and properties. */
interface Helper {
  token?: string;
  endpoint: string;
  caFile?: string;
}

async function helper(run: CommandRunner): Promise<Helper | CommandResult> {
  const result = await gcloud(run, ["config", "config-helper", "--format=json"]);
  const printed = result.exitCode === 0 ? jsonObject(result.stdout) : undefined;
  if (!printed) return result;
  const credential = printed.credential as { access_token?: unknown } | undefined;
  const properties = (printed.configuration as { properties?: Record<string, Record<string, unknown>> } | undefined)
    ?.properties;
  const override = properties?.api_endpoint_overrides?.cloudresourcemanager;
  const ca = properties?.core?.custom_ca_certs_file;
  return {
    token: typeof credential?.access_token === "string" ? credential.access_token : undefined,
    endpoint:
      typeof override === "string" ? override.replace(/\/?$/, "/") : "https://cloudresourcemanager.googleapis.com/",
    caFile: typeof ca === "string" ? ca : undefined,
  };
}

/**
 * projects.testIamPermissions (Cloud Resource Manager v1: POST v1/projects/{resource}:testIamPermissions, body
 * {permissions}, answer {permissions: the granted ones}; it needs no permission of its own). gcloud has no command
 * for it (its surface has test-iam-permissions for a few resources, none for projects), so curl sends it, with the
 * token of gcloud's own credentials (`gcloud config config-helper`, the command meant for tools that need them) and
 * gcloud's endpoint for the API. The token never reaches argv or a log: curl reads the header from a file only this
 * user may read, removed as soon as curl is done.
 */
export async function permissions(config: GcpConfig, run: CommandRunner): Promise<PreflightFinding[]> {
  const needs = startPermissions(config);
  const check = `permissions of the start on project ${config.project}`;
  const unchecked = (detail: string, fix?: string): PreflightFinding[] => [
    { check, status: "unchecked", detail, ...(fix ? { fix } : {}), scope: "start" },
  ];
  const found = await helper(run);
  if ("exitCode" in found) return [unanswered(check, found, "start", "(none)")];
  if (!found.token) return unchecked("gcloud has no access token (gcloud config config-helper printed none)");
  const dir = mkdtempSync(join(tmpdir(), "gcp-preflight-"));
  const headers = join(dir, "headers");
  let result: CommandResult;
  try {
    writeFileSync(headers, `Authorization: Bearer ${found.token}\n`, { mode: 0o600 });
    result = await run("curl", [
      "--silent",
      "--show-error",
      "--max-time",
      "20",
      ...(found.caFile ? ["--cacert", found.caFile] : []),
      "--header",
      `@${headers}`,
      "--header",
      "Content-Type: application/json",
      "--data-binary",
      JSON.stringify({ permissions: needs.map((n) => n.permission) }),
      "--write-out",
      "\n%{http_code}",
      `${found.endpoint}v1/projects/${encodeURIComponent(config.project)}:testIamPermissions`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (result.exitCode !== 0)
    return unchecked(
      result.exitCode === 127
        ? "curl is not installed (exit 127)"
        : `curl failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n").at(-1) ?? ""}`,
    );
  const status = result.stdout.slice(result.stdout.lastIndexOf("\n") + 1);
  const body = jsonObject(result.stdout.slice(0, result.stdout.lastIndexOf("\n")));
  if (status !== "200" || !body) {
    const error = (body?.error as { message?: unknown } | undefined)?.message;
    const message = `Cloud Resource Manager answered HTTP ${status}${typeof error === "string" ? `: ${error.slice(0, 300)}` : ""}`;
    return unchecked(
      message,
      /SERVICE_DISABLED|has not been used|is disabled/.test(result.stdout)
        ? `enable it: gcloud services enable cloudresourcemanager.googleapis.com --project ${config.project}`
        : undefined,
    );
  }
  const granted = Array.isArray(body.permissions) ? body.permissions.filter((p) => typeof p === "string") : [];
  return judgePermissions(config.project, needs, granted);
}
