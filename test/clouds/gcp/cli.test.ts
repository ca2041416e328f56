// The Compute Engine cloud's capacity choices, its labels, and the refusals that come before any command runs. Every
// command the action issues through gcloud (find, delete, boot console, the state bucket) is tested through the real
// gcloud against the cloud's stand-ins, in cli-real.test.ts; what is left here runs no command, so no CLI can show it.
// (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gcpCloud as CLOUD } from "../../../stacks/gcp/index.ts";
import type { GcpConfig } from "../../../stacks/gcp/config.ts";
import { toGcpLabels } from "../../../stacks/gcp/labels.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";
const REPO_ID = "612345678";
/** One start of this repository: what stop's label search asks for. */
const START = { repositoryId: REPO_ID, label: LABEL };

const GCP_CONFIG: GcpConfig = {
  project: "my-project-123",
  zone: "us-central1-a",
  region: "us-central1",
  fallbackZones: ["europe-west4-b"],
  machineType: "g2-standard-8",
  fallbackMachineTypes: [],
  image: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
  diskSizeGb: 100,
  diskType: "pd-balanced",
  spot: false,
  publicIp: false,
};

describe("capacity alternatives", () => {
  it("gcp: a type sold only as Spot gets no standard fallback", () => {
    const h100 = { ...GCP_CONFIG, machineType: "a3-highgpu-1g", fallbackMachineTypes: ["a3-highgpu-8g"], spot: true };
    const tried = CLOUD.plan(h100)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.spot ? "spot" : "standard"} ${c.machineType} ${c.zone}`);
    assert.deepEqual(tried, [
      "spot a3-highgpu-1g us-central1-a",
      "spot a3-highgpu-1g europe-west4-b",
      "spot a3-highgpu-8g us-central1-a",
      "spot a3-highgpu-8g europe-west4-b",
      "standard a3-highgpu-8g us-central1-a",
      "standard a3-highgpu-8g europe-west4-b",
    ]);
  });

  it("gcp: each zone in turn, its region following the zone", () => {
    const tried = CLOUD.plan(GCP_CONFIG)
      .alternatives()
      .map((p) => CLOUD.configOf(p)!)
      .map((c) => `${c.machineType} ${c.zone} ${c.region}`);
    assert.deepEqual(tried, ["g2-standard-8 us-central1-a us-central1", "g2-standard-8 europe-west4-b europe-west4"]);
  });
});

// Plain unit tests: each runs no command (the recorder only shows that nothing ran), so a real CLI would see nothing.
describe("decided before any command runs (stop without state, mode: sweep)", () => {
  it("gcp without a project refuses rather than guess, naming the variables and the step that sets them", async () => {
    // CLOUDSDK_PROJECT, which google-github-actions/auth sets beside them, is not read: the parse does not read it.
    for (const env of [
      {},
      { GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: "", CLOUDSDK_PROJECT: "my-project-123" },
    ]) {
      await assert.rejects(CLOUD.cli.findMachines(START, env, recorder({}).run), {
        message:
          "GOOGLE_CLOUD_PROJECT and CLOUDSDK_CORE_PROJECT are not set: google-github-actions/auth sets both from its project_id input " +
          "(or the project of its service account); without one the machines cannot be looked up",
      });
    }
  });

  it("gcp labels fold octo-org/md_sim and octo-org/md.sim into one value: the repository-id label does not", () => {
    const of = (repository: string, repositoryId: string) =>
      toGcpLabels({ "gpu-runner-repository": repository, "gpu-runner-repository-id": repositoryId });
    const underscore = of("octo-org/md_sim", "612345678");
    const dot = of("octo-org/md.sim", "612345679");
    assert.equal(underscore["gpu-runner-repository"], dot["gpu-runner-repository"], "the readable label collides");
    assert.notEqual(underscore["gpu-runner-repository-id"], dot["gpu-runner-repository-id"]);
    assert.equal(dot["gpu-runner-repository-id"], "612345679", "a number is a label value as it is");
  });

  it("gcp finds nothing beside the instances (boot disks go with them), and still refuses a bad filter", async () => {
    const { run, calls } = recorder({});
    assert.deepEqual(await CLOUD.cli.findLeftovers({ repositoryId: REPO_ID }, {}, run), {
      leftovers: [],
      unchecked: [],
    });
    await assert.rejects(
      CLOUD.cli.findLeftovers({ repositoryId: REPO_ID, label: "" }, {}, run),
      /is not a start's label/,
    );
    await assert.rejects(
      CLOUD.cli.deleteMachines([], [{ repositoryId: REPO_ID, label: "" }], { GOOGLE_CLOUD_PROJECT: "p" }, run),
      /is not a start's label/,
    );
    assert.deepEqual(calls, []);
  });
});
