// One `with:` block for every cloud: a GPU by its common name, the cloud's driver image by default, and each cloud's
// own inputs ignored (with a notice) on the other. The table is what each cloud makes of the same accelerator.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CatalogMachine, cheapestCarrying, describeOffer, machinesCarrying } from "../stacks/accelerator.ts";
import { InputError, InputReader } from "../stacks/input-reader.ts";
import { parseInputs, type StartInputs } from "../scripts/settings/inputs.ts";
import { FAKE_TOKEN, inputEnv } from "./kit/env.ts";

/** The step, as a user writes it once for a matrix over clouds. */
const SHARED = {
  mode: "start",
  "github-token": FAKE_TOKEN,
  region: "us-east-1",
  zone: "us-central1-a",
  project: "my-project",
  subscription: "00000000-0000-0000-0000-000000000000",
  location: "eastus",
  "resource-group": "gpu-runners",
  "subnet-id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/ci/subnets/runners",
};

function start(cloud: string, inputs: Record<string, string>): StartInputs {
  const parsed = parseInputs(inputEnv({ ...SHARED, cloud, ...inputs }));
  assert.equal(parsed.mode, "start");
  return parsed;
}

const AWS_IMAGE = (arch: string) => `resolve:ssm:/aws/service/deeplearning/ami/${arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id`;
const GCP_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580";
const AZURE_IMAGE = "microsoft-dsvm:ubuntu-hpc:2404:latest";

/** accelerator -> what each cloud starts for it (machine as the review shows it), or the part of the error it gives. */
const TABLE: Array<{ accelerator: string; aws: string | RegExp; gcp: string | RegExp; azure: string | RegExp; arch?: string; gcpInputs?: Record<string, string> }> = [
  { accelerator: "t4", aws: "g4dn.xlarge", gcp: "n1-standard-4 + 1 x nvidia-tesla-t4", azure: "Standard_NC4as_T4_v3" },
  { accelerator: "T4:1", aws: "g4dn.xlarge", gcp: "n1-standard-4 + 1 x nvidia-tesla-t4", azure: "Standard_NC4as_T4_v3" },
  { accelerator: "t4:2", aws: /t4 in a count that one aws machine carries, 1, 4 or 8/, gcp: "n1-standard-8 + 2 x nvidia-tesla-t4", azure: /t4 in a count that one azure machine carries, 1 or 4/ },
  { accelerator: "t4:4", aws: "g4dn.12xlarge", gcp: "n1-standard-16 + 4 x nvidia-tesla-t4", azure: "Standard_NC64as_T4_v3" },
  { accelerator: "t4:8", aws: "g4dn.metal", gcp: /t4 in a count that one gcp machine carries, 1, 2 or 4/, azure: /1 or 4/ },
  { accelerator: "t4g", aws: "g5g.xlarge", gcp: /a GPU that gcp offers/, azure: /a GPU that azure offers/, arch: "arm64" },
  { accelerator: "a10g", aws: "g5.xlarge", gcp: /a GPU that gcp offers/, azure: /a GPU that azure offers/ },
  { accelerator: "l4", aws: "g6.xlarge", gcp: "g2-standard-4", azure: /a GPU that azure offers/ },
  { accelerator: "l4:2", aws: /1, 4 or 8/, gcp: "g2-standard-24", azure: /a GPU that azure offers/ },
  { accelerator: "l4:8", aws: "g6.48xlarge", gcp: "g2-standard-96", azure: /a GPU that azure offers/ },
  { accelerator: "l40s", aws: "g6e.xlarge", gcp: /a GPU that gcp offers/, azure: /a GPU that azure offers/ },
  { accelerator: "v100:8", aws: "p3.16xlarge", gcp: "n1-standard-32 + 8 x nvidia-tesla-v100", azure: /a GPU that azure offers/ },
  { accelerator: "a100", aws: /a100 in a count that one aws machine carries, 8/, gcp: "a2-highgpu-1g", azure: /a100 in a count that one azure machine carries, 8/ },
  { accelerator: "a100:8", aws: "p4d.24xlarge", gcp: "a2-highgpu-8g", azure: "Standard_ND96asr_v4" },
  // Two digits of count: only GCP's A2 mega machine carries 16.
  { accelerator: "a100:16", aws: /a100 in a count that one aws machine carries, 8/, gcp: "a2-megagpu-16g", azure: /a100 in a count that one azure machine carries, 8/ },
  { accelerator: "a100-80gb:8", aws: "p4de.24xlarge", gcp: "a2-ultragpu-8g", azure: "Standard_ND96amsr_A100_v4" },
  { accelerator: "h100", aws: "p5.4xlarge", gcp: /only as Spot capacity \(a3-highgpu-1g\); set spot: true/, azure: "Standard_NC40ads_H100_v5" },
  { accelerator: "h100", aws: "p5.4xlarge (spot)", gcp: "a3-highgpu-1g (spot)", azure: "Standard_NC40ads_H100_v5 (spot)", gcpInputs: { spot: "true" } },
  { accelerator: "h100:8", aws: "p5.48xlarge", gcp: "a3-highgpu-8g", azure: "Standard_ND96isr_H100_v5" },
  { accelerator: "h200:8", aws: "p5en.48xlarge", gcp: "a3-ultragpu-8g", azure: "Standard_ND96isr_H200_v5" },
];

describe("accelerator x cloud", () => {
  for (const { accelerator, aws, gcp, azure, arch = "x86_64", gcpInputs = {} } of TABLE) {
    for (const [cloud, want] of [["aws", aws], ["gcp", gcp], ["azure", azure]] as const) {
      const extra = { accelerator, ...gcpInputs };
      it(`${cloud} ${JSON.stringify(extra)} -> ${String(want)}`, () => {
        if (want instanceof RegExp) {
          assert.throws(() => start(cloud, extra), (error: unknown) => {
            assert.ok(error instanceof InputError, String(error));
            assert.equal(error.input, "accelerator");
            assert.match(error.message, want);
            // Every refusal lists what that cloud offers, so the fix is in the message.
            assert.match(error.message, new RegExp(`${cloud} offers t4 \\(|only as Spot`));
            return true;
          });
          return;
        }
        const { plan } = start(cloud, extra);
        const summary = plan.summary();
        assert.equal(summary.machineType, want);
        const count = Number(/:(\d+)$/.exec(accelerator)?.[1] ?? 1);
        assert.equal(plan.gpus().count, count, "the GPU count the review shows");
        assert.match(plan.gpus().source, new RegExp(`^accelerator ${accelerator.toLowerCase().replace(/^([a-z0-9-]+)$/, "$1:1")}`));
        assert.ok(summary.image.startsWith(cloud === "aws" ? AWS_IMAGE(arch) : cloud === "gcp" ? GCP_IMAGE : AZURE_IMAGE), summary.image);
        // Azure's ND H200 v5 has no pay-as-you-go list price in the action's table: its estimate says "unknown".
        if (summary.machineType !== "Standard_ND96isr_H200_v5") assert.ok((plan.hourlyPriceUsd() ?? 0) > 0, "every catalog entry has a price");
      });
    }
  }

  it("machine-type and accelerator together must agree; Azure's size names compare without case", () => {
    const refusal = (cloud: string, machineType: string) => {
      try {
        start(cloud, { accelerator: "t4", "machine-type": machineType });
      } catch (error) {
        assert.ok(error instanceof InputError && error.input === "accelerator", String(error));
        return error.message;
      }
      return undefined;
    };
    assert.equal(refusal("aws", "g4dn.xlarge,g4dn.2xlarge"), undefined);
    assert.match(refusal("aws", "g4dn.xlarge,g5.xlarge") ?? "", /\(g5\.xlarge carries a10g:1; t4:1 comes with g4dn\.xlarge, .*\), or one of accelerator and machine-type left empty/);
    assert.equal(refusal("azure", "Standard_NC4as_t4_V3"), undefined);
    assert.match(refusal("azure", "Standard_NC24ads_A100_v4") ?? "", /Standard_NC24ads_A100_v4 carries a100-80gb:1; t4:1 comes with Standard_NC4as_T4_v3/);
    assert.deepEqual(start("azure", { accelerator: "t4", "machine-type": "Standard_NC4as_t4_V3" }).plan.summary().machineType, "Standard_NC4as_t4_V3");
  });

  it("the other cloud's inputs are noticed, never refused", () => {
    const azureNotices = (cloud: string) =>
      ["subscription", "location", "resource-group", "subnet-id"].map((input) => `Input '${input}' is read only with cloud azure; ignored with cloud ${cloud}.`);
    assert.deepEqual(start("aws", { accelerator: "t4" }).notices, [
      "Input 'project' is read only with cloud gcp; ignored with cloud aws.",
      "Input 'zone' is read only with cloud gcp; ignored with cloud aws.",
      ...azureNotices("aws"),
    ]);
    assert.deepEqual(start("gcp", { accelerator: "t4" }).notices, ["Input 'region' is read only with cloud aws; ignored with cloud gcp.", ...azureNotices("gcp")]);
    assert.deepEqual(start("azure", { accelerator: "t4" }).notices, [
      "Input 'region' is read only with cloud aws; ignored with cloud azure.",
      "Input 'project' is read only with cloud gcp; ignored with cloud azure.",
      "Input 'zone' is read only with cloud gcp; ignored with cloud azure.",
    ]);
  });

  it("a value wrong for the chosen cloud still fails, naming its input", () => {
    for (const [cloud, input, value, expected] of [
      ["gcp", "disk-type", "gp3", /one of pd-balanced, pd-ssd, pd-standard, hyperdisk-balanced/],
      ["aws", "disk-type", "pd-ssd", /one of gp3, io2/],
      ["aws", "image", GCP_IMAGE, /AMI id/],
      ["gcp", "image", "ami-0123456789abcdef0", /projects\/PROJECT\/global\/images/],
      ["aws", "machine-type", "n1-standard-4", /EC2 instance types/],
      ["azure", "disk-type", "pd-ssd", /one of Premium_LRS, StandardSSD_LRS/],
      ["azure", "image", GCP_IMAGE, /PUBLISHER:OFFER:SKU:VERSION/],
      ["azure", "machine-type", "g4dn.xlarge", /Azure VM sizes/],
    ] as const) {
      assert.throws(
        () => start(cloud, { accelerator: "t4", [input]: value, ...(input === "machine-type" ? { accelerator: "" } : {}) }),
        (error: unknown) => error instanceof InputError && error.input === input && expected.test(error.message),
        `${cloud} ${input}=${value}`,
      );
    }
  });

  it("bad names and counts are refused before anything exists, naming accelerator", () => {
    // The whole value must be NAME[:COUNT]: a valid name at its end ("-t4", "1t4", "x/t4") is not enough.
    for (const value of ["t4:0", "t4:100", "t4x1", "nvidia-tesla-t4", ":2", "t4:two", "h100 x8", "-t4", "1t4", "x/t4", "t4:1:1"]) {
      assert.throws(() => start("aws", { accelerator: value }), (error: unknown) => error instanceof InputError && error.input === "accelerator", value);
    }
  });

  it("a value not of the shape NAME[:COUNT] is answered with the shape and the offer", () => {
    assert.throws(
      () => start("aws", { accelerator: "-t4" }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message.startsWith(`Input 'accelerator': got "-t4"; expected a GPU by name with an optional count, NAME[:COUNT] such as t4 or l4:2 (aws offers t4 (1, 4 or 8), t4g (1 or 2), `),
    );
  });
});

// The catalog functions over small hand-made catalogs, listed out of order on purpose: each cloud's own table happens
// to be sorted, which would hide a missing sort.
describe("catalog helpers", () => {
  const machine = (machineType: string, gpu: string, gpus: number, usdPerHour: number, spotOnly?: boolean): CatalogMachine => ({ machineType, gpu, gpus, usdPerHour, spotOnly });

  it("describeOffer lists each GPU once, in catalog order, with its counts from fewest to most", () => {
    const catalog = [machine("t4-8", "t4", 8, 8), machine("t4-1", "t4", 1, 1), machine("l4-2", "l4", 2, 2), machine("t4-4", "t4", 4, 4), machine("t4-1b", "t4", 1, 1.5), machine("h100-1", "h100", 1, 9)];
    assert.equal(describeOffer(catalog, "mycloud"), "mycloud offers t4 (1, 4 or 8), l4 (2), h100 (1)");
  });

  it("describeOffer sorts counts as numbers, not as text", () => {
    assert.equal(describeOffer([machine("a-16", "a100", 16, 40), machine("a-8", "a100", 8, 20), machine("a-2", "a100", 2, 5)], "mycloud"), "mycloud offers a100 (2, 8 or 16)");
  });

  it("machinesCarrying keeps the exact GPU and count, cheapest first", () => {
    const catalog = [machine("mid", "t4", 1, 2), machine("four", "t4", 4, 0.5), machine("dear", "t4", 1, 3), machine("other", "l4", 1, 0.1), machine("cheap", "t4", 1, 1)];
    assert.deepEqual(
      machinesCarrying(catalog, { name: "t4", count: 1 }).map((m) => m.machineType),
      ["cheap", "mid", "dear"],
    );
  });

  it("cheapestCarrying refuses a request only Spot capacity meets, naming every such machine", () => {
    const catalog = [machine("spot-b", "h100", 1, 5, true), machine("spot-a", "h100", 1, 4, true)];
    const read = new InputReader(inputEnv({ accelerator: "h100" }));
    assert.throws(
      () => cheapestCarrying(read, catalog, { name: "h100", count: 1 }, { spot: false, cloud: "mycloud" }),
      (error: unknown) =>
        error instanceof InputError &&
        error.message === `Input 'accelerator': got "h100"; expected a GPU and count that mycloud sells on demand: h100:1 comes only as Spot capacity (spot-a, spot-b); set spot: true.`,
    );
    assert.equal(cheapestCarrying(read, catalog, { name: "h100", count: 1 }, { spot: true, cloud: "mycloud" }).machineType, "spot-a");
  });
});
