// A local stand-in of the Azure Resource Manager calls the action's az CLI makes: VMs (list with details, get with
// instance view, delete, boot diagnostics), resources by tag (list, get the provider's api-versions, delete by id),
// and the serial log blob that boot diagnostics points to. az sends its bearer token over https only, so the
// stand-in speaks TLS with a certificate made here (REQUESTS_CA_BUNDLE trusts it); az signs in through a managed
// identity endpoint on 127.0.0.1 (MSI_ENDPOINT), to a cloud registered with the stand-in as its
// Resource Manager. Every ARM request is matched to its operation in the Azure SDK for Python that az runs on
// (azure-sdk.ts): method, URL template, api-version and query parameters. The stand-in keeps what exists and every
// call, and returns ARM's errors on demand (`fail`).
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ArmViolation, matchArmRequest } from "./azure-sdk.ts";
import { AZ_CLI, OPENSSL, requireCli, scratchConfig } from "./clis.ts";
import { type Answer, type Listening, listen } from "./http.ts";

export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
const TENANT = "00000000-0000-0000-0000-0000000000aa";

export interface AzureVm {
  resourceGroup: string;
  name: string;
  location: string;
  /** PowerState/<this>: running, stopped, deallocated... (the instance view's status codes). */
  power: string;
  tags: Record<string, string>;
  /** What the serial log blob holds. */
  bootLog?: string;
  /** The VM's availability zone, if placed in one (VirtualMachine.zones). */
  zones?: string[];
}

/** Anything else a start makes, found by tag: NICs, public IPs, network security groups, disks, schedules. */
export interface AzureResource {
  id: string;
  type: string;
  location: string;
  tags: Record<string, string>;
}

export interface ArmCall {
  /** The operation group and operation in the SDK's description, e.g. virtual_machines_delete, resources_list. */
  operation: string;
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface ArmError {
  status: number;
  code: string;
  message: string;
}

/** ARM's own words for the errors the tests ask for. */
export const ARM_ERRORS = {
  authorizationFailed: (action: string, scope: string): ArmError => ({
    status: 403,
    code: "AuthorizationFailed",
    message: `The client '00000000-0000-0000-0000-0000000000cc' with object id '00000000-0000-0000-0000-0000000000bb' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  }),
};

export interface AzureStandIn {
  vms: AzureVm[];
  resources: AzureResource[];
  calls: ArmCall[];
  /** What the preflight asks about: sizes, quotas, images, permissions (the section at the end of this file). */
  preflight: PreflightWorld;
  /** The next `times` requests of `operation` (e.g. virtual_machines_delete) get `error` (every one when omitted). */
  fail(operation: string, error: ArmError, times?: number): void;
  /** The environment that points the real az here, signed in (a scratch AZURE_CONFIG_DIR). */
  env: Record<string, string>;
  readonly problems: string[];
  close(): Promise<void>;
}

const vmId = (vm: AzureVm) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.name}`;

/** A token shaped like Entra ID's (az reads its tenant and object id), signed by no one. */
function fakeToken(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({
    aud: "https://management.core.windows.net/",
    tid: TENANT,
    oid: "00000000-0000-0000-0000-0000000000bb",
    appid: "00000000-0000-0000-0000-0000000000cc",
    exp: Math.floor(Date.now() / 1000) + 3600,
  })}.c3RhbmQtaW4`;
}

class ArmFault extends Error {
  constructor(readonly error: ArmError) {
    super(error.message);
  }
}

export async function startAzureStandIn(): Promise<AzureStandIn> {
  requireCli(AZ_CLI);
  requireCli(OPENSSL);
  const scratch = scratchConfig("az-stand-in-");
  const made = spawnSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...[
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(scratch, "key.pem"),
        "-out",
        join(scratch, "cert.pem"),
      ],
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl could not make the stand-in's certificate: ${made.stderr}`);
  const tls = {
    key: readFileSync(join(scratch, "key.pem"), "utf8"),
    cert: readFileSync(join(scratch, "cert.pem"), "utf8"),
  };

  const world = {
    vms: [] as AzureVm[],
    resources: [] as AzureResource[],
    calls: [] as ArmCall[],
    preflight: emptyPreflightWorld(),
  };
  const faults: { operation: string; error: ArmError; left: number }[] = [];
  const problems: string[] = [];
  const json = (body: unknown, status = 200): Answer => ({
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  let arm: Listening | undefined;

  const vmJson = (vm: AzureVm, instanceView: boolean) => ({
    id: vmId(vm),
    name: vm.name,
    type: "Microsoft.Compute/virtualMachines",
    location: vm.location,
    tags: vm.tags,
    ...(vm.zones ? { zones: vm.zones } : {}),
    properties: {
      vmId: `0000000${world.vms.indexOf(vm)}-0000-0000-0000-000000000000`,
      hardwareProfile: { vmSize: "Standard_NC4as_T4_v3" },
      networkProfile: { networkInterfaces: [] },
      // Managed boot diagnostics, as the stack enables them: no storage URI, the log through the API.
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
      provisioningState: "Succeeded",
      ...(instanceView
        ? {
            instanceView: {
              statuses: [
                { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded" },
                { code: `PowerState/${vm.power}`, level: "Info", displayStatus: `VM ${vm.power}` },
              ],
            },
          }
        : {}),
    },
  });

  arm = await listen((request) => {
    try {
      const path = request.url.pathname.replace(/^\/+/, "/");
      // Not Resource Manager operations, so not in the SDK's description: the cloud's endpoint metadata (what
      // `az cloud register` reads) and the serial log blob (what boot diagnostics' SAS URI points to).
      if (path === "/metadata/endpoints")
        return json({
          galleryEndpoint: `${arm!.url}/gallery/`,
          graphEndpoint: `${arm!.url}/graph/`,
          portalEndpoint: `${arm!.url}/portal/`,
          authentication: { loginEndpoint: `${arm!.url}/login`, audiences: ["https://management.core.windows.net/"] },
        });
      const blob = /^\/bootdiagnostics\/([^/]+)\/serialconsole\.log$/.exec(path);
      if (blob) {
        const vm = world.vms.find((v) => v.name === blob[1]);
        return { status: 200, headers: { "content-type": "text/plain" }, body: vm?.bootLog ?? "" };
      }
      const url = new URL(`${path}${request.url.search}`, "https://127.0.0.1");
      const { operation, params } = matchArmRequest(
        ["compute", "resource/resources", "resource/subscriptions", "authorization"],
        request.method,
        url,
      );
      if (request.headers.authorization !== `Bearer ${token}`)
        throw new ArmFault({ status: 401, code: "InvalidAuthenticationToken", message: "no token" });
      world.calls.push({
        operation: operation.name,
        method: request.method,
        path,
        query: Object.fromEntries(url.searchParams),
      });
      const fault = faults.find((f) => operation.name === f.operation && f.left > 0);
      if (fault) {
        fault.left--;
        throw new ArmFault(fault.error);
      }
      const name = operation.name;
      const vm = () => {
        const found = world.vms.find(
          (v) => v.resourceGroup.toLowerCase() === params.resourceGroupName?.toLowerCase() && v.name === params.vmName,
        );
        if (!found)
          throw new ArmFault({
            status: 404,
            code: "ResourceNotFound",
            message: `The Resource 'Microsoft.Compute/virtualMachines/${params.vmName}' under resource group '${params.resourceGroupName}' was not found.`,
          });
        return found;
      };
      switch (name) {
        case "subscriptions_list":
          return json({
            value: [
              {
                id: `/subscriptions/${SUBSCRIPTION}`,
                subscriptionId: SUBSCRIPTION,
                displayName: "stand-in",
                state: "Enabled",
                tenantId: TENANT,
              },
            ],
          });
        case "virtual_machines_list_all":
          return json({ value: world.vms.map((v) => vmJson(v, false)) });
        case "virtual_machines_get":
          return json(vmJson(vm(), url.searchParams.get("$expand") === "instanceView"));
        case "virtual_machines_delete": {
          const found = vm();
          world.vms.splice(world.vms.indexOf(found), 1);
          return json(undefined, 200);
        }
        case "virtual_machines_retrieve_boot_diagnostics_data":
          return json({
            consoleScreenshotBlobUri: `${arm!.url}/bootdiagnostics/${vm().name}/screenshot.bmp?sig=stand-in`,
            serialConsoleLogBlobUri: `${arm!.url}/bootdiagnostics/${vm().name}/serialconsole.log?sig=stand-in`,
          });
        case "resources_list": {
          // az resource list --tag k=v sends "tagname eq 'k' and tagvalue eq 'v'" (ARM's one tag filter).
          const filter = /^tagname eq '([^']*)' and tagvalue eq '([^']*)'$/i.exec(
            url.searchParams.get("$filter") ?? "",
          );
          if (!filter) throw new ArmViolation(`unexpected $filter ${url.searchParams.get("$filter")}`);
          return json({
            value: world.resources
              .filter((r) => r.tags[filter[1]!] === filter[2])
              .map((r) => ({
                id: r.id,
                name: r.id.split("/").pop(),
                type: r.type,
                location: r.location,
                tags: r.tags,
              })),
          });
        }
        case "providers_get": {
          const namespace = params.resourceProviderNamespace!;
          const types = [...new Set(world.resources.map((r) => r.type))].filter((t) =>
            t.toLowerCase().startsWith(`${namespace.toLowerCase()}/`),
          );
          return json({
            id: `/subscriptions/${SUBSCRIPTION}/providers/${namespace}`,
            namespace,
            registrationState: "Registered",
            resourceTypes: types.map((t) => ({
              resourceType: t.slice(namespace.length + 1),
              locations: ["East US"],
              apiVersions: ["2020-06-01"],
            })),
          });
        }
        // az resource delete --ids: by id, or by its parts (Resources_Delete, an empty parent path): the same path.
        case "resources_delete":
        case "resources_delete_by_id": {
          const id = path;
          const found = world.resources.find((r) => r.id.toLowerCase() === id.toLowerCase());
          if (!found)
            throw new ArmFault({
              status: 404,
              code: "ResourceNotFound",
              message: `The Resource '${id}' was not found.`,
            });
          world.resources.splice(world.resources.indexOf(found), 1);
          return json(undefined, 200);
        }
        default: {
          const answer = preflightAnswer(world, name, params, url);
          if (answer !== undefined) return json(answer);
          throw new ArmViolation(`the stand-in does not implement ${operation.id}`);
        }
      }
    } catch (error) {
      let e: ArmError;
      if (error instanceof ArmFault) e = error.error;
      else {
        problems.push((error as Error).message);
        e = { status: 400, code: "StandInRefused", message: `stand-in refused: ${(error as Error).message}` };
      }
      return json({ error: { code: e.code, message: e.message } }, e.status);
    }
  }, tls);

  // The managed identity endpoint that msrestazure asks when MSI_ENDPOINT is set, plain http as on App Service.
  const token = fakeToken();
  const msi = await listen((request) =>
    // msrestazure asks MSI_ENDPOINT with "Metadata: true", as it asks the Instance Metadata Service.
    request.headers.metadata === "true"
      ? json({
          access_token: token,
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource: request.url.searchParams.get("resource"),
          token_type: "Bearer",
        })
      : json({ error: "no secret" }, 401),
  );

  const env: Record<string, string> = {
    AZURE_CONFIG_DIR: join(scratch, "az"),
    REQUESTS_CA_BUNDLE: join(scratch, "cert.pem"),
    MSI_ENDPOINT: `${msi.url}/msi/token`,
    AZURE_CORE_COLLECT_TELEMETRY: "false",
    AZURE_CORE_ONLY_SHOW_ERRORS: "true",
    AZURE_CORE_NO_COLOR: "true",
  };
  // Sign in once, as azure/login does before the action runs. The 2020-09-01-hybrid profile: Debian's azure-cli
  // 2.45 asks its default profile for compute 2022-11-01, which its own Azure SDK lacks, so `az vm` fails there.
  const az = promisify(execFile);
  const setupEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_PROXY: "127.0.0.1", ...env };
  try {
    for (const args of [
      [
        "cloud",
        "register",
        "-n",
        "StandIn",
        "--endpoint-resource-manager",
        `${arm.url}/`,
        "--profile",
        "2020-09-01-hybrid",
      ],
      ["cloud", "set", "-n", "StandIn"],
      ["login", "--identity", "--output", "none"],
    ])
      await az("az", args, { env: setupEnv }).catch((error: { stderr?: string }) => {
        throw new Error(`az ${args.slice(0, 2).join(" ")} against the stand-in failed: ${error.stderr}`);
      });
  } catch (error) {
    await Promise.all([arm, msi].map((s) => s.close()));
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  world.calls.length = 0;

  const servers = [arm, msi];
  return {
    ...world,
    fail(operation, error, times = Number.POSITIVE_INFINITY) {
      faults.push({ operation, error, left: times });
    },
    get problems() {
      return [...problems, ...servers.flatMap((s) => s.problems)];
    },
    env,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The preflight's questions (stacks/azure/preflight.ts): the sizes Azure offers (Compute's ResourceSkus_List), the
// location's vCPU usages (Usage_List), Marketplace images (VirtualMachineImages_List and _Get), an image by id
// (Resources_Get) and the roles' permissions at a scope (Microsoft.Authorization Permissions_ListForResourceGroup
// and _ListForResource). Requests are matched to their operations like every other (azure-sdk.ts); the answers
// follow the SDK's models (ResourceSku, Usage, VirtualMachineImage(Resource), GenericResource, PermissionGetResult).

/** A role assigned at `scope`: it applies there and to everything below (a resource group, a subnet...). */
export interface AzureRoleGrant {
  scope: string;
  actions: string[];
  notActions?: string[];
}

/** A Marketplace image, in one location, with its versions (and the purchase plan some images carry). */
export interface AzureMarketplaceImage {
  location: string;
  publisher: string;
  offer: string;
  sku: string;
  versions: string[];
  plan?: { name: string; publisher: string; product: string };
}

export interface PreflightWorld {
  /** ResourceSku objects as ARM lists them, every location's (az filters by location and size itself). */
  skus: Record<string, unknown>[];
  /** Usage objects by location (name.value, name.localizedValue, currentValue, limit, unit). */
  usages: Record<string, Record<string, unknown>[]>;
  images: AzureMarketplaceImage[];
  grants: AzureRoleGrant[];
}

function emptyPreflightWorld(): PreflightWorld {
  return { skus: [], usages: {}, images: [], grants: [] };
}

/** ARM's answer to an image it does not know (VirtualMachineImages_List and _Get alike). */
const IMAGE_NOT_FOUND: ArmError = { status: 404, code: "NotFound", message: "Artifact: VMImage was not found." };

/** The preflight operations' answers; undefined for an operation that is not one of them. */
function preflightAnswer(
  world: { resources: AzureResource[]; preflight: PreflightWorld },
  operation: string,
  params: Record<string, string>,
  url: URL,
): unknown {
  const { skus, usages, images, grants } = world.preflight;
  const same = (a: string | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();
  const image = () => {
    const found = images.find(
      (i) =>
        same(params.location, i.location) &&
        same(params.publisherName, i.publisher) &&
        same(params.offer, i.offer) &&
        same(params.skus, i.sku),
    );
    if (!found) throw new ArmFault(IMAGE_NOT_FOUND);
    return found;
  };
  const imageId = (i: AzureMarketplaceImage, version: string) =>
    `/Subscriptions/${SUBSCRIPTION}/Providers/Microsoft.Compute/Locations/${i.location}/Publishers/${i.publisher}/ArtifactTypes/VMImage/Offers/${i.offer}/Skus/${i.sku}/Versions/${version}`;
  switch (operation) {
    case "resource_skus_list":
      return { value: skus };
    case "usage_list":
      return { value: usages[params.location!.toLowerCase()] ?? [] };
    case "virtual_machine_images_list": {
      // The versions newest first when asked ($orderby=name desc, as az asks for "latest"), at most $top of them.
      const found = image();
      const versions = [...found.versions].sort(
        url.searchParams.get("$orderby") === "name desc" ? (a, b) => b.localeCompare(a) : undefined,
      );
      const top = Number(url.searchParams.get("$top") ?? versions.length);
      return versions
        .slice(0, top)
        .map((version) => ({ name: version, location: found.location, id: imageId(found, version) }));
    }
    case "virtual_machine_images_get": {
      const found = image();
      if (!found.versions.includes(params.version!)) throw new ArmFault(IMAGE_NOT_FOUND);
      return {
        name: params.version,
        location: found.location,
        id: imageId(found, params.version!),
        properties: {
          ...(found.plan ? { plan: found.plan } : {}),
          osDiskImage: { operatingSystem: "Linux" },
          hyperVGeneration: "V2",
        },
      };
    }
    // az resource show --ids asks Resources_Get (namespace, parent path, type, name) after reading the provider's
    // api-versions (providers_get, above, from the types of `resources`); by id is the same question.
    case "resources_get":
    case "resources_get_by_id": {
      const id = url.pathname;
      const found = world.resources.find((r) => same(r.id, id));
      if (!found)
        throw new ArmFault({ status: 404, code: "ResourceNotFound", message: `The Resource '${id}' was not found.` });
      return { ...found, name: found.id.split("/").pop(), properties: {} };
    }
    case "permissions_list_for_resource_group":
    case "permissions_list_for_resource": {
      // Every role assigned at the scope or above it, one entry each, as the Permissions API answers.
      const scope = url.pathname.replace(/\/providers\/Microsoft\.Authorization\/permissions$/i, "").toLowerCase();
      return {
        value: grants
          .filter((g) => scope === g.scope.toLowerCase() || scope.startsWith(`${g.scope.toLowerCase()}/`))
          .map((g) => ({ actions: g.actions, notActions: g.notActions ?? [], dataActions: [], notDataActions: [] })),
      };
    }
    default:
      return undefined;
  }
}
