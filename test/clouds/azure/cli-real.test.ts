// The Azure cloud's CLI calls through the real `az`, against the local stand-in of Azure Resource Manager
// (test/kit/cloud-apis/azure.ts), which matches every request to its operation in the Azure SDK for Python that az
// runs on: a flag az does not know, a query it refuses, an output the action misreads would fail here, where a
// recorded command line would pass (cli.test.ts keeps only what a real az cannot show). az signs in to the stand-in
// through a managed identity endpoint (MSI_ENDPOINT, which the runner passes beside the cloud's own variables: in a
// job, azure/login leaves its credentials in AZURE_CONFIG_DIR instead). Each test has its own stand-in, so they run at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AzureConfig } from "../../../stacks/azure/config.ts";
import { azureCloud as CLOUD } from "../../../stacks/azure/index.ts";
import { ARM_ERRORS, type AzureStandIn, SUBSCRIPTION, startAzureStandIn } from "../../kit/cloud-apis/azure.ts";
import { ArmViolation, matchArmRequest } from "../../kit/cloud-apis/azure-sdk.ts";
import { realRunner } from "../../kit/cloud-apis/clis.ts";

const REPO = "612345678";
const OTHER_REPO = "612345679";
const LABEL = "gpu-42-1-0a1b2c3d";
const OTHER_LABEL = "gpu-43-1-0a1b2c3d";
const RG = "gpu-runners";

const own = (label: string, repositoryId = REPO) => ({
  "gpu-runner-managed-by": "ephemeral-gpu-runner",
  "gpu-runner-repository-id": repositoryId,
  "gpu-runner-label": label,
});
const id = (type: string, name: string) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/${type}/${name}`;

async function withAzure(body: (azure: AzureStandIn, env: Record<string, string>) => Promise<void>) {
  const azure = await startAzureStandIn();
  try {
    azure.vms.push(
      {
        resourceGroup: RG,
        name: `${LABEL}-0`,
        location: "eastus",
        power: "running",
        tags: { ...own(LABEL), "gpu-runner-max-lifetime": "360" },
      },
      { resourceGroup: RG, name: `${LABEL}-1`, location: "eastus", power: "deallocated", tags: own(LABEL) },
      // Not to be touched: another start of the repository, another repository's start under the same label, and
      // a VM without the managed-by tag.
      { resourceGroup: RG, name: `${OTHER_LABEL}-0`, location: "eastus", power: "running", tags: own(OTHER_LABEL) },
      { resourceGroup: RG, name: "other-repo-0", location: "eastus", power: "running", tags: own(LABEL, OTHER_REPO) },
      {
        resourceGroup: RG,
        name: "unmanaged-0",
        location: "eastus",
        power: "running",
        tags: { "gpu-runner-label": LABEL, "gpu-runner-repository-id": REPO },
      },
    );
    azure.resources.push(
      {
        id: id("Microsoft.Network/networkInterfaces", `${LABEL}-0-nic`),
        type: "Microsoft.Network/networkInterfaces",
        location: "eastus",
        tags: own(LABEL),
      },
      {
        id: id("Microsoft.Network/publicIPAddresses", `${LABEL}-0-ip`),
        type: "Microsoft.Network/publicIPAddresses",
        location: "eastus",
        tags: own(LABEL),
      },
      {
        id: id("Microsoft.Network/networkSecurityGroups", `${LABEL}-nsg`),
        type: "Microsoft.Network/networkSecurityGroups",
        location: "eastus",
        tags: own(LABEL),
      },
      {
        id: id("Microsoft.Network/networkInterfaces", `${OTHER_LABEL}-0-nic`),
        type: "Microsoft.Network/networkInterfaces",
        location: "eastus",
        tags: own(OTHER_LABEL),
      },
      {
        id: id("Microsoft.Network/networkInterfaces", "other-repo-0-nic"),
        type: "Microsoft.Network/networkInterfaces",
        location: "eastus",
        tags: own(LABEL, OTHER_REPO),
      },
    );
    await body(azure, { ...azure.env, ARM_SUBSCRIPTION_ID: SUBSCRIPTION });
    assert.deepEqual(azure.problems, [], "the stand-in refused nothing");
  } finally {
    await azure.close();
  }
}

/** The action's runner, passing the managed identity endpoint beside the cloud's own variables (see above). */
const runner = (env: Record<string, string>) => realRunner(env, [...CLOUD.environment, /^MSI_ENDPOINT$/]);

describe("azure: the real az against an Azure Resource Manager stand-in", { concurrency: true }, () => {
  it("stop without state: finds the start's VMs by tags, deletes exactly those, then what the start made beside them", () =>
    withAzure(async (azure, env) => {
      const run = runner(env);
      const start = { repositoryId: REPO, label: LABEL };
      const found = await CLOUD.cli.findMachines(start, env, run);
      assert.deepEqual(
        found.map((m) => [m.name, m.label, m.repositoryId, m.state, m.location, m.maxLifetimeMinutes]),
        [
          [`${LABEL}-0`, LABEL, REPO, "running", "eastus", 360],
          [`${LABEL}-1`, LABEL, REPO, "stopped", "eastus", undefined],
        ],
      );
      const deleted = await CLOUD.cli.deleteMachines(found, [start], env, run);
      assert.deepEqual(deleted, [
        `virtual machine ${LABEL}-0`,
        `virtual machine ${LABEL}-1`,
        `network interface ${LABEL}-0-nic`,
        `public IP ${LABEL}-0-ip`,
        `network security group ${LABEL}-nsg`,
      ]);
      assert.deepEqual(azure.vms.map((v) => v.name).sort(), [`${OTHER_LABEL}-0`, "other-repo-0", "unmanaged-0"]);
      assert.deepEqual(azure.resources.map((r) => r.id.split("/").pop()).sort(), [
        `${OTHER_LABEL}-0-nic`,
        "other-repo-0-nic",
      ]);
      const deletes = azure.calls.filter((c) => c.method === "DELETE").map((c) => c.path.split("/").pop());
      // az deletes the VMs of one --ids at once, in any order; what they held goes only after both.
      assert.deepEqual(deletes.slice(0, 2).sort(), [`${LABEL}-0`, `${LABEL}-1`]);
      assert.deepEqual(deletes.slice(2), [`${LABEL}-0-nic`, `${LABEL}-0-ip`, `${LABEL}-nsg`]);
      assert.ok(
        azure.calls.every((c) => c.path.startsWith(`/subscriptions/${SUBSCRIPTION}`)),
        "in the subscription asked",
      );
    }));

  it("sweep: a whole repository's VMs and leftovers, none of another repository's; a refused delete names ARM's words", () =>
    withAzure(async (azure, env) => {
      const run = runner(env);
      const [machines, leftovers] = await Promise.all([
        CLOUD.cli.findMachines({ repositoryId: REPO }, env, run),
        CLOUD.cli.findLeftovers({ repositoryId: REPO }, env, run),
      ]);
      assert.deepEqual(machines.map((m) => m.name).sort(), [`${LABEL}-0`, `${LABEL}-1`, `${OTHER_LABEL}-0`]);
      assert.deepEqual(
        leftovers.leftovers.map((l) => `${l.kind} ${l.name} ${l.label}`),
        [
          `network interface ${LABEL}-0-nic ${LABEL}`,
          `network interface ${OTHER_LABEL}-0-nic ${OTHER_LABEL}`,
          `public IP ${LABEL}-0-ip ${LABEL}`,
          `network security group ${LABEL}-nsg ${LABEL}`,
        ],
      );
      const scope = id("Microsoft.Compute/virtualMachines", `${LABEL}-0`);
      azure.fail(
        "virtual_machines_delete",
        ARM_ERRORS.authorizationFailed("Microsoft.Compute/virtualMachines/delete", scope),
      );
      await assert.rejects(
        CLOUD.cli.deleteMachines(machines.slice(0, 1), [{ repositoryId: REPO, label: LABEL }], env, run),
        /^Error: az vm delete --ids failed \(exit 1\): ERROR: \(AuthorizationFailed\) The client .* does not have authorization to perform action 'Microsoft\.Compute\/virtualMachines\/delete'/,
      );
      assert.equal(azure.vms.length, 5, "nothing was deleted");
    }));

  it("every kind a start leaves beside its VMs is found and deleted, NICs first; VMs, storage, hand-made resources are not leftovers", () =>
    withAzure(async (azure, env) => {
      const run = runner(env);
      azure.vms[0]!.zones = ["1"];
      azure.vms[1]!.power = "stopped";
      const resource = (type: string, name: string, tags: Record<string, string> = own(LABEL)) => ({
        id: id(type, name),
        type,
        location: "eastus",
        tags,
      });
      azure.resources.push(
        resource("Microsoft.Compute/disks", `${LABEL}-0-osdisk`),
        resource("microsoft.devtestlab/schedules", `shutdown-computevm-${LABEL}-0`),
        // The repository's, though no start's label: a sweep's leftover, never a start's.
        resource("Microsoft.Compute/disks", "no-label", own("")),
        // Not leftovers: a VM is findMachines' to judge, a storage account is nothing a start makes, the last lacks
        // the action's managed-by tag.
        resource("Microsoft.Compute/virtualMachines", "listed-vm-0"),
        resource("Microsoft.Storage/storageAccounts", "state"),
        resource("Microsoft.Compute/disks", "hand-made", { ...own(LABEL), "gpu-runner-managed-by": "someone" }),
      );
      const search = await CLOUD.cli.findLeftovers({ repositoryId: REPO }, env, run);
      assert.deepEqual(
        search.leftovers.map((l) => `${l.kind} ${l.name} ${l.label} ${l.repositoryId} ${l.location}`),
        [
          `network interface ${LABEL}-0-nic ${LABEL} ${REPO} eastus`,
          `network interface ${OTHER_LABEL}-0-nic ${OTHER_LABEL} ${REPO} eastus`,
          `public IP ${LABEL}-0-ip ${LABEL} ${REPO} eastus`,
          `network security group ${LABEL}-nsg ${LABEL} ${REPO} eastus`,
          `disk ${LABEL}-0-osdisk ${LABEL} ${REPO} eastus`,
          `disk no-label  ${REPO} eastus`,
          `auto-shutdown schedule shutdown-computevm-${LABEL}-0 ${LABEL} ${REPO} eastus`,
        ],
      );
      assert.deepEqual(search.unchecked, []);
      const start = { repositoryId: REPO, label: LABEL };
      const found = await CLOUD.cli.findMachines(start, env, run);
      assert.deepEqual(
        found.map((m) => [m.name, m.state, m.location]),
        [
          [`${LABEL}-0`, "running", "eastus zone 1"],
          [`${LABEL}-1`, "stopped", "eastus"],
        ],
      );
      assert.deepEqual(await CLOUD.cli.deleteMachines(found, [start], env, run), [
        `virtual machine ${LABEL}-0`,
        `virtual machine ${LABEL}-1`,
        `network interface ${LABEL}-0-nic`,
        `public IP ${LABEL}-0-ip`,
        `network security group ${LABEL}-nsg`,
        `disk ${LABEL}-0-osdisk`,
        `auto-shutdown schedule shutdown-computevm-${LABEL}-0`,
      ]);
      assert.deepEqual(azure.resources.map((r) => r.id.split("/").pop()).sort(), [
        `${OTHER_LABEL}-0-nic`,
        "hand-made",
        "listed-vm-0",
        "no-label",
        "other-repo-0-nic",
        "state",
      ]);
    }));

  it("az's own subscription without ARM_SUBSCRIPTION_ID; with nothing tagged, nothing deleted", () =>
    withAzure(async (azure, env) => {
      const { ARM_SUBSCRIPTION_ID: _, ...bare } = env;
      const run = runner(bare);
      const found = await CLOUD.cli.findMachines({ repositoryId: REPO }, bare, run);
      assert.deepEqual(found.map((m) => m.name).sort(), [`${LABEL}-0`, `${LABEL}-1`, `${OTHER_LABEL}-0`]);
      assert.ok(
        azure.calls.every(
          (c) => c.path.startsWith(`/subscriptions/${SUBSCRIPTION}`) || c.operation === "subscriptions_list",
        ),
        azure.calls.map((c) => c.path).join(" "),
      );
      azure.vms.length = 0;
      azure.resources.length = 0;
      const start = { repositoryId: REPO, label: LABEL };
      assert.deepEqual(
        await CLOUD.cli.deleteMachines(await CLOUD.cli.findMachines(start, bare, run), [start], bare, run),
        [],
      );
      assert.ok(!azure.calls.some((c) => c.method === "DELETE"));
    }));

  // Found by this test (it failed against bootConsole's `az vm boot-diagnostics get-boot-log --ids <id>` without
  // --output): with managed boot diagnostics (the stack's `bootDiagnostics: {}`, no storage URI), az returns the
  // serial log as the command's result (azure-cli's vm/custom.py get_boot_log: `return requests.get(blob_uri)
  // .content`), which its default output prints as one JSON string: quoted, every newline an escaped "\n"
  // (Azure/azure-cli#29374). The action showed that one line to the user as the boot console.
  it("boot console: the serial log as the VM printed it, line by line", () =>
    withAzure(async (azure, env) => {
      azure.vms[0]!.bootLog = "gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n";
      const config = {} as AzureConfig;
      const text = await CLOUD.plan(config).bootConsole(
        { name: `${LABEL}-0`, id: id("Microsoft.Compute/virtualMachines", `${LABEL}-0`) },
        runner(env),
      );
      assert.match(azure.calls.map((c) => c.operation).join(" "), /virtual_machines_retrieve_boot_diagnostics_data/);
      assert.match(text, /^gpu-runner: booting\ngpu-runner: nvidia-smi found 1 GPU\n/);
    }));
});

describe("azure: the stand-in refuses what the Azure SDK's description refuses", () => {
  it("an unknown query parameter, an api-version az does not ship, a path no operation has", () => {
    const url = (path: string) => new URL(`https://127.0.0.1${path}`);
    const vms = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines`;
    assert.equal(
      matchArmRequest(["compute"], "DELETE", url(`${vms}/vm-0?api-version=2020-06-01`)).operation.name,
      "virtual_machines_delete",
    );
    assert.equal(
      matchArmRequest(["compute"], "GET", url(`${vms}/vm-0?$expand=instanceView&api-version=2020-06-01`)).operation
        .name,
      "virtual_machines_get",
    );
    assert.throws(
      () => matchArmRequest(["compute"], "DELETE", url(`${vms}/vm-0?api-version=2020-06-01&force=true`)),
      /has no query parameter force/,
    );
    assert.throws(
      () => matchArmRequest(["compute"], "DELETE", url(`${vms}/vm-0?api-version=2031-01-01`)),
      ArmViolation,
    );
    assert.throws(
      () => matchArmRequest(["compute"], "GET", url(`${vms}/vm-0/console?api-version=2020-06-01`)),
      ArmViolation,
    );
  });
});
