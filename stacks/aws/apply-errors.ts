// EC2's answers at apply that have one known fix, outside this action: said word for word, so a first run in a fresh
// account ends with the command to run rather than a guess at credentials. None of them is a capacity error, so
// none moves on to the next candidate: Spot does not fall back to on-demand for them (it would fail the same way on
// the next try of Spot, and billing on-demand silently instead is not what spot: true asked for).

/** The AWS CLI command that creates the EC2 Spot service-linked role, once per account. */
export const CREATE_SPOT_ROLE = "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com";

export const AWS_APPLY_ERROR_HINTS: readonly { pattern: RegExp; hint: string }[] = [
  {
    // A Spot request in an account without the AWSServiceRoleForEC2Spot service-linked role, by credentials that
    // may not create it: RunInstances fails with AuthFailure.ServiceLinkedRoleCreationNotPermitted, "The provided
    // credentials do not have permission to create the service-linked role for EC2 Spot Instances." EC2 creates the
    // role itself on the first Spot request only when the caller has iam:CreateServiceLinkedRole (EC2 User Guide,
    // "Service-linked role for Spot Instances": https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/service-linked-roles-spot-instance-requests.html).
    pattern: /ServiceLinkedRoleCreationNotPermitted|service-linked role for EC2 Spot/i,
    hint:
      "the EC2 Spot service-linked role (AWSServiceRoleForEC2Spot), which this account lacks and the workflow's role may not create. " +
      `Run once, as an administrator of the account: ${CREATE_SPOT_ROLE} (or allow the role iam:CreateServiceLinkedRole for ` +
      "spot.amazonaws.com). spot: true does not fall back to on-demand for this error: it is no capacity shortage (docs/aws.md, Spot).",
  },
  {
    // A root volume smaller than the AMI's snapshot: RunInstances fails with InvalidBlockDeviceMapping, "Volume of
    // size N GB is smaller than snapshot 'snap-...', expect size >= M GB" (EC2 API, RunInstances errors; the size of
    // an AMI's snapshot is known only once the AMI is resolved, at apply).
    pattern: /InvalidBlockDeviceMapping[\s\S]*smaller than snapshot|smaller than snapshot[\s\S]*expect size/i,
    hint: "disk-size: the image's root snapshot is larger than the disk asked for; set disk-size to at least the size EC2 names above (expect size >= N GB).",
  },
];
