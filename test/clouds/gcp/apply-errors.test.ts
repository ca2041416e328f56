// Compute Engine's answers at apply with one known fix: the failure names the input to change.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TerraformError } from "../../../scripts/adapters/terraform.ts";
import { explainFailure } from "../../../scripts/phases/explain.ts";
import { gcpCloud } from "../../../stacks/gcp/index.ts";

describe("gcp: apply errors with a known fix", () => {
  it("a boot disk smaller than its image names disk-size; another error keeps the credentials hint", () => {
    const error = (detail: string) =>
      new TerraformError("apply", 1, `Error: Error creating instance: googleapi: Error 400: ${detail}, invalid`);
    assert.match(
      explainFailure(
        error(
          "Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': '10'. Requested disk size cannot be smaller than the image size (50 GB)",
        ),
        gcpCloud.terraform,
      ),
      /What to check next: disk-size: the image is larger than the disk asked for/,
    );
    assert.match(
      explainFailure(error("Required 'compute.instances.create' permission"), gcpCloud.terraform),
      /What to check next: the terraform output in the group above\. .*google-github-actions\/auth/,
    );
  });
});
