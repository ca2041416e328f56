// The Compute Engine cloud's CLI seam and capacity choices: the exact commands it issues to find, delete and read machines,
// and the order of the configurations it tries. (The order's rule itself is tested once, in test/capacity.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gcpCloud as CLOUD } from "../../../stacks/gcp/index.ts";
import type { GcpConfig } from "../../../stacks/gcp/config.ts";
import { InputReader } from "../../../stacks/input-reader.ts";
import { inputEnv } from "../../kit/env.ts";
import { recorder } from "../../kit/command-recorder.ts";

const LABEL = "gpu-42-1-0a1b2c3d";

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

describe("boot console", () => {
  it("gcp reads the serial port of the instance by name and zone", async () => {
    const { run, calls } = recorder({});
    await CLOUD.plan(GCP_CONFIG).bootConsole({ name: "r-0", id: "1234" }, run);
    assert.deepEqual(calls, [
      "gcloud compute instances get-serial-port-output r-0 --zone us-central1-a --project my-project-123",
    ]);
  });
});

describe("finding and deleting machines by their tags (stop without state, mode: sweep)", () => {
  it("gcp finds the label's instances in whatever zone they are, stopped ones too, and deletes them", async () => {
    const listing = JSON.stringify([
      {
        name: `${LABEL}-0`,
        zone: "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a",
        status: "RUNNING",
        creationTimestamp: "2026-12-01T02:00:00.000-08:00",
        labels: { "gpu-runner-label": LABEL, "gpu-runner-max-lifetime": "90" },
      },
      {
        name: `${LABEL}-1`,
        zone: "projects/p/zones/europe-west4-b",
        status: "TERMINATED",
        labels: { "gpu-runner-label": LABEL },
      },
    ]);
    const { run, calls } = recorder({ "gcloud compute instances list": { stdout: listing } });
    const found = await CLOUD.cli.findMachines({ label: LABEL }, { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.deepEqual(
      found.map((m) => [m.name, m.location, m.state, m.maxLifetimeMinutes, m.launchedAt?.toISOString()]),
      [
        [`${LABEL}-0`, "us-central1-a", "running", 90, "2026-12-01T10:00:00.000Z"],
        [`${LABEL}-1`, "europe-west4-b", "stopped", undefined, undefined],
      ],
    );
    assert.equal(
      calls[0],
      `gcloud compute instances list --project my-project-123 --filter=labels.gpu-runner-managed-by=ephemeral-gpu-runner AND labels.gpu-runner-label=${LABEL} --format=json`,
    );
    const deleted = await CLOUD.cli.deleteMachines(found, [LABEL], { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.deepEqual(deleted, [`instance ${LABEL}-0 (us-central1-a)`, `instance ${LABEL}-1 (europe-west4-b)`]);
    assert.deepEqual(calls.slice(1), [
      `gcloud compute instances delete ${LABEL}-0 --zone us-central1-a --project my-project-123 --quiet`,
      `gcloud compute instances delete ${LABEL}-1 --zone europe-west4-b --project my-project-123 --quiet`,
    ]);
  });

  it("gcp without a project refuses rather than guess, naming the variables and the step that sets them", async () => {
    // CLOUDSDK_PROJECT, which google-github-actions/auth sets beside them, is not read: the parse does not read it.
    for (const env of [
      {},
      { GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: "", CLOUDSDK_PROJECT: "my-project-123" },
    ]) {
      await assert.rejects(CLOUD.cli.findMachines({ label: LABEL }, env, recorder({}).run), {
        message:
          "GOOGLE_CLOUD_PROJECT and CLOUDSDK_CORE_PROJECT are not set: google-github-actions/auth sets both from its project_id input " +
          "(or the project of its service account); without one the machines cannot be looked up",
      });
    }
  });

  // The start's parse reads the same variables in the same order (test/clouds/gcp/stack.test.ts).
  for (const [env, project] of [
    [{ GOOGLE_CLOUD_PROJECT: "from-libraries", CLOUDSDK_CORE_PROJECT: "from-gcloud" }, "from-libraries"],
    [{ GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: "from-gcloud" }, "from-gcloud"],
  ] as const) {
    it(`gcp looks in ${project} with ${JSON.stringify(env)}`, async () => {
      const { run, calls } = recorder({ "gcloud compute instances list": { stdout: "[]" } });
      await CLOUD.cli.findMachines({ label: LABEL }, env, run);
      assert.match(calls[0] ?? "", new RegExp(`^gcloud compute instances list --project ${project} `));
    });
  }

  it("gcp looks a repository up by its label value as the stack normalised it", async () => {
    const { run, calls } = recorder({ "gcloud compute instances list": { stdout: "[]" } });
    await CLOUD.cli.findMachines({ repository: "Octo-Org/MD.Sim" }, { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.match(calls[0] ?? "", /labels\.gpu-runner-repository=octo-org_md_sim /);
  });
});

describe("state store (state-backend: the cloud's bucket)", () => {
  const readerOf = (inputs: Record<string, string>) => new InputReader(inputEnv(inputs));
  const gcs = CLOUD.stateStore!.parse(readerOf({ "state-bucket": "md-sim-state" }));
  const object = (scheme: string) => `${scheme}://md-sim-state/gpu-runner/${LABEL}.bin`;

  it("gcs: one object per start, written, read and removed with gcloud storage", async () => {
    const { run, calls } = recorder({});
    await gcs.put(LABEL, "/tmp/state.bin", run);
    assert.equal(await gcs.get(LABEL, "/tmp/back.bin", run), true);
    await gcs.remove(LABEL, run);
    assert.deepEqual(calls, [
      `gcloud storage cp /tmp/state.bin ${object("gs")} --quiet`,
      `gcloud storage ls ${object("gs")}`,
      `gcloud storage cp ${object("gs")} /tmp/back.bin --quiet`,
      `gcloud storage rm ${object("gs")} --quiet`,
    ]);
  });

  it("gcs: a missing object is no state (false), a refused listing an error", async () => {
    const missing = recorder({
      "gcloud storage ls": { exitCode: 1, stderr: "ERROR: (gcloud.storage.ls) One or more URLs matched no objects." },
    });
    assert.equal(await gcs.get(LABEL, "/tmp/back.bin", missing.run), false);
    const denied = recorder({
      "gcloud storage ls": {
        exitCode: 1,
        stderr: "ERROR: (gcloud.storage.ls) HTTPError 403: caller does not have storage.objects.list access",
      },
    });
    await assert.rejects(gcs.get(LABEL, "/tmp/back.bin", denied.run), /403/);
  });
});
