// The gcp cloud's part of the shared tests: its contract (test/cloud-contract.test.ts), its words (test/layers.test.ts)
// and what it makes of each accelerator (test/accelerators.test.ts).
import assert from "node:assert/strict";
import type { CloudCases, Json } from "../../kit/cloud-cases.ts";

export const cases: CloudCases = {
  contract: {
    machines: (json) =>
      Object.values((json.resource?.google_compute_instance ?? {}) as Record<string, Json>).map((vm) => ({
        name: vm.name,
        resource: vm,
        bootScript: vm.metadata?.["startup-script"],
        tagSets: { labels: vm.labels, "boot_disk labels": vm.boot_disk?.initialize_params?.labels },
      })),
    cloudLifetimeSeconds: (machine) => machine.resource.scheduling?.max_run_duration?.seconds,
    // Compute Engine has no "terminate on guest power-off": a guest shutdown leaves a stopped instance (disk
    // still billed) until stop destroys it. What it does have is deletion at the hard lifetime and on preemption.
    endsRatherThanStops: (machine) => assert.equal(machine.resource.scheduling?.instance_termination_action, "DELETE"),
    deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
    ownership: true,
  },
  // No production file outside stacks/gcp/ names the cloud (its services, its CLI, its image names).
  words: /\b(gcp|google|gce|gcloud|gcs|compute engine)\b/i,
  oidcLogin: "google-github-actions/auth",
  accelerators: {
    defaultImage: () =>
      "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
    rows: [
      { accelerator: "t4", want: "n1-standard-4 + 1 x nvidia-tesla-t4" },
      { accelerator: "T4:1", want: "n1-standard-4 + 1 x nvidia-tesla-t4" },
      { accelerator: "t4:2", want: "n1-standard-8 + 2 x nvidia-tesla-t4" },
      { accelerator: "t4:4", want: "n1-standard-16 + 4 x nvidia-tesla-t4" },
      { accelerator: "t4:8", want: /t4 in a count that one gcp machine carries, 1, 2 or 4/ },
      { accelerator: "t4g", want: /a GPU that gcp offers/ },
      { accelerator: "a10g", want: /a GPU that gcp offers/ },
      { accelerator: "l4", want: "g2-standard-4" },
      { accelerator: "l4:2", want: "g2-standard-24" },
      { accelerator: "l4:8", want: "g2-standard-96" },
      { accelerator: "l40s", want: /a GPU that gcp offers/ },
      { accelerator: "v100:8", want: "n1-standard-32 + 8 x nvidia-tesla-v100" },
      { accelerator: "a100", want: "a2-highgpu-1g" },
      { accelerator: "a100:8", want: "a2-highgpu-8g" },
      { accelerator: "a100:16", want: "a2-megagpu-16g" },
      { accelerator: "a100-80gb:8", want: "a2-ultragpu-8g" },
      { accelerator: "h100", want: /only as Spot capacity \(a3-highgpu-1g\); set spot: true/ },
      { accelerator: "h100", want: "a3-highgpu-1g (spot)", inputs: { spot: "true" } },
      { accelerator: "h100:8", want: "a3-highgpu-8g" },
      // A3 Ultra comes through reservations, flex-start or Spot, never plain on-demand.
      { accelerator: "h200:8", want: /only as Spot capacity \(a3-ultragpu-8g\); set spot: true/ },
      { accelerator: "h200:8", want: "a3-ultragpu-8g (spot)", inputs: { spot: "true" } },
    ],
    wrongValues: [
      { input: "disk-type", value: "gp3", expected: /one of pd-balanced, pd-ssd, pd-standard, hyperdisk-balanced/ },
      { input: "image", value: "ami-0123456789abcdef0", expected: /projects\/PROJECT\/global\/images/ },
    ],
  },
};
