// Checks HTTP exchanges against GitHub's published OpenAPI description (the @octokit/openapi package, a development
// dependency): that the path and method exist, that path and query parameters and the request body fit their
// schemas, and that the response status is documented and its body fits the response schema. The local GitHub
// stand-in (./server.ts) runs every API exchange through it, so neither the action's client nor the stand-in can
// drift from what api.github.com documents.
//
// Route matching is here; the schemas are checked by ajv. The description is OpenAPI 3.0.3, whose schemas are JSON
// Schema draft-07 as ajv's default class reads it, plus `nullable` (which ajv knows) and annotations. Each schema an
// operation uses is compiled on its first check, so loading the 13 MB description costs only its JSON.parse.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";

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

/** The id under which a schema of the description is added to ajv: its JSON pointer made absolute. */
const ID = "github-openapi:";

export class OpenApiChecker {
  private readonly operations = new Map<string, Operation[]>();
  private readonly prepared = new WeakSet<object>();
  private readonly added = new Set<string>();
  private readonly extensions = new Set<string>();
  // allErrors: every departure, as the server's `violations` list them; verbose: the offending value, for messages;
  // addUsedSchema off: only the description's own schemas are registered by id (see prepare).
  private readonly ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strictTypes: false,
    validateSchema: false,
    addUsedSchema: false,
  });

  /** The description is adjusted in place as its schemas are first used (see prepare): the checker owns it. */
  constructor(private readonly spec: Schema) {
    // Strict mode stays on for keywords and formats: one ajv does not know fails loudly rather than passing unchecked.
    // OpenAPI's annotations are declared so (x-* extensions as prepare meets them); strictTypes is off because GitHub's
    // description leaves out `type` beside `properties` and the like, which ajv would otherwise log.
    for (const keyword of ["example", "discriminator", "externalDocs", "xml"]) this.ajv.addKeyword(keyword);
    addFormats.default(this.ajv, [
      "date-time",
      "date",
      "uri",
      "uri-template",
      "email",
      "int32",
      "int64",
      "double",
      "binary",
    ]);
    this.ajv.addFormat("repo.nwo", /^[^/]+\/[^/]+$/); // GitHub's own format name: a repository's owner/name
    const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
    for (const [template, item] of Object.entries(paths)) {
      for (const [method, raw] of Object.entries(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
        const op = this.deref(raw) as Schema;
        const params = [...((item.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map((p) => {
          const param = this.deref(p) as Schema;
          return {
            name: String(param.name),
            in: String(param.in),
            required: param.required === true,
            schema: (param.schema ?? {}) as Schema,
          };
        });
        const body = op.requestBody ? (this.deref(op.requestBody) as Schema) : undefined;
        const responses: Operation["responses"] = {};
        for (const [status, r] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
          const response = this.deref(r) as Schema;
          const json = (response.content as Record<string, Schema> | undefined)?.["application/json"];
          responses[status] = {
            schema: json?.schema as Schema | undefined,
            hasContent: response.content !== undefined,
          };
        }
        const segments = template.split("/").slice(1);
        const operation: Operation = {
          template,
          pattern: new RegExp(
            `^${segments.map((s) => `/${/^\{[^}]+\}$/.test(s) ? "([^/]+)" : escapeRegExp(s)}`).join("")}$`,
          ),
          literalSegments: segments.filter((s) => !s.startsWith("{")).length,
          parameters: params,
          requestBody: body
            ? {
                required: body.required === true,
                schema: (body.content as Record<string, Schema> | undefined)?.["application/json"]?.schema as
                  | Schema
                  | undefined,
              }
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
      if (param)
        this.validateParam(param.schema, decodeURIComponent(values[i] ?? ""), `path parameter ${name}`, problems);
    });
    for (const [name, value] of url.searchParams) {
      const param = op.parameters.find((p) => p.in === "query" && p.name === name);
      if (!param) problems.push(`query parameter ${name} is not documented`);
      else this.validateParam(param.schema, value, `query parameter ${name}`, problems);
    }
    for (const param of op.parameters) {
      if (param.in === "query" && param.required && !url.searchParams.has(param.name))
        problems.push(`required query parameter ${param.name} missing`);
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
  private validate(schema: unknown, value: unknown, path: string, problems: string[]): void {
    this.prepare(schema);
    const validate = this.ajv.compile(schema as Schema); // compiled on first use; ajv keeps it per schema object
    if (!validate(value))
      problems.push(...(validate.errors ?? []).filter((e) => e.keyword !== "if").map((e) => describeError(e, path)));
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

  /**
   * Makes a schema of the description (and every schema it reaches) one that ajv reads as GitHub means it, in place,
   * once: a `$ref` becomes the id of its target, added to ajv on first sight (so only what is used is ever added);
   * `oneOf` is read as `anyOf`, since GitHub's description has overlapping alternatives that real answers match
   * twice; `nullable: true` lets null through an `enum` that leaves it out (GitHub answers null there) and, where no
   * `type` sits beside it (which ajv requires), becomes "null, or else the rest".
   */
  private prepare(node: unknown): void {
    if (node === null || typeof node !== "object" || this.prepared.has(node)) return;
    this.prepared.add(node);
    const schema = node as Schema;
    if (typeof schema.$ref === "string") {
      const id = `${ID}${schema.$ref.slice(1)}`;
      if (!this.added.has(id)) {
        const target = this.deref(schema);
        this.added.add(id);
        this.ajv.addSchema(target as Schema, id);
        this.prepare(target);
      }
      schema.$ref = id;
      return;
    }
    if (schema.oneOf) {
      schema.anyOf = schema.oneOf;
      delete schema.oneOf;
    }
    if (schema.nullable === true && Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum.push(null);
    if (schema.nullable !== undefined && schema.type === undefined) {
      const { nullable, ...rest } = schema;
      for (const key of Object.keys(schema)) delete schema[key];
      // if/else rather than anyOf: a value that is not null is reported by what the rest says of it, without noise.
      Object.assign(schema, nullable === true ? { if: { type: "null" }, else: rest } : rest);
    }
    for (const key of Object.keys(schema)) {
      if (!key.startsWith("x-") || this.extensions.has(key)) continue;
      this.extensions.add(key);
      this.ajv.addKeyword(key);
    }
    const children = [
      schema.else,
      schema.items,
      schema.additionalProperties,
      schema.not,
      ...Object.values((schema.properties ?? {}) as Schema),
    ];
    for (const child of [...children, ...((schema.allOf ?? []) as unknown[]), ...((schema.anyOf ?? []) as unknown[])])
      this.prepare(child);
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
    const pointer = ref.startsWith(ID) ? `#${ref.slice(ID.length)}` : ref; // one that prepare has rewritten
    if (!pointer.startsWith("#/") || seen > 20) throw new Error(`OpenAPI: cannot resolve ${ref}`);
    let node: unknown = this.spec;
    for (const part of pointer.slice(2).split("/"))
      node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
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

let testChecker: OpenApiChecker | undefined;

/** GitHub's OpenAPI description for tests, loaded once per test process (13 MB of JSON); throws when not installed. */
export function gitHubOpenApi(): OpenApiChecker {
  testChecker ??= loadGitHubOpenApi();
  if (!testChecker) throw new Error("@octokit/openapi is not installed: run npm ci (it is a development dependency)");
  return testChecker;
}

/** One ajv error as a line: `response.labels[0].type: "magic" is not one of [...]`. */
function describeError(error: ErrorObject, root: string): string {
  const path =
    root +
    error.instancePath
      .split("/")
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p.replace(/~1/g, "/").replace(/~0/g, "~")}`))
      .join("");
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${path}: required property ${params.missingProperty} missing`;
    case "type":
      return `${path}: ${describe(error.data)} where ${String(params.type).replace(/,/g, "|")} is expected`;
    case "enum":
      return `${path}: ${JSON.stringify(error.data)} is not one of ${JSON.stringify(params.allowedValues)}`;
    case "anyOf":
      return `${path}: matches none of the alternatives`;
    case "additionalProperties":
      return `${path}: property ${params.additionalProperty} not allowed`;
    default:
      return `${path}: ${error.message}`;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
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
