// The Compute Engine stack as Terraform will see it: inputs parsed from the environment as action.yml sets them,
// synthesized by cdktf to cdk.tf.json (test/kit/stack-synth.ts), and the JSON checked for the properties that carry
// security and cost.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { OWNERSHIP_KEYS } from "../../../stacks/names.ts";
import { InputError } from "../../../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../../../scripts/settings/inputs.ts";
import { gcpCloud } from "../../../stacks/gcp/index.ts";
import { isValidGcpLabel, toGcpLabels } from "../../../stacks/gcp/labels.ts";
import {
  type BadInput,
  type Inputs,
  type Json,
  jitReferences,
  REPOSITORY_ID,
  stackKit,
} from "../../kit/stack-synth.ts";

// The provider bindings load lazily (the action prunes unused ones); synthesis needs them loaded.
await gcpCloud.terraform.load();

const LABEL = "gpu-4242-2-0a1b2c3d";

const BASE: Record<string, string> = {
  mode: "start",
  cloud: "gcp",
  "github-token": "ghs_not-a-real-token",
  project: "my-project-123",
  zone: "europe-west4-b",
  "machine-type": "n1-standard-8",
  accelerator: "t4:2",
  image: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
};

const kit = stackKit({
  base: BASE,
  label: LABEL,
  repository: "Example-Org/Example.Repo",
  runId: "4242",
  runAttempt: "2",
});
const { envOf, synth } = kit;
const startInputs = (overrides: Inputs = {}) => kit.prepare(overrides).inputs;

function instances(json: Json): Json[] {
  return Object.values((json.resource?.google_compute_instance ?? {}) as Record<string, Json>);
}

function instance(json: Json, index = 0): Json {
  const found = json.resource?.google_compute_instance?.[`runner-${index}`] as Json | undefined;
  assert.ok(found, `runner-${index} is a google_compute_instance`);
  return found;
}

describe("gcp stack", () => {
  const json = synth({ count: "2", "max-lifetime": "90" });

  test("state: local in the stack whatever state-backend says (a bucket keeps only the encrypted bundle)", () => {
    const gcs = synth({ "state-backend": "gcs", "state-bucket": "md-sim-tf-state", "state-prefix": "ci/gpu" });
    assert.deepEqual(gcs.terraform.backend, { local: { path: "terraform.tfstate" } });
  });

  test("one instance per runner, named after the runner, in the zone", () => {
    assert.equal(instances(json).length, 2);
    for (const index of [0, 1]) {
      const vm = instance(json, index);
      assert.equal(vm.name, `${LABEL}-${index}`);
      assert.equal(vm.zone, "europe-west4-b");
      assert.equal(vm.machine_type, "n1-standard-8");
    }
    assert.deepEqual(json.provider.google, [
      {
        project: "my-project-123",
        region: "europe-west4",
        zone: "europe-west4-b",
        default_labels: instance(json).labels,
      },
    ]);
  });

  test("scheduling: terminate on host maintenance, no restart, standard capacity, deleted at max-lifetime", () => {
    assert.deepEqual(instance(json).scheduling, {
      on_host_maintenance: "TERMINATE",
      automatic_restart: false,
      provisioning_model: "STANDARD",
      preemptible: false,
      instance_termination_action: "DELETE",
      max_run_duration: { seconds: 90 * 60 },
    });
  });

  test("spot: SPOT capacity is preemptible and still deleted, never stopped", () => {
    const scheduling = instance(synth({ spot: "true" })).scheduling;
    assert.equal(scheduling.provisioning_model, "SPOT");
    assert.equal(scheduling.preemptible, true);
    assert.equal(scheduling.instance_termination_action, "DELETE");
    assert.equal(scheduling.automatic_restart, false);
  });

  test("an accelerator that attaches to N1 becomes guest_accelerator; the boot script expects that many", () => {
    const vm = instance(json);
    assert.deepEqual(vm.guest_accelerator, [{ type: "nvidia-tesla-t4", count: 2 }]);
    assert.match(vm.metadata["startup-script"], /^export GR_EXPECTED_GPUS='2'$/m);
    assert.equal(json.data, undefined, "the count asked for is the count: no machine type description is read");
    assert.equal(json.output.expected_gpus.value, 2);
  });

  test("accelerator-optimized machine types get no guest_accelerator; Compute Engine's count of their GPUs is expected", () => {
    const GPU_SUM =
      "${sum(concat([0], flatten(data.google_compute_machine_types.machine-type.machine_types[*].accelerators)[*].guest_accelerator_count))}";
    for (const [machineType, nic] of [
      ["a2-highgpu-1g", undefined],
      ["g2-standard-24", undefined],
      ["a3-highgpu-8g", "GVNIC"],
      ["a4-highgpu-8g", "GVNIC"],
      ["g4-standard-48", undefined],
    ] as const) {
      const synthesized = synth({ "machine-type": machineType, accelerator: undefined });
      const vm = instance(synthesized);
      assert.equal(vm.guest_accelerator, undefined, machineType);
      assert.ok(vm.metadata["startup-script"].includes(`\nexport GR_EXPECTED_GPUS='${GPU_SUM}'\n`), machineType);
      assert.equal(synthesized.output.expected_gpus.value, GPU_SUM, machineType);
      const described = synthesized.data.google_compute_machine_types["machine-type"];
      assert.deepEqual(
        [described.zone, described.project, described.filter],
        ["europe-west4-b", "my-project-123", `name = "${machineType}"`],
      );
      assert.deepEqual(described.lifecycle.postcondition, [
        {
          condition: "${length(self.machine_types) == 1}",
          error_message: `Compute Engine offers no machine type ${machineType} in zone europe-west4-b.`,
        },
      ]);
      assert.equal(vm.network_interface[0].nic_type, nic, machineType);
    }
  });

  test("accelerator on an accelerator-optimized type: Compute Engine's description is held to the count asked for", () => {
    const synthesized = synth({ "machine-type": undefined, accelerator: "a100-80gb:4" });
    assert.equal(instance(synthesized).machine_type, "a2-ultragpu-4g");
    assert.deepEqual(synthesized.data.google_compute_machine_types["machine-type"].lifecycle.postcondition[1], {
      condition: "${sum(concat([0], flatten(self.machine_types[*].accelerators)[*].guest_accelerator_count)) == 4}",
      error_message:
        "Compute Engine describes a2-ultragpu-4g with another number of GPUs than accelerator a100-80gb:4 asks for.",
    });
  });

  test("no image: the default Deep Learning VM family; the image booted is an output", () => {
    const vm = instance(synth({ image: undefined }));
    assert.equal(
      vm.boot_disk.initialize_params.image,
      "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
    );
    assert.equal(
      json.output.image.value,
      "${google_compute_instance.runner-0.boot_disk[0].initialize_params[0].image}",
    );
  });

  test("shielded VM: vTPM and integrity monitoring on, Secure Boot off (unsigned NVIDIA modules)", () => {
    assert.deepEqual(instance(json).shielded_instance_config, {
      enable_secure_boot: false,
      enable_vtpm: true,
      enable_integrity_monitoring: true,
    });
  });

  test("boot disk: the image, size and type asked for, deleted with the instance, labelled", () => {
    const disk = instance(synth({ "disk-size": "250", "disk-type": "pd-ssd" })).boot_disk;
    assert.equal(disk.auto_delete, true);
    assert.equal(disk.initialize_params.image, BASE.image);
    assert.equal(disk.initialize_params.size, 250);
    assert.equal(disk.initialize_params.type, "pd-ssd");
    assert.equal(instance(json).boot_disk.initialize_params.type, "pd-balanced");
    assert.equal(instance(json).boot_disk.initialize_params.size, 100);
    // The same labels as the instance (this one was started with the default max-lifetime, json's with 90 minutes).
    assert.deepEqual(disk.initialize_params.labels, { ...instance(json).labels, [OWNERSHIP_KEYS.maxLifetime]: "360" });
  });

  test("labels: valid by GCE rules, the ownership keys with their values normalised, user tags kept", () => {
    const vm = instance(synth({ tags: JSON.stringify({ Team: "MD Sim", "cost/center": "CC-42" }) }));
    for (const [key, value] of Object.entries(vm.labels as Record<string, string>)) {
      assert.ok(isValidGcpLabel(key, value), `${key}=${value} is a valid GCE label`);
    }
    assert.deepEqual(vm.labels, {
      team: "md_sim",
      cost_center: "cc-42",
      [OWNERSHIP_KEYS.managedBy]: "ephemeral-gpu-runner",
      [OWNERSHIP_KEYS.repository]: "example-org_example_repo",
      [OWNERSHIP_KEYS.repositoryId]: REPOSITORY_ID,
      [OWNERSHIP_KEYS.runId]: "4242",
      [OWNERSHIP_KEYS.runAttempt]: "2",
      [OWNERSHIP_KEYS.label]: LABEL,
      [OWNERSHIP_KEYS.maxLifetime]: "360",
    });
  });

  test("network: the default network, no external IP unless public-ip is true", () => {
    assert.deepEqual(instance(json).network_interface, [{ network: "default" }]);
    const open = instance(synth({ "public-ip": "true" })).network_interface;
    assert.deepEqual(open, [{ network: "default", access_config: [{}] }]);
    assert.deepEqual(instance(json).tags, ["gpu-runner"]);
  });

  test("network: a subnetwork alone lets Compute Engine infer its network", () => {
    const path = "projects/host-project/regions/europe-west4/subnetworks/runners";
    assert.deepEqual(instance(synth({ subnetwork: path })).network_interface, [{ subnetwork: path }]);
    assert.deepEqual(instance(synth({ network: "ci", subnetwork: "ci-eu" })).network_interface, [
      { network: "ci", subnetwork: "ci-eu" },
    ]);
  });

  test("service account: none unless given; cloud-platform scope by default", () => {
    assert.equal(instance(json).service_account, undefined);
    const email = "runner@my-project-123.iam.gserviceaccount.com";
    assert.deepEqual(instance(synth({ "service-account": email })).service_account, {
      email,
      scopes: ["cloud-platform"],
    });
    assert.deepEqual(
      instance(synth({ "service-account": email, scopes: "storage-ro, logging-write" })).service_account,
      {
        email,
        scopes: ["storage-ro", "logging-write"],
      },
    );
  });

  test("metadata: the boot script as startup-script, project SSH keys blocked, OS Login on", () => {
    for (const index of [0, 1]) {
      const metadata = instance(json, index).metadata;
      assert.equal(metadata["block-project-ssh-keys"], "TRUE");
      assert.equal(metadata["enable-oslogin"], "TRUE");
      const script: string = metadata["startup-script"];
      assert.ok(script.startsWith("#!/bin/bash\n"));
      assert.match(script, /^export GR_MAX_LIFETIME_MINUTES='90'$/m);
      assert.match(script, new RegExp(`^export GR_RUNNER_NAME='${LABEL}-${index}'$`, "m"));
      assert.deepEqual(jitReferences(script), [String(index)], "each instance references its own JIT variable, once");
    }
    assert.equal(instance(json).metadata_startup_script, undefined);
  });

  test("the JIT variables are sensitive and validated as base64", () => {
    for (const index of [0, 1]) {
      const variable = json.variable[`jit_config_${index}`];
      assert.equal(variable.sensitive, true);
      assert.equal(variable.default, undefined);
      assert.match(variable.validation[0].condition, /regex\("\^\[A-Za-z0-9\+\/=\]\+\$", var\.jit_config_\d\)/);
    }
  });
});

describe("gcp inputs", () => {
  test("the parsed config", () => {
    const config = gcpCloud.configOf(
      startInputs({ "service-account": "runner@my-project-123.iam.gserviceaccount.com" }).plan,
    );
    assert.deepEqual(config, {
      project: "my-project-123",
      zone: "europe-west4-b",
      region: "europe-west4",
      machineType: "n1-standard-8",
      accelerator: { name: "t4", count: 2 },
      gpu: { type: "nvidia-tesla-t4", count: 2 },
      image: BASE.image,
      diskSizeGb: 100,
      diskType: "pd-balanced",
      spot: false,
      serviceAccount: { email: "runner@my-project-123.iam.gserviceaccount.com", scopes: ["cloud-platform"] },
      network: "default",
      subnetwork: undefined,
      publicIp: false,
      fallbackZones: [],
      fallbackMachineTypes: [],
    });
  });

  // The same variables, in the same order, as the CLI's look-ups (test/clouds/gcp/cli-real.test.ts).
  test("project defaults to GOOGLE_CLOUD_PROJECT, then CLOUDSDK_CORE_PROJECT (both set by google-github-actions/auth)", () => {
    const unset = envOf({ ...BASE, project: undefined });
    const projectOf = (env: Record<string, string | undefined>) =>
      gcpCloud.configOf((parseInputs({ ...unset, ...env }) as StartInputs).plan)?.project;
    assert.equal(
      projectOf({ GOOGLE_CLOUD_PROJECT: "from-libraries", CLOUDSDK_CORE_PROJECT: "from-gcloud" }),
      "from-libraries",
    );
    assert.equal(projectOf({ GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: "from-gcloud" }), "from-gcloud");
    assert.equal(
      gcpCloud.configOf((parseInputs({ ...envOf(BASE), GOOGLE_CLOUD_PROJECT: "from-libraries" }) as StartInputs).plan)
        ?.project,
      "my-project-123",
      "the input wins over the environment",
    );
  });

  const projectId = "a Google Cloud project id such as my-project-123 (6 to 30 lower-case letters, digits and '-')";
  for (const { name, env, message } of [
    {
      name: "no project anywhere names the input, the variables and the step that sets them",
      env: { CLOUDSDK_PROJECT: "my-project-123" },
      message:
        `Input 'project': got nothing; expected ${projectId}, or GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT set in the environment: ` +
        "google-github-actions/auth sets both from its project_id input (or the project of its service account).",
    },
    {
      name: "a project from the environment is checked too, naming the variable it came from",
      env: { GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: "Not A Project" },
      message: `Input 'project': got nothing; expected ${projectId}; CLOUDSDK_CORE_PROJECT in the environment is "Not A Project".`,
    },
  ]) {
    test(name, () => {
      assert.throws(
        () => parseInputs({ ...envOf({ ...BASE, project: undefined }), ...env }),
        (error: unknown) => {
          assert.ok(error instanceof InputError, String(error));
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }

  test("accepted images", () => {
    for (const image of [
      "projects/debian-cloud/global/images/debian-12-bookworm-v20250101",
      "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts",
      "https://www.googleapis.com/compute/v1/projects/my-project-123/global/images/runner-image-7",
    ]) {
      assert.equal(gcpCloud.configOf(startInputs({ image }).plan)?.image, image);
    }
  });

  test("GPUs per machine, as known offline (the review's count)", () => {
    for (const [overrides, gpus] of [
      [{}, 2],
      [{ "machine-type": "n1-standard-32", accelerator: "v100:8" }, 8],
      [{ accelerator: "p4" }, 1],
      [{ "machine-type": "a2-highgpu-4g", accelerator: undefined }, 4],
      [{ "machine-type": "g2-standard-48", accelerator: undefined }, 4],
      [{ "machine-type": "n2-standard-8", accelerator: undefined, "expected-gpus": "0" }, 0],
      [{ "machine-type": "a4-highgpu-8g", accelerator: undefined }, 8],
      [{ "machine-type": "g4-standard-96", accelerator: undefined }, 2],
      [{ "machine-type": "a9-futuregpu-1x", accelerator: undefined }, undefined],
    ] as const) {
      assert.equal(startInputs(overrides).plan.gpus().count, gpus, JSON.stringify(overrides));
    }
  });

  const bad: BadInput[] = [
    ["an AMI id as image", { image: "ami-0123456789abcdef0" }, "image", /projects\/PROJECT\/global\/images\/IMAGE/],
    ["a short image family", { image: "family/ubuntu-2204-lts" }, "image"],
    ["a bare image name", { image: "debian-12" }, "image"],
    ["a region as zone", { zone: "us-central1" }, "zone"],
    ["an AWS availability zone", { zone: "us-east-1a" }, "zone"],
    ["no zone", { zone: undefined }, "zone"],
    ["no project", { project: undefined }, "project"],
    ["an upper-case project", { project: "My-Project" }, "project"],
    ["an EC2 instance type", { "machine-type": "g4dn.xlarge" }, "machine-type"],
    [
      "a T4 on an A2 type",
      { "machine-type": "a2-highgpu-1g" },
      "accelerator",
      /\(a2-highgpu-1g is not N1; t4:2 attaches only to N1 types such as n1-standard-8\)/,
    ],
    ["a T4 on a G2 type", { "machine-type": "g2-standard-8", accelerator: "t4" }, "accelerator", /attaches only to N1/],
    [
      "an L4 on N1",
      { accelerator: "l4" },
      "accelerator",
      /\(n1-standard-8 is N1, to which l4 does not attach; l4:1 comes with g2-standard-4, /,
    ],
    [
      "an A100 on a two-A100 type",
      { "machine-type": "a2-highgpu-2g", accelerator: "a100" },
      "accelerator",
      /a2-highgpu-2g carries a100:2/,
    ],
    ["an accelerator without a name", { accelerator: ":1" }, "accelerator", /NAME\[:COUNT\]/],
    [
      "an accelerator with 'x'",
      { accelerator: "t4x1" },
      "accelerator",
      /a GPU that gcp offers: gcp offers t4 \(1, 2 or 4\)/,
    ],
    [
      "a machine type outside the catalog with an accelerator",
      { "machine-type": "a9-futuregpu-1x", accelerator: "h100" },
      "accelerator",
      /a9-futuregpu-1x is not in the action's catalog, so that cannot be checked/,
    ],
    ["a count of 0", { accelerator: "t4:0" }, "accelerator", /NAME\[:COUNT\]/],
    ["3 T4s", { accelerator: "t4:3" }, "accelerator", /t4 in a count that one gcp machine carries, 1, 2 or 4/],
    ["8 T4s", { accelerator: "t4:8" }, "accelerator", /1, 2 or 4/],
    [
      "an A10G, which gcp does not offer",
      { accelerator: "a10g" },
      "accelerator",
      /a GPU that gcp offers: gcp offers t4 .*l4 \(1, 2, 4 or 8\).*h200 \(8\)/,
    ],
    [
      "an H100 on demand (only Spot sells one)",
      { "machine-type": undefined, accelerator: "h100" },
      "accelerator",
      /only as Spot capacity \(a3-highgpu-1g\); set spot: true/,
    ],
    [
      "a Spot-only type on demand",
      { "machine-type": "a3-highgpu-2g", accelerator: undefined },
      "machine-type",
      /a3-highgpu-2g is sold only as Spot/,
    ],
    [
      "neither accelerator nor machine-type",
      { "machine-type": undefined, accelerator: undefined },
      "accelerator",
      /or a machine-type/,
    ],
    ["an EBS volume type", { "disk-type": "gp3" }, "disk-type"],
    ["Hyperdisk on N1", { "disk-type": "hyperdisk-balanced" }, "disk-type"],
    ["a tiny disk", { "disk-size": "5" }, "disk-size"],
    ["scopes without a service account", { scopes: "cloud-platform" }, "scopes"],
    ["a user email as service account", { "service-account": "me@example.com" }, "service-account"],
    [
      "a subnetwork of another region",
      { subnetwork: "projects/p-123456/regions/us-east1/subnetworks/s" },
      "subnetwork",
    ],
    ["spot as yes", { spot: "yes" }, "spot"],
    ["tags that merge as labels", { tags: JSON.stringify({ Team: "a", team: "b" }) }, "tags"],
    [
      "more tags than labels allow",
      { tags: JSON.stringify(Object.fromEntries(Array.from({ length: 59 }, (_, i) => [`k${i}`, "v"]))) },
      "tags",
    ],
  ];
  kit.testRejections(bad);

  test("an H100 on Spot: the one-GPU A3 type Compute Engine sells only as Spot", () => {
    const inputs = startInputs({ "machine-type": undefined, accelerator: "h100", spot: "true" });
    assert.equal(gcpCloud.configOf(inputs.plan)?.machineType, "a3-highgpu-1g");
    assert.equal(
      gcpCloud.configOf(startInputs({ "machine-type": undefined, accelerator: "h100:8" }).plan)?.machineType,
      "a3-highgpu-8g",
    );
  });

  test("the aws-only inputs are ignored with a notice, not refused", () => {
    const inputs = startInputs({
      region: "us-east-1",
      subnet: "subnet-0123456789abcdef0",
      "launch-template": "anything",
    });
    assert.deepEqual(inputs.notices, [
      "Input 'region' is read only with cloud aws; ignored with cloud gcp.",
      "Input 'subnet' is read only with cloud aws; ignored with cloud gcp.",
      "Input 'launch-template' is read only with cloud aws; ignored with cloud gcp.",
    ]);
  });
});

describe("toGcpLabels", () => {
  const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
    [
      "valid labels pass unchanged",
      { "gpu-runner-label": "gpu-1-1-abcdef01", team_a: "x-1" },
      { "gpu-runner-label": "gpu-1-1-abcdef01", team_a: "x-1" },
    ],
    [
      "repository owner/repo",
      { "gpu-runner-repository": "My-Org/My.Repo" },
      { "gpu-runner-repository": "my-org_my_repo" },
    ],
    ["upper case and punctuation in keys", { "Cost Center:ID": "A B" }, { cost_center_id: "a_b" }],
    ["keys must start with a letter", { "1st": "v", _x: "v" }, { t_1st: "v", t__x: "v" }],
    ["empty values stay empty", { note: "" }, { note: "" }],
    ["non-ASCII becomes '_'", { équipe: "über" }, { t__quipe: "_ber" }],
    ["cut to 63 characters", { ["k".repeat(70)]: "v".repeat(70) }, { ["k".repeat(63)]: "v".repeat(63) }],
    [
      "an already valid key wins over a normalised one",
      { "Gpu-Runner-Label": "spoof", "gpu-runner-label": "real" },
      { "gpu-runner-label": "real" },
    ],
    ["whatever the order", { "gpu-runner-label": "real", "GPU-RUNNER-LABEL": "spoof" }, { "gpu-runner-label": "real" }],
  ];
  for (const [what, tags, labels] of cases) {
    test(what, () => {
      const out = toGcpLabels(tags);
      assert.deepEqual(out, labels);
      for (const [key, value] of Object.entries(out)) assert.ok(isValidGcpLabel(key, value), `${key}=${value}`);
    });
  }
});

describe("gcp stack: the instance deletes itself after its job", () => {
  const email = "runner@my-project-123.iam.gserviceaccount.com";
  const headerOf = (script: string, name: string) => new RegExp(`^export ${name}='([^']*)'$`, "m").exec(script)?.[1];
  const json = synth({ count: "2" });

  test("with service-account: every boot script carries the self-delete, against Google's own endpoints", () => {
    const withAccount = synth({ count: "2", "service-account": email });
    const body = readFileSync(new URL("../../../stacks/gcp/self-delete.sh", import.meta.url), "utf8");
    for (const index of [0, 1]) {
      const script: string = instance(withAccount, index).metadata["startup-script"];
      const command = Buffer.from(headerOf(script, "GR_END_COMMAND_B64") ?? "", "base64").toString("utf8");
      // Written out by hand: the endpoints it calls, then stacks/gcp/self-delete.sh below its shebang.
      const values = [
        "#!/bin/bash",
        "METADATA='http://metadata.google.internal'",
        "COMPUTE='https://compute.googleapis.com'",
      ].join("\n");
      assert.equal(command, `${values}\n${body.slice(body.indexOf("\n") + 1)}`);
    }
  });

  test("without service-account: no end command (nothing on the machine could get a token)", () => {
    for (const index of [0, 1])
      assert.equal(headerOf(instance(json, index).metadata["startup-script"], "GR_END_COMMAND_B64"), undefined);
  });

  test("the boot disk goes with the instance, whoever deletes it", () => {
    assert.equal(instance(synth({ "service-account": email })).boot_disk.auto_delete, true);
  });
});
