// The Azure preflight (stacks/azure/preflight.ts) through the real `az`, against the local stand-in of Azure Resource
// Manager (test/kit/cloud-apis/azure.ts), which matches every request to its operation in the Azure SDK for Python
// that az runs on: the sizes and their restrictions, the location's vCPU quotas, the image, the roles' permissions on
// the resource group, the subnet and the identity. Then the rules that read the answers, on their own. One stand-in
// for the file (az starts slowly); each test gets its own runner, so no answer is reused from another test.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { preflight as askEveryCandidate } from "../../../scripts/phases/preflight.ts";
import { DEFAULT_IMAGE } from "../../../stacks/azure/catalog.ts";
import type { AzureConfig } from "../../../stacks/azure/config.ts";
import { azureCloud as CLOUD } from "../../../stacks/azure/index.ts";
import {
  actionMatches,
  IDENTITY_ASSIGN,
  judgeQuota,
  missingActions,
  refusal,
  resourceGroupActions,
  SUBNET_JOIN,
  sizeOffer,
} from "../../../stacks/azure/preflight-answers.ts";
import type { PreflightFinding } from "../../../stacks/preflight.ts";
import { ARM_ERRORS, type AzureStandIn, SUBSCRIPTION, startAzureStandIn } from "../../kit/cloud-apis/azure.ts";
import { realRunner } from "../../kit/cloud-apis/clis.ts";
import { recordingIO } from "../../kit/io.ts";

const RG = "gpu-runners";
const GROUP = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}`;
const SUBNET = `/subscriptions/${SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/ci/subnets/runners`;
const IDENTITY = `${GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gpu-runner-deallocate`;
const T4 = "Standard_NC4as_T4_v3";
const A100 = "Standard_NC24ads_A100_v4";
const H100 = "Standard_NC40ads_H100_v5";

const CONFIG: AzureConfig = {
  subscription: SUBSCRIPTION,
  location: "eastus",
  resourceGroup: RG,
  subnetId: SUBNET,
  size: T4,
  fallbackSizes: [],
  image: DEFAULT_IMAGE,
  diskSizeGb: 100,
  diskType: "Premium_LRS",
  zone: "1",
  fallbackZones: [],
  publicIp: true,
  spot: false,
  identity: IDENTITY,
  autoShutdown: true,
  trustedLaunch: true,
};

/** docs/azure.md's "GPU runner operator" role, as the user creates it from the page. */
function documentedRole(): string[] {
  const doc = readFileSync(new URL("../../../docs/azure.md", import.meta.url), "utf8");
  const block = [...doc.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.includes("GPU runner operator"));
  assert.ok(block, "docs/azure.md shows the GPU runner operator role");
  return (JSON.parse(block) as { Actions: string[] }).Actions;
}

/** ResourceSku as ARM lists it (the fields az reads; the capabilities' names as Azure spells them). */
const sku = (
  name: string,
  family: string,
  vcpus: number,
  more: { location?: string; lowPriority?: boolean; restrictions?: object[] } = {},
) => ({
  resourceType: "virtualMachines",
  name,
  tier: "Standard",
  size: name.replace(/^Standard_/, ""),
  family,
  locations: [more.location ?? "eastus"],
  locationInfo: [{ location: more.location ?? "eastus", zones: ["1", "2", "3"], zoneDetails: [] }],
  capabilities: [
    { name: "vCPUs", value: String(vcpus) },
    { name: "GPUs", value: "1" },
    { name: "LowPriorityCapable", value: more.lowPriority === false ? "False" : "True" },
  ],
  restrictions: more.restrictions ?? [],
});
const notForSubscription = (type: "Location" | "Zone", zones: string[] = []) => ({
  type,
  values: ["eastus"],
  restrictionInfo: { locations: ["eastus"], ...(type === "Zone" ? { zones } : {}) },
  reasonCode: "NotAvailableForSubscription",
});
const usage = (value: string, localizedValue: string, currentValue: number, limit: number) => ({
  name: { value, localizedValue },
  currentValue,
  limit,
  unit: "Count",
});

let azure: AzureStandIn;
const runner = () => realRunner(azure.env, [...CLOUD.environment, /^MSI_ENDPOINT$/]);

/** The world of a user who followed docs/azure.md: its role on the group, join on the subnet, the identity operator. */
function followedTheDocs() {
  const world = azure.preflight;
  world.skus.splice(
    0,
    world.skus.length,
    sku(T4, "standardNCASv3_T4Family", 4, { restrictions: [notForSubscription("Zone", ["3"])] }),
    sku(A100, "standardNCADSA100v4Family", 24, { restrictions: [notForSubscription("Location")] }),
    sku(H100, "standardNCadsH100v5Family", 40, { lowPriority: false }),
    // Another location's T4 is not this location's.
    sku(T4, "standardNCASv3_T4Family", 4, { location: "westus", restrictions: [notForSubscription("Location")] }),
  );
  world.usages.eastus = [
    usage("cores", "Total Regional vCPUs", 10, 100),
    usage("lowPriorityCores", "Total Regional Low-priority vCPUs", 0, 4),
    usage("standardNCASv3_T4Family", "Standard NCASv3_T4 Family vCPUs", 0, 8),
    usage("standardNCadsH100v5Family", "Standard NCadsH100v5 Family vCPUs", 0, 0),
  ];
  world.images.splice(0, world.images.length, {
    location: "eastus",
    publisher: "microsoft-dsvm",
    offer: "ubuntu-hpc",
    sku: "2404",
    versions: ["24.04.2025010101", "24.04.2025060101"],
  });
  world.grants.splice(
    0,
    world.grants.length,
    { scope: GROUP, actions: documentedRole() },
    {
      scope: SUBNET,
      actions: [
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.Network/virtualNetworks/subnets/read",
      ],
    },
    // Managed Identity Operator's actions (a wildcard in the middle).
    {
      scope: IDENTITY,
      actions: [
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
      ],
    },
  );
}

const byCheck = (findings: PreflightFinding[], start: string) => {
  const found = findings.filter((f) => f.check.startsWith(start));
  assert.equal(found.length, 1, `one finding "${start}..." in ${JSON.stringify(findings.map((f) => f.check))}`);
  return found[0]!;
};

describe("azure preflight through the real az", () => {
  before(async () => {
    azure = await startAzureStandIn();
  });
  after(async () => {
    await azure?.close();
  });

  it("asks the size, the quota, the image and the three scopes' permissions, and finds all well", async () => {
    followedTheDocs();
    azure.calls.length = 0;
    const findings = await CLOUD.plan(CONFIG).preflight({ count: 2, tags: {} }, runner());
    assert.deepEqual(azure.problems, []);
    for (const f of findings) assert.equal(f.status, "ok", `${f.check}: ${f.detail}`);
    assert.deepEqual(
      findings.map((f) => [f.check, f.scope]),
      [
        [`${T4} offered to the subscription in eastus zone 1`, "candidate"],
        [`vCPU quota for 2 x ${T4} in eastus`, "candidate"],
        ["image microsoft-dsvm:ubuntu-hpc:2404:latest in eastus", "start"],
        [`the workflow's role on resource group ${RG}`, "start"],
        ["the workflow's role on the subnet", "start"],
        ["the workflow's role on the identity", "start"],
      ],
    );
    // 2 x 4 vCPUs fill the family's 8 exactly; on-demand also draws on the regional total.
    assert.match(byCheck(findings, "vCPU quota").detail, /Standard NCASv3_T4 Family vCPUs: 0 of 8 used, 8 needed/);
    assert.match(byCheck(findings, "vCPU quota").detail, /Total Regional vCPUs: 10 of 100 used, 8 needed/);
    assert.match(byCheck(findings, "image").detail, /24\.04\.2025060101/, "the newest version, as apply takes it");
    // Each question is the operation meant, at the scope meant.
    const asked = azure.calls.map((c) => `${c.operation} ${c.path}`);
    for (const expected of [
      `usage_list /subscriptions/${SUBSCRIPTION}/providers/Microsoft.Compute/locations/eastus/usages`,
      `resource_skus_list /subscriptions/${SUBSCRIPTION}/providers/Microsoft.Compute/skus`,
      `permissions_list_for_resource_group ${GROUP}/providers/Microsoft.Authorization/permissions`,
      `permissions_list_for_resource ${SUBNET}/providers/Microsoft.Authorization/permissions`,
      `permissions_list_for_resource ${IDENTITY}/providers/Microsoft.Authorization/permissions`,
    ])
      assert.ok(asked.includes(expected), `${expected} in ${asked.join("\n")}`);
    assert.ok(azure.calls.some((c) => c.operation === "virtual_machine_images_get"));
  });

  it("drops the candidates Azure would refuse and keeps the start while one can succeed, asking each question once", async () => {
    followedTheDocs();
    azure.calls.length = 0;
    const plan = CLOUD.plan({ ...CONFIG, fallbackSizes: [A100, H100], fallbackZones: ["3"], spot: true });
    const io = recordingIO();
    const report = await askEveryCandidate(plan, { count: 1, tags: {} }, runner(), io);
    assert.deepEqual(azure.problems, []);
    assert.equal(report.failed, false, report.reasons.join("\n"));
    const of = (spot: boolean, size: string, zone: string) => {
      const found = report.candidates.find(
        (c) =>
          c.candidate.includes(size) && c.candidate.includes(`zone ${zone}`) && c.candidate.includes("spot") === spot,
      );
      assert.ok(
        found,
        `${spot ? "spot" : "regular"} ${size} zone ${zone} in ${report.candidates.map((c) => c.candidate).join("; ")}`,
      );
      return found.findings;
    };
    const candidateStatus = (findings: PreflightFinding[]) =>
      findings.filter((f) => f.scope === "candidate").map((f) => f.status);
    // Spot T4 in zone 1: 4 low-priority vCPUs of 4 free; in zone 3 the size is not the subscription's.
    assert.deepEqual(candidateStatus(of(true, T4, "1")), ["ok", "ok"]);
    assert.match(
      byCheck(of(true, T4, "1"), "vCPU quota").detail,
      /Total Regional Low-priority vCPUs: 0 of 4 used, 4 needed/,
    );
    assert.match(byCheck(of(true, T4, "3"), T4).detail, /not available to the subscription in zone 3/);
    assert.equal(byCheck(of(true, T4, "3"), T4).status, "failed");
    // A100: not the subscription's anywhere in the location; H100: no Spot, and its family has no quota.
    assert.match(byCheck(of(true, A100, "1"), A100).detail, /not available to the subscription in this location/);
    assert.match(byCheck(of(true, H100, "1"), H100).detail, /cannot run as Spot/);
    const h100 = byCheck(of(false, H100, "1"), "vCPU quota");
    assert.equal(h100.status, "failed");
    assert.match(h100.fix ?? "", /at least 40 vCPUs of "Standard NCadsH100v5 Family vCPUs" in eastus/);
    assert.deepEqual(candidateStatus(of(false, T4, "1")), ["ok", "ok"]);
    assert.ok(io.warnings.some((w) => /would be skipped/.test(w) && w.includes(A100)));
    // Twelve candidates, each distinct question once: three sizes, one usage list, one image, two scopes.
    assert.equal(report.candidates.length, 12);
    const count = (operation: string) => azure.calls.filter((c) => c.operation === operation).length;
    assert.equal(count("resource_skus_list"), 3);
    assert.equal(count("usage_list"), 1);
    assert.equal(count("permissions_list_for_resource_group"), 1);
  });

  it("fails the start on a missing image or permission, each with its fix, and when no candidate has quota", async () => {
    followedTheDocs();
    const world = azure.preflight;
    // The operator role without its public IP actions (public-ip: true needs them), the subnet's join missing, the
    // identity not the app's to assign.
    world.grants.splice(
      0,
      world.grants.length,
      { scope: GROUP, actions: documentedRole().filter((a) => !a.includes("publicIPAddresses")) },
      { scope: SUBNET, actions: ["Microsoft.Network/virtualNetworks/subnets/read"] },
    );
    const config: AzureConfig = {
      ...CONFIG,
      image: { kind: "marketplace", publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2204", version: "latest" },
    };
    const report = await askEveryCandidate(CLOUD.plan(config), { count: 3, tags: {} }, runner(), recordingIO());
    assert.deepEqual(azure.problems, []);
    assert.equal(report.failed, true);
    const findings = report.candidates[0]!.findings;
    const image = byCheck(findings, "image");
    assert.equal(image.status, "failed");
    assert.match(
      image.fix ?? "",
      /az vm image list --location eastus --publisher microsoft-dsvm --offer ubuntu-hpc --sku 2204 --all/,
    );
    const group = byCheck(findings, "the workflow's role on resource group");
    assert.equal(group.status, "failed");
    assert.match(group.detail, /Microsoft\.Network\/publicIPAddresses\/write/);
    assert.match(
      group.fix ?? "",
      /add Microsoft\.Network\/publicIPAddresses\/read, .*publicIPAddresses\/join\/action to the role/,
    );
    assert.doesNotMatch(group.detail, /virtualMachines/);
    assert.match(
      byCheck(findings, "the workflow's role on the subnet").fix ?? "",
      new RegExp(`${SUBNET_JOIN}.*${SUBNET}`),
    );
    assert.match(
      byCheck(findings, "the workflow's role on the identity").fix ?? "",
      /assign\/action .*Managed Identity Operator/,
    );
    // 3 x 4 vCPUs do not fit the family's 8: the only candidate is dropped, so the start fails for it too.
    const quota = byCheck(findings, "vCPU quota");
    assert.equal(quota.status, "failed");
    assert.match(quota.fix ?? "", /at least 12 vCPUs of "Standard NCASv3_T4 Family vCPUs"/);
    for (const f of [image, group, quota])
      assert.ok(
        report.reasons.some((r) => r.includes(f.detail)),
        f.check,
      );
  });

  it("says what it could not ask as unchecked, never failed, and refuses an image with a purchase plan", async () => {
    followedTheDocs();
    azure.preflight.images[0]!.plan = { name: "2404", publisher: "microsoft-dsvm", product: "ubuntu-hpc" };
    azure.fail(
      "usage_list",
      ARM_ERRORS.authorizationFailed("Microsoft.Compute/locations/usages/read", SUBSCRIPTION),
      1,
    );
    azure.fail(
      "permissions_list_for_resource_group",
      ARM_ERRORS.authorizationFailed("Microsoft.Authorization/permissions/read", GROUP),
      1,
    );
    const run = runner();
    const findings = await CLOUD.plan({ ...CONFIG, identity: undefined }).preflight({ count: 1, tags: {} }, run);
    assert.deepEqual(azure.problems, []);
    assert.deepEqual(
      findings.map((f) => f.status),
      ["ok", "unchecked", "failed", "unchecked", "ok"],
      JSON.stringify(findings, null, 1),
    );
    assert.match(byCheck(findings, "vCPU quota").detail, /AuthorizationFailed/);
    assert.match(
      byCheck(findings, "vCPU quota").fix ?? "",
      /Microsoft\.Compute\/locations\/usages\/read on the subscription/,
    );
    assert.match(byCheck(findings, "image").fix ?? "", /without a purchase plan/);
    assert.ok(!findings.some((f) => f.check.includes("identity")), "no identity, no question about one");

    // An image by id (a gallery image version): found, or not. The runner's other answers are reused, so only
    // `az resource show` runs for each.
    const gallery = `${GROUP}/providers/Microsoft.Compute/galleries/runners/images/gpu/versions`;
    azure.resources.push(
      {
        id: `${GROUP}/providers/Microsoft.Compute/galleries/runners`,
        type: "Microsoft.Compute/galleries",
        location: "eastus",
        tags: {},
      },
      { id: `${gallery}/1.0.0`, type: "Microsoft.Compute/galleries/images/versions", location: "eastus", tags: {} },
    );
    const image = async (version: string) =>
      byCheck(
        await CLOUD.plan({
          ...CONFIG,
          identity: undefined,
          image: { kind: "id", id: `${gallery}/${version}` },
        }).preflight({ count: 1, tags: {} }, run),
        "image",
      );
    assert.equal((await image("1.0.0")).status, "ok");
    const missing = await image("2.0.0");
    assert.equal(missing.status, "failed");
    assert.match(missing.fix ?? "", /image or gallery image version in eastus that exists/);
    assert.deepEqual(azure.problems, []);
  });
});

describe("azure preflight answers", () => {
  it("matches RBAC action patterns as Azure does: case-insensitive, * for any characters", () => {
    for (const [pattern, action, matches] of [
      ["*", "Microsoft.Compute/virtualMachines/write", true],
      ["Microsoft.Compute/*", "microsoft.compute/virtualMachines/write", true],
      ["Microsoft.Compute/*", "Microsoft.Network/networkInterfaces/write", false],
      ["*/read", "Microsoft.Compute/virtualMachines/read", true],
      ["*/read", "Microsoft.Compute/virtualMachines/write", false],
      // Managed Identity Operator's pattern grants the action ARM checks, which has no segment for its "*".
      ["Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", IDENTITY_ASSIGN, true],
      [
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        true,
      ],
      [
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        "Microsoft.ManagedIdentity/userAssignedIdentities/write",
        false,
      ],
      ["Microsoft.Compute/*/write", "Microsoft.Network/networkInterfaces/write", false],
      // A dot is a dot: "Microsoft.Compute" does not match "MicrosoftXCompute".
      ["Microsoft.Compute/virtualMachines/write", "MicrosoftXCompute/virtualMachines/write", false],
      ["Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/writeX", false],
    ] as const)
      assert.equal(actionMatches(pattern, action), matches, `${pattern} ~ ${action}`);
  });

  it("grants an action only through a role that lists it and does not subtract it in notActions", () => {
    const contributor = {
      actions: ["*"],
      notActions: ["Microsoft.Authorization/*/Write", "Microsoft.Compute/disks/*"],
    };
    assert.deepEqual(
      missingActions([contributor], ["Microsoft.Compute/disks/write", "Microsoft.Compute/virtualMachines/write"]),
      ["Microsoft.Compute/disks/write"],
    );
    // Another role's grant is not subtracted by the first role's notActions.
    assert.deepEqual(
      missingActions(
        [contributor, { actions: ["Microsoft.Compute/disks/*"], notActions: [] }],
        ["Microsoft.Compute/disks/write"],
      ),
      [],
    );
  });

  it("asks the group for what the stack makes: public IP and schedule actions only when they are made", () => {
    const plain = resourceGroupActions({ publicIp: false, autoShutdown: false });
    const full = resourceGroupActions({ publicIp: true, autoShutdown: true });
    for (const action of [
      "Microsoft.Compute/virtualMachines/write",
      "Microsoft.Compute/disks/write",
      "Microsoft.Network/networkInterfaces/write",
      "Microsoft.Network/networkInterfaces/join/action",
      "Microsoft.Network/networkSecurityGroups/write",
      "Microsoft.Network/networkSecurityGroups/join/action",
      "Microsoft.Network/networkSecurityGroups/securityRules/write",
    ])
      assert.ok(plain.includes(action), action);
    assert.ok(!plain.some((a) => a.includes("publicIPAddresses") || a.includes("DevTestLab")));
    assert.ok(full.includes("Microsoft.Network/publicIPAddresses/write"));
    assert.ok(full.includes("Microsoft.Network/publicIPAddresses/join/action"));
    assert.ok(full.includes("Microsoft.DevTestLab/schedules/write"));
    // The role docs/azure.md tells the user to create grants all of it, and nothing in it is missing for the preflight.
    assert.deepEqual(missingActions([{ actions: documentedRole(), notActions: [] }], full), []);
  });

  it("reads a size's offer: exact name, family, vCPUs, Spot, and the subscription's restrictions by zone", () => {
    const listing = [
      sku(`${T4}_Promo`, "standardNCASv3_T4PromoFamily", 8),
      sku(T4, "standardNCASv3_T4Family", 4, { restrictions: [notForSubscription("Zone", ["2"])] }),
    ];
    assert.deepEqual(sizeOffer(listing, T4.toLowerCase(), "1"), {
      family: "standardNCASv3_T4Family",
      vcpus: 4,
      zones: ["1", "2", "3"],
      spotCapable: true,
      restricted: undefined,
    });
    assert.match((sizeOffer(listing, T4, "2") as { restricted: string }).restricted, /zone 2/);
    // Regional placement is not barred by one zone's restriction; a Location restriction bars it.
    assert.equal((sizeOffer(listing, T4, undefined) as { restricted?: string }).restricted, undefined);
    assert.match(
      (
        sizeOffer([sku(T4, "f", 4, { restrictions: [notForSubscription("Location")] })], T4, undefined) as {
          restricted: string;
        }
      ).restricted,
      /this location/,
    );
    // A restriction for another reason (a quota id) is not the subscription's bar.
    assert.equal(
      (
        sizeOffer(
          [sku(T4, "f", 4, { restrictions: [{ ...notForSubscription("Location"), reasonCode: "QuotaId" }] })],
          T4,
          undefined,
        ) as {
          restricted?: string;
        }
      ).restricted,
      undefined,
    );
    assert.equal(sizeOffer(listing, "Standard_NC8as_T4_v3", "1"), "absent");
    assert.equal(sizeOffer({ value: listing }, T4, "1"), undefined);
  });

  it("judges each quota a VM draws on against count x vCPUs", () => {
    const listed = [
      { name: "cores", localizedName: "Total Regional vCPUs", current: 96, limit: 100 },
      { name: "standardNCASv3_T4Family", localizedName: "T4 family", current: 0, limit: 64 },
    ];
    assert.equal(judgeQuota(listed, ["standardncasv3_t4family", "cores"], 4).status, "ok");
    // The family has room, the region does not.
    const short = judgeQuota(listed, ["standardNCASv3_T4Family", "cores"], 8);
    assert.equal(short.status, "failed");
    assert.equal(short.short?.name, "cores");
    assert.equal(judgeQuota(listed, ["lowPriorityCores"], 1).status, "unchecked");
  });

  it("reads az's failures: denied, not found, the CLI missing", () => {
    const denied = refusal({
      exitCode: 1,
      stdout: "",
      stderr:
        "ERROR: (AuthorizationFailed) The client 'x' does not have authorization to perform action 'Microsoft.Compute/locations/usages/read' over scope '/subscriptions/s'.\nCode: AuthorizationFailed\n",
    });
    assert.deepEqual(
      [denied.kind, denied.kind === "denied" && denied.action],
      ["denied", "Microsoft.Compute/locations/usages/read"],
    );
    assert.equal(
      refusal({ exitCode: 1, stdout: "", stderr: "ERROR: (NotFound) Artifact: VMImage was not found.\n" }).kind,
      "not-found",
    );
    assert.equal(
      refusal({ exitCode: 1, stdout: "", stderr: "ERROR: Can't resolve the version of 'a:b:c'\n" }).kind,
      "not-found",
    );
    assert.match(refusal({ exitCode: 127, stdout: "", stderr: "" }).message, /not installed/);
    assert.equal(refusal({ exitCode: 1, stdout: "", stderr: "ERROR: (TooManyRequests) slow down\n" }).kind, "other");
  });
});
