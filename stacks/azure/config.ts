// The configuration one Azure start is made from: what inputs.ts reads, what catalog.ts prices, what stack.ts builds.
import type { AcceleratorRequest } from "../accelerator.ts";

/** Where the VM's image comes from. */
export type AzureImage =
  /** A Marketplace image, as `az vm create --image` spells it: PUBLISHER:OFFER:SKU:VERSION. */
  | { kind: "marketplace"; publisher: string; offer: string; sku: string; version: string }
  /** An image or Azure Compute Gallery image (version) by its resource id. */
  | { kind: "id"; id: string };

export const DISK_TYPES = ["Premium_LRS", "StandardSSD_LRS", "Standard_LRS", "Premium_ZRS", "StandardSSD_ZRS"] as const;

export type AzureDiskType = (typeof DISK_TYPES)[number];

export interface AzureConfig {
  subscription: string;
  location: string;
  resourceGroup: string;
  /** The resource id of an existing subnet, in `location` and `subscription`. */
  subnetId: string;
  /** A VM size such as Standard_NC4as_T4_v3. */
  size: string;
  /** The accelerator input: every size carries it. */
  accelerator?: AcceleratorRequest;
  image: AzureImage;
  diskSizeGb: number;
  diskType: AzureDiskType;
  /** An availability zone of the location ("1", "2", "3"); undefined: Azure places the VM (regional). */
  zone?: string;
  publicIp: boolean;
  spot: boolean;
  /**
   * The resource id of a user-assigned managed identity that may deallocate the runners' VMs: with it the boot script
   * ends its VM's compute billing itself (endCommand). Undefined: only the stop job, mode: sweep and auto-shutdown do.
   */
  identity?: string;
  /** Azure's daily auto-shutdown (a DevTest Labs schedule) set at max-lifetime: the cap outside the VM. */
  autoShutdown: boolean;
  /** Why there is no such schedule, when autoShutdown is false (the review and start say it). */
  noCapReason?: string;
  /** vTPM (Trusted Launch, Secure Boot off) on the sizes that support it. */
  trustedLaunch: boolean;
  /** Sizes and zones to try next when Azure has no capacity (the rest of the machine-type and zones lists). */
  fallbackSizes: string[];
  fallbackZones: string[];
  /** The network security group the stack made (set by configureProvider). */
  networkSecurityGroupId?: string;
}

/** The administrator Azure requires on a Linux VM. Never the runner's user (imageAccounts). */
export const ADMIN_USER = "azureuser";
