// The Compute Engine inputs: project, zones, machine types and the GPUs they carry or take, image, disk, service
// account, network. Each error names the input, what was given and what is expected, before anything exists.
import {
  type AcceleratorRequest,
  cheapestCarrying,
  formatAccelerator,
  machinesCarrying,
  readAccelerator,
  refuseGpuless,
} from "../accelerator.ts";
import type { CloudInputs } from "../cloud.ts";
import type { Env, InputReader } from "../input-reader.ts";
import { BY_TYPE, CATALOG, DEFAULT_IMAGE, gpulessWhy, HYPERDISK_ONLY, N1_GPUS, N1_HOST } from "./catalog.ts";
import { type GcpConfig, type GcpGpu, regionOf, ZONE } from "./config.ts";
import { GCP_MAX_LABELS, toGcpLabels } from "./labels.ts";
import { workflowServiceAccount } from "./workflow-identity.ts";

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/**
 * Where the project comes from when the project input is empty, first set first; the CLI's look-ups (sweep, stop)
 * read the same. google-github-actions/auth exports the project it knows (its project_id input, else the one in
 * its service_account or credentials_json) as all of CLOUDSDK_CORE_PROJECT, CLOUDSDK_PROJECT, GCLOUD_PROJECT,
 * GCP_PROJECT and GOOGLE_CLOUD_PROJECT (v3.0.0: README and action.yml, export_environment_variables, on by default;
 * src/main.ts). Read here: the client libraries' name and gcloud's own (its core/project property), which a step
 * other than auth may set.
 */
export const PROJECT_VARIABLES = ["GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"] as const;

/** Who sets PROJECT_VARIABLES, for the messages that ask for them. */
export const PROJECT_SOURCE =
  "google-github-actions/auth sets both from its project_id input (or the project of its service account)";

/** The variable that gives the project and its value; undefined when none is set (an empty one is unset). */
export function projectFromEnv(env: Env): { variable: string; project: string } | undefined {
  for (const variable of PROJECT_VARIABLES) {
    const project = env[variable];
    if (project) return { variable, project };
  }
  return undefined;
}
const MACHINE_TYPE = /^[a-z][a-z0-9]*-[a-z0-9][a-z0-9-]{0,60}$/;
/** An image or image family, always with its project so the choice is unambiguous; optionally a full self-link. */
const IMAGE =
  /^(https:\/\/(www|compute)\.googleapis\.com\/compute\/(v1|beta)\/)?projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/global\/images\/(family\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NETWORK = /^(projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/global\/networks\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBNETWORK =
  /^(projects\/[a-z][a-z0-9.:-]{4,61}[a-z0-9]\/regions\/([a-z]+-[a-z]+\d+)\/subnetworks\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_ACCOUNT = /^[a-z0-9][a-z0-9-]{4,62}@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$/;
const SCOPE = /^(https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._/-]+|[a-z][a-z0-9._-]*)$/;
const DISK_TYPES = ["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"] as const;

/**
 * The machine types to try, in order, and the GPUs to attach to them: machine-type's list (each must carry the
 * accelerator, or be N1 for a GPU that attaches), or the accelerator's cheapest machine.
 */
function readMachines(
  read: InputReader,
  accelerator: AcceleratorRequest | undefined,
  spot: boolean,
): { types: string[]; gpu?: GcpGpu } {
  const typesExpected =
    "Compute Engine machine types such as n1-standard-4, g2-standard-8 or a2-highgpu-1g, comma-separated in order of preference";
  const types = read.list("machine-type", MACHINE_TYPE, typesExpected, { max: 5 });
  if (types.length === 0) {
    if (!accelerator)
      read.fail("accelerator", "a GPU such as t4, l4, a100 or h100, with an optional count (l4:2), or a machine-type");
    const chosen = cheapestCarrying(read, CATALOG, accelerator, { spot, cloud: "gcp" });
    return {
      types: [chosen.machineType],
      gpu: chosen.attach ? { type: chosen.attach, count: chosen.gpus } : undefined,
    };
  }
  for (const type of types.filter((t) => !spot && BY_TYPE.get(t)?.spotOnly)) {
    read.fail(
      "machine-type",
      `machine types sold on demand, or spot: true (${type} is sold only as Spot or flex-start capacity)`,
    );
  }
  if (!accelerator) {
    refuseGpuless(read, types, gpulessWhy);
    return { types };
  }
  // Both given: they must agree. The accelerator is what is refused, so a review can drop its example value.
  const disagree = (why: string, fits: string): never =>
    read.fail(
      "accelerator",
      `the GPU that machine-type carries or takes (${why}; ${formatAccelerator(accelerator)} ${fits}), or one of accelerator and machine-type left empty`,
    );
  const n1 = N1_GPUS[accelerator.name];
  if (n1) {
    for (const type of types.filter((t) => !t.startsWith("n1-")))
      disagree(`${type} is not N1`, `attaches only to N1 types such as ${N1_HOST[accelerator.count]}`);
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

/** The project input, else the environment's (checked too: it names what is billed); refused when neither is set. */
function readProject(read: InputReader): string {
  const expected = "a Google Cloud project id such as my-project-123 (6 to 30 lower-case letters, digits and '-')";
  const fromEnv = projectFromEnv(read.env);
  if (!read.isSet("project") && fromEnv === undefined)
    read.fail("project", `${expected}, or ${PROJECT_VARIABLES.join(" or ")} set in the environment: ${PROJECT_SOURCE}`);
  const project = read.matching("project", PROJECT, expected, fromEnv?.project);
  // The fallback comes from the environment unchecked.
  if (!PROJECT.test(project))
    read.fail("project", `${expected}; ${fromEnv?.variable} in the environment is ${JSON.stringify(project)}`);
  return project;
}

function readImage(read: InputReader): string {
  const expected =
    "a Compute Engine image as projects/PROJECT/global/images/IMAGE or an image family as projects/PROJECT/global/images/family/FAMILY; " +
    `or nothing for the default, ${DEFAULT_IMAGE}`;
  return read.matching("image", IMAGE, expected, DEFAULT_IMAGE);
}

function parseNetwork(read: InputReader, zones: string[]): Pick<GcpConfig, "network" | "subnetwork"> {
  const subnetwork =
    read.matching(
      "subnetwork",
      SUBNETWORK,
      "a subnetwork name, or projects/PROJECT/regions/REGION/subnetworks/NAME for a shared VPC",
      "",
    ) || undefined;
  const subnetRegion = subnetwork ? SUBNETWORK.exec(subnetwork)?.[2] : undefined;
  for (const region of new Set(zones.map(regionOf))) {
    if (subnetRegion !== undefined && subnetRegion !== region)
      read.fail("subnetwork", `a subnetwork in region ${region}, the region of zone`);
  }
  // Without a subnetwork the network's auto subnet of the zone's region is used; with one, naming the default
  // network too would contradict a subnetwork of any other network.
  const network =
    read.matching(
      "network",
      NETWORK,
      "a VPC network name, or projects/PROJECT/global/networks/NAME",
      subnetwork ? "" : "default",
    ) || undefined;
  return { network, subnetwork };
}

function parseServiceAccount(read: InputReader): GcpConfig["serviceAccount"] {
  const email = read.matching(
    "service-account",
    SERVICE_ACCOUNT,
    "a service account email such as runner@my-project.iam.gserviceaccount.com",
    "",
  );
  const own = email === "" ? undefined : workflowServiceAccount(read.env);
  if (own && own.email === email.toLowerCase()) {
    read.fail(
      "service-account",
      `a service account other than the workflow's own (${own.variable} names its credentials): it may create and delete ` +
        "instances, and on the machine a job could use it to lift its own max_run_duration or delete the project's VMs; " +
        "give the machine an account that may delete only itself (docs/gcp.md), or none",
    );
  }
  if (email === "") {
    if (read.isSet("scopes"))
      read.fail("scopes", "nothing unless service-account is set (without one the machine gets no credentials)");
    return undefined;
  }
  const scopes = read.list(
    "scopes",
    SCOPE,
    "OAuth scopes, comma-separated: aliases such as cloud-platform or https://www.googleapis.com/auth/... URLs",
    { max: 20 },
  );
  return { email, scopes: scopes.length > 0 ? scopes : ["cloud-platform"] };
}

export const gcpInputs: CloudInputs<GcpConfig> = {
  names: ["project", "zone", "service-account", "scopes", "network", "subnetwork"],
  example: {
    project: "example-project",
    zone: "us-central1-a",
    accelerator: "t4",
  },
  parse(read: InputReader): GcpConfig {
    const project = readProject(read);
    const zonesExpected = "Compute Engine zones such as us-central1-a, comma-separated in order of preference";
    const [zone, ...fallbackZones] = read.list("zone", ZONE, zonesExpected, { max: 5 });
    if (zone === undefined) read.fail("zone", zonesExpected);
    const region = regionOf(zone);
    const spot = read.boolean("spot", false);
    const accelerator = readAccelerator(read, CATALOG, "gcp");
    const { types, gpu } = readMachines(read, accelerator, spot);
    const [machineType, ...fallbackMachineTypes] = types as [string, ...string[]];
    const image = readImage(read);
    const hyperdiskOnly = types.filter((type) => HYPERDISK_ONLY.test(type));
    const diskType = read.oneOf(
      "disk-type",
      DISK_TYPES,
      hyperdiskOnly.length > 0 ? "hyperdisk-balanced" : "pd-balanced",
    );
    if (!diskType.startsWith("hyperdisk-") && hyperdiskOnly.length > 0) {
      read.fail(
        "disk-type",
        `hyperdisk-balanced (the default for them): ${hyperdiskOnly.join(", ")} boot only from Hyperdisk`,
      );
    }
    if (diskType.startsWith("hyperdisk-") && machineType.startsWith("n1-")) {
      read.fail(
        "disk-type",
        `a persistent disk type (${DISK_TYPES.filter((t) => t.startsWith("pd-")).join(", ")}): N1 machines cannot boot from Hyperdisk`,
      );
    }
    return {
      project,
      zone,
      region,
      machineType,
      ...(accelerator ? { accelerator } : {}),
      gpu,
      image,
      diskSizeGb: read.integer("disk-size", { min: 10, max: 65536, fallback: 100, unit: "GB" }),
      diskType,
      spot,
      serviceAccount: parseServiceAccount(read),
      ...parseNetwork(read, [zone, ...fallbackZones]),
      publicIp: read.boolean("public-ip", false),
      fallbackZones,
      fallbackMachineTypes,
    };
  },
  // Compute Engine allows 64 labels per resource; beside the ownership labels the Google provider sets its
  // attribution label (goog-terraform-provisioned). Compute Engine reserves label keys starting with goog-.
  tags: {
    max: GCP_MAX_LABELS,
    limitOf: "Compute Engine",
    noun: "labels",
    setByStack: 1,
    reservedPrefixes: ["goog-"],
    // Tags become labels (toGcpLabels): two tags that become the same label would merge.
    check: (tags) =>
      Object.keys(toGcpLabels(tags)).length < Object.keys(tags).length
        ? "tag keys that stay distinct as GCE labels (lower-cased, other characters than letters, digits, '_' and '-' become '_')"
        : undefined,
  },
  // jupyter: the JupyterLab user of the Deep Learning VM images that Vertex AI Workbench runs on (its jupyter-user
  // metadata key defaults to it: cloud.google.com/vertex-ai/docs/workbench/instances/manage-metadata).
  imageAccounts: ["jupyter"],
};
