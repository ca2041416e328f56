// Google Compute Engine: one google_compute_instance per runner. Security and cost posture lives here: a hard
// lifetime enforced by Compute Engine itself (max_run_duration, then DELETE), no service account unless asked,
// no external IP unless asked, project-wide SSH keys blocked, every resource labelled with its owner.
import { Fn } from "cdktf";
import { type AcceleratorRequest, type CatalogMachine, cheapestCarrying, formatAccelerator, machinesCarrying, readAccelerator } from "./accelerator.ts";
import { defineCloud, type FoundMachine, jsonList, runChecked, type StateStore } from "./cloud.ts";
import type { Env, InputReader } from "./input-reader.ts";
import { MANAGED_BY_VALUE, OWNERSHIP_KEYS } from "./names.ts";
import { type MachineMade, RunnerStack, type RunnerSlot } from "./runner-stack.ts";
import { bundleKey, readStoreLocation } from "./state-store.ts";

export interface GcpGpu {
  /** Accelerator type, e.g. nvidia-tesla-t4. */
  type: string;
  count: number;
}

export interface GcpConfig {
  project: string;
  zone: string;
  /** The zone's region (us-central1-a -> us-central1). */
  region: string;
  machineType: string;
  /** The accelerator input: every machine type carries it (or, for N1, gets it attached). */
  accelerator?: AcceleratorRequest;
  /** GPUs attached to an N1 machine; undefined for accelerator-optimized types (they carry theirs) and CPU machines. */
  gpu?: GcpGpu;
  /** projects/P/global/images/NAME or projects/P/global/images/family/F (or the same as a full self-link). */
  image: string;
  diskSizeGb: number;
  diskType: string;
  spot: boolean;
  /** Undefined: the instance gets no service account at all, so nothing on it can obtain Google credentials. */
  serviceAccount?: { email: string; scopes: string[] };
  /** Undefined when a subnetwork is given: Compute Engine infers the network from it. */
  network?: string;
  subnetwork?: string;
  publicIp: boolean;
  /** Zones and machine types to try next when Compute Engine has no capacity (the rest of the zone/machine-type lists). */
  fallbackZones: string[];
  fallbackMachineTypes: string[];
}

/** GCE label rules: lowercase letters, digits, '_' and '-'; keys start with a letter; both at most 63 characters. */
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
/** Compute Engine allows 64 labels per resource. */
export const GCP_MAX_LABELS = 64;

function labelText(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 63);
}

function labelKey(key: string): string {
  const text = labelText(key);
  return /^[a-z]/.test(text) ? text : `t_${text}`.slice(0, 63);
}

/**
 * Tags (any case, '/', ':', spaces...) as valid Compute Engine labels: lower-cased, every other character '_',
 * cut to 63 characters ("Owner/Repo" -> "owner_repo"). Keys that are already valid labels win a collision over
 * keys that had to be changed, so the ownership keys (gpu-runner-*) always keep their values. A sweeper that
 * looks for a start's machines by label must normalise its search values with this same function.
 */
export function toGcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const changed: Record<string, string> = {};
  const exact: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (LABEL_KEY.test(key)) exact[key] = labelText(value);
    else changed[labelKey(key)] = labelText(value);
  }
  return { ...changed, ...exact };
}

export function isValidGcpLabel(key: string, value: string): boolean {
  return LABEL_KEY.test(key) && LABEL_VALUE.test(value);
}

/** Accelerator-optimized series carry their GPUs in the machine type; no guest_accelerator may be added. */
const ACCELERATOR_OPTIMIZED = /^(a\d+x?|g\d+)-/;
/** These series only boot with the gVNIC network driver. */
const GVNIC_REQUIRED = /^(a3|a4x?)-/;

/** The provider bindings, imported on first use so the action can prune the other clouds' provider packages. */
async function loadBindings() {
  const [instance, machineTypes, provider] = await Promise.all([
    import("@cdktf/provider-google/lib/compute-instance/index.js"),
    import("@cdktf/provider-google/lib/data-google-compute-machine-types/index.js"),
    import("@cdktf/provider-google/lib/provider/index.js"),
  ]);
  return {
    ComputeInstance: instance.ComputeInstance,
    DataGoogleComputeMachineTypes: machineTypes.DataGoogleComputeMachineTypes,
    GoogleProvider: provider.GoogleProvider,
  };
}
let google: Awaited<ReturnType<typeof loadBindings>> | undefined;

function bindings(): NonNullable<typeof google> {
  if (!google) throw new Error("the google provider bindings are not loaded: await gcpCloud.load() first");
  return google;
}

export class GcpRunnerStack extends RunnerStack<GcpConfig> {
  protected override configureProvider(config: GcpConfig): GcpConfig {
    const { GoogleProvider } = bindings();
    const provider = new GoogleProvider(this, "google", { project: config.project, region: config.region, zone: config.zone });
    // default_labels reach every labelled resource this provider creates, including any added later. Set as an
    // override: cdktf snake-cases the keys of maps inside provider blocks (gpu-runner-label -> gpu_runner_label).
    provider.addOverride("default_labels", toGcpLabels(this.ownershipTags()));
    return config;
  }

  /**
   * Compute Engine's count of the GPUs a machine type carries (machineTypes.list, read at apply); none for N1 with
   * attached GPUs, whose count is the one asked for.
   */
  protected override gpuCountAtApply(config: GcpConfig): string | undefined {
    if (config.gpu) return undefined;
    const described = this.machineTypeData(config);
    const accelerators = Fn.flatten(Fn.lookupNested(described.machineTypes, ["*", "accelerators"]));
    return Fn.sum(Fn.concat([[0], Fn.lookupNested(accelerators, ["*", "guest_accelerator_count"])]));
  }

  /**
   * Compute Engine's description of the machine type in the zone, read once per stack. Its postconditions fail the
   * plan, before anything is created, when the zone has no such type or it does not carry the accelerator asked for.
   */
  private machineTypeData(config: GcpConfig) {
    const { DataGoogleComputeMachineTypes } = bindings();
    const existing = this.node.tryFindChild("machine-type");
    if (existing instanceof DataGoogleComputeMachineTypes) return existing;
    const checks = [{ condition: "${length(self.machine_types) == 1}", errorMessage: `Compute Engine offers no machine type ${config.machineType} in zone ${config.zone}.` }];
    if (config.accelerator && !config.gpu) {
      checks.push({
        condition: `\${sum(concat([0], flatten(self.machine_types[*].accelerators)[*].guest_accelerator_count)) == ${config.accelerator.count}}`,
        errorMessage: `Compute Engine describes ${config.machineType} with another number of GPUs than accelerator ${formatAccelerator(config.accelerator)} asks for.`,
      });
    }
    return new DataGoogleComputeMachineTypes(this, "machine-type", {
      project: config.project,
      zone: config.zone,
      filter: `name = "${config.machineType}"`,
      lifecycle: { postcondition: checks },
    });
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: GcpConfig): MachineMade {
    const { ComputeInstance } = bindings();
    if (config.accelerator && !config.gpu) this.machineTypeData(config);
    const labels = toGcpLabels(this.ownershipTags());
    const spot = config.spot;
    const instance = new ComputeInstance(this, `runner-${runner.index}`, {
      name: runner.name,
      zone: config.zone,
      machineType: config.machineType,
      description: `Ephemeral GitHub Actions runner ${runner.name}`,
      labels,
      // A network tag lets the project's firewall rules single out runners (e.g. deny all ingress to them).
      tags: ["gpu-runner"],
      bootDisk: {
        autoDelete: true,
        initializeParams: {
          image: config.image,
          size: config.diskSizeGb,
          type: config.diskType,
          // default_labels do not reach the boot disk created with the instance.
          labels,
        },
      },
      guestAccelerator: config.gpu ? [{ type: config.gpu.type, count: config.gpu.count }] : undefined,
      scheduling: {
        // GPU machines cannot live-migrate; Spot requires TERMINATE and no automatic restart too.
        onHostMaintenance: "TERMINATE",
        automaticRestart: false,
        provisioningModel: spot ? "SPOT" : "STANDARD",
        preemptible: spot,
        // The hard cost cap, enforced by Compute Engine even if the machine's own timers never run: at
        // max-lifetime the instance is deleted (not stopped, which would keep its disk billed). Spot preemption
        // deletes it too.
        maxRunDuration: { seconds: this.shared.boot.maxLifetimeMinutes * 60 },
        instanceTerminationAction: "DELETE",
      },
      shieldedInstanceConfig: {
        // Secure Boot off: the NVIDIA kernel modules of Deep Learning VM (and most GPU) images are not signed
        // with a key the firmware trusts, so the driver would not load and the GPU gate would fail. vTPM and
        // integrity monitoring still measure the boot.
        enableSecureBoot: false,
        enableVtpm: true,
        enableIntegrityMonitoring: true,
      },
      serviceAccount: config.serviceAccount ? { email: config.serviceAccount.email, scopes: config.serviceAccount.scopes } : undefined,
      networkInterface: [
        {
          network: config.network,
          subnetwork: config.subnetwork,
          nicType: GVNIC_REQUIRED.test(config.machineType) ? "GVNIC" : undefined,
          // An access_config block is what gives an external IP; without it the machine needs Cloud NAT.
          accessConfig: config.publicIp ? [{}] : undefined,
        },
      ],
      metadata: {
        // The boot script, holding `${var.jit_config_N}` for Terraform to fill in at apply time.
        "startup-script": userData,
        // Project-wide SSH keys would let every holder of one into a machine that runs this repository's jobs
        // with their secrets; OS Login leaves SSH to IAM (and the network's firewall), never to metadata keys.
        "block-project-ssh-keys": "TRUE",
        "enable-oslogin": "TRUE",
      },
    });
    // The image the disk was made from: the family's newest image at apply, as Compute Engine resolved it.
    return { id: instance.instanceId, image: instance.bootDisk.initializeParams.image };
  }
}

interface GcpMachine extends CatalogMachine {
  /** The accelerator type attached to an N1 machine (guest_accelerator); none for types that carry their GPUs. */
  attach?: string;
}

const PRICES_AS_OF = "2026-09";

/** On-demand list prices of N1 hosts and of one GPU attached to them, USD per hour, us-central1. */
const N1_HOST_PRICE: Readonly<Record<string, number>> = {
  "n1-standard-4": 0.189999, "n1-standard-8": 0.379998, "n1-standard-16": 0.759996, "n1-standard-32": 1.519992,
};
const ATTACHED_GPU_PRICE: Readonly<Record<string, number>> = {
  "nvidia-tesla-t4": 0.35, "nvidia-tesla-p4": 0.6, "nvidia-tesla-p100": 1.46, "nvidia-tesla-v100": 2.48,
};

/** The GPUs that attach to N1 machines (https://cloud.google.com/compute/docs/gpus#n1-gpus), and how many one takes. */
const N1_GPUS: Readonly<Record<string, { attach: string; counts: number[] }>> = {
  t4: { attach: "nvidia-tesla-t4", counts: [1, 2, 4] },
  p4: { attach: "nvidia-tesla-p4", counts: [1, 2, 4] },
  p100: { attach: "nvidia-tesla-p100", counts: [1, 2, 4] },
  v100: { attach: "nvidia-tesla-v100", counts: [1, 2, 4, 8] },
};

/** The N1 host the action picks for attached GPUs: 4 vCPUs and 15 GB of memory per GPU, within every GPU's limits. */
const N1_HOST: Readonly<Record<number, string>> = { 1: "n1-standard-4", 2: "n1-standard-8", 4: "n1-standard-16", 8: "n1-standard-32" };

function attached(gpu: string, count: number): GcpMachine {
  const { attach } = N1_GPUS[gpu]!;
  const host = N1_HOST[count]!;
  return { machineType: host, gpu, gpus: count, usdPerHour: N1_HOST_PRICE[host]! + ATTACHED_GPU_PRICE[attach]! * count, attach };
}

function carried(machineType: string, gpu: string, gpus: number, usdPerHour: number, spotOnly?: boolean): GcpMachine {
  return spotOnly ? { machineType, gpu, gpus, usdPerHour, spotOnly } : { machineType, gpu, gpus, usdPerHour };
}

/**
 * The machines the accelerator input chooses from, the GPUs each carries (https://cloud.google.com/compute/docs/gpus,
 * https://cloud.google.com/compute/docs/accelerator-optimized-machines) and its on-demand list price in USD per hour,
 * us-central1 (https://cloud.google.com/compute/gpus-pricing, https://cloud.google.com/compute/vm-instance-pricing;
 * G2, A2 and A3 prices include their GPUs). At apply, Compute Engine's own description of the machine type is what
 * the GPU gate expects; this table is the review's offline fallback, and the price table.
 */
const CATALOG: readonly GcpMachine[] = [
  ...Object.entries(N1_GPUS).flatMap(([gpu, { counts }]) => counts.map((count) => attached(gpu, count))),
  // NVIDIA L4: G2
  carried("g2-standard-4", "l4", 1, 0.70683), carried("g2-standard-8", "l4", 1, 0.85362), carried("g2-standard-12", "l4", 1, 1.00041),
  carried("g2-standard-16", "l4", 1, 1.1472), carried("g2-standard-32", "l4", 1, 1.73375), carried("g2-standard-24", "l4", 2, 2.000826),
  carried("g2-standard-48", "l4", 4, 4.001652), carried("g2-standard-96", "l4", 8, 8.003305),
  // NVIDIA A100 40 GB: A2 Standard; A100 80 GB: A2 Ultra
  carried("a2-highgpu-1g", "a100", 1, 3.673385), carried("a2-highgpu-2g", "a100", 2, 7.34677), carried("a2-highgpu-4g", "a100", 4, 14.69354),
  carried("a2-highgpu-8g", "a100", 8, 29.38708), carried("a2-megagpu-16g", "a100", 16, 55.739504),
  carried("a2-ultragpu-1g", "a100-80gb", 1, 5.068798), carried("a2-ultragpu-2g", "a100-80gb", 2, 10.137596),
  carried("a2-ultragpu-4g", "a100-80gb", 4, 20.275192), carried("a2-ultragpu-8g", "a100-80gb", 8, 40.550383),
  // NVIDIA H100 80 GB: A3 High. Its 1-, 2- and 4-GPU types come only as Spot or flex-start VMs.
  carried("a3-highgpu-1g", "h100", 1, 11.0612, true), carried("a3-highgpu-2g", "h100", 2, 22.1225, true),
  carried("a3-highgpu-4g", "h100", 4, 44.245, true), carried("a3-highgpu-8g", "h100", 8, 88.49),
  // NVIDIA H200 141 GB: A3 Ultra
  carried("a3-ultragpu-8g", "h200", 8, 84.806908),
];

const BY_TYPE = new Map(CATALOG.filter((m) => !m.attach).map((m) => [m.machineType, m]));

/**
 * GPUs of accelerator-optimized types outside the catalog (no list price here), for the review's offline count:
 * A2/A3/A4 names end in the count (a3-megagpu-8g, a4-highgpu-8g), G4 (RTX PRO 6000) does not.
 */
function bundledGpus(machineType: string): number | undefined {
  const named = /^a\d+x?-[a-z]+gpu-(\d+)g(-[a-z]+)?$/.exec(machineType);
  if (named) return Number(named[1]);
  return ({ "g4-standard-48": 1, "g4-standard-96": 2, "g4-standard-192": 4, "g4-standard-384": 8 } as Record<string, number>)[machineType];
}

/**
 * The image when `image` is empty: a Deep Learning VM image family, NVIDIA driver 580, CUDA 12.9, Ubuntu 24.04; a
 * family always boots its newest image (https://cloud.google.com/deep-learning-vm/docs/images lists the families).
 */
const DEFAULT_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580";

/** Compute Engine's answers that mean "no capacity (or GPU quota) here, now": another zone or type may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?/,
  /does not have enough resources available to fulfill the request/,
  /QUOTA_EXCEEDED.*(GPUS|PREEMPTIBLE)/is,
];

function projectOf(env: Env): string {
  const project = env.GOOGLE_CLOUD_PROJECT || env.CLOUDSDK_CORE_PROJECT || env.CLOUDSDK_PROJECT;
  if (!project) throw new Error("GOOGLE_CLOUD_PROJECT is not set: google-github-actions/auth sets it; without it the machines cannot be looked up");
  return project;
}

/**
 * `gcloud compute instances list --format=json`: TERMINATED is Compute Engine's word for a stopped instance (its
 * disk still billed); everything else that is listed still runs or is about to.
 */
function parseInstances(json: string): FoundMachine[] {
  const machines: FoundMachine[] = [];
  for (const item of jsonList(json, "gcloud compute instances list") as { name?: unknown; zone?: unknown; status?: unknown; creationTimestamp?: unknown; labels?: Record<string, string> }[]) {
    const zone = typeof item.zone === "string" ? item.zone.split("/").pop() ?? "" : "";
    if (typeof item.name !== "string" || !ZONE.test(zone)) continue;
    const lifetime = Number(item.labels?.[OWNERSHIP_KEYS.maxLifetime]);
    machines.push({
      id: item.name,
      name: item.name,
      label: item.labels?.[OWNERSHIP_KEYS.label] ?? "",
      state: item.status === "TERMINATED" || item.status === "STOPPING" || item.status === "SUSPENDED" ? "stopped" : "running",
      launchedAt: typeof item.creationTimestamp === "string" ? new Date(item.creationTimestamp) : undefined,
      maxLifetimeMinutes: Number.isInteger(lifetime) && lifetime > 0 ? lifetime : undefined,
      location: zone,
    });
  }
  return machines;
}

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const ZONE = /^([a-z]+-[a-z]+\d+)-[a-z]$/;
const MACHINE_TYPE = /^[a-z][a-z0-9]*-[a-z0-9][a-z0-9-]{0,60}$/;
/** An image or image family, always with its project so the choice is unambiguous; optionally a full self-link. */
const IMAGE =
  /^(https:\/\/(www|compute)\.googleapis\.com\/compute\/(v1|beta)\/)?projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/global\/images\/(family\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NETWORK = /^(projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/global\/networks\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBNETWORK = /^(projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/regions\/([a-z]+-[a-z]+\d+)\/subnetworks\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_ACCOUNT = /^[a-z0-9][a-z0-9-]{4,62}@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$/;
const SCOPE = /^(https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._/-]+|[a-z][a-z0-9._-]*)$/;
const DISK_TYPES = ["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"] as const;
/** Labels the action itself sets on every resource: the ownership keys plus the provider's attribution label. */
const RESERVED_LABEL_COUNT = Object.keys(OWNERSHIP_KEYS).length + 1;

/**
 * The machine types to try, in order, and the GPUs to attach to them: machine-type's list (each must carry the
 * accelerator, or be N1 for a GPU that attaches), or the accelerator's cheapest machine.
 */
function readMachines(read: InputReader, accelerator: AcceleratorRequest | undefined, spot: boolean): { types: string[]; gpu?: GcpGpu } {
  const typesExpected = "Compute Engine machine types such as n1-standard-4, g2-standard-8 or a2-highgpu-1g, comma-separated in order of preference";
  const types = read.list("machine-type", MACHINE_TYPE, typesExpected, { max: 5 });
  if (types.length === 0) {
    if (!accelerator) read.fail("accelerator", "a GPU such as t4, l4, a100 or h100, with an optional count (l4:2), or a machine-type");
    const chosen = cheapestCarrying(read, CATALOG, accelerator, { spot, cloud: "gcp" });
    return { types: [chosen.machineType], gpu: chosen.attach ? { type: chosen.attach, count: chosen.gpus } : undefined };
  }
  for (const type of types.filter((t) => !spot && BY_TYPE.get(t)?.spotOnly)) {
    read.fail("machine-type", `machine types sold on demand, or spot: true (${type} is sold only as Spot or flex-start capacity)`);
  }
  if (!accelerator) return { types };
  // Both given: they must agree. The accelerator is what is refused, so a review can drop its example value.
  const disagree = (why: string, fits: string): never =>
    read.fail("accelerator", `the GPU that machine-type carries or takes (${why}; ${formatAccelerator(accelerator)} ${fits}), or one of accelerator and machine-type left empty`);
  const n1 = N1_GPUS[accelerator.name];
  if (n1) {
    for (const type of types.filter((t) => !t.startsWith("n1-"))) disagree(`${type} is not N1`, `attaches only to N1 types such as ${N1_HOST[accelerator.count]}`);
    return { types, gpu: { type: n1.attach, count: accelerator.count } };
  }
  const carrying = machinesCarrying(CATALOG, accelerator).map((m) => m.machineType);
  for (const type of types.filter((t) => !carrying.includes(t))) {
    const known = BY_TYPE.get(type);
    const why = known
      ? `${type} carries ${known.gpu}:${known.gpus}`
      : type.startsWith("n1-")
        ? `${type} is N1, to which ${accelerator.name} does not attach`
        : `${type} is not in the action's catalog, so that cannot be checked`;
    disagree(why, `comes with ${carrying.join(", ")}`);
  }
  return { types };
}

function readImage(read: InputReader): string {
  const expected =
    "a Compute Engine image as projects/PROJECT/global/images/IMAGE or an image family as projects/PROJECT/global/images/family/FAMILY; " +
    `or nothing for the default, ${DEFAULT_IMAGE}`;
  return read.matching("image", IMAGE, expected, DEFAULT_IMAGE);
}

function regionOf(zone: string): string {
  return ZONE.exec(zone)![1]!;
}

function parseNetwork(read: InputReader, zones: string[]): Pick<GcpConfig, "network" | "subnetwork"> {
  const subnetwork =
    read.matching("subnetwork", SUBNETWORK, "a subnetwork name, or projects/PROJECT/regions/REGION/subnetworks/NAME for a shared VPC", "") || undefined;
  const subnetRegion = subnetwork ? SUBNETWORK.exec(subnetwork)?.[2] : undefined;
  for (const region of new Set(zones.map(regionOf))) {
    if (subnetRegion !== undefined && subnetRegion !== region) read.fail("subnetwork", `a subnetwork in region ${region}, the region of zone`);
  }
  // Without a subnetwork the network's auto subnet of the zone's region is used; with one, naming the default
  // network too would contradict a subnetwork of any other network.
  const network = read.matching("network", NETWORK, "a VPC network name, or projects/PROJECT/global/networks/NAME", subnetwork ? "" : "default") || undefined;
  return { network, subnetwork };
}

function parseServiceAccount(read: InputReader): GcpConfig["serviceAccount"] {
  const email = read.matching("service-account", SERVICE_ACCOUNT, "a service account email such as runner@my-project.iam.gserviceaccount.com", "");
  if (email === "") {
    if (read.isSet("scopes")) read.fail("scopes", "nothing unless service-account is set (without one the machine gets no credentials)");
    return undefined;
  }
  const scopes = read.list("scopes", SCOPE, "OAuth scopes, comma-separated: aliases such as cloud-platform or https://www.googleapis.com/auth/... URLs", { max: 20 });
  return { email, scopes: scopes.length > 0 ? scopes : ["cloud-platform"] };
}

/** The user's tags become labels; fail early where GCE would fail at apply time, or where two tags would merge. */
function checkTagsFitLabels(read: InputReader): void {
  const tags = read.stringMap("tags", "a JSON object of string tags");
  const count = Object.keys(tags).length;
  const max = GCP_MAX_LABELS - RESERVED_LABEL_COUNT;
  if (count > max) read.fail("tags", `at most ${max} tags with cloud gcp (Compute Engine allows ${GCP_MAX_LABELS} labels, ${RESERVED_LABEL_COUNT} are the action's)`);
  if (Object.keys(toGcpLabels(tags)).length < count) {
    read.fail("tags", "tag keys that stay distinct as GCE labels (lower-cased, other characters than letters, digits, '_' and '-' become '_')");
  }
}

/** Cloud Storage bucket names: 3-63 lower-case letters, digits, '_', '-' and '.', starting and ending with a letter or digit. */
const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/**
 * state-backend: gcs. Each start's encrypted bundle is one object, written and read with gcloud (on GitHub's hosted
 * runners, with the credentials of google-github-actions/auth).
 */
function gcsStore(read: InputReader): StateStore {
  const location = readStoreLocation(read, { pattern: GCS_BUCKET, expected: "the name of the Cloud Storage bucket that keeps the encrypted state" });
  const url = (stateId: string) => `gs://${location.bucket}/${bundleKey(location, stateId)}`;
  return {
    kind: "gcs",
    description: `gs://${location.bucket}/${location.prefix}/`,
    put: async (stateId, file, run) => void (await runChecked(run, "gcloud", ["storage", "cp", file, url(stateId), "--quiet"])),
    async get(stateId, file, run) {
      // `gcloud storage ls` of the exact object first: a missing bundle is "nothing to stop", not an error.
      const listing = await run("gcloud", ["storage", "ls", url(stateId)]);
      if (listing.exitCode !== 0 && /One or more URLs matched no objects|matched no objects/i.test(listing.stderr)) return false;
      if (listing.exitCode !== 0) throw new Error(`gcloud storage ls failed (exit ${listing.exitCode}): ${listing.stderr.trim().split("\n").slice(-3).join(" ")}`);
      await runChecked(run, "gcloud", ["storage", "cp", url(stateId), file, "--quiet"]);
      return true;
    },
    remove: async (stateId, run) => void (await runChecked(run, "gcloud", ["storage", "rm", url(stateId), "--quiet"])),
  };
}

export const gcpCloud = defineCloud<GcpConfig>({
  name: "gcp",
  inputs: ["project", "zone", "service-account", "scopes", "network", "subnetwork"],
  parse(read: InputReader): GcpConfig {
    const projectExpected = "a Google Cloud project id such as my-project-123 (6 to 30 lower-case letters, digits and '-')";
    const project = read.matching("project", PROJECT, projectExpected, read.env.GOOGLE_CLOUD_PROJECT || undefined);
    // The fallback comes from the environment unchecked.
    if (!PROJECT.test(project)) read.fail("project", `${projectExpected}; GOOGLE_CLOUD_PROJECT is not one`);
    const zonesExpected = "Compute Engine zones such as us-central1-a, comma-separated in order of preference";
    const [zone, ...fallbackZones] = read.list("zone", ZONE, zonesExpected, { max: 5 });
    if (zone === undefined) read.fail("zone", zonesExpected);
    const region = regionOf(zone);
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "gcp");
    const { types, gpu } = readMachines(read, accelerator, spot);
    const [machineType, ...fallbackMachineTypes] = types as [string, ...string[]];
    const image = readImage(read);
    const diskType = read.oneOf("disk-type", DISK_TYPES, "pd-balanced");
    if (diskType.startsWith("hyperdisk-") && machineType.startsWith("n1-")) {
      read.fail("disk-type", `a persistent disk type (${DISK_TYPES.filter((t) => t.startsWith("pd-")).join(", ")}): N1 machines cannot boot from Hyperdisk`);
    }
    checkTagsFitLabels(read);
    return {
      project,
      zone,
      region,
      machineType,
      ...(accelerator ? { accelerator } : {}),
      gpu,
      image,
      diskSizeGb: read.integer("disk-size", { min: 10, max: 65536, fallback: 100 }),
      diskType,
      spot,
      serviceAccount: parseServiceAccount(read),
      ...parseNetwork(read, [zone, ...fallbackZones]),
      publicIp: read.boolean("public-ip", false),
      fallbackZones,
      fallbackMachineTypes,
    };
  },
  load: async () => {
    google ??= await loadBindings();
  },
  providerPackages: ["@cdktf/provider-google"],
  createStack: (scope, id, shared, config) => new GcpRunnerStack(scope, id, shared, config),
  gpus(config) {
    const type = config.machineType;
    // Attached to N1: the count asked for is the count (an N1 type carries none of its own).
    if (config.gpu) {
      const asked = config.accelerator ? formatAccelerator(config.accelerator) : `${config.gpu.type}:${config.gpu.count}`;
      return { count: config.gpu.count, source: `accelerator ${asked}, attached to ${type}` };
    }
    const known = config.accelerator?.count ?? BY_TYPE.get(type)?.gpus ?? bundledGpus(type) ?? (ACCELERATOR_OPTIMIZED.test(type) ? undefined : 0);
    return {
      count: known,
      source: config.accelerator
        ? `accelerator ${formatAccelerator(config.accelerator)}`
        : known === undefined
          ? `${type} is not in the action's catalog`
          : ACCELERATOR_OPTIMIZED.test(type)
            ? `the action's catalog of ${type}`
            : `${type} carries no GPU and none is attached`,
      atApply: `Compute Engine's description of ${type}`,
    };
  },
  // On-demand list prices; for Spot, what the machine costs at most.
  hourlyPriceUsd(config) {
    const host = N1_HOST_PRICE[config.machineType];
    if (config.gpu) return host === undefined ? undefined : host + ATTACHED_GPU_PRICE[config.gpu.type]! * config.gpu.count;
    return BY_TYPE.get(config.machineType)?.usdPerHour ?? host;
  },
  pricesAsOf: PRICES_AS_OF,
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that google-github-actions/auth ran in this job and its service account has the roles listed in docs/gcp.md " +
    "(compute.machineTypes.list for the GPU count), " +
    "that the image or image family exists, and that the project's GPU quota in this region is not exhausted.",
  // Compute Engine reserves label keys starting with goog-.
  reservedTagPrefixes: ["goog-"],
  summary: (config) => ({
    machineType: `${config.gpu ? `${config.machineType} + ${config.gpu.count} x ${config.gpu.type}` : config.machineType}${config.spot ? " (spot)" : ""}`,
    location: config.zone,
    image: config.image === DEFAULT_IMAGE ? `${DEFAULT_IMAGE} (the default Deep Learning VM family: its newest image at apply)` : config.image,
    spot: config.spot,
  }),
  example: {
    project: "example-project",
    zone: "us-central1-a",
    accelerator: "t4",
  },
  // Compute Engine limits one metadata value (the startup-script) to 256 KB.
  userDataLimitBytes: 256 * 1024,
  userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
  // The google provider and gcloud read credentials and project from these (google-github-actions/auth sets them).
  environment: [/^(GOOGLE|CLOUDSDK|GCLOUD)_[A-Z0-9_]+$/, /^GCP_PROJECT$/],
  async bootConsole(config, machine, run) {
    return runChecked(run, "gcloud", ["compute", "instances", "get-serial-port-output", machine.name, "--zone", config.zone, "--project", config.project]);
  },
  async findMachines(filter, env, run) {
    const project = projectOf(env);
    const [key, value] = "label" in filter ? [OWNERSHIP_KEYS.label, filter.label] : [OWNERSHIP_KEYS.repository, filter.repository];
    // Label values are normalised as the stack normalised them (toGcpLabels), or nothing would match.
    const wanted = toGcpLabels({ [key]: value })[key];
    const found = await runChecked(run, "gcloud", [
      "compute", "instances", "list", "--project", project,
      `--filter=labels.${OWNERSHIP_KEYS.managedBy}=${MANAGED_BY_VALUE} AND labels.${key}=${wanted}`, "--format=json",
    ]);
    return parseInstances(found);
  },
  async deleteMachines(machines, _labels, env, run) {
    // Everything of a start is its instances (boot disks go with them): nothing else to find by label.
    const project = projectOf(env);
    const deleted: string[] = [];
    for (const machine of machines) {
      await runChecked(run, "gcloud", ["compute", "instances", "delete", machine.name, "--zone", machine.location, "--project", project, "--quiet"]);
      deleted.push(`instance ${machine.name} (${machine.location})`);
    }
    return deleted;
  },
  stateStore: { kind: "gcs", parse: gcsStore },
  alternatives(config) {
    const zones = [config.zone, ...config.fallbackZones];
    const types = [config.machineType, ...config.fallbackMachineTypes];
    const candidates: GcpConfig[] = [];
    // Spot everywhere first (the user asked for the cheaper capacity), then standard as the fallback.
    for (const spot of config.spot ? [true, false] : [false]) {
      // A type sold only as Spot has no standard fallback: asking would fail with something else than no capacity.
      for (const machineType of types.filter((t) => spot || !BY_TYPE.get(t)?.spotOnly)) {
        for (const zone of zones) {
          candidates.push({ ...config, machineType, zone, region: regionOf(zone), spot, fallbackZones: [], fallbackMachineTypes: [] });
        }
      }
    }
    return candidates;
  },
});
