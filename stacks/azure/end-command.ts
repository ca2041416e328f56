// The command an Azure VM runs right before it powers itself off: it deallocates itself through Azure Resource
// Manager with its managed identity, because a power-off from inside leaves an Azure VM allocated and billed.
import { readFileSync } from "node:fs";
import { shellQuote } from "../boot-script.ts";
import type { AzureConfig } from "./config.ts";

/** The VM's resource id, known before it exists: what its own deallocation names. */
export function vmResourceId(config: Pick<AzureConfig, "subscription" | "resourceGroup">, name: string): string {
  return `/subscriptions/${config.subscription}/resourceGroups/${config.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

/** The services the end command calls; a test points them at 127.0.0.1. */
export interface AzureEndpoints {
  /** The Instance Metadata Service, which hands the VM's managed identity a token. */
  imds: string;
  /** Azure Resource Manager. */
  arm: string;
}

export const AZURE_ENDPOINTS: AzureEndpoints = { imds: "http://169.254.169.254", arm: "https://management.azure.com" };

/** The audience of the token: Azure Resource Manager (whatever endpoint the request itself goes to). */
const ARM_RESOURCE = "https://management.azure.com/";
/** Microsoft.Compute's API version for the deallocate call. */
export const COMPUTE_API_VERSION = "2024-07-01";

/** The script that deallocates the VM, a real file so that shellcheck and auditors read it as it runs. */
const DEALLOCATE_PATH = new URL("./deallocate.sh", import.meta.url);
let deallocateBody: string | undefined;

/**
 * The command the boot script runs as root right before its power-off (GR_END_COMMAND_B64; bounded to 120 s there):
 * stacks/azure/deallocate.sh with its values above it. Deallocation, not deletion: it ends the compute bill at once
 * and leaves the VM for Terraform to destroy as planned, while deleting the VM through ARM would leave its OS disk,
 * NIC and public IP anyway (azurerm sets no delete option on them; it deletes the disk itself on destroy), so the bill
 * would be the same and Terraform's state wrong. The identity's role needs one action (docs/azure.md), and a job that
 * takes its token can deallocate, never delete, a VM of the group.
 */
export function endCommand(vmId: string, identityId: string, endpoints: AzureEndpoints = AZURE_ENDPOINTS): string {
  deallocateBody ??= readFileSync(DEALLOCATE_PATH, "utf8");
  const values: Record<string, string> = {
    IMDS: endpoints.imds,
    ARM: endpoints.arm,
    ARM_RESOURCE,
    API_VERSION: COMPUTE_API_VERSION,
    VM_ID: vmId,
    IDENTITY_ID: identityId,
  };
  const header = Object.entries(values).map(([name, value]) => `${name}=${shellQuote(value)}`);
  return ["#!/bin/bash", ...header, deallocateBody.slice(deallocateBody.indexOf("\n") + 1)].join("\n");
}
