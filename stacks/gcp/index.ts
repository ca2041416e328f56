// Google Compute Engine as the `cloud` input's `gcp`: one file per concern. inputs.ts reads the inputs, catalog.ts
// prices the machine types, stack.ts is what Terraform creates (the security review reads only it), labels.ts turns
// tags into labels, cli.ts finds and deletes machines without state, state-store.ts keeps the encrypted state in GCS.
import { defineCloud } from "../cloud.ts";
import { gcpCatalog } from "./catalog.ts";
import { gcpCli } from "./cli.ts";
import type { GcpConfig } from "./config.ts";
import { gcpInputs } from "./inputs.ts";
import { gcsStateStore } from "./state-store.ts";
import { gcpTerraform } from "./stack.ts";

export const gcpCloud = defineCloud<GcpConfig>({
  name: "gcp",
  // The google provider and gcloud read credentials and project from these (google-github-actions/auth sets them).
  environment: [/^(GOOGLE|CLOUDSDK|GCLOUD)_[A-Z0-9_]+$/, /^GCP_PROJECT$/],
  inputs: gcpInputs,
  catalog: gcpCatalog,
  terraform: gcpTerraform,
  cli: gcpCli,
  stateStore: gcsStateStore,
});
