// A local stand-in of the AWS APIs the action's aws CLI calls reach: EC2 (instances, security groups, console
// output), EventBridge Scheduler (the lifetime schedules) and S3 (the state bucket), each on its own port of
// 127.0.0.1. Every request is read through botocore's model of its service (botocore.ts): an Action, a parameter or a
// query key the model lacks, or a required one missing, is refused as AWS refuses it, and every answer is serialized
// from the model's output shape. The stand-in keeps what exists and what it was asked, so a test asserts that exactly
// the right machines went, and it returns AWS's errors on demand (`fail`), for the real CLI to report.
// What the preflight asks (EC2's dry runs and reads, SSM, IAM, Service Quotas) is answered by aws-preflight.ts.
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ModelViolation,
  ec2Response,
  outputHeaders,
  readEc2Request,
  readRestRequest,
  restJsonResponse,
  restXmlResponse,
  serviceModel,
  signedFor,
} from "./botocore.ts";
import {
  ec2PreflightAnswer,
  type PreflightWorld,
  preflightModels,
  preflightServers,
  preflightWorld,
} from "./aws-preflight.ts";
import { scratchConfig } from "./clis.ts";
import { type Answer, type Listening, listen, type Request } from "./http.ts";

export interface Ec2Instance {
  id: string;
  region: string;
  /** pending, running, shutting-down, terminated, stopping, stopped (EC2's instance state names). */
  state: string;
  tags: Record<string, string>;
  launchTime?: Date;
  securityGroups?: string[];
  /** What GetConsoleOutput returns (EC2 sends it base64-encoded; the CLI decodes it). */
  console?: string;
}

export interface SecurityGroup {
  id: string;
  region: string;
  tags: Record<string, string>;
}

export interface Schedule {
  name: string;
  region: string;
  group: string;
  /** What GetSchedule returns as Description (schedules take no tags). */
  description?: string;
}

export interface AwsCall {
  service: "ec2" | "scheduler" | "s3" | "ssm" | "iam" | "service-quotas";
  operation: string;
  /** The region the request was signed for: the CLI's --region. */
  region: string;
  input: Record<string, unknown>;
}

/** An error as the service returns it: EC2 and S3 in XML (Code, Message), Scheduler in JSON with its error type. */
export interface AwsError {
  status: number;
  code: string;
  message: string;
}

/** AWS's own words for the errors the tests ask for (from EC2's error code reference and the services' models). */
export const AWS_ERRORS = {
  unauthorized: (action: string): AwsError => ({
    status: 403,
    code: "UnauthorizedOperation",
    message: `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action`,
  }),
  throttled: (): AwsError => ({ status: 503, code: "RequestLimitExceeded", message: "Request limit exceeded." }),
  instanceNotFound: (id: string): AwsError => ({
    status: 400,
    code: "InvalidInstanceID.NotFound",
    message: `The instance ID '${id}' does not exist`,
  }),
  s3AccessDenied: (): AwsError => ({ status: 403, code: "AccessDenied", message: "Access Denied" }),
  schedulerAccessDenied: (action: string): AwsError => ({
    status: 403,
    code: "AccessDeniedException",
    message: `User: arn:aws:iam::123456789012:user/ci is not authorized to perform: scheduler:${action} on resource: arn:aws:scheduler:eu-west-1:123456789012:schedule/default/*`,
  }),
};

export interface AwsStandIn {
  instances: Ec2Instance[];
  securityGroups: SecurityGroup[];
  schedules: Schedule[];
  /** What the preflight reads: images, instance types, subnets, route tables, SSM parameters, IAM roles, quotas. */
  preflight: PreflightWorld;
  /** bucket -> key -> bytes */
  buckets: Map<string, Map<string, Buffer>>;
  /** Every request, in order, as the model reads it. */
  calls: AwsCall[];
  /** The next `times` calls of `operation` get `error` (every one when times is omitted). */
  fail(operation: string, error: AwsError, times?: number): void;
  /** The environment that points the real aws CLI here, with credentials that sign but open nothing. */
  env: Record<string, string>;
  /** Requests the model refused and answers it could not serialize: a test expects none unless it made them. */
  problems: string[];
  close(): Promise<void>;
}

const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * The EC2 filters the action uses (`tag:<key>`, `instance-state-name`; DescribeInstances' and
 * DescribeSecurityGroups' filter lists in EC2's API reference). EC2 knows many more; a name the stand-in does not
 * know is refused as EC2 refuses an unknown filter, so a new one in the action shows up here first.
 */
function matchesFilters(
  filters: { Name: string; Values?: string[] }[],
  item: { state?: string; tags: Record<string, string> },
): boolean {
  return filters.every(({ Name, Values = [] }) => {
    if (Name.startsWith("tag:")) {
      const value = item.tags[Name.slice(4)];
      return value !== undefined && Values.includes(value);
    }
    if (Name === "instance-state-name" && item.state !== undefined) return Values.includes(item.state);
    throw new AwsFault({ status: 400, code: "InvalidParameterValue", message: `The filter '${Name}' is invalid` });
  });
}

class AwsFault extends Error {
  constructor(readonly error: AwsError) {
    super(error.message);
  }
}

/** aws-chunked bodies (SigV4 streaming, with a trailing checksum): the bytes between the chunk headers. */
function decodeBody(request: Request): Buffer {
  if (!/aws-chunked/.test(String(request.headers["content-encoding"] ?? ""))) return request.body;
  const parts: Buffer[] = [];
  let at = 0;
  const body = request.body;
  while (at < body.length) {
    const end = body.indexOf("\r\n", at);
    const size = Number.parseInt(body.subarray(at, end).toString("latin1").split(";")[0]!, 16);
    if (!size) break;
    parts.push(body.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export async function startAwsStandIn(): Promise<AwsStandIn> {
  const ec2 = serviceModel("ec2");
  const scheduler = serviceModel("scheduler");
  const s3 = serviceModel("s3");
  const others = preflightModels();
  const world: Omit<AwsStandIn, "env" | "close" | "problems"> = {
    instances: [],
    securityGroups: [],
    schedules: [],
    preflight: preflightWorld(),
    buckets: new Map(),
    calls: [],
    fail(operation, error, times = Number.POSITIVE_INFINITY) {
      faults.push({ operation, error, left: times });
    },
  };
  const faults: { operation: string; error: AwsError; left: number }[] = [];
  const problems: string[] = [];

  /** Records the call and throws the fault asked for it, if any. */
  const called = (service: AwsCall["service"], operation: string, request: Request, input: Record<string, unknown>) => {
    const signed = signedFor(request.headers.authorization);
    const model = { ec2, scheduler, s3, ...others }[service];
    const signingName = model.metadata.signingName ?? model.metadata.endpointPrefix;
    if (!signed || signed.service !== signingName)
      throw new AwsFault({
        status: 403,
        code: "IncompleteSignature",
        message: `the request is not signed with SigV4 for ${signingName}`,
      });
    world.calls.push({ service, operation, region: signed.region, input });
    const fault = faults.find((f) => f.operation === operation && f.left > 0);
    if (fault) {
      fault.left--;
      throw new AwsFault(fault.error);
    }
    return signed.region;
  };

  const xml = (body: string): Answer => ({ status: 200, headers: { "content-type": "text/xml" }, body });

  const ec2Server = await listen((request) => {
    try {
      const { operation, input } = readEc2Request(ec2, request.body.toString("utf8"));
      const region = called("ec2", operation, request, input);
      const inRegion = <T extends { region: string }>(items: T[]) => items.filter((i) => i.region === region);
      const filters = (input.Filters ?? []) as { Name: string; Values?: string[] }[];
      switch (operation) {
        case "DescribeInstances": {
          const ids = input.InstanceIds as string[] | undefined;
          for (const id of ids ?? [])
            if (!inRegion(world.instances).some((i) => i.id === id))
              throw new AwsFault(AWS_ERRORS.instanceNotFound(id));
          const found = inRegion(world.instances).filter(
            (i) => (!ids || ids.includes(i.id)) && matchesFilters(filters, i),
          );
          return xml(
            ec2Response(ec2, operation, {
              Reservations: found.map((i) => ({
                ReservationId: `r-${i.id.slice(2)}`,
                OwnerId: "123456789012",
                Instances: [
                  {
                    InstanceId: i.id,
                    InstanceType: "g5.xlarge",
                    State: { Code: STATE_CODES[i.state], Name: i.state },
                    LaunchTime: i.launchTime,
                    Tags: tagList(i.tags),
                  },
                ],
              })),
            }),
          );
        }
        case "TerminateInstances": {
          const ids = input.InstanceIds as string[];
          const targets = ids.map((id) => {
            const found = inRegion(world.instances).find((i) => i.id === id);
            if (!found) throw new AwsFault(AWS_ERRORS.instanceNotFound(id));
            return found;
          });
          const answer = ec2Response(ec2, operation, {
            TerminatingInstances: targets.map((i) => ({
              InstanceId: i.id,
              PreviousState: { Code: STATE_CODES[i.state], Name: i.state },
              CurrentState: { Code: STATE_CODES["shutting-down"], Name: "shutting-down" },
            })),
          });
          // Terminated by the next look, so the CLI's instance-terminated waiter succeeds on its first poll.
          for (const i of targets) i.state = "terminated";
          return xml(answer);
        }
        case "GetConsoleOutput": {
          const found = inRegion(world.instances).find((i) => i.id === input.InstanceId);
          if (!found) throw new AwsFault(AWS_ERRORS.instanceNotFound(String(input.InstanceId)));
          return xml(
            ec2Response(ec2, operation, {
              InstanceId: found.id,
              Timestamp: new Date(),
              Output: Buffer.from(found.console ?? "").toString("base64"),
            }),
          );
        }
        case "DescribeSecurityGroups":
          return xml(
            ec2Response(ec2, operation, {
              SecurityGroups: inRegion(world.securityGroups)
                .filter((g) => matchesFilters(filters, g))
                .map((g) => ({
                  GroupId: g.id,
                  GroupName: g.id,
                  Description: "no inbound",
                  OwnerId: "123456789012",
                  VpcId: "vpc-0123456789abcdef0",
                  Tags: tagList(g.tags),
                })),
            }),
          );
        case "DeleteSecurityGroup": {
          const group = inRegion(world.securityGroups).find((g) => g.id === input.GroupId);
          if (!group)
            throw new AwsFault({
              status: 400,
              code: "InvalidGroup.NotFound",
              message: `The security group '${input.GroupId}' does not exist`,
            });
          if (world.instances.some((i) => i.state !== "terminated" && i.securityGroups?.includes(group.id)))
            throw new AwsFault({
              status: 400,
              code: "DependencyViolation",
              message: `resource ${group.id} has a dependent object`,
            });
          world.securityGroups.splice(world.securityGroups.indexOf(group), 1);
          return xml(ec2Response(ec2, operation, { Return: true, GroupId: group.id }));
        }
        default: {
          const fail = (error: AwsError): never => {
            throw new AwsFault(error);
          };
          const answer = ec2PreflightAnswer(ec2, operation, input, region, world.preflight, fail);
          if (answer !== undefined) return xml(answer);
          throw new AwsFault({
            status: 400,
            code: "InvalidAction",
            message: `the stand-in does not implement ${operation}`,
          });
        }
      }
    } catch (error) {
      const fault = asFault(error);
      return {
        status: fault.status,
        headers: { "content-type": "text/xml" },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${fault.code}</Code><Message>${fault.message}</Message></Error></Errors><RequestID>${crypto.randomUUID()}</RequestID></Response>`,
      };
    }
  });

  const schedulerServer = await listen((request) => {
    try {
      const { operation, input } = readRestRequest(scheduler, request.method, request.url, request.headers);
      const region = called("scheduler", operation, request, input);
      const group = (input.GroupName as string | undefined) ?? "default";
      const json = (body: string): Answer => ({ status: 200, headers: { "content-type": "application/json" }, body });
      switch (operation) {
        case "ListSchedules":
          return json(
            restJsonResponse(scheduler, operation, {
              Schedules: world.schedules
                .filter((s) => s.region === region && s.group === group)
                .filter((s) => s.name.startsWith(String(input.NamePrefix ?? "")))
                .map((s) => ({
                  Name: s.name,
                  GroupName: s.group,
                  Arn: `arn:aws:scheduler:${region}:123456789012:schedule/${s.group}/${s.name}`,
                  State: "ENABLED",
                  Target: { Arn: "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances" },
                })),
            }),
          );
        case "GetSchedule":
        case "DeleteSchedule": {
          const found = world.schedules.find((s) => s.region === region && s.group === group && s.name === input.Name);
          if (!found)
            throw new AwsFault({
              status: 404,
              code: "ResourceNotFoundException",
              message: `Schedule ${input.Name} does not exist.`,
            });
          if (operation === "GetSchedule")
            return json(
              restJsonResponse(scheduler, operation, {
                Name: found.name,
                GroupName: found.group,
                Arn: `arn:aws:scheduler:${region}:123456789012:schedule/${found.group}/${found.name}`,
                Description: found.description,
                ScheduleExpression: "at(2026-12-01T16:00:00)",
                State: "ENABLED",
                Target: {
                  Arn: "arn:aws:scheduler:::aws-sdk:ec2:terminateInstances",
                  RoleArn: "arn:aws:iam::123456789012:role/lifetime",
                },
              }),
            );
          world.schedules.splice(world.schedules.indexOf(found), 1);
          return json(restJsonResponse(scheduler, operation, {}));
        }
        default:
          throw new AwsFault({ status: 400, code: "ValidationException", message: `not implemented: ${operation}` });
      }
    } catch (error) {
      const fault = asFault(error);
      return {
        status: fault.status,
        headers: { "content-type": "application/json", "x-amzn-errortype": fault.code },
        body: JSON.stringify({ Message: fault.message }),
      };
    }
  });

  const s3Server = await listen((request) => {
    try {
      const { operation, input } = readRestRequest(s3, request.method, request.url, request.headers);
      called("s3", operation, request, input);
      const bucket = world.buckets.get(String(input.Bucket));
      if (!bucket)
        throw new AwsFault({ status: 404, code: "NoSuchBucket", message: "The specified bucket does not exist" });
      const key = String(input.Key ?? "");
      const etag = (bytes: Buffer) => `"${createHash("md5").update(bytes).digest("hex")}"`;
      switch (operation) {
        case "ListObjectsV2": {
          const prefix = String(input.Prefix ?? "");
          const delimiter = input.Delimiter === undefined ? undefined : String(input.Delimiter);
          const matching = [...bucket.keys()].filter((k) => k.startsWith(prefix)).sort();
          // Keys with the delimiter after the prefix roll up into CommonPrefixes, as `aws s3 ls` asks (Delimiter=/).
          const rolled = (k: string) => delimiter !== undefined && k.indexOf(delimiter, prefix.length) >= 0;
          const keys = matching.filter((k) => !rolled(k));
          const prefixes = [
            ...new Set(matching.filter(rolled).map((k) => k.slice(0, k.indexOf(delimiter!, prefix.length) + 1))),
          ];
          // EncodingType=url (which the CLI sends): S3 URL-encodes the keys it lists, and botocore decodes them.
          const encode = (k: string) => (input.EncodingType === "url" ? encodeURIComponent(k).replace(/%2F/g, "/") : k);
          return {
            status: 200,
            headers: { "content-type": "application/xml" },
            body: restXmlResponse(s3, operation, "ListBucketResult", {
              Name: input.Bucket,
              Prefix: encode(prefix),
              Delimiter: delimiter,
              EncodingType: input.EncodingType,
              KeyCount: keys.length + prefixes.length,
              MaxKeys: 1000,
              IsTruncated: false,
              Contents: keys.map((k) => ({
                Key: encode(k),
                LastModified: new Date(),
                ETag: etag(bucket.get(k)!),
                Size: bucket.get(k)!.length,
                StorageClass: "STANDARD",
              })),
              CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
            }),
          };
        }
        case "HeadObject":
        case "GetObject": {
          const bytes = bucket.get(key);
          if (!bytes) {
            if (operation === "HeadObject") return { status: 404 };
            throw new AwsFault({ status: 404, code: "NoSuchKey", message: "The specified key does not exist." });
          }
          return {
            status: 200,
            headers: outputHeaders(s3, operation, {
              ETag: etag(bytes),
              "Content-Length": String(bytes.length),
              "Last-Modified": new Date().toUTCString(),
              "Content-Type": "binary/octet-stream",
            }),
            body: operation === "GetObject" ? bytes : undefined,
          };
        }
        case "PutObject": {
          const bytes = decodeBody(request);
          bucket.set(key, bytes);
          return { status: 200, headers: outputHeaders(s3, operation, { ETag: etag(bytes) }) };
        }
        case "DeleteObject":
          bucket.delete(key);
          return { status: 204 };
        default:
          throw new AwsFault({ status: 501, code: "NotImplemented", message: `not implemented: ${operation}` });
      }
    } catch (error) {
      const fault = asFault(error);
      return {
        status: fault.status,
        headers: { "content-type": "application/xml" },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message}</Message><RequestId>0</RequestId></Error>`,
      };
    }
  });

  function asFault(error: unknown): AwsError {
    if (error instanceof AwsFault) return error.error;
    if (error instanceof ModelViolation) {
      problems.push(error.message);
      // What AWS answers a request its API does not take.
      return { status: 400, code: "InvalidParameterValue", message: `stand-in refused the request: ${error.message}` };
    }
    problems.push((error as Error).message);
    // 400, not 500: the CLI retries a 5xx, and the stand-in's mistake will not go away.
    return { status: 400, code: "StandInError", message: `stand-in error: ${(error as Error).message}` };
  }

  const preflight = await preflightServers(
    world.preflight,
    called,
    (error) => {
      throw new AwsFault(error);
    },
    asFault,
  );
  const servers: Listening[] = [ec2Server, schedulerServer, s3Server, preflight.ssm, preflight.iam, preflight.quotas];
  // A config of its own: no profile, region or retry setting of the developer's plays a part.
  const scratch = scratchConfig("aws-cli-");
  const config = join(scratch, "config");
  writeFileSync(config, "[default]\n");
  return {
    ...world,
    get problems() {
      return [...problems, ...servers.flatMap((s) => s.problems)];
    },
    env: {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: config,
      AWS_ENDPOINT_URL_EC2: ec2Server.url,
      AWS_ENDPOINT_URL_SCHEDULER: schedulerServer.url,
      AWS_ENDPOINT_URL_S3: s3Server.url,
      AWS_ENDPOINT_URL_SSM: preflight.ssm.url,
      AWS_ENDPOINT_URL_IAM: preflight.iam.url,
      AWS_ENDPOINT_URL_SERVICE_QUOTAS: preflight.quotas.url,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_PAGER: "",
    },
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
