// Google Compute Engine: one google_compute_instance per runner. Security and cost posture lives here: a hard
// lifetime enforced by Compute Engine itself (max_run_duration, then DELETE), no service account unless asked,
// no external IP unless asked, project-wide SSH keys blocked, every resource labelled with its owner.
import { defineCloud, runChecked, type StateStore } from "./cloud.ts";
import type { InputReader } from "./input-reader.ts";
import { OWNERSHIP_KEYS } from "./names.ts";
import { RunnerStack, type RunnerSlot } from "./runner-stack.ts";
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
  const [instance, provider] = await Promise.all([
    import("@cdktf/provider-google/lib/compute-instance/index.js"),
    import("@cdktf/provider-google/lib/provider/index.js"),
  ]);
  return { ComputeInstance: instance.ComputeInstance, GoogleProvider: provider.GoogleProvider };
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

  protected override createMachine(runner: RunnerSlot, userData: string, config: GcpConfig): string {
    const { ComputeInstance } = bindings();
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
    return instance.instanceId;
  }
}

/** A2, A3 and G2 machine types carry their GPUs; their count is in the name (a2-highgpu-4g -> 4, g2-standard-*). */
function bundledGpus(machineType: string): number | undefined {
  const accelerated = /^(a2|a3)-[a-z]+gpu-(\d+)g$/.exec(machineType);
  if (accelerated) return Number(accelerated[2]);
  const g2 = /^g2-standard-(\d+)$/.exec(machineType);
  if (g2) return G2_GPUS[Number(g2[1])];
  return undefined;
}

const G2_GPUS: Readonly<Record<number, number>> = { 4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8 };

const PRICES_AS_OF = "2025-06";

/** On-demand list prices, USD per hour, us-central1: machine types (A2 and G2 include their GPUs). */
const ON_DEMAND: Readonly<Record<string, number>> = {
  "n1-standard-4": 0.189999, "n1-standard-8": 0.379998, "n1-standard-16": 0.759996, "n1-standard-32": 1.519992,
  "g2-standard-4": 0.70683, "g2-standard-8": 0.85362, "g2-standard-12": 1.00041, "g2-standard-16": 1.1472,
  "g2-standard-32": 1.73375,
  "a2-highgpu-1g": 3.673385, "a2-highgpu-2g": 7.34677, "a2-highgpu-4g": 14.69354, "a2-highgpu-8g": 29.38708,
};

/** On-demand list prices, USD per hour, us-central1: one GPU attached to an N1 machine. */
const GPU_ON_DEMAND: Readonly<Record<string, number>> = {
  "nvidia-tesla-t4": 0.35, "nvidia-tesla-p4": 0.6, "nvidia-tesla-p100": 1.46, "nvidia-tesla-v100": 2.48,
};

/** Compute Engine's answers that mean "no capacity (or GPU quota) here, now": another zone or type may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?/,
  /does not have enough resources available to fulfill the request/,
  /QUOTA_EXCEEDED.*(GPUS|PREEMPTIBLE)/is,
];

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
/** GPUs that attach to N1 machines, with the most one machine takes. L4, A100 and H100 come with G2, A2 and A3. */
const N1_GPUS: Readonly<Record<string, number>> = {
  "nvidia-tesla-t4": 4,
  "nvidia-tesla-t4-vws": 4,
  "nvidia-tesla-p4": 4,
  "nvidia-tesla-p4-vws": 4,
  "nvidia-tesla-p100": 4,
  "nvidia-tesla-p100-vws": 4,
  "nvidia-tesla-v100": 8,
};
const GPU = /^(nvidia-[a-z0-9-]+)(?::(\d+))?$/;
const DISK_TYPES = ["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"] as const;
/** Labels the action itself sets on every resource: the ownership keys plus the provider's attribution label. */
const RESERVED_LABEL_COUNT = 6;

function parseGpu(read: InputReader, machineType: string): GcpGpu | undefined {
  if (!read.isSet("gpu")) return undefined;
  const expected = `TYPE:COUNT such as nvidia-tesla-t4:1, where TYPE is one of ${Object.keys(N1_GPUS).join(", ")} and COUNT is 1, 2, 4 or 8`;
  const match = GPU.exec(read.raw("gpu"));
  if (!match) read.fail("gpu", expected);
  if (ACCELERATOR_OPTIMIZED.test(machineType)) {
    read.fail("gpu", `nothing with machine-type ${machineType}: accelerator-optimized types (A2, A3, A4, G2, G4) carry their own GPUs`);
  }
  if (!machineType.startsWith("n1-")) {
    read.fail("gpu", `nothing with machine-type ${machineType}: GPUs attach only to N1 machine types (for L4, A100 or H100 GPUs choose a G2, A2 or A3 machine type)`);
  }
  const type = match[1]!;
  const count = match[2] === undefined ? 1 : Number(match[2]);
  const max = N1_GPUS[type];
  if (max === undefined || ![1, 2, 4, 8].includes(count) || count > max) read.fail("gpu", expected + (max ? ` (at most ${max} of ${type})` : ""));
  return { type, count };
}

function parseImage(read: InputReader): string {
  const expected =
    "a Compute Engine image as projects/PROJECT/global/images/IMAGE or an image family as projects/PROJECT/global/images/family/FAMILY";
  return read.matching("image", IMAGE, expected);
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
  inputs: ["project", "zone", "gpu", "disk-type", "service-account", "scopes", "network", "subnetwork"],
  parse(read: InputReader): GcpConfig {
    const projectExpected = "a Google Cloud project id such as my-project-123 (6 to 30 lower-case letters, digits and '-')";
    const project = read.matching("project", PROJECT, projectExpected, read.env.GOOGLE_CLOUD_PROJECT || undefined);
    // The fallback comes from the environment unchecked.
    if (!PROJECT.test(project)) read.fail("project", `${projectExpected}; GOOGLE_CLOUD_PROJECT is not one`);
    const zonesExpected = "Compute Engine zones such as us-central1-a, comma-separated in order of preference";
    const [zone, ...fallbackZones] = read.list("zone", ZONE, zonesExpected, { max: 5 });
    if (zone === undefined) read.fail("zone", zonesExpected);
    const region = regionOf(zone);
    const typesExpected = "Compute Engine machine types such as n1-standard-4, g2-standard-8 or a2-highgpu-1g, comma-separated in order of preference";
    const [machineType, ...fallbackMachineTypes] = read.list("machine-type", MACHINE_TYPE, typesExpected, { max: 5 });
    if (machineType === undefined) read.fail("machine-type", typesExpected);
    // Every candidate must be valid with the same gpu input; the first decides the GPU count.
    const gpu = parseGpu(read, machineType);
    for (const other of fallbackMachineTypes) parseGpu(read, other);
    const image = parseImage(read);
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
      gpu,
      image,
      diskSizeGb: read.integer("disk-size", { min: 10, max: 65536, fallback: 100 }),
      diskType,
      spot: read.boolean("spot", false),
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
  gpusPerMachine(config) {
    if (config.gpu) return config.gpu.count;
    // Accelerator-optimized types not in the catalog: unknown, so the user sets expected-gpus.
    if (ACCELERATOR_OPTIMIZED.test(config.machineType)) return bundledGpus(config.machineType);
    return 0;
  },
  hourlyPriceUsd(config) {
    const machine = ON_DEMAND[config.machineType];
    if (config.spot || machine === undefined) return undefined;
    if (!config.gpu) return machine;
    const gpu = GPU_ON_DEMAND[config.gpu.type];
    return gpu === undefined ? undefined : machine + gpu * config.gpu.count;
  },
  pricesAsOf: PRICES_AS_OF,
  capacityErrors: CAPACITY_ERRORS,
  credentialsHint:
    "that google-github-actions/auth ran in this job and its service account has the roles listed in docs/gcp.md, " +
    "that the image or image family exists, and that the project's GPU quota in this region is not exhausted.",
  // Compute Engine reserves label keys starting with goog-.
  reservedTagPrefixes: ["goog-"],
  summary: (config) => ({
    machineType: `${config.gpu ? `${config.machineType} + ${config.gpu.count} x ${config.gpu.type}` : config.machineType}${config.spot ? " (spot)" : ""}`,
    location: config.zone,
    image: config.image,
  }),
  example: {
    project: "example-project",
    zone: "us-central1-a",
    "machine-type": "n1-standard-4",
    gpu: "nvidia-tesla-t4:1",
    image: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
  },
  // Compute Engine limits one metadata value (the startup-script) to 256 KB.
  userDataLimitBytes: 256 * 1024,
  userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
  // The google provider and gcloud read credentials and project from these (google-github-actions/auth sets them).
  environment: [/^(GOOGLE|CLOUDSDK|GCLOUD)_[A-Z0-9_]+$/, /^GCP_PROJECT$/],
  async bootConsole(config, machine, run) {
    return runChecked(run, "gcloud", ["compute", "instances", "get-serial-port-output", machine.name, "--zone", config.zone, "--project", config.project]);
  },
  async sweep(label, env, run) {
    const project = env.GOOGLE_CLOUD_PROJECT || env.CLOUDSDK_CORE_PROJECT || env.CLOUDSDK_PROJECT;
    if (!project) throw new Error("GOOGLE_CLOUD_PROJECT is not set: google-github-actions/auth sets it; without it the machines cannot be looked up");
    const labelValue = toGcpLabels({ [OWNERSHIP_KEYS.label]: label })[OWNERSHIP_KEYS.label];
    const found = await runChecked(run, "gcloud", [
      "compute", "instances", "list", "--project", project, `--filter=labels.${OWNERSHIP_KEYS.label}=${labelValue}`, "--format=value(name,zone.basename())",
    ]);
    const deleted: string[] = [];
    for (const line of found.split("\n").filter((l) => l.trim() !== "")) {
      const [name, zone] = line.trim().split(/\s+/);
      if (!name || !zone || !ZONE.test(zone)) continue;
      await runChecked(run, "gcloud", ["compute", "instances", "delete", name, "--zone", zone, "--project", project, "--quiet"]);
      deleted.push(`instance ${name} (${zone})`);
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
      for (const machineType of types) {
        for (const zone of zones) {
          candidates.push({ ...config, machineType, zone, region: regionOf(zone), spot, fallbackZones: [], fallbackMachineTypes: [] });
        }
      }
    }
    return candidates;
  },
});
