// EC2's answers at apply with one known fix outside the action: the failure says what to run, and none of them is
// taken for a capacity shortage (Spot does not fall back to on-demand on them).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TerraformError } from "../../../scripts/adapters/terraform.ts";
import { explainFailure } from "../../../scripts/phases/explain.ts";
import { isCapacityError } from "../../../scripts/phases/provision.ts";
import { StartError } from "../../../scripts/phases/start.ts";
import { parseInputs, type StartInputs } from "../../../scripts/settings/inputs.ts";
import { awsCloud } from "../../../stacks/aws/index.ts";
import { AWS_START, inputEnv } from "../../kit/env.ts";

/** What terraform prints when RunInstances fails, around EC2's own error code and message. */
const applyError = (ec2: string) =>
  new TerraformError(
    "apply",
    1,
    `Error: creating EC2 Instance: operation error EC2: RunInstances, https response error StatusCode: 403, RequestID: 0f1e, api error ${ec2}\n\n  with aws_instance.runner-0,`,
  );

describe("aws: apply errors with a known fix", () => {
  const spotPlan = (parseInputs(inputEnv({ ...AWS_START, spot: "true" })) as StartInputs).plan;

  it("a missing EC2 Spot service-linked role says the command that creates it, and is no capacity error", () => {
    // EC2's code and message, as AWS SDKs and CloudTrail report them.
    const error = applyError(
      "AuthFailure.ServiceLinkedRoleCreationNotPermitted: The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.",
    );
    const text = explainFailure(error, awsCloud.terraform);
    assert.match(
      text,
      /What to check next: the EC2 Spot service-linked role \(AWSServiceRoleForEC2Spot\), .*Run once, as an administrator of the account: aws iam create-service-linked-role --aws-service-name spot\.amazonaws\.com /,
    );
    assert.match(text, /spot: true does not fall back to on-demand for this error/);
    // As main meets it: wrapped by start, which has cleaned up what the failed apply left.
    const wrapped = new StartError(`Start failed: ${error.message}\nCleanup: nothing was left`, { cause: error });
    assert.match(
      explainFailure(wrapped, awsCloud.terraform),
      /create-service-linked-role --aws-service-name spot\.amazonaws\.com/,
    );
    assert.equal(isCapacityError(spotPlan, error), false, "on-demand is not tried: the start fails with the fix");
    // The candidates do go on to on-demand for a real shortage, so the test above could tell the two apart.
    assert.equal(isCapacityError(spotPlan, applyError("InsufficientInstanceCapacity: no capacity")), true);
  });

  it("a disk smaller than the AMI's snapshot names disk-size", () => {
    const text = explainFailure(
      applyError(
        "InvalidBlockDeviceMapping: Volume of size 8GB is smaller than snapshot 'snap-0bb552d9fd4e927e6', expect size >= 45GB",
      ),
      awsCloud.terraform,
    );
    assert.match(text, /What to check next: disk-size: the image's root snapshot is larger than the disk asked for/);
  });

  it("any other apply error keeps the credentials hint", () => {
    const text = explainFailure(applyError("UnauthorizedOperation: You are not authorized"), awsCloud.terraform);
    assert.match(
      text,
      /What to check next: the terraform output in the group above\. .*aws-actions\/configure-aws-credentials/,
    );
    assert.doesNotMatch(text, /service-linked/);
  });
});
