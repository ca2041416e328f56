// The Compute Engine preflight (stacks/gcp/preflight.ts): the real gcloud (and curl, for testIamPermissions) against
// the Compute Engine and Cloud Resource Manager stand-ins (test/kit/cloud-apis/gcp.ts), which check every request
// against the API description the Cloud SDK ships and every answer against its schema. One stand-in for the file,
// its world set afresh by each test; a preflight's questions run at once, so each test is one round of gcloud starts.
// The pure rules (quota, permissions, gcloud's refusals) are tested on their own below.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import type { CommandRunner } from "../../../stacks/cloud-command.ts";
import { DEFAULT_IMAGE } from "../../../stacks/gcp/catalog.ts";
import type { GcpConfig } from "../../../stacks/gcp/config.ts";
import { gcpCloud as CLOUD } from "../../../stacks/gcp/index.ts";
import { preflight, startPermissions } from "../../../stacks/gcp/preflight.ts";
import { judgeAllRegions, judgePermissions, judgeQuota, refusal } from "../../../stacks/gcp/preflight-answers.ts";
import { judgePreflight, type PreflightFinding } from "../../../stacks/preflight.ts";
import { describeCandidate } from "../../../scripts/phases/provision.ts";
import { GCLOUD_CLI, onPath, realRunner, requireCli } from "../../kit/cloud-apis/clis.ts";
import { GOOGLE_ERRORS, type GcpStandIn, startGcpStandIn } from "../../kit/cloud-apis/gcp.ts";

const PROJECT = "md-sim-runners";
const REQUEST = { count: 2, tags: { "gpu-runner-label": "gpu-42-1-0a1b2c3d" } };
const DL_PROJECT = "deeplearning-platform-release";
const DL_FAMILY = "common-cu129-ubuntu-2404-nvidia-580";

/** An N1 with one T4 attached in us-central1-a, the default image, no service account, no public IP. */
const T4: GcpConfig = {
  project: PROJECT,
  zone: "us-central1-a",
  region: "us-central1",
  machineType: "n1-standard-4",
  accelerator: { name: "t4", count: 1 },
  gpu: { type: "nvidia-tesla-t4", count: 1 },
  image: DEFAULT_IMAGE,
  diskSizeGb: 100,
  diskType: "pd-balanced",
  spot: false,
  network: "default",
  publicIp: false,
  fallbackZones: [],
  fallbackMachineTypes: [],
};

const ALL_GRANTED = (config: GcpConfig) => startPermissions(config).map((n) => n.permission);

let gcp: GcpStandIn;
before(async () => {
  requireCli(GCLOUD_CLI);
  gcp = await startGcpStandIn(PROJECT);
});
after(() => gcp?.close());

/**
 * A fresh world: T4s offered in us-central1-a only, L4 (g2) and H100 (a3) machines there too, the default image,
 * the region's quotas as given, and the project's GPUS_ALL_REGIONS (8 unless given).
 */
function world(quotas: { metric: string; limit: number; usage: number }[], granted: string[], allRegions = 8) {
  gcp.calls.length = 0;
  gcp.testedPermissions.length = 0;
  gcp.quotas.clear();
  gcp.quotas.set("us-central1", quotas);
  gcp.quotas.set("project", [{ metric: "GPUS_ALL_REGIONS", limit: allRegions, usage: 0 }]);
  gcp.acceleratorTypes.clear();
  gcp.acceleratorTypes.set("us-central1-a", ["nvidia-tesla-t4"]);
  gcp.machineTypes.length = 0;
  gcp.machineTypes.push(
    {
      zone: "us-central1-a",
      name: "g2-standard-4",
      accelerators: [{ guestAcceleratorType: "nvidia-l4", guestAcceleratorCount: 1 }],
    },
    {
      zone: "us-central1-a",
      name: "a3-highgpu-8g",
      accelerators: [{ guestAcceleratorType: "nvidia-h100-80gb", guestAcceleratorCount: 8 }],
    },
  );
  gcp.images.length = 0;
  gcp.images.push({ project: DL_PROJECT, name: `${DL_FAMILY}-v20261201`, family: DL_FAMILY, diskSizeGb: 50 });
  gcp.granted.clear();
  for (const p of granted) gcp.granted.add(p);
}

/** The action's own runner pointed at the stand-in, recording every command line it runs. */
function recordingRunner(): { run: CommandRunner; lines: string[][] } {
  const real = realRunner({ ...gcp.env, CLOUDSDK_CORE_PROJECT: PROJECT }, CLOUD.environment);
  const lines: string[][] = [];
  return {
    lines,
    run: (command, args) => {
      lines.push([command, ...args]);
      return real(command, args);
    },
  };
}

const byCheck = (findings: PreflightFinding[]) =>
  Object.fromEntries(findings.map((f) => [f.check, [f.status, f.scope, f.detail, f.fix ?? ""]]));

const preflightDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith("gcp-preflight-"));

describe("gcp preflight: the real gcloud and curl against the stand-ins", () => {
  it("all ok: the T4 offered, quota enough for count, the image found and fitting, every permission granted", async () => {
    world([{ metric: "NVIDIA_T4_GPUS", limit: 4, usage: 1 }], ALL_GRANTED(T4));
    const { run, lines } = recordingRunner();
    const dirsBefore = preflightDirs();
    const findings = await preflight(T4, REQUEST, run);
    assert.deepEqual(byCheck(findings), {
      "GPU nvidia-tesla-t4 offered in us-central1-a": ["ok", "candidate", "offered in us-central1-a", ""],
      "GPU quota for 2 x nvidia-tesla-t4 in us-central1": [
        "ok",
        "candidate",
        "NVIDIA_T4_GPUS in us-central1: limit 4, in use 1, 3 free; 2 machine(s) x 1 GPU(s) need 2",
        "",
      ],
      "GPU quota for 2 GPU(s) in all regions": [
        "ok",
        "candidate",
        "GPUS_ALL_REGIONS: limit 8, in use 0, 8 free; 2 needed",
        "",
      ],
      [`image ${DEFAULT_IMAGE}`]: ["ok", "start", `${DL_FAMILY}-v20261201: READY, 50 GB`, ""],
      [`permissions of the start on project ${PROJECT}`]: ["ok", "start", "all 9 granted", ""],
    });
    assert.deepEqual(gcp.problems, [], "the stand-in refused nothing");
    // What was asked, and of which method: the describes are the gets, the family resolved as the provider does.
    assert.deepEqual(gcp.calls.map((c) => c.method).sort(), [
      "cloudresourcemanager.projects.testIamPermissions",
      "compute.acceleratorTypes.get",
      "compute.images.getFromFamily",
      "compute.projects.get",
      "compute.regions.get",
    ]);
    assert.deepEqual(gcp.testedPermissions, [ALL_GRANTED(T4)]);
    assert.deepEqual(
      lines.map((l) => l.slice(0, 4).join(" ")),
      [
        "gcloud compute accelerator-types describe",
        "gcloud compute regions describe",
        "gcloud compute project-info describe",
        "gcloud compute images describe-from-family",
        "gcloud config config-helper --format=json",
        "curl --silent --show-error --max-time",
      ],
    );
    // The token never reaches a command line, and the header file that carried it is gone.
    assert.ok(!lines.flat().some((arg) => arg.includes("fake-access-token")), "no argument holds the token");
    assert.ok(
      lines.at(-1)!.some((arg) => /^@.*gcp-preflight-.*headers$/.test(arg)),
      "curl reads the header from a file",
    );
    assert.deepEqual(preflightDirs(), dirsBefore, "the header file's folder is removed");
  });

  it("through the plan's capacity alternatives: candidates dropped (not offered in the zone, no on-demand quota), one kept (L4 on Spot); shared questions asked once", async () => {
    // Spot first in us-central1-a and -b, then on demand in both (capacity.ts); and an N1 with a T4 in -b.
    const g2: GcpConfig = {
      ...T4,
      machineType: "g2-standard-4",
      accelerator: { name: "l4", count: 1 },
      gpu: undefined,
      spot: true,
      fallbackZones: ["us-central1-b"],
    };
    world(
      [
        { metric: "NVIDIA_L4_GPUS", limit: 0, usage: 0 },
        { metric: "PREEMPTIBLE_NVIDIA_L4_GPUS", limit: 2, usage: 0 },
        { metric: "NVIDIA_T4_GPUS", limit: 8, usage: 0 },
      ],
      [...ALL_GRANTED(T4), ...ALL_GRANTED(g2)],
    );
    const { run, lines } = recordingRunner();
    const plans = [...CLOUD.plan(g2).alternatives(), CLOUD.plan({ ...T4, zone: "us-central1-b" })];
    const candidates = await Promise.all(
      plans.map(async (plan) => ({ candidate: describeCandidate(plan), findings: await plan.preflight(REQUEST, run) })),
    );
    const failedChecks = candidates.map(({ candidate, findings }) => [
      candidate,
      findings.filter((f) => f.status !== "ok").map((f) => `${f.status} ${f.check}: ${f.detail}`),
    ]);
    assert.deepEqual(failedChecks, [
      [candidates[0]!.candidate, []],
      [
        candidates[1]!.candidate,
        [
          "failed machine type g2-standard-4 offered in us-central1-b: Compute Engine has no g2-standard-4 in us-central1-b",
        ],
      ],
      [
        candidates[2]!.candidate,
        [
          "failed GPU quota for 2 x nvidia-l4 in us-central1: NVIDIA_L4_GPUS in us-central1: limit 0, in use 0, 0 free; 2 machine(s) x 1 GPU(s) need 2",
        ],
      ],
      [
        candidates[3]!.candidate,
        [
          "failed machine type g2-standard-4 offered in us-central1-b: Compute Engine has no g2-standard-4 in us-central1-b",
          "failed GPU quota for 2 x nvidia-l4 in us-central1: NVIDIA_L4_GPUS in us-central1: limit 0, in use 0, 0 free; 2 machine(s) x 1 GPU(s) need 2",
        ],
      ],
      [
        candidates[4]!.candidate,
        ["failed GPU nvidia-tesla-t4 offered in us-central1-b: Compute Engine has no nvidia-tesla-t4 in us-central1-b"],
      ],
    ]);
    assert.deepEqual(
      candidates[0]!.findings.find((f) => f.check.startsWith("GPU quota")),
      {
        check: "GPU quota for 2 x nvidia-l4 (Spot) in us-central1",
        status: "ok",
        detail: "PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1: limit 2, in use 0, 2 free; 2 machine(s) x 1 GPU(s) need 2",
        scope: "candidate",
      },
    );
    assert.equal(
      candidates[4]!.findings.find((f) => f.status === "failed")!.fix,
      'choose a zone that offers it (gcloud compute accelerator-types list --filter="name=nvidia-tesla-t4")',
    );
    const verdict = judgePreflight(candidates);
    assert.equal(verdict.failed, false, verdict.reasons.join("\n"));
    assert.equal(verdict.warnings.filter((w) => w.includes("would be skipped")).length, 5, verdict.warnings.join("\n"));
    // Every candidate dropped but the kept one fails the start.
    assert.equal(judgePreflight(candidates.slice(1)).failed, true);
    // The region's quotas, the image and gcloud's token are the same question for every candidate: asked once each;
    // each zone's machine type once (Spot and on demand ask the same).
    const count = (method: string) => gcp.calls.filter((c) => c.method === method).length;
    assert.equal(count("compute.regions.get"), 1);
    assert.equal(count("compute.projects.get"), 1);
    assert.equal(count("compute.images.getFromFamily"), 1);
    assert.equal(count("compute.machineTypes.get"), 2);
    assert.equal(lines.filter((l) => l[1] === "config").length, 1, "gcloud's token read once");
    assert.equal(count("cloudresourcemanager.projects.testIamPermissions"), 2, "one list for the G2s, one for the N1");
    assert.deepEqual(gcp.problems, []);
  });

  it("each failure says what to fix: quota short of count, a new project's GPUS_ALL_REGIONS of 0, image missing, a permission not granted", async () => {
    const withAccount: GcpConfig = {
      ...T4,
      image: "projects/md-sim-runners/global/images/family/runner-image",
      serviceAccount: { email: "runner-vm@md-sim-runners.iam.gserviceaccount.com", scopes: ["cloud-platform"] },
      publicIp: true,
    };
    world(
      [{ metric: "NVIDIA_T4_GPUS", limit: 4, usage: 3 }],
      ALL_GRANTED(withAccount).filter(
        (p) => p !== "compute.instances.setServiceAccount" && p !== "compute.images.useReadOnly",
      ),
      0,
    );
    const { run } = recordingRunner();
    const findings = await preflight(withAccount, REQUEST, run);
    assert.deepEqual(byCheck(findings), {
      "GPU nvidia-tesla-t4 offered in us-central1-a": ["ok", "candidate", "offered in us-central1-a", ""],
      "GPU quota for 2 x nvidia-tesla-t4 in us-central1": [
        "failed",
        "candidate",
        "NVIDIA_T4_GPUS in us-central1: limit 4, in use 3, 1 free; 2 machine(s) x 1 GPU(s) need 2",
        "raise NVIDIA_T4_GPUS in us-central1 to at least 5 (IAM & Admin > Quotas), lower count, or use another region",
      ],
      "GPU quota for 2 GPU(s) in all regions": [
        "failed",
        "candidate",
        "GPUS_ALL_REGIONS: limit 0, in use 0, 0 free; 2 needed",
        "raise GPUS_ALL_REGIONS to at least 2 (IAM & Admin > Quotas), or lower count",
      ],
      "image projects/md-sim-runners/global/images/family/runner-image": [
        "failed",
        "start",
        "Compute Engine finds no image family runner-image in project md-sim-runners",
        "set image to an existing image or family (gcloud compute images list --project md-sim-runners --no-standard-images)",
      ],
      [`permissions of the start on project ${PROJECT}`]: [
        "failed",
        "start",
        "not granted: compute.instances.setServiceAccount (service-account), compute.images.useReadOnly (the project's own image)",
        "grant the workflow's service account roles/compute.instanceAdmin.v1, or add it to the custom roles of docs/gcp.md (section 2): compute.instances.setServiceAccount, compute.images.useReadOnly",
      ],
    });
    // Asked with the service account's and the external IP's permissions, and actAs: granted here at the project.
    assert.ok(gcp.testedPermissions[0]!.includes("iam.serviceAccounts.actAs"));
    assert.ok(gcp.testedPermissions[0]!.includes("compute.subnetworks.useExternalIp"));
    const verdict = judgePreflight([{ candidate: "n1-standard-4 + 1 x nvidia-tesla-t4", findings }]);
    assert.equal(verdict.failed, true);
    assert.equal(verdict.reasons.length, 4, verdict.reasons.join("\n"));
    assert.deepEqual(gcp.problems, []);
  });

  it("what cannot be asked is unchecked, never failed: quota read denied, Resource Manager disabled, H100's quota not listed; an image larger than disk-size fails", async () => {
    const h100: GcpConfig = { ...T4, machineType: "a3-highgpu-8g", gpu: undefined, diskSizeGb: 40 };
    world([], ALL_GRANTED(h100), 16);
    gcp.quotas.set("us-central1", [{ metric: "PREEMPTIBLE_NVIDIA_H100_GPUS", limit: 16, usage: 0 }]);
    gcp.fail(
      "compute.regions.get",
      GOOGLE_ERRORS.permissionDenied("compute.regions.get", `projects/${PROJECT}/regions/us-central1`),
      1,
    );
    gcp.fail(
      "cloudresourcemanager.projects.testIamPermissions",
      {
        code: 403,
        status: "PERMISSION_DENIED",
        reason: "SERVICE_DISABLED",
        message: `Cloud Resource Manager API has not been used in project 123456789012 before or it is disabled.`,
      },
      1,
    );
    const { run } = recordingRunner();
    const denied = await preflight(h100, REQUEST, run);
    assert.deepEqual(byCheck(denied), {
      "machine type a3-highgpu-8g offered in us-central1-a": ["ok", "candidate", "offered in us-central1-a", ""],
      "GPU quota for 16 x nvidia-h100-80gb in us-central1": [
        "unchecked",
        "candidate",
        `Required 'compute.regions.get' permission for 'projects/${PROJECT}/regions/us-central1'`,
        "grant compute.regions.get to let the preflight ask",
      ],
      "GPU quota for 16 GPU(s) in all regions": [
        "ok",
        "candidate",
        "GPUS_ALL_REGIONS: limit 16, in use 0, 16 free; 16 needed",
        "",
      ],
      [`image ${DEFAULT_IMAGE}`]: [
        "failed",
        "start",
        `${DL_FAMILY}-v20261201: READY, 50 GB: larger than disk-size 40 GB`,
        "set disk-size to at least 50",
      ],
      [`permissions of the start on project ${PROJECT}`]: [
        "unchecked",
        "start",
        "Cloud Resource Manager answered HTTP 403: Cloud Resource Manager API has not been used in project 123456789012 before or it is disabled.",
        `enable it: gcloud services enable cloudresourcemanager.googleapis.com --project ${PROJECT}`,
      ],
    });
    // Asked again (a new runner, a new preflight): the region answers, but has no on-demand H100 metric to judge by;
    // and the account now holds no role at all: the look-ups fail the start, the machines' permissions are unseen.
    gcp.granted.clear();
    const again = await preflight(h100, REQUEST, recordingRunner().run);
    assert.deepEqual(
      again.filter((f) => f.check.startsWith("permissions")).map((f) => [f.status, f.detail.split(":")[0]]),
      [
        ["failed", "not granted"],
        ["unchecked", "not granted on the whole project, which may be right"],
      ],
    );
    assert.equal(
      again.find((f) => f.status === "failed" && f.check.startsWith("permissions"))!.detail,
      "not granted: compute.zoneOperations.get (Terraform waits on the create), compute.machineTypes.list (the GPU count of the machine type), compute.subnetworks.use (the network interface)",
    );
    assert.deepEqual(
      again.filter((f) => f.check.startsWith("GPU quota for 16 x")).map((f) => [f.status, f.detail]),
      [
        [
          "unchecked",
          "us-central1 lists no NVIDIA_H100_GPUS quota: Compute Engine keeps this GPU's quota in Cloud Quotas (GPUS-PER-GPU-FAMILY-per-project-region), which gcloud compute regions describe does not show",
        ],
      ],
    );
    assert.equal(judgePreflight([{ candidate: "a3", findings: again }]).failed, true, "the image still fails it");
    assert.deepEqual(gcp.problems, []);
  });
});

describe("gcp preflight: without the CLIs", () => {
  it("gcloud and curl missing (exit 127): every question unchecked, nothing failed, nothing thrown", async () => {
    const run: CommandRunner = async () => ({ exitCode: 127, stdout: "", stderr: "Unable to locate executable file" });
    const findings = await preflight(T4, REQUEST, run);
    // The zone's offer, the region's and the project's quotas, the image, the permissions (gcloud's token first).
    assert.deepEqual(
      findings.map((f) => [f.status, f.detail]),
      Array.from({ length: 5 }, () => ["unchecked", "the gcloud CLI is not installed (exit 127)"]),
    );
    // And curl missing once gcloud answers: the permissions alone are unchecked for it.
    const noCurl: CommandRunner = async (command, args) =>
      command === "curl"
        ? { exitCode: 127, stdout: "", stderr: "Unable to locate executable file: curl" }
        : args[0] === "config"
          ? {
              exitCode: 0,
              stdout: JSON.stringify({ credential: { access_token: "t" }, configuration: {} }),
              stderr: "",
            }
          : { exitCode: 1, stdout: "", stderr: "ERROR: (gcloud) throttled" };
    const permissions = (await preflight(T4, REQUEST, noCurl)).filter((f) => f.check.startsWith("permissions"));
    assert.deepEqual(
      permissions.map((f) => [f.status, f.detail]),
      [["unchecked", "curl is not installed (exit 127)"]],
    );
  });

  it("one round of questions per runner and request: candidates share answers, a later preflight asks afresh", async () => {
    let asked = 0;
    const run: CommandRunner = async () => {
      asked++;
      return { exitCode: 127, stdout: "", stderr: "" };
    };
    await Promise.all([preflight(T4, REQUEST, run), preflight({ ...T4 }, REQUEST, run)]);
    assert.equal(asked, 5, "the offer, the region's and the project's quotas, the image, gcloud's token: once each");
    await preflight(T4, { ...REQUEST }, run);
    assert.equal(asked, 10);
  });

  it("curl is on this machine's PATH, as on GitHub's hosted runners", () => {
    assert.ok(onPath("curl"), "curl, which sends testIamPermissions");
  });
});

describe("gcp preflight: the rules", () => {
  const spotT4 = { region: "us-central1", accelerator: "nvidia-tesla-t4", spot: true, machines: 2, gpusPerMachine: 2 };
  it("Spot counts against the PREEMPTIBLE_ metric when the region grants one, else against the standard one", () => {
    const both = [
      { metric: "NVIDIA_T4_GPUS", limit: 8, usage: 0 },
      { metric: "PREEMPTIBLE_NVIDIA_T4_GPUS", limit: 2, usage: 0 },
    ];
    assert.deepEqual(
      [judgeQuota(spotT4, both).status, judgeQuota(spotT4, both).detail.split(":")[0]],
      ["failed", "PREEMPTIBLE_NVIDIA_T4_GPUS in us-central1"],
    );
    const none = [both[0]!, { ...both[1]!, limit: 0 }];
    assert.deepEqual(
      [judgeQuota(spotT4, none).status, judgeQuota(spotT4, none).detail.split(":")[0]],
      ["ok", "NVIDIA_T4_GPUS in us-central1"],
    );
    // On demand never reads the preemptible quota, however large.
    const onDemand = { ...spotT4, spot: false };
    assert.equal(
      judgeQuota(onDemand, [
        { ...both[0]!, limit: 3 },
        { ...both[1]!, limit: 64 },
      ]).status,
      "failed",
    );
    // Exactly enough is enough; one short is not.
    assert.equal(judgeQuota(onDemand, [{ metric: "NVIDIA_T4_GPUS", limit: 6, usage: 2 }]).status, "ok");
    assert.equal(judgeQuota(onDemand, [{ metric: "NVIDIA_T4_GPUS", limit: 6, usage: 3 }]).status, "failed");
  });

  it("GPUS_ALL_REGIONS: exactly enough is enough, one short fails, absent is unchecked", () => {
    const all = (limit: number, usage: number) => [{ metric: "GPUS_ALL_REGIONS", limit, usage }];
    assert.equal(judgeAllRegions(2, 4, all(8, 0)).status, "ok");
    assert.equal(judgeAllRegions(2, 4, all(8, 1)).status, "failed");
    assert.equal(judgeAllRegions(2, 4, []).status, "unchecked");
  });

  it("permissions: a project-wide one missing fails; the machines' ones, all unseen, are docs/gcp.md's name condition; some unseen fail", () => {
    const needs = startPermissions({ ...T4, serviceAccount: { email: "vm@p.iam.gserviceaccount.com", scopes: [] } });
    const lookups = needs.filter((n) => n.grant === "project").map((n) => n.permission);
    const machines = needs.filter((n) => n.grant === "named").map((n) => n.permission);
    // docs/gcp.md's two roles: the machines' under a name condition (unseen on the project), the look-ups plain;
    // actAs on the service account itself.
    const conditioned = judgePermissions(PROJECT, needs, lookups);
    assert.deepEqual(
      conditioned.map((f) => f.status),
      ["unchecked"],
    );
    assert.match(conditioned[0]!.detail, /compute\.instances\.create .*IAM condition on the runners' names/);
    assert.match(conditioned[0]!.detail, /iam\.serviceAccounts\.actAs/);
    assert.match(
      conditioned[0]!.fix!,
      /iam\.serviceAccounts\.actAs: roles\/iam\.serviceAccountUser on vm@p\.iam\.gserviceaccount\.com/,
    );
    // A look-up missing fails, even when the machines' permissions are all unseen.
    const noOps = judgePermissions(
      PROJECT,
      needs,
      lookups.filter((p) => p !== "compute.zoneOperations.get"),
    );
    assert.deepEqual(
      noOps.map((f) => f.status),
      ["failed", "unchecked"],
    );
    assert.match(noOps[0]!.detail, /^not granted: compute\.zoneOperations\.get \(/);
    // Some machines' permissions granted on the project and one not: a project grant that lacks it.
    const partial = judgePermissions(PROJECT, needs, [
      ...lookups,
      ...machines.filter((p) => p !== "compute.instances.setMetadata"),
      "iam.serviceAccounts.actAs",
    ]);
    assert.deepEqual(
      partial.map((f) => [f.status, f.fix?.endsWith("compute.instances.setMetadata")]),
      [["failed", true]],
    );
  });

  it("the permissions follow the configuration: service account, public IP, subnetwork, own image, attached GPU", () => {
    const plain = startPermissions(T4).map((n) => n.permission);
    assert.ok(!plain.includes("compute.instances.setServiceAccount") && !plain.includes("iam.serviceAccounts.actAs"));
    assert.ok(!plain.includes("compute.subnetworks.useExternalIp"));
    assert.ok(!plain.includes("compute.machineTypes.list"), "an N1 with its GPU attached reads no machine type");
    assert.ok(!plain.includes("compute.images.useReadOnly"), "the default image is public");
    const g2 = startPermissions({ ...T4, machineType: "g2-standard-4", gpu: undefined }).map((n) => n.permission);
    assert.ok(g2.includes("compute.machineTypes.list"));
    const subnet = startPermissions({ ...T4, subnetwork: "runners", network: undefined, publicIp: true });
    assert.deepEqual(
      subnet.filter((n) => n.permission.startsWith("compute.subnetworks.")).map((n) => [n.permission, n.grant]),
      [
        ["compute.subnetworks.use", "resource"],
        ["compute.subnetworks.useExternalIp", "resource"],
      ],
    );
  });

  it("gcloud's refusals: not found, permission denied (with the permission), anything else", () => {
    const failed = (stderr: string) => refusal({ exitCode: 1, stdout: "", stderr });
    assert.deepEqual(
      failed(
        "ERROR: (gcloud.compute.machine-types.describe) Could not fetch resource:\n - The resource 'projects/p/zones/z/machineTypes/x' was not found\n",
      ),
      { kind: "not-found", message: "The resource 'projects/p/zones/z/machineTypes/x' was not found" },
    );
    assert.deepEqual(
      failed(
        "ERROR: (gcloud.compute.regions.describe) Could not fetch resource:\n - Required 'compute.regions.get' permission for 'projects/p/regions/r'\n",
      ),
      {
        kind: "denied",
        message: "Required 'compute.regions.get' permission for 'projects/p/regions/r'",
        permission: "compute.regions.get",
      },
    );
    assert.equal(
      failed("ERROR: (gcloud.compute.regions.describe) There was a problem refreshing your current auth tokens").kind,
      "other",
    );
  });
});
