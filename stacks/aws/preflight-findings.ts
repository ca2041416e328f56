// The findings every AWS question may end in: a question left open, and a call the cloud refused (denied, with the
// permission and the statement of the start's policy that grants it). Shared by the questions, so kept apart.
import type { PreflightFinding } from "../preflight.ts";
import { type Answer, deniedPermission, isDenied, permissionFix, START_POLICY } from "./preflight-answers.ts";

type Finding = PreflightFinding;

export const unchecked = (check: string, why: string, scope: Finding["scope"] = "start"): Finding => ({
  check,
  status: "unchecked",
  detail: why,
  scope,
});

/** A refused call as a finding: denied (with the permission and its statement), or another error of the cloud. */
export function refused(
  check: string,
  answer: Extract<Answer, { kind: "error" }>,
  asked: string,
  what: string,
  scope: Finding["scope"] = "start",
): Finding {
  if (isDenied(answer.code)) {
    const named = deniedPermission(answer.message);
    if (!named.action)
      return {
        check,
        status: "failed",
        detail: `${answer.code}: the role may not ${asked}, or one of the permissions it needs`,
        // Only sts:DecodeAuthorizationMessage (a permission of its own) reads EC2's encoded message.
        fix: `EC2 did not name the permission: give the start's role every statement of ${START_POLICY} (${what})`,
        scope,
      };
    const action = named.action;
    return {
      check,
      status: "failed",
      detail: `${answer.code}: the role may not ${action}${named.resource ? ` on ${named.resource}` : ""}`,
      fix: permissionFix(action, named.resource, what),
      scope,
    };
  }
  return { check, status: "failed", detail: `${answer.code}: ${answer.message}`, scope };
}
