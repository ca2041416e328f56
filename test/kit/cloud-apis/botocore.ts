// AWS's own description of its APIs, botocore's service models (they ship with the aws CLI: botocore/data/<service>/
// <version>/service-2.json[.gz]), read for the stand-ins: which operation a request is, whether its parameters are
// the operation's (names as the protocol serializes them, required ones present), and the shape of an answer,
// serialized by the protocol's rules from the output shape, so an answer with a member the model lacks fails here.
// Protocols covered: ec2 (query parameters in, XML out), rest-xml (S3), rest-json (EventBridge Scheduler), json (SSM,
// Service Quotas) and query (IAM).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { botocoreDataDir } from "./clis.ts";

interface Member {
  shape: string;
  location?: "uri" | "querystring" | "header" | "headers" | "statusCode";
  locationName?: string;
  queryName?: string;
  flattened?: boolean;
}

export interface Shape {
  type: string;
  members?: Record<string, Member>;
  member?: Member;
  required?: string[];
  flattened?: boolean;
  locationName?: string;
  enum?: string[];
  payload?: string;
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string };
  errors?: { shape: string }[];
}

export interface ServiceModel {
  metadata: {
    apiVersion: string;
    protocol: string;
    endpointPrefix: string;
    signingName?: string;
    xmlNamespace?: string;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

/** A request the model does not allow: the stand-in answers it as the cloud answers a malformed request. */
export class ModelViolation extends Error {}

const models = new Map<string, ServiceModel>();

/** The newest model of `service` that the installed aws CLI ships. */
export function serviceModel(service: string): ServiceModel {
  const cached = models.get(service);
  if (cached) return cached;
  const root = join(botocoreDataDir(), service);
  const version = readdirSync(root)
    .filter((v) => /^\d{4}-\d\d-\d\d$/.test(v))
    .sort()
    .pop();
  if (!version) throw new Error(`the aws CLI ships no model of ${service} (${root})`);
  const file = join(root, version, "service-2.json");
  const text = existsSync(file) ? readFileSync(file, "utf8") : gunzipSync(readFileSync(`${file}.gz`)).toString("utf8");
  const model = JSON.parse(text) as ServiceModel;
  for (const [name, op] of Object.entries(model.operations)) op.name = name;
  models.set(service, model);
  return model;
}

function shapeOf(model: ServiceModel, name: string): Shape {
  const shape = model.shapes[name];
  if (!shape) throw new Error(`the model has no shape ${name}`);
  return shape;
}

// ---------------------------------------------------------------------------------------------------------------
// ec2 protocol: Action=<operation>&Version=<apiVersion>&<members, lists flattened as Name.N>

/** The name a member goes by in an ec2 query: queryName, else its locationName capitalized, else its own name. */
function ec2QueryName(name: string, member: Member): string {
  if (member.queryName) return member.queryName;
  const base = member.locationName ?? name;
  return base.charAt(0).toUpperCase() + base.slice(1);
}

type Tree = { [key: string]: Tree | string };

function toTree(params: URLSearchParams, skip: string[]): Tree {
  const tree: Tree = {};
  for (const [key, value] of params) {
    if (skip.includes(key)) continue;
    const parts = key.split(".");
    let node = tree;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next === "string") throw new ModelViolation(`parameter ${key} nests under a value`);
      const child = next ?? {};
      node[part] = child;
      node = child;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return tree;
}

/** The tree of query parameters as the input shape's members (by their model names), or a ModelViolation. */
function readEc2(model: ServiceModel, shapeName: string, value: Tree | string, path: string): unknown {
  const shape = shapeOf(model, shapeName);
  if (shape.type === "structure") {
    if (typeof value === "string") throw new ModelViolation(`${path || "the request"} must be a structure`);
    const out: Record<string, unknown> = {};
    const byQueryName = new Map(
      Object.entries(shape.members ?? {}).map(([n, m]) => [ec2QueryName(n, m), [n, m] as const]),
    );
    for (const [key, child] of Object.entries(value)) {
      const found = byQueryName.get(key);
      if (!found) throw new ModelViolation(`unknown parameter ${path}${key}`);
      out[found[0]] = readEc2(model, found[1].shape, child, `${path}${key}.`);
    }
    for (const required of shape.required ?? []) {
      if (!(required in out)) throw new ModelViolation(`missing required parameter ${path}${required}`);
    }
    return out;
  }
  if (shape.type === "list") {
    if (typeof value === "string") throw new ModelViolation(`${path.slice(0, -1)} must be a list (${path}N)`);
    const keys = Object.keys(value).sort((a, b) => Number(a) - Number(b));
    if (keys.some((k, i) => k !== String(i + 1)))
      throw new ModelViolation(`list ${path.slice(0, -1)} is numbered ${keys.join(",")}, not 1..N`);
    return keys.map((k) => readEc2(model, shape.member!.shape, value[k]!, `${path}${k}.`));
  }
  if (typeof value !== "string") throw new ModelViolation(`${path.slice(0, -1)} must be a single value`);
  return readScalar(shape, value, path.slice(0, -1));
}

function readScalar(shape: Shape, value: string, name: string): unknown {
  switch (shape.type) {
    case "boolean":
      if (value !== "true" && value !== "false")
        throw new ModelViolation(`${name} must be true or false, not ${value}`);
      return value === "true";
    case "integer":
    case "long":
      if (!/^-?\d+$/.test(value)) throw new ModelViolation(`${name} must be an integer, not ${value}`);
      return Number(value);
    default:
      if (shape.enum && !shape.enum.includes(value))
        throw new ModelViolation(`${name} must be one of ${shape.enum.join(", ")}, not ${value}`);
      return value;
  }
}

/** An ec2-protocol request body: its operation (by Action) and its input, read through the model. */
export function readEc2Request(model: ServiceModel, body: string): FormRequest {
  return readFormRequest(model, body, readEc2);
}

/** What a form-encoded (ec2 or query protocol) request asks: its operation and its input. */
interface FormRequest {
  operation: string;
  input: Record<string, unknown>;
}

/**
 * A form-encoded request body (the ec2 and query protocols share the envelope: Action, Version, the input's
 * fields), its input read by the protocol's own rules (`read`: readEc2 or readQuery).
 */
function readFormRequest(
  model: ServiceModel,
  body: string,
  read: (model: ServiceModel, shapeName: string, value: Tree | string, path: string) => unknown,
): FormRequest {
  const params = new URLSearchParams(body);
  const action = params.get("Action");
  const operation = action ? model.operations[action] : undefined;
  if (!operation) throw new ModelViolation(`unknown Action ${action}`);
  if (params.get("Version") !== model.metadata.apiVersion)
    throw new ModelViolation(`Version ${params.get("Version")} is not ${model.metadata.apiVersion}`);
  const input = operation.input
    ? (read(model, operation.input.shape, toTree(params, ["Action", "Version"]), "") as Record<string, unknown>)
    : {};
  return { operation: operation.name, input };
}

// ---------------------------------------------------------------------------------------------------------------
// rest protocols: the operation is the method and requestUri template; members live in the uri, query and headers.

function templateMatch(template: string, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template.replace(/\{(\w+)(\+?)\}|[^{]+/g, (part, name: string, greedy: string) => {
    if (!name) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
    names.push(name);
    return greedy ? "(.+)" : "([^/]+)";
  });
  const match = new RegExp(`^${pattern}$`).exec(path);
  if (!match) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
}

/**
 * A rest-xml or rest-json request: the operation whose method and requestUri (with the fixed query keys it names,
 * such as S3's `list-type=2`) fit it best, and its input; every query key and required member checked.
 */
export function readRestRequest(
  model: ServiceModel,
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined>,
): { operation: string; input: Record<string, unknown> } {
  let best: { op: Operation; uri: Record<string, string>; fixed: string[] } | undefined;
  for (const op of Object.values(model.operations)) {
    if (op.http.method !== method) continue;
    const [template, fixedQuery] = op.http.requestUri.split("?");
    const fixed = [...new URLSearchParams(fixedQuery ?? "").keys()].filter((k) => k !== "x-id");
    if (!fixed.every((k) => url.searchParams.has(k))) continue;
    const uri = templateMatch(template!, url.pathname);
    if (!uri) continue;
    // Operations that share a method and path (S3's PutObject, CopyObject and UploadPart) differ by the query keys
    // and headers they require: one whose required members are absent is not this request.
    const shape = op.input ? shapeOf(model, op.input.shape) : undefined;
    const absent = (shape?.required ?? []).some((name) => {
      const member = shape!.members![name]!;
      const key = member.locationName ?? name;
      if (member.location === "querystring") return !url.searchParams.has(key);
      if (member.location === "header") return headers[key.toLowerCase()] === undefined;
      return false;
    });
    if (absent) continue;
    if (!best || fixed.length > best.fixed.length) best = { op, uri, fixed };
  }
  if (!best) throw new ModelViolation(`no ${model.metadata.endpointPrefix} operation is ${method} ${url.pathname}`);
  const shape = best.op.input ? shapeOf(model, best.op.input.shape) : { type: "structure", members: {} };
  const input: Record<string, unknown> = {};
  const byQuery = new Map<string, [string, Member]>();
  for (const [name, member] of Object.entries(shape.members ?? {})) {
    if (member.location === "uri") input[name] = best.uri[member.locationName ?? name];
    if (member.location === "querystring") byQuery.set(member.locationName ?? name, [name, member]);
  }
  for (const [key, value] of url.searchParams) {
    if (best.fixed.includes(key) || key === "x-id") continue;
    const found = byQuery.get(key);
    if (!found) throw new ModelViolation(`${best.op.name} has no query parameter ${key}`);
    input[found[0]] = readScalar(shapeOf(model, found[1].shape), value, key);
  }
  for (const required of shape.required ?? []) {
    const member = shape.members![required]!;
    if (member.location === "header" || member.location === "headers" || !member.location) continue;
    if (input[required] === undefined) throw new ModelViolation(`${best.op.name} needs ${required}`);
  }
  return { operation: best.op.name, input };
}

// ---------------------------------------------------------------------------------------------------------------
// answers, serialized from the output shape: a member the model lacks, or a required one missing, is an error here.

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function scalarText(shape: Shape, value: unknown, name: string): string {
  if (shape.type === "timestamp") {
    if (!(value instanceof Date)) throw new Error(`${name} must be a Date`);
    return value.toISOString();
  }
  if (shape.type === "boolean" && typeof value !== "boolean") throw new Error(`${name} must be a boolean`);
  if ((shape.type === "integer" || shape.type === "long") && !Number.isInteger(value))
    throw new Error(`${name} must be an integer`);
  if (shape.type === "string" && typeof value !== "string") throw new Error(`${name} must be a string`);
  if (shape.enum && !shape.enum.includes(String(value)))
    throw new Error(`${name} is not one of ${shape.enum.join(", ")}`);
  return String(value);
}

function xmlOf(model: ServiceModel, shapeName: string, value: unknown, name: string, listItem: string): string {
  const shape = shapeOf(model, shapeName);
  if (shape.type === "structure") {
    const fields = value as Record<string, unknown>;
    for (const required of shape.required ?? [])
      if (fields[required] === undefined) throw new Error(`${name}: the model requires ${required}`);
    let xml = "";
    for (const [key, child] of Object.entries(fields)) {
      const member = shape.members?.[key];
      if (!member) throw new Error(`${name}: the model's ${shapeName} has no member ${key}`);
      if (child === undefined || (member.location && member.location !== "statusCode")) continue;
      const tag = member.locationName ?? key;
      const childShape = shapeOf(model, member.shape);
      if (childShape.type === "list" && (member.flattened || childShape.flattened)) {
        for (const item of child as unknown[])
          xml += `<${tag}>${xmlOf(model, childShape.member!.shape, item, `${name}.${key}`, listItem)}</${tag}>`;
      } else xml += `<${tag}>${xmlOf(model, member.shape, child, `${name}.${key}`, listItem)}</${tag}>`;
    }
    return xml;
  }
  if (shape.type === "list") {
    const tag = shape.member!.locationName ?? listItem;
    return (value as unknown[])
      .map((item) => `<${tag}>${xmlOf(model, shape.member!.shape, item, name, listItem)}</${tag}>`)
      .join("");
  }
  return escapeXml(scalarText(shape, value, name));
}

/** An ec2-protocol answer: `<OperationResponse xmlns=...>` with the output shape's members and a requestId. */
export function ec2Response(model: ServiceModel, operation: string, output: Record<string, unknown>): string {
  const op = model.operations[operation]!;
  const body = op.output ? xmlOf(model, op.output.shape, output, operation, "item") : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${model.metadata.xmlNamespace}/"><requestId>${crypto.randomUUID()}</requestId>${body}</${operation}Response>`;
}

/** A rest-xml answer body (S3): the output shape's body members under the root element the API uses. */
export function restXmlResponse(
  model: ServiceModel,
  operation: string,
  root: string,
  output: Record<string, unknown>,
): string {
  const op = model.operations[operation]!;
  const shape = shapeOf(model, op.output!.shape);
  const body = xmlOf(model, op.output!.shape, output, operation, "member");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${shape.locationName ?? root} xmlns="http://s3.amazonaws.com/doc/${model.metadata.apiVersion}/">${body}</${shape.locationName ?? root}>`;
}

/** The header names an output shape carries (location header), so a stand-in's headers are the model's. */
export function outputHeaders(
  model: ServiceModel,
  operation: string,
  headers: Record<string, string>,
): Record<string, string> {
  const op = model.operations[operation]!;
  const members = op.output ? (shapeOf(model, op.output.shape).members ?? {}) : {};
  const known = new Set(
    Object.entries(members)
      .filter(([, m]) => m.location === "header")
      .map(([n, m]) => (m.locationName ?? n).toLowerCase()),
  );
  for (const name of Object.keys(headers)) {
    if (!known.has(name.toLowerCase()) && !/^(content-type|content-length|x-amz-request-id)$/i.test(name))
      throw new Error(`${operation}'s output has no header ${name}`);
  }
  return headers;
}

function jsonOf(model: ServiceModel, shapeName: string, value: unknown, name: string): unknown {
  const shape = shapeOf(model, shapeName);
  if (shape.type === "structure") {
    const fields = value as Record<string, unknown>;
    for (const required of shape.required ?? [])
      if (fields[required] === undefined) throw new Error(`${name}: the model requires ${required}`);
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(fields)) {
      const member = shape.members?.[key];
      if (!member) throw new Error(`${name}: the model's ${shapeName} has no member ${key}`);
      if (child !== undefined) out[member.locationName ?? key] = jsonOf(model, member.shape, child, `${name}.${key}`);
    }
    return out;
  }
  if (shape.type === "list") return (value as unknown[]).map((item) => jsonOf(model, shape.member!.shape, item, name));
  if (shape.type === "timestamp") {
    if (!(value instanceof Date)) throw new Error(`${name} must be a Date`);
    return value.getTime() / 1000;
  }
  scalarText(shape, value, name);
  return value;
}

/** A rest-json answer body: the output shape's members, checked and named as the model names them. */
export function restJsonResponse(model: ServiceModel, operation: string, output: Record<string, unknown>): string {
  const op = model.operations[operation]!;
  return JSON.stringify(op.output ? jsonOf(model, op.output.shape, output, operation) : {});
}

/** The service a SigV4 Authorization header was signed for, and the region: the CLI's --region reaches the cloud here. */
export function signedFor(authorization: string | undefined): { service: string; region: string } | undefined {
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? "");
  return scope ? { region: scope[1]!, service: scope[2]! } : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// json protocol (SSM, Service Quotas): POST / with X-Amz-Target: <targetPrefix>.<operation> and the input as JSON.

/** A JSON value as the shape's members, checked: an unknown member, a missing required one, a wrong type. */
function checkJson(model: ServiceModel, shapeName: string, value: unknown, path: string): void {
  const shape = shapeOf(model, shapeName);
  if (shape.type === "structure") {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new ModelViolation(`${path || "the request"} must be an object`);
    for (const [key, child] of Object.entries(value)) {
      const member = shape.members?.[key];
      if (!member) throw new ModelViolation(`unknown parameter ${path}${key}`);
      checkJson(model, member.shape, child, `${path}${key}.`);
    }
    for (const required of shape.required ?? [])
      if (!(required in value)) throw new ModelViolation(`missing required parameter ${path}${required}`);
    return;
  }
  const name = path.slice(0, -1);
  if (shape.type === "list") {
    if (!Array.isArray(value)) throw new ModelViolation(`${name} must be a list`);
    for (const item of value) checkJson(model, shape.member!.shape, item, path);
    return;
  }
  const types: Record<string, string> = {
    string: "string",
    boolean: "boolean",
    integer: "number",
    long: "number",
    double: "number",
  };
  const expected = types[shape.type];
  if (expected && typeof value !== expected) throw new ModelViolation(`${name} must be a ${shape.type}`);
  if (shape.enum && !shape.enum.includes(String(value)))
    throw new ModelViolation(`${name} must be one of ${shape.enum.join(", ")}, not ${String(value)}`);
}

/** A json-protocol request: its operation (by X-Amz-Target) and its input, checked against the model. */
export function readJsonRequest(
  model: ServiceModel & { metadata: { targetPrefix?: string } },
  headers: Record<string, string | string[] | undefined>,
  body: string,
): { operation: string; input: Record<string, unknown> } {
  const target = String(headers["x-amz-target"] ?? "");
  const [prefix, name] = target.split(".");
  if (prefix !== model.metadata.targetPrefix)
    throw new ModelViolation(`X-Amz-Target ${target} is not ${model.metadata.targetPrefix}.*`);
  const operation = model.operations[name ?? ""];
  if (!operation) throw new ModelViolation(`unknown operation ${target}`);
  let input: unknown;
  try {
    input = JSON.parse(body || "{}");
  } catch {
    throw new ModelViolation("the body is not JSON");
  }
  if (operation.input) checkJson(model, operation.input.shape, input, "");
  return { operation: operation.name, input: input as Record<string, unknown> };
}

/** A json-protocol answer body: the output shape's members (the same rules as rest-json's body). */
export const jsonResponse = restJsonResponse;

// ---------------------------------------------------------------------------------------------------------------
// query protocol (IAM): Action=<operation>&Version=<apiVersion>&<members by name, lists as Name.member.N>; answers
// in <OperationResponse><OperationResult>...</OperationResult></OperationResponse>.

function readQuery(model: ServiceModel, shapeName: string, value: Tree | string, path: string): unknown {
  const shape = shapeOf(model, shapeName);
  if (shape.type === "structure") {
    if (typeof value === "string") throw new ModelViolation(`${path || "the request"} must be a structure`);
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const found = Object.entries(shape.members ?? {}).find(([n, m]) => (m.locationName ?? n) === key);
      if (!found) throw new ModelViolation(`unknown parameter ${path}${key}`);
      out[found[0]] = readQuery(model, found[1].shape, child, `${path}${key}.`);
    }
    for (const required of shape.required ?? [])
      if (!(required in out)) throw new ModelViolation(`missing required parameter ${path}${required}`);
    return out;
  }
  if (shape.type === "list") {
    const items = typeof value === "string" ? undefined : value.member;
    if (items === undefined || typeof items === "string")
      throw new ModelViolation(`${path}member.N is the list's form`);
    return Object.keys(items)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => readQuery(model, shape.member!.shape, items[k]!, `${path}member.${k}.`));
  }
  if (typeof value !== "string") throw new ModelViolation(`${path.slice(0, -1)} must be a single value`);
  return readScalar(shape, value, path.slice(0, -1));
}

/** A query-protocol request body: its operation (by Action) and its input, read through the model. */
export function readQueryRequest(model: ServiceModel, body: string): FormRequest {
  return readFormRequest(model, body, readQuery);
}

/** A query-protocol answer: the output shape's members inside the operation's result wrapper. */
export function queryResponse(model: ServiceModel, operation: string, output: Record<string, unknown>): string {
  const op = model.operations[operation]! as Operation & { output?: { resultWrapper?: string } };
  const wrapper = op.output?.resultWrapper ?? `${operation}Result`;
  const body = op.output ? xmlOf(model, op.output.shape, output, operation, "member") : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${model.metadata.xmlNamespace}"><${wrapper}>${body}</${wrapper}><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata></${operation}Response>`;
}
