// Google's own description of its APIs as the Cloud SDK ships it: the clients gcloud generates from each API's
// discovery document (lib/googlecloudsdk/generated_clients/apis/<api>/<version>/<api>_<version>_client.py, one
// ApiMethodInfo per method: HTTP method, path template, required and query parameters; and _messages.py, one class
// per schema, with its fields and enums). The SDK keeps no discovery JSON, so these two files are read as text. A
// request to a stand-in is matched to its method and checked (path, required parameters, every query parameter
// known); an answer is checked against its schema (every field known, of its type, enums among their values).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { googleApisDir } from "./clis.ts";

export interface ApiMethod {
  id: string;
  httpMethod: string;
  relativePath: string;
  /** Required parameters (apitools' ordered_params), in the path or the query. */
  required: string[];
  pathParams: string[];
  queryParams: string[];
  responseType: string;
  /** For a method that takes uploads (storage objects.insert): its upload path templates. */
  uploadPaths: string[];
}

interface Field {
  name: string;
  kind: string;
  type?: string;
  repeated: boolean;
}

interface MessageClass {
  name: string;
  kind: "Message" | "Enum";
  fields: Field[];
  values: string[];
  map: boolean;
  parent?: MessageClass;
  children: Map<string, MessageClass>;
}

export interface GoogleApi {
  name: string;
  /** The path under the host that the API's base URL has, e.g. "/compute/v1/". */
  basePath: string;
  methods: ApiMethod[];
  messages: Map<string, MessageClass>;
  /** The parameters every method takes (StandardQueryParameters), by their JSON names. */
  standardParams: string[];
}

/** A request the description does not allow. */
export class DescriptionViolation extends Error {}

const list = (text: string | undefined) => [...(text ?? "").matchAll(/'([^']*)'/g)].map((m) => m[1]!);

function parseClient(text: string): { basePath: string; methods: ApiMethod[] } {
  const base = /BASE_URL = '([^']+)'/.exec(text)?.[1] ?? "";
  const methods: ApiMethod[] = [];
  for (const block of text.split(/\n {2}class /).slice(1)) {
    const service = /^(\w+)Service/.exec(block)?.[1] ?? "";
    // The service's methods that take media: `'Insert': base_api.ApiUploadInfo(... simple_path='/upload/...')`.
    const uploads = new Map<string, string[]>();
    for (const m of block.matchAll(/'(\w+)': base_api\.ApiUploadInfo\(([\s\S]*?)\)/g)) {
      uploads.set(
        m[1]!,
        [...m[2]!.matchAll(/(?:resumable|simple)_path='([^']+)'/g)].map((p) => p[1]!),
      );
    }
    for (const m of block.matchAll(/(\w+)\.method_config = lambda: base_api\.ApiMethodInfo\(([\s\S]*?)\n\s*\)/g)) {
      const body = m[2]!;
      const field = (name: string) => new RegExp(`${name}=(\\[[^\\]]*\\]|'[^']*')`).exec(body)?.[1];
      methods.push({
        id: list(field("method_id"))[0] ?? `${service}.${m[1]}`,
        httpMethod: list(field("http_method"))[0] ?? "GET",
        relativePath: list(field("relative_path"))[0] ?? "",
        required: list(field("ordered_params")),
        pathParams: list(field("path_params")),
        queryParams: list(field("query_params")),
        responseType: list(field("response_type_name"))[0] ?? "",
        uploadPaths: uploads.get(m[1]!) ?? [],
      });
    }
  }
  return { basePath: new URL(base).pathname, methods };
}

function parseMessages(text: string): Map<string, MessageClass> {
  const top = new Map<string, MessageClass>();
  const stack: { indent: number; cls: MessageClass }[] = [];
  let mapNext = false;
  const jsonNames = new Map<string, string>();
  for (const m of text.matchAll(/encoding\.AddCustomJsonFieldMapping\(\s*([\w.]+), '(\w+)', '([^']+)'\)/g))
    jsonNames.set(`${m[1]}.${m[2]}`, m[3]!);
  const qualified = (cls: MessageClass): string => (cls.parent ? `${qualified(cls.parent)}.${cls.name}` : cls.name);
  for (const line of text.split("\n")) {
    if (/^\s*@encoding\.MapUnrecognizedFields\('additionalProperties'\)/.test(line)) {
      mapNext = true;
      continue;
    }
    const cls = /^( *)class (\w+)\(_messages\.(Message|Enum)\):/.exec(line);
    if (cls) {
      const indent = cls[1]!.length;
      while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
      const parent = stack[stack.length - 1]?.cls;
      const made: MessageClass = {
        name: cls[2]!,
        kind: cls[3] as "Message" | "Enum",
        fields: [],
        values: [],
        map: mapNext,
        parent,
        children: new Map(),
      };
      mapNext = false;
      (parent ? parent.children : top).set(made.name, made);
      stack.push({ indent, cls: made });
      continue;
    }
    if (!/^ *\w+ = (_message(?:_type)?s\.\w+Field\(|\d+\s*$)/.test(line)) continue;
    // A field or enum value belongs to the class two spaces out: nested classes come before their parent's fields.
    const indent = /^( *)/.exec(line)![1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const owner = stack[stack.length - 1];
    if (!owner || indent !== owner.indent + 2) continue;
    const field = /^ *(\w+) = _message(?:_type)?s\.(\w+)Field\((?:'([\w.]+)', )?\d+(.*)\)\s*$/.exec(line);
    if (field && owner.cls.kind === "Message") {
      const name = jsonNames.get(`${qualified(owner.cls)}.${field[1]}`) ?? field[1]!;
      owner.cls.fields.push({ name, kind: field[2]!, type: field[3], repeated: /repeated=True/.test(field[4]!) });
      continue;
    }
    const value = /^ *(\w+) = \d+\s*$/.exec(line);
    if (value && owner.cls.kind === "Enum") owner.cls.values.push(value[1]!);
  }
  return top;
}

const apis = new Map<string, GoogleApi>();

/** The API `name` at `version`, as the installed gcloud's generated client describes it. */
export function googleApi(name: string, version: string): GoogleApi {
  const key = `${name}/${version}`;
  const cached = apis.get(key);
  if (cached) return cached;
  const dir = join(googleApisDir(), name, version);
  const client = parseClient(readFileSync(join(dir, `${name}_${version}_client.py`), "utf8"));
  const messages = parseMessages(readFileSync(join(dir, `${name}_${version}_messages.py`), "utf8"));
  const standard = messages.get("StandardQueryParameters");
  const api: GoogleApi = {
    name,
    ...client,
    messages,
    standardParams: standard?.fields.map((f) => f.name) ?? [],
  };
  apis.set(key, api);
  return api;
}

function templateRegex(template: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template.replace(/\{(\+?)(\w+)\}|[^{]+/g, (part, plus: string, name: string) => {
    if (!name) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
    names.push(name);
    return plus ? "(.+)" : "([^/]+)";
  });
  return { regex: new RegExp(`^${source}$`), names };
}

export interface MatchedCall {
  method: ApiMethod;
  /** Path and query parameters, decoded. */
  params: Record<string, string>;
  upload: boolean;
}

/** The method a request is, with its parameters; a DescriptionViolation when none fits or a parameter is wrong. */
export function matchRequest(api: GoogleApi, httpMethod: string, url: URL): MatchedCall {
  const candidates: MatchedCall[] = [];
  for (const method of api.methods) {
    if (method.httpMethod !== httpMethod) continue;
    const templates = [
      { path: `${api.basePath}${method.relativePath}`, upload: false },
      ...method.uploadPaths.map((path) => ({ path, upload: true })),
    ];
    for (const { path, upload } of templates) {
      const { regex, names } = templateRegex(path);
      const match = regex.exec(url.pathname);
      if (!match) continue;
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
      candidates.push({ method, params, upload });
    }
  }
  // A literal path segment beats a parameter (".../instances/{instance}" against ".../aggregated/instances").
  candidates.sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length);
  const found = candidates[0];
  if (!found) throw new DescriptionViolation(`no ${api.name} method is ${httpMethod} ${url.pathname}`);
  for (const [key, value] of url.searchParams) {
    if (found.method.queryParams.includes(key) || api.standardParams.includes(key)) found.params[key] = value;
    else if (!(found.upload && key === "name"))
      throw new DescriptionViolation(`${found.method.id} has no parameter ${key}`);
    else found.params[key] = value;
  }
  for (const required of found.method.required)
    if (found.params[required] === undefined) throw new DescriptionViolation(`${found.method.id} needs ${required}`);
  return found;
}

function resolve(api: GoogleApi, from: MessageClass | undefined, name: string): MessageClass | undefined {
  for (let scope = from; scope; scope = scope.parent) {
    const found = scope.children.get(name);
    if (found) return found;
  }
  return name
    .split(".")
    .reduce<MessageClass | undefined>(
      (cls, part) => (cls ? cls.children.get(part) : api.messages.get(part)),
      undefined,
    );
}

/** Throws when `value` is not an instance of the schema `typeName`: an unknown field, a wrong type, an unknown enum. */
export function checkAnswer(api: GoogleApi, typeName: string, value: unknown, path = typeName): void {
  const cls = resolve(api, undefined, typeName);
  if (!cls) throw new Error(`${api.name} has no schema ${typeName}`);
  checkMessage(api, cls, value, path);
}

function checkMessage(api: GoogleApi, cls: MessageClass, value: unknown, path: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${path} must be an object (${cls.name})`);
  if (cls.map) {
    const entry = resolve(api, cls, "AdditionalProperty");
    const valueField = entry?.fields.find((f) => f.name === "value");
    for (const [key, item] of Object.entries(value)) checkField(api, entry!, valueField!, item, `${path}.${key}`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const field = cls.fields.find((f) => f.name === key);
    if (!field) throw new Error(`${path}: ${cls.name} has no field ${key}`);
    if (field.repeated) {
      if (!Array.isArray(item)) throw new Error(`${path}.${key} must be a list`);
      for (const [i, one] of item.entries()) checkField(api, cls, field, one, `${path}.${key}[${i}]`);
    } else checkField(api, cls, field, item, `${path}.${key}`);
  }
}

function checkField(api: GoogleApi, owner: MessageClass, field: Field, value: unknown, path: string): void {
  switch (field.kind) {
    case "Message": {
      const cls = resolve(api, owner, field.type!);
      if (!cls) throw new Error(`${path}: no schema ${field.type}`);
      checkMessage(api, cls, value, path);
      return;
    }
    case "Enum": {
      const cls = resolve(api, owner, field.type!);
      if (typeof value !== "string" || !cls?.values.includes(value))
        throw new Error(`${path} is ${JSON.stringify(value)}, not one of ${cls?.values.join(", ")}`);
      return;
    }
    case "DateTime":
      if (typeof value !== "string" || Number.isNaN(Date.parse(value)))
        throw new Error(`${path} must be an RFC 3339 time`);
      return;
    case "String":
    case "Bytes":
      if (typeof value !== "string") throw new Error(`${path} must be a string`);
      return;
    case "Integer":
      // 64-bit integers travel as strings in Google's JSON.
      if (!(Number.isInteger(value) || (typeof value === "string" && /^-?\d+$/.test(value))))
        throw new Error(`${path} must be an integer`);
      return;
    case "Boolean":
      if (typeof value !== "boolean") throw new Error(`${path} must be a boolean`);
      return;
    default:
      return;
  }
}
