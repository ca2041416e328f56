// Checks HTTP exchanges against GitHub's published OpenAPI description (the @octokit/openapi package, a development
// dependency): that the path and method exist, that path and query parameters and the request body fit their
// schemas, and that the response status is documented and its body fits the response schema. The local GitHub
// stand-in (./server.ts) runs every API exchange through it, so neither the action's client nor the stand-in can
// drift from what api.github.com documents.
//
// The schema checker covers the part of JSON Schema (OpenAPI 3.0 flavour) that GitHub's description uses for these
// endpoints: $ref, type (incl. OpenAPI 3.1 type arrays), nullable, required, properties, additionalProperties,
// items, enum, minItems/maxItems, minLength/maxLength, minimum/maximum, format date-time, allOf/anyOf/oneOf.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface Exchange {
  method: string;
  /** The request's path and query, below the API root, e.g. /repos/o/r/actions/runners?per_page=100. */
  url: string;
  /** The request body as sent (undefined or "" for none). */
  requestBody?: string;
  status: number;
  /** The response body as sent ("" for none). */
  responseBody: string;
}

type Schema = Record<string, unknown>;

interface Operation {
  template: string;
  pattern: RegExp;
  literalSegments: number;
  parameters: { name: string; in: string; required: boolean; schema: Schema }[];
  requestBody?: { required: boolean; schema?: Schema };
  responses: Record<string, { schema?: Schema; hasContent: boolean }>;
}

export class OpenApiChecker {
  private readonly operations = new Map<string, Operation[]>();

  constructor(private readonly spec: Schema) {
    const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
    for (const [template, item] of Object.entries(paths)) {
      for (const [method, raw] of Object.entries(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
        const op = this.deref(raw) as Schema;
        const params = [...((item.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map((p) => {
          const param = this.deref(p) as Schema;
          return { name: String(param.name), in: String(param.in), required: param.required === true, schema: (param.schema ?? {}) as Schema };
        });
        const body = op.requestBody ? (this.deref(op.requestBody) as Schema) : undefined;
        const responses: Operation["responses"] = {};
        for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
          const response = this.deref(r) as Schema;
          const json = (response.content as Record<string, Schema> | undefined)?.["application/json"];
          responses[status] = { schema: json?.schema as Schema | undefined, hasContent: response.content !== undefined };
        }
        const segments = template.split("/").slice(1);
        const operation: Operation = {
          template,
          pattern: new RegExp(`^${segments.map((s) => `/${/^\{[^}]+\}$/.test(s) ? "([^/]+)" : escapeRegExp(s)}`).join("")}$`),
          literalSegments: segments.filter((s) => !s.startsWith("{")).length,
          parameters: params,
          requestBody: body
            ? { required: body.required === true, schema: (body.content as Record<string, Schema> | undefined)?.["application/json"]?.schema as Schema | undefined }
            : undefined,
          responses,
        };
        const list = this.operations.get(method.toUpperCase()) ?? [];
        list.push(operation);
        this.operations.set(method.toUpperCase(), list);
      }
    }
  }

  /** The operation's path template for a concrete request, e.g. /repos/{owner}/{repo}/actions/runners/{runner_id}. */
  template(method: string, url: string): string | undefined {
    return this.find(method, new URL(url, "http://x").pathname)?.op.template;
  }

  /** Every way the exchange departs from the description; [] when it fits. */
  check(exchange: Exchange): string[] {
    const where = `${exchange.method} ${exchange.url} -> ${exchange.status}`;
    const url = new URL(exchange.url, "http://x");
    const found = this.find(exchange.method, url.pathname);
    if (!found) {
      const any = [...this.operations.values()].flat().some((op) => op.pattern.test(url.pathname));
      return [`${where}: ${any ? "method not documented for this path" : "path not documented"}`];
    }
    const { op, values } = found;
    const problems: string[] = [];
    const pathNames = [...op.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    pathNames.forEach((name, i) => {
      const param = op.parameters.find((p) => p.in === "path" && p.name === name);
      if (param) this.validateParam(param.schema, decodeURIComponent(values[i] ?? ""), `path parameter ${name}`, problems);
    });
    for (const [name, value] of url.searchParams) {
      const param = op.parameters.find((p) => p.in === "query" && p.name === name);
      if (!param) problems.push(`query parameter ${name} is not documented`);
      else this.validateParam(param.schema, value, `query parameter ${name}`, problems);
    }
    for (const param of op.parameters) {
      if (param.in === "query" && param.required && !url.searchParams.has(param.name)) problems.push(`required query parameter ${param.name} missing`);
    }
    const sent = exchange.requestBody ?? "";
    if (op.requestBody) {
      if (sent === "") {
        if (op.requestBody.required) problems.push("request body required but none sent");
      } else {
        const parsed = parseJson(sent);
        if (parsed.ok && op.requestBody.schema) this.validate(op.requestBody.schema, parsed.value, "request", problems);
        else if (!parsed.ok) problems.push("request body is not JSON");
      }
    } else if (sent !== "") {
      problems.push("request body sent to an operation that takes none");
    }
    const documented = op.responses[String(exchange.status)] ?? op.responses.default;
    if (!documented) {
      // GitHub documents few of its error answers per operation (401, 403, 5xx apply everywhere): an undocumented
      // error status must still carry GitHub's error body.
      if (exchange.status >= 400) {
        const parsed = parseJson(exchange.responseBody);
        const body = parsed.ok ? (parsed.value as { message?: unknown } | null) : null;
        if (typeof body?.message !== "string") problems.push(`error response without GitHub's {"message": ...} body`);
      } else {
        problems.push(`status ${exchange.status} not documented (documented: ${Object.keys(op.responses).join(", ")})`);
      }
    } else if (documented.schema) {
      const parsed = parseJson(exchange.responseBody);
      if (!parsed.ok) problems.push("response body is not JSON");
      else this.validate(documented.schema, parsed.value, "response", problems);
    } else if (!documented.hasContent && exchange.responseBody !== "") {
      problems.push(`status ${exchange.status} is documented without a body, but one was sent`);
    }
    return problems.map((p) => `${where} (${op.template}): ${p}`);
  }

  /** Validates a value against a schema of the description; pushes "path: problem" lines. */
  validate(schemaOrRef: unknown, value: unknown, path: string, problems: string[]): void {
    const schema = this.deref(schemaOrRef) as Schema;
    if (schema.allOf) for (const s of schema.allOf as unknown[]) this.validate(s, value, path, problems);
    for (const key of ["anyOf", "oneOf"] as const) {
      const options = schema[key] as unknown[] | undefined;
      if (!options) continue;
      if (value === null && schema.nullable === true) continue;
      const fits = options.filter((s) => {
        const sub: string[] = [];
        this.validate(s, value, path, sub);
        return sub.length === 0;
      }).length;
      // oneOf is read as anyOf: GitHub's description has overlapping alternatives that real answers match twice.
      if (fits === 0) problems.push(`${path}: matches none of the ${key} alternatives`);
    }
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (value === null) {
      if (schema.nullable === true || types.includes("null") || types.length === 0) return;
      problems.push(`${path}: null where ${types.join("|")} is expected`);
      return;
    }
    if (types.length > 0 && !types.some((t) => hasType(value, t))) {
      problems.push(`${path}: ${describe(value)} where ${types.join("|")} is expected`);
      return;
    }
    if (schema.enum && !(schema.enum as unknown[]).includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
    if (typeof value === "string") {
      if (typeof schema.minLength === "number" && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
      if (typeof schema.maxLength === "number" && value.length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
      if (schema.format === "date-time" && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) problems.push(`${path}: "${value}" is not a date-time`);
    }
    if (typeof value === "number") {
      if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
      if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
    }
    if (Array.isArray(value)) {
      if (typeof schema.minItems === "number" && value.length < schema.minItems) problems.push(`${path}: fewer than ${schema.minItems} items`);
      if (typeof schema.maxItems === "number" && value.length > schema.maxItems) problems.push(`${path}: more than ${schema.maxItems} items`);
      if (schema.items) for (const [i, item] of value.entries()) this.validate(schema.items, item, `${path}[${i}]`, problems);
    } else if (typeof value === "object") {
      const object = value as Record<string, unknown>;
      const properties = (schema.properties ?? {}) as Record<string, unknown>;
      for (const name of (schema.required as string[] | undefined) ?? []) {
        if (!(name in object)) problems.push(`${path}: required property ${name} missing`);
      }
      for (const [name, item] of Object.entries(object)) {
        if (name in properties) this.validate(properties[name], item, `${path}.${name}`, problems);
        else if (schema.additionalProperties === false) problems.push(`${path}: property ${name} not allowed`);
        else if (typeof schema.additionalProperties === "object") this.validate(schema.additionalProperties, item, `${path}.${name}`, problems);
      }
    }
  }

  private validateParam(schemaOrRef: unknown, raw: string, what: string, problems: string[]): void {
    const schema = this.deref(schemaOrRef) as Schema;
    const type = schema.type;
    let value: unknown = raw;
    if (type === "integer" || type === "number") {
      if (!/^-?\d+(\.\d+)?$/.test(raw)) {
        problems.push(`${what}: "${raw}" is not a number`);
        return;
      }
      value = Number(raw);
    } else if (type === "boolean") {
      value = raw === "true" ? true : raw === "false" ? false : raw;
    }
    this.validate(schema, value, what, problems);
  }

  private find(method: string, pathname: string): { op: Operation; values: string[] } | undefined {
    let best: { op: Operation; values: string[] } | undefined;
    for (const op of this.operations.get(method.toUpperCase()) ?? []) {
      const match = op.pattern.exec(pathname);
      if (match && (!best || op.literalSegments > best.op.literalSegments)) best = { op, values: match.slice(1) };
    }
    return best;
  }

  private deref(value: unknown, seen = 0): unknown {
    const ref = (value as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== "string") return value;
    if (!ref.startsWith("#/") || seen > 20) throw new Error(`OpenAPI: cannot resolve ${ref}`);
    let node: unknown = this.spec;
    for (const part of ref.slice(2).split("/")) node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    if (node === undefined) throw new Error(`OpenAPI: ${ref} not found`);
    return this.deref(node, seen + 1);
  }
}

/** The checker for api.github.com, or undefined when @octokit/openapi is not installed (a production install). */
export function loadGitHubOpenApi(): OpenApiChecker | undefined {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve("@octokit/openapi/package.json"));
  } catch {
    return undefined;
  }
  return new OpenApiChecker(JSON.parse(readFileSync(join(dir, "generated", "api.github.com.json"), "utf8")) as Schema);
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "null":
      return value === null;
    default:
      return false;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (Number.isInteger(value)) return `integer ${value}`;
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
