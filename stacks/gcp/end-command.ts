// The command a Compute Engine instance runs right before it powers itself off: it deletes itself through the Compute
// API with its service account, because a power-off from inside only stops it (its boot disk still billed) and
// Compute Engine clears max_run_duration's termination time on a stopped instance.
import { readFileSync } from "node:fs";
import { shellQuote } from "../boot-script.ts";

/** The services the end command calls; a test points them at 127.0.0.1. */
export interface GcpEndpoints {
  /** The metadata server, which hands the attached service account a token and says which instance this is. */
  metadata: string;
  /** The Compute Engine API's root (its paths start with /compute/v1/). */
  compute: string;
}

export const GCP_ENDPOINTS: GcpEndpoints = {
  metadata: "http://metadata.google.internal",
  compute: "https://compute.googleapis.com",
};

/** The script that deletes the instance, a real file so that shellcheck and auditors read it as it runs. */
const SELF_DELETE_PATH = new URL("./self-delete.sh", import.meta.url);
let selfDeleteBody: string | undefined;

/**
 * The command the boot script runs as root right before its power-off (GR_END_COMMAND_B64; bounded to 120 s there):
 * stacks/gcp/self-delete.sh with its endpoints above it. It deletes the instance (instances.delete, DELETE
 * /compute/v1/projects/{project}/zones/{zone}/instances/{instance}, answered with an operation; the path as gcloud's
 * generated Compute v1 client has it), which takes the boot disk with it (auto_delete). It needs a service account on
 * the instance whose token carries the cloud-platform or compute scope (the scopes of instances.delete in that
 * client) and a role with compute.instances.delete on the runners' instances (docs/gcp.md); without it the delete is
 * refused, the boot log says why, and the power-off follows as before. Before its runner started it deletes nothing
 * (exit 10): start is then still waiting and reads the machine's serial console, which a deleted instance no longer
 * has, and deletes the machine itself when the wait fails. Deleting from inside leaves Terraform's state
 * naming an instance that is gone: stop's destroy reads it as gone, which is what a 404 on refresh means.
 */
export function endCommand(endpoints: GcpEndpoints = GCP_ENDPOINTS): string {
  selfDeleteBody ??= readFileSync(SELF_DELETE_PATH, "utf8");
  const values: Record<string, string> = { METADATA: endpoints.metadata, COMPUTE: endpoints.compute };
  const header = Object.entries(values).map(([name, value]) => `${name}=${shellQuote(value)}`);
  return ["#!/bin/bash", ...header, selfDeleteBody.slice(selfDeleteBody.indexOf("\n") + 1)].join("\n");
}
