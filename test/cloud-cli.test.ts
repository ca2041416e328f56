// What each cloud asks of its CLI when Terraform cannot help (a machine's console, a stop without state), and
// the order in which it tries capacity. The CLIs cannot reach a cloud here, so the runner records the exact
// command lines and answers as the CLI would.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AwsConfig, awsCloud as aws } from "../stacks/aws.ts";
import { type AzureConfig, azureCloud as azure } from "../stacks/azure.ts";
import type { CommandResult, CommandRunner } from "../stacks/cloud.ts";
import { type GcpConfig, gcpCloud as gcp } from "../stacks/gcp.ts";
import { InputReader } from "../stacks/input-reader.ts";
import { inputEnv } from "./kit/env.ts";

function recorder(answers: Record<string, Partial<CommandResult>>): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (command, args) => {
    const line = [command, ...args].join(" ");
    calls.push(line);
    const key = Object.keys(answers).find((prefix) => line.startsWith(prefix));
    return { exitCode: 0, stdout: "", stderr: "", ...(key ? answers[key] : {}) };
  };
  return { run, calls };
}

const LABEL = "gpu-42-1-0a1b2c3d";

const AWS_CONFIG: AwsConfig = {
  region: "us-east-1",
  instanceType: "g5.xlarge",
  fallbackInstanceTypes: ["g4dn.xlarge"],
  image: { kind: "id", id: "ami-0123456789abcdef0" },
  diskSizeGb: 100,
  diskType: "gp3",
  subnetId: "subnet-00000001",
  fallbackSubnetIds: ["subnet-00000002"],
  fallbackZones: [],
  securityGroupIds: [],
  publicIp: false,
  spot: true,
};

const GCP_CONFIG: GcpConfig = {
  project: "my-project-123",
  zone: "us-central1-a",
  region: "us-central1",
  fallbackZones: ["europe-west4-b"],
  machineType: "g2-standard-8",
  fallbackMachineTypes: [],
  image: "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580",
  diskSizeGb: 100,
  diskType: "pd-balanced",
  spot: false,
  publicIp: false,
};

const AZURE_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555";
const AZURE_CONFIG: AzureConfig = {
  subscription: AZURE_SUBSCRIPTION,
  location: "westeurope",
  resourceGroup: "gpu-runners",
  subnetId: `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/ci/subnets/runners`,
  size: "Standard_NC24ads_A100_v4",
  fallbackSizes: ["Standard_NC40ads_H100_v5"],
  image: { kind: "marketplace", publisher: "microsoft-dsvm", offer: "ubuntu-hpc", sku: "2404", version: "latest" },
  diskSizeGb: 100,
  diskType: "Premium_LRS",
  zone: "1",
  fallbackZones: ["2"],
  publicIp: false,
  spot: true,
  autoShutdown: true,
  trustedLaunch: true,
};
const azureVm = (name: string) => `/subscriptions/${AZURE_SUBSCRIPTION}/resourceGroups/gpu-runners/providers/Microsoft.Compute/virtualMachines/${name}`;

describe("capacity alternatives", () => {
  it("aws: Spot over every type and subnet first, then on-demand, the user's order kept", () => {
    const tried = aws.plan(AWS_CONFIG).alternatives().map((p) => aws.configOf(p)!).map((c) => `${c.spot ? "spot" : "on-demand"} ${c.instanceType} ${c.subnetId}`);
    assert.deepEqual(tried, [
      "spot g5.xlarge subnet-00000001",
      "spot g5.xlarge subnet-00000002",
      "spot g4dn.xlarge subnet-00000001",
      "spot g4dn.xlarge subnet-00000002",
      "on-demand g5.xlarge subnet-00000001",
      "on-demand g5.xlarge subnet-00000002",
      "on-demand g4dn.xlarge subnet-00000001",
      "on-demand g4dn.xlarge subnet-00000002",
    ]);
  });

  it("aws: without spot or lists, the one configuration", () => {
    const single = { ...AWS_CONFIG, spot: false, fallbackInstanceTypes: [], fallbackSubnetIds: [] };
    assert.deepEqual(aws.plan(single).alternatives().map((p) => aws.configOf(p)), [{ ...single, availabilityZone: undefined }]);
  });

  it("aws: Availability Zones of the default VPC in order, when no subnet is given", () => {
    const zones = { ...AWS_CONFIG, spot: false, subnetId: undefined, fallbackSubnetIds: [], availabilityZone: "us-east-1a", fallbackZones: ["us-east-1b", "us-east-1c"] };
    const tried = aws.plan(zones).alternatives().map((p) => aws.configOf(p)!).map((c) => `${c.instanceType} ${c.availabilityZone} ${c.subnetId}`);
    assert.deepEqual(tried, [
      "g5.xlarge us-east-1a undefined",
      "g5.xlarge us-east-1b undefined",
      "g5.xlarge us-east-1c undefined",
      "g4dn.xlarge us-east-1a undefined",
      "g4dn.xlarge us-east-1b undefined",
      "g4dn.xlarge us-east-1c undefined",
    ]);
  });

  it("gcp: a type sold only as Spot gets no standard fallback", () => {
    const h100 = { ...GCP_CONFIG, machineType: "a3-highgpu-1g", fallbackMachineTypes: ["a3-highgpu-8g"], spot: true };
    const tried = gcp.plan(h100).alternatives().map((p) => gcp.configOf(p)!).map((c) => `${c.spot ? "spot" : "standard"} ${c.machineType} ${c.zone}`);
    assert.deepEqual(tried, [
      "spot a3-highgpu-1g us-central1-a",
      "spot a3-highgpu-1g europe-west4-b",
      "spot a3-highgpu-8g us-central1-a",
      "spot a3-highgpu-8g europe-west4-b",
      "standard a3-highgpu-8g us-central1-a",
      "standard a3-highgpu-8g europe-west4-b",
    ]);
  });

  it("azure: Spot over every size and zone first, then regular, the user's order kept", () => {
    const tried = azure.plan(AZURE_CONFIG).alternatives().map((p) => azure.configOf(p)!).map((c) => `${c.spot ? "spot" : "regular"} ${c.size} ${c.zone}`);
    assert.deepEqual(tried, [
      "spot Standard_NC24ads_A100_v4 1",
      "spot Standard_NC24ads_A100_v4 2",
      "spot Standard_NC40ads_H100_v5 1",
      "spot Standard_NC40ads_H100_v5 2",
      "regular Standard_NC24ads_A100_v4 1",
      "regular Standard_NC24ads_A100_v4 2",
      "regular Standard_NC40ads_H100_v5 1",
      "regular Standard_NC40ads_H100_v5 2",
    ]);
  });

  it("azure: without zones, Azure places each candidate in the region", () => {
    const regional = { ...AZURE_CONFIG, spot: false, zone: undefined, fallbackZones: [] };
    const tried = azure.plan(regional).alternatives().map((p) => azure.configOf(p)!).map((c) => `${c.size} ${c.zone}`);
    assert.deepEqual(tried, ["Standard_NC24ads_A100_v4 undefined", "Standard_NC40ads_H100_v5 undefined"]);
  });

  it("azure: only Azure's no-capacity answers move on", () => {
    const capacity = [
      "Code=\"SkuNotAvailable\" Message=\"The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_NC24ads_A100_v4' is currently not available in location 'westeurope' zones '1'",
      "Code=\"AllocationFailed\" Message=\"Allocation failed. We do not have sufficient capacity for the requested VM size in this region.\"",
      "Code=\"ZonalAllocationFailed\" Message=\"Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.\"",
      "Code=\"OverconstrainedAllocationRequest\" Message=\"Allocation failed. VM(s) with the following constraints cannot be allocated\"",
      "Code=\"OperationNotAllowed\" Message=\"Operation could not be completed as it results in exceeding approved LowPriorityCores quota.\"",
      "Code=\"OperationNotAllowed\" Message=\"Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota.\"",
    ];
    const other = [
      "Code=\"AuthorizationFailed\" Message=\"The client does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'\"",
      "Code=\"InvalidParameter\" Message=\"The value of parameter imageReference.sku is invalid.\"",
      "Code=\"MissingSubscriptionRegistration\" Message=\"The subscription is not registered to use namespace 'Microsoft.DevTestLab'.\"",
    ];
    for (const message of capacity) assert.ok(azure.capacityErrors.some((e) => e.test(message)), message);
    for (const message of other) assert.ok(!azure.capacityErrors.some((e) => e.test(message)), message);
  });

  it("gcp: each zone in turn, its region following the zone", () => {
    const tried = gcp.plan(GCP_CONFIG).alternatives().map((p) => gcp.configOf(p)!).map((c) => `${c.machineType} ${c.zone} ${c.region}`);
    assert.deepEqual(tried, ["g2-standard-8 us-central1-a us-central1", "g2-standard-8 europe-west4-b europe-west4"]);
  });
});

describe("boot console", () => {
  it("aws reads the instance's latest console output", async () => {
    const { run, calls } = recorder({ "aws ec2 get-console-output": { stdout: "gpu-runner: booting\n" } });
    assert.equal(await aws.plan(AWS_CONFIG).bootConsole({ name: "r-0", id: "i-0abc" }, run), "gpu-runner: booting\n");
    assert.deepEqual(calls, ["aws ec2 get-console-output --region us-east-1 --instance-id i-0abc --latest --output text --query Output"]);
  });

  it("gcp reads the serial port of the instance by name and zone", async () => {
    const { run, calls } = recorder({});
    await gcp.plan(GCP_CONFIG).bootConsole({ name: "r-0", id: "1234" }, run);
    assert.deepEqual(calls, ["gcloud compute instances get-serial-port-output r-0 --zone us-central1-a --project my-project-123"]);
  });

  it("azure reads the VM's serial log from its boot diagnostics", async () => {
    const { run, calls } = recorder({ "az vm boot-diagnostics": { stdout: "[   12.0] cloud-init[900]: gpu-runner: booting\n" } });
    assert.equal(await azure.plan(AZURE_CONFIG).bootConsole({ name: "r-0", id: azureVm("r-0") }, run), "[   12.0] cloud-init[900]: gpu-runner: booting\n");
    assert.deepEqual(calls, [`az vm boot-diagnostics get-boot-log --ids ${azureVm("r-0")}`]);
  });

  it("a failing CLI is an error naming the command", async () => {
    const { run } = recorder({ aws: { exitCode: 255, stderr: "An error occurred (UnauthorizedOperation)" } });
    await assert.rejects(aws.plan(AWS_CONFIG).bootConsole({ name: "r-0", id: "i-0abc" }, run), /aws ec2 get-console-output --region failed \(exit 255\): An error occurred \(UnauthorizedOperation\)/);
  });
});

describe("finding and deleting machines by their tags (stop without state, mode: sweep)", () => {
  /** A sweep by label, as stop does it without state: find, then delete what was found and the label's leftovers. */
  const sweep = async (cloud: typeof aws | typeof gcp | typeof azure, env: Record<string, string>, run: CommandRunner) =>
    cloud.deleteMachines(await cloud.findMachines({ label: LABEL }, env, run), [LABEL], env, run);
  const ec2Listing = (...instances: { id: string; state?: string; tags?: Record<string, string> }[]) =>
    JSON.stringify(
      instances.map((i) => ({
        id: i.id,
        state: i.state ?? "running",
        launched: "2026-12-01T10:00:00+00:00",
        tags: Object.entries({ Name: `${LABEL}-0`, "gpu-runner-label": LABEL, "gpu-runner-max-lifetime": "360", ...i.tags }).map(([Key, Value]) => ({ Key, Value })),
      })),
    );

  it("aws terminates the label's instances, waits, deletes its security group, then its lifetime schedules", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: ec2Listing({ id: "i-0aaa" }, { id: "i-0bbb" }) },
      "aws ec2 describe-security-groups": { stdout: "sg-0ccc\n" },
      "aws scheduler list-schedules": { stdout: `${LABEL}-0\t${LABEL}-1\n` },
    });
    const deleted = await sweep(aws, { AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(deleted, ["instance i-0aaa", "instance i-0bbb", "security group sg-0ccc", `lifetime schedule ${LABEL}-0`, `lifetime schedule ${LABEL}-1`]);
    assert.deepEqual(calls, [
      `aws ec2 describe-instances --region eu-west-1 --filters Name=tag:gpu-runner-managed-by,Values=ephemeral-gpu-runner Name=tag:gpu-runner-label,Values=${LABEL} Name=instance-state-name,Values=pending,running,stopping,stopped --query Reservations[].Instances[].{id: InstanceId, state: State.Name, launched: LaunchTime, tags: Tags} --output json`,
      "aws ec2 terminate-instances --region eu-west-1 --instance-ids i-0aaa i-0bbb",
      "aws ec2 wait instance-terminated --region eu-west-1 --instance-ids i-0aaa i-0bbb",
      `aws ec2 describe-security-groups --region eu-west-1 --filters Name=tag:gpu-runner-label,Values=${LABEL} --query SecurityGroups[].GroupId --output text`,
      "aws ec2 delete-security-group --region eu-west-1 --group-id sg-0ccc",
      `aws scheduler list-schedules --region eu-west-1 --group-name default --name-prefix ${LABEL} --query Schedules[].Name --output text`,
      `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-0`,
      `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-1`,
    ]);
  });

  it("aws reads each machine's state, launch time, label and lifetime from its tags; a whole repository's too", async () => {
    const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: ec2Listing({ id: "i-0aaa", state: "stopped" }, { id: "i-0bbb", state: "pending" }) } });
    const found = await aws.findMachines({ repository: "octo-org/md-sim" }, { AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(found, [
      { id: "i-0aaa", name: `${LABEL}-0`, label: LABEL, state: "stopped", launchedAt: new Date("2026-12-01T10:00:00Z"), maxLifetimeMinutes: 360, location: "eu-west-1" },
      { id: "i-0bbb", name: `${LABEL}-0`, label: LABEL, state: "running", launchedAt: new Date("2026-12-01T10:00:00Z"), maxLifetimeMinutes: 360, location: "eu-west-1" },
    ]);
    assert.match(calls[0] ?? "", / Name=tag:gpu-runner-repository,Values=octo-org\/md-sim /);
  });

  it("aws deletes leftover schedules even when the instances are already gone", async () => {
    const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" }, "aws scheduler list-schedules": { stdout: `${LABEL}-0\n` } });
    assert.deepEqual(await sweep(aws, { AWS_REGION: "eu-west-1" }, run), [`lifetime schedule ${LABEL}-0`]);
    assert.equal(calls.at(-1), `aws scheduler delete-schedule --region eu-west-1 --group-name default --name ${LABEL}-0`);
  });

  it("aws: a role that may not list schedules still sweeps the machines, and says so", async () => {
    const { run, calls } = recorder({
      "aws ec2 describe-instances": { stdout: ec2Listing({ id: "i-0aaa" }) },
      "aws scheduler list-schedules": { exitCode: 254, stderr: "An error occurred (AccessDeniedException) when calling the ListSchedules operation: not authorized\n" },
    });
    const deleted = await sweep(aws, { AWS_REGION: "eu-west-1" }, run);
    assert.deepEqual(deleted.slice(0, 1), ["instance i-0aaa"]);
    assert.match(deleted[1] ?? "", /^\(lifetime schedules not looked up: An error occurred \(AccessDeniedException\).*; any left delete themselves once they fire\)$/);
    assert.ok(!calls.some((c) => c.includes("delete-schedule")));
  });

  it("aws deletes only schedules of its own label", async () => {
    const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" }, "aws scheduler list-schedules": { stdout: `${LABEL}-0\tgpu-42-1-ffffffff-0\tother\n` } });
    assert.deepEqual(await sweep(aws, { AWS_REGION: "eu-west-1" }, run), [`lifetime schedule ${LABEL}-0`]);
    assert.equal(calls.filter((c) => c.includes("delete-schedule")).length, 1);
  });

  it("aws with nothing tagged deletes nothing", async () => {
    const { run, calls } = recorder({ "aws ec2 describe-instances": { stdout: "[]" } });
    assert.deepEqual(await sweep(aws, { AWS_DEFAULT_REGION: "us-east-1" }, run), []);
    assert.ok(!calls.some((c) => c.includes("terminate-instances")));
    assert.ok(!calls.some((c) => c.includes("delete-schedule")));
  });

  it("aws without a region refuses rather than guess", async () => {
    await assert.rejects(aws.findMachines({ label: LABEL }, {}, recorder({}).run), /AWS_REGION is not set/);
  });

  const azureListing = (...vms: { name: string; power?: string; tags?: Record<string, string> }[]) =>
    JSON.stringify(
      vms.map((vm) => ({
        id: azureVm(vm.name),
        name: vm.name,
        location: "westeurope",
        zones: ["1"],
        power: vm.power ?? "VM running",
        created: "2026-12-01T10:00:00.1234567+00:00",
        tags: { "gpu-runner-managed-by": "ephemeral-gpu-runner", "gpu-runner-label": LABEL, "gpu-runner-repository": "octo-org/md-sim", "gpu-runner-max-lifetime": "120", ...vm.tags },
      })),
    );

  it("azure finds the label's VMs (stopped and deallocated ones too), deletes them, then what they left by tag, NICs first", async () => {
    const leftovers = JSON.stringify([
      { id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d0", type: "Microsoft.Compute/disks", name: `${LABEL}-0-osdisk` },
      { id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n", type: "Microsoft.Network/networkSecurityGroups", name: `${LABEL}-no-inbound` },
      { id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/i0", type: "Microsoft.Network/networkInterfaces", name: `${LABEL}-0-nic` },
      { id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/publicIPAddresses/p0", type: "Microsoft.Network/publicIPAddresses", name: `${LABEL}-0-ip` },
      { id: "/subscriptions/s/resourceGroups/g/providers/microsoft.devtestlab/schedules/shutdown-computevm-x", type: "microsoft.devtestlab/schedules", name: "shutdown-computevm-x" },
    ]);
    const { run, calls } = recorder({
      "az vm list": { stdout: azureListing({ name: `${LABEL}-0`, power: "VM deallocated" }, { name: `${LABEL}-1`, power: "VM stopped" }, { name: "gpu-1-1-ffffffff-0", tags: { "gpu-runner-label": "gpu-1-1-ffffffff" } }) },
      "az resource list": { stdout: leftovers },
    });
    const env = { ARM_SUBSCRIPTION_ID: AZURE_SUBSCRIPTION };
    const found = await azure.findMachines({ label: LABEL }, env, run);
    assert.deepEqual(found, [
      { id: azureVm(`${LABEL}-0`), name: `${LABEL}-0`, label: LABEL, state: "stopped", launchedAt: new Date("2026-12-01T10:00:00.123Z"), maxLifetimeMinutes: 120, location: "westeurope zone 1" },
      { id: azureVm(`${LABEL}-1`), name: `${LABEL}-1`, label: LABEL, state: "stopped", launchedAt: new Date("2026-12-01T10:00:00.123Z"), maxLifetimeMinutes: 120, location: "westeurope zone 1" },
    ]);
    const deleted = await azure.deleteMachines(found, [LABEL], env, run);
    assert.deepEqual(deleted, [
      `virtual machine ${LABEL}-0`,
      `virtual machine ${LABEL}-1`,
      `network interface ${LABEL}-0-nic`,
      `public IP ${LABEL}-0-ip`,
      `network security group ${LABEL}-no-inbound`,
      `disk ${LABEL}-0-osdisk`,
      "auto-shutdown schedule shutdown-computevm-x",
    ]);
    assert.deepEqual(calls, [
      `az vm list --show-details --subscription ${AZURE_SUBSCRIPTION} --query [?tags."gpu-runner-managed-by"=='ephemeral-gpu-runner'].{id: id, name: name, location: location, zones: zones, power: powerState, created: timeCreated, tags: tags} --output json`,
      `az vm delete --ids ${azureVm(`${LABEL}-0`)} ${azureVm(`${LABEL}-1`)} --yes`,
      `az resource list --tag gpu-runner-label=${LABEL} --subscription ${AZURE_SUBSCRIPTION} --query [].{id: id, type: type, name: name} --output json`,
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/i0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/publicIPAddresses/p0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d0",
      "az resource delete --ids /subscriptions/s/resourceGroups/g/providers/microsoft.devtestlab/schedules/shutdown-computevm-x",
    ]);
  });

  it("azure finds a repository's VMs by its tag, running ones as running; the CLI's own subscription without ARM_SUBSCRIPTION_ID", async () => {
    const { run, calls } = recorder({ "az vm list": { stdout: azureListing({ name: `${LABEL}-0` }, { name: "other-0", tags: { "gpu-runner-repository": "octo-org/other" } }) } });
    const found = await azure.findMachines({ repository: "octo-org/md-sim" }, {}, run);
    assert.deepEqual(found.map((m) => [m.name, m.state]), [[`${LABEL}-0`, "running"]]);
    assert.ok(!calls[0]?.includes("--subscription"), calls[0]);
  });

  it("azure with nothing tagged deletes nothing; a CLI that prints no JSON is an error", async () => {
    const { run, calls } = recorder({ "az vm list": { stdout: "[]" }, "az resource list": { stdout: "[]" } });
    assert.deepEqual(await sweep(azure, {}, run), []);
    assert.ok(!calls.some((c) => c.includes(" delete ")));
    await assert.rejects(azure.findMachines({ label: LABEL }, {}, recorder({ "az vm list": { stdout: "ERROR: Please run 'az login'" } }).run), /az vm list did not print JSON/);
  });

  it("gcp finds the label's instances in whatever zone they are, stopped ones too, and deletes them", async () => {
    const listing = JSON.stringify([
      { name: `${LABEL}-0`, zone: "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a", status: "RUNNING", creationTimestamp: "2026-12-01T02:00:00.000-08:00", labels: { "gpu-runner-label": LABEL, "gpu-runner-max-lifetime": "90" } },
      { name: `${LABEL}-1`, zone: "projects/p/zones/europe-west4-b", status: "TERMINATED", labels: { "gpu-runner-label": LABEL } },
    ]);
    const { run, calls } = recorder({ "gcloud compute instances list": { stdout: listing } });
    const found = await gcp.findMachines({ label: LABEL }, { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.deepEqual(found.map((m) => [m.name, m.location, m.state, m.maxLifetimeMinutes, m.launchedAt?.toISOString()]), [
      [`${LABEL}-0`, "us-central1-a", "running", 90, "2026-12-01T10:00:00.000Z"],
      [`${LABEL}-1`, "europe-west4-b", "stopped", undefined, undefined],
    ]);
    assert.equal(calls[0], `gcloud compute instances list --project my-project-123 --filter=labels.gpu-runner-managed-by=ephemeral-gpu-runner AND labels.gpu-runner-label=${LABEL} --format=json`);
    const deleted = await gcp.deleteMachines(found, [LABEL], { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.deepEqual(deleted, [`instance ${LABEL}-0 (us-central1-a)`, `instance ${LABEL}-1 (europe-west4-b)`]);
    assert.deepEqual(calls.slice(1), [
      `gcloud compute instances delete ${LABEL}-0 --zone us-central1-a --project my-project-123 --quiet`,
      `gcloud compute instances delete ${LABEL}-1 --zone europe-west4-b --project my-project-123 --quiet`,
    ]);
  });

  it("gcp looks a repository up by its label value as the stack normalised it", async () => {
    const { run, calls } = recorder({ "gcloud compute instances list": { stdout: "[]" } });
    await gcp.findMachines({ repository: "Octo-Org/MD.Sim" }, { GOOGLE_CLOUD_PROJECT: "my-project-123" }, run);
    assert.match(calls[0] ?? "", /labels\.gpu-runner-repository=octo-org_md_sim /);
  });
});

describe("state stores (state-backend: the cloud's bucket)", () => {
  const readerOf = (inputs: Record<string, string>) => new InputReader(inputEnv(inputs));
  const s3 = aws.stateStore!.parse(readerOf({ "state-bucket": "md-sim-state", "state-prefix": "ci/gpu", "state-region": "eu-central-1" }));
  const gcs = gcp.stateStore!.parse(readerOf({ "state-bucket": "md-sim-state" }));
  const object = (scheme: string) => `${scheme}://md-sim-state/${scheme === "s3" ? "ci/gpu" : "gpu-runner"}/${LABEL}.bin`;

  it("s3: one object per start, written, read and removed with the aws CLI", async () => {
    const { run, calls } = recorder({});
    await s3.put(LABEL, "/tmp/state.bin", run);
    assert.equal(await s3.get(LABEL, "/tmp/back.bin", run), true);
    await s3.remove(LABEL, run);
    assert.deepEqual(calls, [
      `aws s3 cp /tmp/state.bin ${object("s3")} --region eu-central-1 --only-show-errors`,
      `aws s3 ls ${object("s3")} --region eu-central-1`,
      `aws s3 cp ${object("s3")} /tmp/back.bin --region eu-central-1 --only-show-errors`,
      `aws s3 rm ${object("s3")} --region eu-central-1 --only-show-errors`,
    ]);
  });

  it("s3: a missing object is no state (false), a refused listing an error", async () => {
    const missing = recorder({ "aws s3 ls": { exitCode: 1 } });
    assert.equal(await s3.get(LABEL, "/tmp/back.bin", missing.run), false);
    assert.ok(!missing.calls.some((c) => c.startsWith("aws s3 cp")), "nothing copied");
    const denied = recorder({ "aws s3 ls": { exitCode: 1, stderr: "An error occurred (AccessDenied) when calling the ListObjectsV2 operation" } });
    await assert.rejects(s3.get(LABEL, "/tmp/back.bin", denied.run), /AccessDenied/);
  });

  it("gcs: one object per start, written, read and removed with gcloud storage", async () => {
    const { run, calls } = recorder({});
    await gcs.put(LABEL, "/tmp/state.bin", run);
    assert.equal(await gcs.get(LABEL, "/tmp/back.bin", run), true);
    await gcs.remove(LABEL, run);
    assert.deepEqual(calls, [
      `gcloud storage cp /tmp/state.bin ${object("gs")} --quiet`,
      `gcloud storage ls ${object("gs")}`,
      `gcloud storage cp ${object("gs")} /tmp/back.bin --quiet`,
      `gcloud storage rm ${object("gs")} --quiet`,
    ]);
  });

  it("gcs: a missing object is no state (false), a refused listing an error", async () => {
    const missing = recorder({ "gcloud storage ls": { exitCode: 1, stderr: "ERROR: (gcloud.storage.ls) One or more URLs matched no objects." } });
    assert.equal(await gcs.get(LABEL, "/tmp/back.bin", missing.run), false);
    const denied = recorder({ "gcloud storage ls": { exitCode: 1, stderr: "ERROR: (gcloud.storage.ls) HTTPError 403: caller does not have storage.objects.list access" } });
    await assert.rejects(gcs.get(LABEL, "/tmp/back.bin", denied.run), /403/);
  });
});
