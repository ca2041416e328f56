// The Google Cloud cloud's CLI calls through the real `gcloud`, against the local stand-in of Compute Engine and
// Cloud Storage (test/kit/cloud-apis/gcp.ts), which matches every request to its method in the API description the
// Cloud SDK ships and checks every answer against its schema: a filter gcloud refuses or applies differently, a
// flag it does not know, an output shape the action misreads would fail here, where a recorded command line would
// pass (cli.test.ts keeps only what runs no command). gcloud takes a second or more to start, so the calls are few
// and the tests run at once.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { GcpConfig } from "../../../stacks/gcp/config.ts";
import { gcpCloud as CLOUD } from "../../../stacks/gcp/index.ts";
import { InputReader } from "../../../stacks/input-reader.ts";
import { GCLOUD_CLI, realRunner, requireCli, scratchFolders } from "../../kit/cloud-apis/clis.ts";
import { GOOGLE_ERRORS, type GcpStandIn, startGcpStandIn } from "../../kit/cloud-apis/gcp.ts";
import { checkAnswer, googleApi, matchRequest } from "../../kit/cloud-apis/google-apis.ts";
import { inputEnv } from "../../kit/env.ts";

const PROJECT = "md-sim-runners";
const REPO = "612345678";
const OTHER_REPO = "612345679";
const LABEL = "gpu-42-1-0a1b2c3d";
const OTHER_LABEL = "gpu-43-1-0a1b2c3d";

const own = (label: string, repositoryId = REPO) => ({
  "gpu-runner-managed-by": "ephemeral-gpu-runner",
  "gpu-runner-repository-id": repositoryId,
  "gpu-runner-label": label,
});

async function world(): Promise<GcpStandIn> {
  const gcp = await startGcpStandIn(PROJECT);
  gcp.instances.push(
    {
      name: `${LABEL}-0`,
      zone: "us-central1-a",
      status: "RUNNING",
      labels: { ...own(LABEL), "gpu-runner-max-lifetime": "360" },
      creationTimestamp: "2026-12-01T02:00:00.000-08:00",
    },
    { name: `${LABEL}-1`, zone: "us-central1-b", status: "TERMINATED", labels: own(LABEL) },
    // Not to be touched: another start of the repository, another repository's start under the same label, a
    // longer label that starts with this one, one without the managed-by label.
    { name: `${OTHER_LABEL}-0`, zone: "us-central1-a", status: "RUNNING", labels: own(OTHER_LABEL) },
    { name: "other-repo-0", zone: "us-central1-a", status: "RUNNING", labels: own(LABEL, OTHER_REPO) },
    { name: "longer-label-0", zone: "us-central1-a", status: "RUNNING", labels: own(`${LABEL}-x`) },
    {
      name: "unmanaged-0",
      zone: "us-central1-a",
      status: "RUNNING",
      labels: { "gpu-runner-label": LABEL, "gpu-runner-repository-id": REPO },
    },
  );
  gcp.buckets.set("state-bucket", new Map());
  return gcp;
}

async function withGcp(body: (gcp: GcpStandIn, env: Record<string, string>) => Promise<void>) {
  requireCli(GCLOUD_CLI);
  const gcp = await world();
  try {
    await body(gcp, { ...gcp.env, CLOUDSDK_CORE_PROJECT: PROJECT });
    assert.deepEqual(gcp.problems, [], "the stand-in refused nothing");
  } finally {
    await gcp.close();
  }
}

/** A scratch folder for a test's bundle files, removed when the file's tests end. */
const scratch = scratchFolders("gcs-store-");

const runner = (env: Record<string, string>) => realRunner(env, CLOUD.environment);
const names = (gcp: GcpStandIn) => gcp.instances.map((i) => i.name).sort();

describe("gcp: the real gcloud against Compute Engine and Cloud Storage stand-ins", { concurrency: true }, () => {
  it("stop without state: gcloud's --filter picks the start's machines, and exactly those are deleted", () =>
    withGcp(async (gcp, env) => {
      const run = runner(env);
      const start = { repositoryId: REPO, label: LABEL };
      const found = await CLOUD.cli.findMachines(start, env, run);
      assert.deepEqual(
        found.map((m) => [m.id, m.name, m.label, m.repositoryId, m.state, m.location, m.maxLifetimeMinutes]),
        [
          [`${LABEL}-0`, `${LABEL}-0`, LABEL, REPO, "running", "us-central1-a", 360],
          [`${LABEL}-1`, `${LABEL}-1`, LABEL, REPO, "stopped", "us-central1-b", undefined],
        ],
      );
      assert.equal(found[0]!.launchedAt?.toISOString(), "2026-12-01T10:00:00.000Z");
      const deleted = await CLOUD.cli.deleteMachines(found, [start], env, run);
      assert.deepEqual(deleted, [`instance ${LABEL}-0 (us-central1-a)`, `instance ${LABEL}-1 (us-central1-b)`]);
      assert.deepEqual(names(gcp), [`${OTHER_LABEL}-0`, "longer-label-0", "other-repo-0", "unmanaged-0"]);
      const deletes = gcp.calls.filter((c) => c.method === "compute.instances.delete");
      assert.deepEqual(
        deletes.map((c) => `${c.params.project}/${c.params.zone}/${c.params.instance}`),
        [`${PROJECT}/us-central1-a/${LABEL}-0`, `${PROJECT}/us-central1-b/${LABEL}-1`],
      );
    }));

  it("sweep: a whole repository's machines, none of another repository's", () =>
    withGcp(async (_gcp, env) => {
      const found = await CLOUD.cli.findMachines({ repositoryId: REPO }, env, runner(env));
      assert.deepEqual(found.map((m) => m.name).sort(), [
        `${LABEL}-0`,
        `${LABEL}-1`,
        `${OTHER_LABEL}-0`,
        "longer-label-0",
      ]);
    }));

  // The start's parse reads the same variables in the same order (test/clouds/gcp/stack.test.ts). gcloud reads
  // CLOUDSDK_CORE_PROJECT itself too: the first case shows the action's --project wins over it; the stand-in
  // knows no project "from-gcloud" (it answers 404 for any other project).
  it("the project from the environment: GOOGLE_CLOUD_PROJECT before CLOUDSDK_CORE_PROJECT, an empty one skipped", () =>
    withGcp(async (gcp, env) => {
      const envs = [
        { ...env, GOOGLE_CLOUD_PROJECT: PROJECT, CLOUDSDK_CORE_PROJECT: "from-gcloud" },
        { ...env, GOOGLE_CLOUD_PROJECT: "", CLOUDSDK_CORE_PROJECT: PROJECT },
      ];
      const found = await Promise.all(
        envs.map((e) => CLOUD.cli.findMachines({ repositoryId: REPO, label: LABEL }, e, runner(e))),
      );
      for (const machines of found)
        assert.deepEqual(
          machines.map((m) => m.name),
          [`${LABEL}-0`, `${LABEL}-1`],
        );
      const lists = gcp.calls.filter((c) => c.method === "compute.instances.aggregatedList");
      assert.deepEqual(
        lists.map((c) => c.params.project),
        [PROJECT, PROJECT],
      );
    }));

  it("boot console: serial port 1 as gcloud prints it", () =>
    withGcp(async (gcp, env) => {
      gcp.instances[0]!.serial = "gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n";
      const config = { zone: "us-central1-a", project: PROJECT } as GcpConfig;
      const text = await CLOUD.plan(config).bootConsole({ name: `${LABEL}-0`, id: `${LABEL}-0` }, runner(env));
      assert.match(text, /^gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n/);
      assert.deepEqual(gcp.calls.at(-1), {
        api: "compute",
        method: "compute.instances.getSerialPortOutput",
        params: { project: PROJECT, zone: "us-central1-a", instance: `${LABEL}-0`, alt: "json", port: "1" },
      });
    }));

  it("errors as Compute Engine returns them reach the action's message through gcloud: permission denied, not found", () =>
    withGcp(async (gcp, env) => {
      const run = runner(env);
      const resource = `projects/${PROJECT}/zones/us-central1-a/instances/${LABEL}-0`;
      gcp.fail("compute.instances.delete", GOOGLE_ERRORS.permissionDenied("compute.instances.delete", resource));
      const machine = {
        id: `${LABEL}-0`,
        name: `${LABEL}-0`,
        label: LABEL,
        repositoryId: REPO,
        state: "running" as const,
        location: "us-central1-a",
      };
      const [denied, gone] = await Promise.allSettled([
        CLOUD.cli.deleteMachines([machine], [{ repositoryId: REPO, label: LABEL }], env, run),
        CLOUD.plan({ zone: "us-central1-a", project: PROJECT } as GcpConfig).bootConsole(
          { name: "gone-0", id: "gone-0" },
          run,
        ),
      ]);
      assert.equal(denied.status, "rejected");
      assert.match(
        String((denied as PromiseRejectedResult).reason),
        new RegExp(
          `^Error: gcloud compute instances delete failed \\(exit 1\\): ERROR: \\(gcloud\\.compute\\.instances\\.delete\\) Could not fetch resource: +- Required 'compute\\.instances\\.delete' permission for '${resource}'`,
        ),
      );
      assert.equal(gone.status, "rejected");
      assert.match(
        String((gone as PromiseRejectedResult).reason),
        /^Error: gcloud compute instances get-serial-port-output failed \(exit 1\): .*The resource 'projects\/md-sim-runners\/zones\/us-central1-a\/instances\/gone-0' was not found/,
      );
      assert.equal(gcp.instances.length, 6, "nothing was deleted");
    }));

  // Found by this test (it failed against stacks/gcp/cli.ts before its checkedListing): `gcloud compute instances
  // list` exits 0 and prints `[]` when Compute Engine refuses the listing (403 permission denied, 429 quota
  // exceeded); the refusal is only a warning on stderr, "WARNING: Some requests did not succeed." then
  // " - <Google's message>". Read as "no machines", a stop without state or a sweep whose credentials may not list
  // would delete nothing and report nothing. gcloud does not retry the 429 here either.
  it("a refused listing (permission denied, quota exceeded) is an error, never 'no machines'", () =>
    withGcp(async (gcp, env) => {
      const run = runner(env);
      gcp.fail(
        "compute.instances.aggregatedList",
        GOOGLE_ERRORS.permissionDenied("compute.instances.list", `projects/${PROJECT}`),
        1,
      );
      gcp.fail("compute.instances.aggregatedList", GOOGLE_ERRORS.rateLimited(), 1);
      const [first, second] = await Promise.allSettled([
        CLOUD.cli.findMachines({ repositoryId: REPO, label: LABEL }, env, run),
        CLOUD.cli.findMachines({ repositoryId: REPO }, env, run),
      ]);
      const reasons = [first, second].map((r) =>
        r.status === "rejected" ? String(r.reason) : `found ${JSON.stringify(r.value.map((m) => m.name))}`,
      );
      assert.equal(gcp.calls.filter((c) => c.method === "compute.instances.aggregatedList").length, 2);
      assert.ok(
        reasons.some((r) =>
          /^Error: gcloud compute instances list did not finish: Required 'compute\.instances\.list' permission for 'projects\/md-sim-runners'$/.test(
            r,
          ),
        ),
        reasons.join("\n"),
      );
      assert.ok(
        reasons.some((r) =>
          /^Error: gcloud compute instances list did not finish: Quota exceeded for quota metric 'Read requests'/.test(
            r,
          ),
        ),
        reasons.join("\n"),
      );
    }));

  it("state-backend gcs: put, get, a missing bundle, remove, through gcloud storage against the Cloud Storage stand-in", () =>
    withGcp(async (gcp, env) => {
      const run = runner(env);
      const store = CLOUD.stateStore!.parse(new InputReader(inputEnv({ "state-bucket": "state-bucket" })));
      const dir = scratch();
      const bundle = Buffer.from([0, 1, 2, 255, 10, 13, 10, 45, 45]);
      writeFileSync(join(dir, "out.bin"), bundle);
      await store.put(LABEL, join(dir, "out.bin"), run);
      assert.deepEqual(gcp.buckets.get("state-bucket")!.get(`gpu-runner/${LABEL}.bin`), bundle);
      const [got, missing] = await Promise.all([
        store.get(LABEL, join(dir, "in.bin"), run),
        store.get("gpu-1-1-ffffffff", join(dir, "none.bin"), run),
      ]);
      assert.equal(got, true);
      assert.deepEqual(readFileSync(join(dir, "in.bin")), bundle);
      assert.equal(missing, false, "a missing bundle is nothing to stop, not an error");
      await store.remove(LABEL, run);
      assert.equal(gcp.buckets.get("state-bucket")!.size, 0);
    }));

  it("state-backend gcs: a bucket the credentials may not write is an error naming the command and Google's words", () =>
    withGcp(async (gcp, env) => {
      gcp.fail("storage.objects.insert", GOOGLE_ERRORS.storageDenied("storage.objects.create"));
      const store = CLOUD.stateStore!.parse(new InputReader(inputEnv({ "state-bucket": "state-bucket" })));
      const file = join(scratch(), "out.bin");
      writeFileSync(file, "bundle");
      await assert.rejects(
        store.put(LABEL, file, runner(env)),
        /^Error: gcloud storage cp \S+out\.bin failed \(exit 1\): .*does not have storage\.objects\.create access to the Google Cloud Storage object/,
      );
    }));
  it("state-backend gcs: an object the credentials may not read is an error, never 'no bundle' (nothing to stop)", () =>
    withGcp(async (gcp, env) => {
      gcp.fail("storage.objects.get", GOOGLE_ERRORS.storageDenied("storage.objects.get"));
      gcp.fail("storage.objects.list", GOOGLE_ERRORS.storageDenied("storage.objects.list"));
      gcp.buckets.get("state-bucket")!.set(`gpu-runner/${LABEL}.bin`, Buffer.from("bundle"));
      const store = CLOUD.stateStore!.parse(new InputReader(inputEnv({ "state-bucket": "state-bucket" })));
      const file = join(scratch(), "in.bin");
      await assert.rejects(
        store.get(LABEL, file, runner(env)),
        /^Error: gcloud storage ls failed \(exit 1\): .*does not have storage\.objects\.(get|list) access/,
      );
    }));
});

describe("gcp: the stand-in refuses what the API description refuses", () => {
  it("an unknown query parameter, a missing required one, an answer with a field or an enum value the schema lacks", () => {
    requireCli(GCLOUD_CLI);
    const compute = googleApi("compute", "v1");
    const url = (path: string) => new URL(`http://127.0.0.1${path}`);
    assert.equal(
      matchRequest(compute, "GET", url("/compute/v1/projects/p/aggregated/instances?filter=x&alt=json")).method.id,
      "compute.instances.aggregatedList",
    );
    assert.equal(
      matchRequest(compute, "DELETE", url("/compute/v1/projects/p/zones/z/instances/i")).method.id,
      "compute.instances.delete",
    );
    assert.throws(
      () => matchRequest(compute, "GET", url("/compute/v1/projects/p/aggregated/instances?labels=x")),
      /has no parameter labels/,
    );
    assert.throws(
      () => matchRequest(compute, "GET", url("/compute/v1/projects/p/zones/z/instances/i/serialPort/x")),
      /no compute method/,
    );
    checkAnswer(compute, "Instance", { name: "i", status: "TERMINATED", labels: { a: "b" } });
    assert.throws(
      () => checkAnswer(compute, "Instance", { name: "i", state: "RUNNING" }),
      /Instance has no field state/,
    );
    assert.throws(() => checkAnswer(compute, "Instance", { status: "STOPPED_ALLOCATED" }), /not one of/);
    assert.throws(() => checkAnswer(compute, "Instance", { labels: { a: 1 } }), /must be a string/);
  });
});
