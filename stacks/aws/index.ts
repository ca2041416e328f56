// AWS EC2 as the `cloud` input's `aws`: one file per concern, read in this order by a reviewer. inputs.ts reads the
// inputs, catalog.ts prices the instance types, stack.ts is what Terraform creates (the security review reads only
// it), cli.ts finds and deletes machines without state, state-store.ts keeps the encrypted state in S3.
import { defineCloud } from "../cloud.ts";
import { awsCatalog } from "./catalog.ts";
import { awsCli } from "./cli.ts";
import type { AwsConfig } from "./config.ts";
import { awsInputs } from "./inputs.ts";
import { s3StateStore } from "./state-store.ts";
import { awsTerraform } from "./stack.ts";

export const awsCloud = defineCloud<AwsConfig>({
  name: "aws",
  // The AWS provider and CLI read their credentials, region and profile from AWS_* (configure-aws-credentials sets them).
  environment: [/^AWS_[A-Z0-9_]+$/],
  inputs: awsInputs,
  catalog: awsCatalog,
  terraform: awsTerraform,
  cli: awsCli,
  stateStore: s3StateStore,
});
