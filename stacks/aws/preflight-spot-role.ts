// The AWS preflight's Spot question: whether the account has the service-linked role EC2 needs for Spot launches.
// Apart because only Spot candidates ask it, and reading roles is a permission the start does not otherwise need.
import type { PreflightFinding } from "../preflight.ts";
import { isDenied, START_POLICY } from "./preflight-answers.ts";
import type { Asker } from "./preflight-ask.ts";
import { unchecked } from "./preflight-findings.ts";

type Finding = PreflightFinding;

/** The service-linked role EC2 needs to launch Spot instances (EC2 User Guide, "Service-linked role for Spot Instances"). */
export const SPOT_ROLE = "AWSServiceRoleForEC2Spot";

export async function spotRole(ask: Asker): Promise<Finding> {
  const check = `EC2 Spot service-linked role ${SPOT_ROLE}`;
  const answer = await ask.ask("iam", "get-role", [
    "--role-name",
    SPOT_ROLE,
    "--query",
    "Role.Arn",
    "--output",
    "json",
  ]);
  if (answer.kind === "unasked") return unchecked(check, answer.why);
  if (answer.kind === "ok") return { check, status: "ok", detail: "it exists", scope: "start" };
  // GetRole's NoSuchEntityException goes on the wire as NoSuchEntity (its error code in the iam model).
  if (answer.code === "NoSuchEntity")
    return {
      check,
      status: "failed",
      detail: "the account has no EC2 Spot service-linked role: EC2 refuses Spot launches without it",
      fix: "create it once per account: aws iam create-service-linked-role --aws-service-name spot.amazonaws.com (or set spot: false)",
      scope: "start",
    };
  // Reading roles is a permission the start does not need otherwise: a denial leaves the question open.
  if (isDenied(answer.code))
    return {
      ...unchecked(check, `${answer.code}: the role may not iam:GetRole on ${SPOT_ROLE}`),
      fix: `Allow iam:GetRole on the role (the statement "PreflightSpotRole" of ${START_POLICY}) for this check`,
    };
  return unchecked(check, `${answer.code}: ${answer.message}`);
}
