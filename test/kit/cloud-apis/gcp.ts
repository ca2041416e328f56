// A local stand-in of the Google Cloud APIs the action's gcloud calls reach: Compute Engine (instances: aggregated
// list, delete and its operation, serial port output; for the preflight, regions, machine and accelerator types,
// images), Cloud Storage (the state bucket's objects: upload, get, list, delete) and Cloud Resource Manager (the
// project's testIamPermissions), each on its own port of 127.0.0.1. Every request is matched to its method in the
// description gcloud ships (google-apis.ts) and its parameters checked; every answer is checked against its schema.
// The stand-in keeps what exists and what it was asked, so a test asserts that exactly the right machines went, and
// it returns
// Google's errors on demand (`fail`), for the real gcloud to report.
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { scratchConfig } from "./clis.ts";
import { checkAnswer, DescriptionViolation, type GoogleApi, googleApi, matchRequest } from "./google-apis.ts";
import { type Answer, type Listening, listen, type Request } from "./http.ts";

export interface GceInstance {
  name: string;
  zone: string;
  /** PROVISIONING, STAGING, RUNNING, STOPPING, TERMINATED, SUSPENDED... (Instance.status in the compute API). */
  status: string;
  labels: Record<string, string>;
  creationTimestamp?: string;
  /** What serial port 1 has printed. */
  serial?: string;
}

/** What the preflight asks of Compute Engine: a region's quotas, a zone's types, an image. */
export interface GceQuota {
  /** Quota.metric, e.g. NVIDIA_T4_GPUS (an enum of the compute API: the answer is checked against it). */
  metric: string;
  limit: number;
  usage: number;
}

export interface GceMachineType {
  zone: string;
  name: string;
  /** MachineType.accelerators: the GPUs an accelerator-optimized type carries. */
  accelerators?: { guestAcceleratorType: string; guestAcceleratorCount: number }[];
}

export interface GceImage {
  project: string;
  name: string;
  family?: string;
  diskSizeGb: number;
  /** Image.status: READY unless set. */
  status?: string;
}

export interface GoogleCall {
  api: "compute" | "storage" | "cloudresourcemanager";
  /** The method's id in the API description, e.g. compute.instances.delete. */
  method: string;
  params: Record<string, string>;
}

/** An error as Google's APIs return it (the JSON error body: code, message, status, errors[].reason). */
export interface GoogleError {
  code: number;
  status: string;
  reason: string;
  message: string;
}

/** Google's own words for the errors the tests ask for (as the compute and storage APIs word them). */
export const GOOGLE_ERRORS = {
  permissionDenied: (permission: string, resource: string): GoogleError => ({
    code: 403,
    status: "PERMISSION_DENIED",
    reason: "forbidden",
    message: `Required '${permission}' permission for '${resource}'`,
  }),
  rateLimited: (): GoogleError => ({
    code: 429,
    status: "RESOURCE_EXHAUSTED",
    reason: "rateLimitExceeded",
    message:
      "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'compute.googleapis.com' for consumer 'project_number:123456789012'.",
  }),
  notFound: (resource: string): GoogleError => ({
    code: 404,
    status: "NOT_FOUND",
    reason: "notFound",
    message: `The resource '${resource}' was not found`,
  }),
  storageDenied: (permission: string): GoogleError => ({
    code: 403,
    status: "PERMISSION_DENIED",
    reason: "forbidden",
    message: `ci@proj.iam.gserviceaccount.com does not have ${permission} access to the Google Cloud Storage object. Permission '${permission}' denied on resource (or it may not exist).`,
  }),
};

export interface GcpStandIn {
  instances: GceInstance[];
  /** region -> its quotas (regions.get); "project" -> the project's own (projects.get: GPUS_ALL_REGIONS...). */
  quotas: Map<string, GceQuota[]>;
  machineTypes: GceMachineType[];
  /** zone -> the accelerator types it offers (acceleratorTypes.get). */
  acceleratorTypes: Map<string, string[]>;
  images: GceImage[];
  /** What projects.testIamPermissions grants the caller on the project. */
  granted: Set<string>;
  /** The bodies testIamPermissions was sent (their permissions lists). */
  testedPermissions: string[][];
  /** bucket -> object name -> bytes */
  buckets: Map<string, Map<string, Buffer>>;
  calls: GoogleCall[];
  /** The next `times` calls of the method (its id, e.g. compute.instances.delete) get `error` (all when omitted). */
  fail(method: string, error: GoogleError, times?: number): void;
  /** The environment that points the real gcloud here, with a token that opens nothing. */
  env: Record<string, string>;
  /** Requests the description refused and answers it could not check: a test expects none unless it made them. */
  readonly problems: string[];
  close(): Promise<void>;
}

class GoogleFault extends Error {
  constructor(readonly error: GoogleError) {
    super(error.message);
  }
}

/** CRC32C (Castagnoli), which gcloud checks a download against (the object's crc32c, base64 of 4 big-endian bytes). */
function crc32c(bytes: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

/**
 * The media of an upload: a multipart/related body's second part (gcloud writes it with Python's email package:
 * the boundary in single quotes, lines ending in a bare LF), or the body itself.
 */
function uploadedMedia(request: Request): { media: Buffer; name?: string } {
  const type = String(request.headers["content-type"] ?? "");
  const boundary = /boundary=['"]?([^'";]+)['"]?/.exec(type)?.[1];
  if (!/multipart\/related/.test(type) || !boundary) return { media: request.body };
  const parts = request.body.toString("latin1").split(`--${boundary}`).slice(1, -1);
  const body = (part: string) => {
    const start = /\r?\n\r?\n/.exec(part);
    if (!start) throw new DescriptionViolation("a multipart upload part without headers");
    return part.slice(start.index + start[0].length).replace(/\r?\n$/, "");
  };
  if (parts.length !== 2)
    throw new DescriptionViolation(`a multipart upload of ${parts.length} parts, not metadata and media`);
  const metadata = JSON.parse(body(parts[0]!)) as { name?: string };
  return { media: Buffer.from(body(parts[1]!), "latin1"), name: metadata.name };
}

export async function startGcpStandIn(project: string): Promise<GcpStandIn> {
  const compute = googleApi("compute", "v1");
  const storage = googleApi("storage", "v1");
  const faults: { method: string; error: GoogleError; left: number }[] = [];
  const problems: string[] = [];
  const world = {
    instances: [] as GceInstance[],
    quotas: new Map<string, GceQuota[]>(),
    machineTypes: [] as GceMachineType[],
    acceleratorTypes: new Map<string, string[]>(),
    images: [] as GceImage[],
    granted: new Set<string>(),
    testedPermissions: [] as string[][],
    buckets: new Map<string, Map<string, Buffer>>(),
    calls: [] as GoogleCall[],
  };
  let operations = 0;
  /** Resumable upload sessions: id -> where the bytes go. */
  const sessions = new Map<string, { bucket: string; name: string }>();

  const answer = (api: GoogleApi, type: string, body: object): Answer => {
    checkAnswer(api, type, body);
    return { status: 200, headers: { "content-type": "application/json; charset=UTF-8" }, body: JSON.stringify(body) };
  };
  const fault = (error: unknown): Answer => {
    let e: GoogleError;
    if (error instanceof GoogleFault) e = error.error;
    else {
      problems.push((error as Error).message);
      e =
        error instanceof DescriptionViolation
          ? { code: 400, status: "INVALID_ARGUMENT", reason: "invalid", message: `stand-in refused: ${error.message}` }
          : // 400, not 500: gcloud retries a 5xx for half a minute, and the stand-in's mistake will not go away.
            {
              code: 400,
              status: "FAILED_PRECONDITION",
              reason: "failedPrecondition",
              message: `stand-in error: ${(error as Error).message}`,
            };
    }
    return {
      status: e.code,
      headers: { "content-type": "application/json; charset=UTF-8" },
      body: JSON.stringify({
        error: {
          code: e.code,
          message: e.message,
          errors: [{ message: e.message, domain: "global", reason: e.reason }],
          status: e.status,
        },
      }),
    };
  };
  const called = (api: GoogleCall["api"], method: string, params: Record<string, string>, request: Request) => {
    if (request.headers.authorization !== "Bearer fake-access-token")
      throw new GoogleFault({ code: 401, status: "UNAUTHENTICATED", reason: "required", message: "no access token" });
    world.calls.push({ api, method, params });
    const found = faults.find((f) => f.method === method && f.left > 0);
    if (found) {
      found.left--;
      throw new GoogleFault(found.error);
    }
  };

  let computeServer: Listening | undefined;
  const link = (path: string) => `${computeServer!.url}/compute/v1/projects/${path}`;
  const instanceJson = (i: GceInstance) => ({
    kind: "compute#instance",
    id: String(1000 + world.instances.indexOf(i)),
    name: i.name,
    zone: link(`${project}/zones/${i.zone}`),
    status: i.status,
    labels: i.labels,
    machineType: link(`${project}/zones/${i.zone}/machineTypes/g2-standard-4`),
    creationTimestamp: i.creationTimestamp ?? "2026-12-01T02:00:00.000-08:00",
    selfLink: link(`${project}/zones/${i.zone}/instances/${i.name}`),
  });
  const operation = (zone: string, type: string, target: string, name = `operation-${++operations}`) => ({
    kind: "compute#operation",
    id: String(9000 + operations),
    name,
    zone: link(`${project}/zones/${zone}`),
    operationType: type,
    targetLink: target,
    status: "DONE",
    progress: 100,
    insertTime: new Date().toISOString(),
    startTime: new Date().toISOString(),
    endTime: new Date().toISOString(),
    selfLink: link(`${project}/zones/${zone}/operations/${name}`),
  });

  computeServer = await listen((request) => {
    try {
      const { method, params } = matchRequest(compute, request.method, request.url);
      called("compute", method.id, params, request);
      // Images live in their own projects (the default one in deeplearning-platform-release).
      const anyProject = method.id === "compute.images.get" || method.id === "compute.images.getFromFamily";
      if (params.project && params.project !== project && !anyProject)
        throw new GoogleFault(GOOGLE_ERRORS.notFound(`projects/${params.project}`));
      const instance = () => {
        const found = world.instances.find((i) => i.name === params.instance && i.zone === params.zone);
        if (!found)
          throw new GoogleFault(
            GOOGLE_ERRORS.notFound(`projects/${project}/zones/${params.zone}/instances/${params.instance}`),
          );
        return found;
      };
      switch (method.id) {
        case "compute.instances.aggregatedList": {
          // The server-side `filter` gcloud may send is not applied: gcloud applies its --filter to what comes back.
          const items: Record<string, object> = {};
          for (const i of world.instances) {
            const scope = items[`zones/${i.zone}`] as { instances: object[] } | undefined;
            if (scope) scope.instances.push(instanceJson(i));
            else items[`zones/${i.zone}`] = { instances: [instanceJson(i)] };
          }
          return answer(compute, method.responseType, {
            kind: "compute#instanceAggregatedList",
            id: `projects/${project}/aggregated/instances`,
            items,
            selfLink: link(`${project}/aggregated/instances`),
          });
        }
        case "compute.instances.delete": {
          const found = instance();
          world.instances.splice(world.instances.indexOf(found), 1);
          return answer(
            compute,
            method.responseType,
            operation(found.zone, "delete", link(`${project}/zones/${found.zone}/instances/${found.name}`)),
          );
        }
        case "compute.zoneOperations.get":
        case "compute.zoneOperations.wait":
          return answer(compute, method.responseType, operation(params.zone!, "delete", "", params.operation));
        case "compute.instances.getSerialPortOutput": {
          const contents = instance().serial ?? "";
          return answer(compute, method.responseType, {
            kind: "compute#serialPortOutput",
            contents,
            start: "0",
            next: String(Buffer.byteLength(contents)),
            selfLink: `${link(`${project}/zones/${params.zone}/instances/${params.instance}`)}/serialPort`,
          });
        }
        case "compute.projects.get":
          return answer(compute, method.responseType, {
            kind: "compute#project",
            id: "123456789012",
            name: project,
            quotas: world.quotas.get("project") ?? [],
            selfLink: link(project),
          });
        case "compute.regions.get":
          if (!world.quotas.has(params.region!))
            throw new GoogleFault(GOOGLE_ERRORS.notFound(`projects/${project}/regions/${params.region}`));
          return answer(compute, method.responseType, {
            kind: "compute#region",
            id: "1000",
            name: params.region,
            status: "UP",
            quotas: world.quotas.get(params.region!),
            selfLink: link(`${project}/regions/${params.region}`),
          });
        case "compute.machineTypes.get": {
          const found = world.machineTypes.find((m) => m.zone === params.zone && m.name === params.machineType);
          if (!found)
            throw new GoogleFault(
              GOOGLE_ERRORS.notFound(`projects/${project}/zones/${params.zone}/machineTypes/${params.machineType}`),
            );
          return answer(compute, method.responseType, {
            kind: "compute#machineType",
            id: "2000",
            name: found.name,
            zone: found.zone,
            guestCpus: 4,
            memoryMb: 16384,
            ...(found.accelerators ? { accelerators: found.accelerators } : {}),
            selfLink: link(`${project}/zones/${found.zone}/machineTypes/${found.name}`),
          });
        }
        case "compute.acceleratorTypes.get": {
          if (!world.acceleratorTypes.get(params.zone!)?.includes(params.acceleratorType!))
            throw new GoogleFault(
              GOOGLE_ERRORS.notFound(
                `projects/${project}/zones/${params.zone}/acceleratorTypes/${params.acceleratorType}`,
              ),
            );
          return answer(compute, method.responseType, {
            kind: "compute#acceleratorType",
            id: "3000",
            name: params.acceleratorType,
            zone: link(`${project}/zones/${params.zone}`),
            maximumCardsPerInstance: 4,
            selfLink: link(`${project}/zones/${params.zone}/acceleratorTypes/${params.acceleratorType}`),
          });
        }
        case "compute.images.get":
        case "compute.images.getFromFamily": {
          const family = method.id === "compute.images.getFromFamily";
          const found = world.images.find(
            (i) => i.project === params.project && (family ? i.family === params.family : i.name === params.image),
          );
          if (!found)
            throw new GoogleFault(
              GOOGLE_ERRORS.notFound(
                `projects/${params.project}/global/images/${family ? `family/${params.family}` : params.image}`,
              ),
            );
          return answer(compute, method.responseType, {
            kind: "compute#image",
            id: "4000",
            name: found.name,
            ...(found.family ? { family: found.family } : {}),
            status: found.status ?? "READY",
            diskSizeGb: String(found.diskSizeGb),
            selfLink: link(`${found.project}/global/images/${found.name}`),
          });
        }
        default:
          throw new DescriptionViolation(`the stand-in does not implement ${method.id}`);
      }
    } catch (error) {
      return fault(error);
    }
  });

  // Cloud Resource Manager: the project's testIamPermissions, as curl sends it with gcloud's token.
  const resourceManager = googleApi("cloudresourcemanager", "v1");
  const resourceManagerServer = await listen((request) => {
    try {
      const { method, params } = matchRequest(resourceManager, request.method, request.url);
      called("cloudresourcemanager", method.id, params, request);
      if (method.id !== "cloudresourcemanager.projects.testIamPermissions")
        throw new DescriptionViolation(`the stand-in does not implement ${method.id}`);
      if (params.resource !== project) throw new GoogleFault(GOOGLE_ERRORS.notFound(`projects/${params.resource}`));
      const body = JSON.parse(request.body.toString("utf8")) as unknown;
      try {
        checkAnswer(resourceManager, "TestIamPermissionsRequest", body);
      } catch (error) {
        throw new DescriptionViolation((error as Error).message);
      }
      const asked = (body as { permissions?: string[] }).permissions ?? [];
      world.testedPermissions.push(asked);
      const granted = asked.filter((p) => world.granted.has(p));
      // An empty answer is {}: proto3 JSON leaves out an empty repeated field.
      return answer(resourceManager, method.responseType, granted.length > 0 ? { permissions: granted } : {});
    } catch (error) {
      return fault(error);
    }
  });

  const storageServer = await listen((request) => {
    try {
      // The second half of a resumable upload: the bytes, to the session URI the first half answered with.
      const session = request.url.searchParams.get("upload_id");
      if (session && request.method === "PUT") {
        const target = sessions.get(session);
        if (!target) throw new DescriptionViolation(`no upload session ${session}`);
        world.buckets.get(target.bucket)!.set(target.name, request.body);
        return answer(storage, "Object", objectJson(target.bucket, target.name));
      }
      // A download goes to the object's mediaLink, which Cloud Storage serves under /download/ as objects.get.
      const url = new URL(request.url.href.replace("/download/storage/v1/", "/storage/v1/"));
      const { method, params, upload } = matchRequest(storage, request.method, url);
      called("storage", method.id, params, request);
      const bucket = world.buckets.get(params.bucket ?? "");
      if (!bucket)
        throw new GoogleFault({
          code: 404,
          status: "NOT_FOUND",
          reason: "notFound",
          message: "The specified bucket does not exist.",
        });
      const object = () => {
        const bytes = bucket.get(params.object!);
        if (!bytes)
          throw new GoogleFault({
            code: 404,
            status: "NOT_FOUND",
            reason: "notFound",
            message: `No such object: ${params.bucket}/${params.object}`,
          });
        return bytes;
      };
      switch (method.id) {
        case "storage.objects.get":
          if (params.alt === "media")
            return { status: 200, headers: { "content-type": "application/octet-stream" }, body: object() };
          object();
          return answer(storage, method.responseType, objectJson(params.bucket!, params.object!));
        case "storage.objects.list": {
          const prefix = params.prefix ?? "";
          const delimiter = params.delimiter;
          const names = [...bucket.keys()].filter((n) => n.startsWith(prefix)).sort();
          const items = names.filter((n) => !delimiter || !n.slice(prefix.length).includes(delimiter));
          const prefixes = [
            ...new Set(
              names
                .filter((n) => delimiter && n.slice(prefix.length).includes(delimiter))
                .map((n) => n.slice(0, n.indexOf(delimiter!, prefix.length) + 1)),
            ),
          ];
          return answer(storage, method.responseType, {
            kind: "storage#objects",
            ...(items.length > 0 ? { items: items.map((n) => objectJson(params.bucket!, n)) } : {}),
            ...(prefixes.length > 0 ? { prefixes } : {}),
          });
        }
        case "storage.objects.insert": {
          if (!upload) throw new DescriptionViolation("objects.insert without media");
          if (params.uploadType === "resumable") {
            const id = `session-${sessions.size + 1}`;
            const name = params.name ?? (JSON.parse(request.body.toString("utf8") || "{}") as { name?: string }).name;
            sessions.set(id, { bucket: params.bucket!, name: name! });
            return {
              status: 200,
              headers: { location: `${storageServer.url}${request.url.pathname}?uploadType=resumable&upload_id=${id}` },
            };
          }
          const { media, name } = uploadedMedia(request);
          const objectName = params.name ?? name;
          if (!objectName) throw new DescriptionViolation("an upload without an object name");
          bucket.set(objectName, media);
          return answer(storage, "Object", objectJson(params.bucket!, objectName));
        }
        case "storage.objects.delete":
          object();
          bucket.delete(params.object!);
          return { status: 204 };
        default:
          throw new DescriptionViolation(`the stand-in does not implement ${method.id}`);
      }
    } catch (error) {
      return fault(error);
    }
  });

  function objectJson(bucket: string, name: string) {
    const bytes = world.buckets.get(bucket)!.get(name)!;
    return {
      kind: "storage#object",
      id: `${bucket}/${name}/1`,
      name,
      bucket,
      generation: "1",
      metageneration: "1",
      size: String(bytes.length),
      md5Hash: createHash("md5").update(bytes).digest("base64"),
      crc32c: crc32c(bytes),
      contentType: "application/octet-stream",
      storageClass: "STANDARD",
      timeCreated: "2026-12-01T10:00:00.000Z",
      updated: "2026-12-01T10:00:00.000Z",
      etag: "CAE=",
      selfLink: `${storageServer.url}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
      mediaLink: `${storageServer.url}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?generation=1&alt=media`,
    };
  }

  const servers = [computeServer, storageServer, resourceManagerServer];
  // gcloud's own configuration and logs, away from the developer's: no account, project or property of theirs.
  const config = scratchConfig("gcloud-config-");
  return {
    ...world,
    fail(method, error, times = Number.POSITIVE_INFINITY) {
      faults.push({ method, error, left: times });
    },
    get problems() {
      return [...problems, ...servers.flatMap((s) => s.problems)];
    },
    env: {
      CLOUDSDK_CONFIG: config,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_AUTH_ACCESS_TOKEN: "fake-access-token",
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${computeServer.url}/compute/v1/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${storageServer.url}/storage/v1/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: `${resourceManagerServer.url}/`,
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "1",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "1",
    },
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(config, { recursive: true, force: true });
    },
  };
}
