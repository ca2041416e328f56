// The Compute Engine stack: one google_compute_instance per runner. Security and cost posture lives here: a hard
// lifetime enforced by Compute Engine itself on a running instance (max_run_duration, then DELETE), an instance that
// deletes itself after its job when it has a service account (end-command.ts), no service account unless asked, no
// external IP unless asked, project-wide SSH keys blocked, every resource labelled with its owner.
import { Fn } from "cdktf";
import { formatAccelerator } from "../accelerator.ts";
import type { CloudTerraform } from "../cloud.ts";
import { lazyBindings } from "../provider-bindings.ts";
import { type MachineMade, RunnerStack, type RunnerSlot } from "../runner-stack.ts";
import { GCP_APPLY_ERROR_HINTS } from "./apply-errors.ts";
import type { GcpConfig } from "./config.ts";
import { endCommand } from "./end-command.ts";
import { toGcpLabels } from "./labels.ts";

/** These series only boot with the gVNIC network driver. */
const GVNIC_REQUIRED = /^(a3|a4x?)-/;

/** The provider bindings, imported on first use so the action can prune the other clouds' provider packages. */
const bindings = lazyBindings("google", async () => {
  const [instance, machineTypes, provider] = await Promise.all([
    import("@cdktf/provider-google/lib/compute-instance/index.js"),
    import("@cdktf/provider-google/lib/data-google-compute-machine-types/index.js"),
    import("@cdktf/provider-google/lib/provider/index.js"),
  ]);
  return {
    ComputeInstance: instance.ComputeInstance,
    DataGoogleComputeMachineTypes: machineTypes.DataGoogleComputeMachineTypes,
    GoogleProvider: provider.GoogleProvider,
  };
});

export class GcpRunnerStack extends RunnerStack<GcpConfig> {
  protected override configureProvider(config: GcpConfig): GcpConfig {
    const { GoogleProvider } = bindings.get();
    const provider = new GoogleProvider(this, "google", {
      project: config.project,
      region: config.region,
      zone: config.zone,
    });
    // default_labels reach every labelled resource this provider creates, including any added later. Set as an
    // override: cdktf snake-cases the keys of maps inside provider blocks (gpu-runner-label -> gpu_runner_label).
    provider.addOverride("default_labels", toGcpLabels(this.ownershipTags()));
    return config;
  }

  /**
   * Compute Engine's count of the GPUs a machine type carries (machineTypes.list, read at apply); none for N1 with
   * attached GPUs, whose count is the one asked for.
   */
  protected override gpuCountAtApply(config: GcpConfig): string | undefined {
    if (config.gpu) return undefined;
    const described = this.machineTypeData(config);
    const accelerators = Fn.flatten(Fn.lookupNested(described.machineTypes, ["*", "accelerators"]));
    return Fn.sum(Fn.concat([[0], Fn.lookupNested(accelerators, ["*", "guest_accelerator_count"])]));
  }

  /**
   * Compute Engine's description of the machine type in the zone, read once per stack. Its postconditions fail the
   * plan, before anything is created, when the zone has no such type or it does not carry the accelerator asked for.
   */
  private machineTypeData(config: GcpConfig) {
    const { DataGoogleComputeMachineTypes } = bindings.get();
    const existing = this.node.tryFindChild("machine-type");
    if (existing instanceof DataGoogleComputeMachineTypes) return existing;
    const checks = [
      {
        condition: "${length(self.machine_types) == 1}",
        errorMessage: `Compute Engine offers no machine type ${config.machineType} in zone ${config.zone}.`,
      },
    ];
    if (config.accelerator && !config.gpu) {
      checks.push({
        condition: `\${sum(concat([0], flatten(self.machine_types[*].accelerators)[*].guest_accelerator_count)) == ${config.accelerator.count}}`,
        errorMessage: `Compute Engine describes ${config.machineType} with another number of GPUs than accelerator ${formatAccelerator(config.accelerator)} asks for.`,
      });
    }
    return new DataGoogleComputeMachineTypes(this, "machine-type", {
      project: config.project,
      zone: config.zone,
      filter: `name = "${config.machineType}"`,
      lifecycle: { postcondition: checks },
    });
  }

  /**
   * With a service account, the boot script deletes its own instance before it powers off (after its job, at the
   * idle timeout, at the lifetime cap): a guest power-off only stops a Compute Engine instance, whose boot disk then
   * stays billed and which max_run_duration no longer deletes. Without one, nothing on the machine can call the API.
   */
  protected override bootOverrides(config: GcpConfig): Record<string, string> {
    if (!config.serviceAccount) return {};
    return { GR_END_COMMAND_B64: Buffer.from(endCommand(), "utf8").toString("base64") };
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: GcpConfig): MachineMade {
    const { ComputeInstance } = bindings.get();
    if (config.accelerator && !config.gpu) this.machineTypeData(config);
    const labels = toGcpLabels(this.ownershipTags());
    const spot = config.spot;
    const instance = new ComputeInstance(this, `runner-${runner.index}`, {
      name: runner.name,
      zone: config.zone,
      machineType: config.machineType,
      description: `Ephemeral GitHub Actions runner ${runner.name}`,
      labels,
      // A network tag lets the project's firewall rules single out runners (e.g. deny all ingress to them).
      tags: ["gpu-runner"],
      bootDisk: {
        autoDelete: true,
        initializeParams: {
          image: config.image,
          size: config.diskSizeGb,
          type: config.diskType,
          // default_labels do not reach the boot disk created with the instance.
          labels,
        },
      },
      guestAccelerator: config.gpu ? [{ type: config.gpu.type, count: config.gpu.count }] : undefined,
      scheduling: {
        // GPU machines cannot live-migrate; Spot requires TERMINATE and no automatic restart too.
        onHostMaintenance: "TERMINATE",
        automaticRestart: false,
        provisioningModel: spot ? "SPOT" : "STANDARD",
        preemptible: spot,
        // The cost cap held by Compute Engine, out of a job's reach: a RUNNING instance is deleted at max-lifetime
        // (not stopped, which would keep its disk billed). It does not reach a stopped one: Compute Engine clears the
        // termination time when an instance stops ("Limit the run time of a VM"), which is what a guest power-off
        // or host maintenance (TERMINATE, no automatic restart) does; hence the self-delete above, the stop job and
        // the sweep. Spot preemption deletes it too.
        maxRunDuration: { seconds: this.shared.boot.maxLifetimeMinutes * 60 },
        instanceTerminationAction: "DELETE",
      },
      shieldedInstanceConfig: {
        // Secure Boot off: the NVIDIA kernel modules of Deep Learning VM (and most GPU) images are not signed
        // with a key the firmware trusts, so the driver would not load and the GPU gate would fail. vTPM and
        // integrity monitoring still measure the boot.
        enableSecureBoot: false,
        enableVtpm: true,
        enableIntegrityMonitoring: true,
      },
      serviceAccount: config.serviceAccount
        ? { email: config.serviceAccount.email, scopes: config.serviceAccount.scopes }
        : undefined,
      networkInterface: [
        {
          network: config.network,
          subnetwork: config.subnetwork,
          nicType: GVNIC_REQUIRED.test(config.machineType) ? "GVNIC" : undefined,
          // An access_config block is what gives an external IP; without it the machine needs Cloud NAT.
          accessConfig: config.publicIp ? [{}] : undefined,
        },
      ],
      metadata: {
        // The boot script, holding `${var.jit_config_N}` for Terraform to fill in at apply time.
        "startup-script": userData,
        // Project-wide SSH keys would let every holder of one into a machine that runs this repository's jobs
        // with their secrets; OS Login leaves SSH to IAM (and the network's firewall), never to metadata keys.
        "block-project-ssh-keys": "TRUE",
        "enable-oslogin": "TRUE",
      },
    });
    // The image the disk was made from: the family's newest image at apply, as Compute Engine resolved it.
    return { id: instance.instanceId, image: instance.bootDisk.initializeParams.image };
  }
}

/** Compute Engine's answers that mean "no capacity (or GPU quota) here, now": another zone or type may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?/,
  /does not have enough resources available to fulfill the request/,
  /QUOTA_EXCEEDED.*(GPUS|PREEMPTIBLE)/is,
];

export const gcpTerraform: CloudTerraform<GcpConfig> = {
  load: bindings.load,
  providerPackages: ["@cdktf/provider-google"],
  createStack: (scope, id, shared, config) => new GcpRunnerStack(scope, id, shared, config),
  capacityErrors: CAPACITY_ERRORS,
  applyErrorHints: GCP_APPLY_ERROR_HINTS,
  credentialsHint:
    "that google-github-actions/auth ran in this job and its service account has the roles listed in docs/gcp.md " +
    "(compute.machineTypes.list for the GPU count), " +
    "that the image or image family exists, and that the project's GPU quota in this region is not exhausted.",
  // Compute Engine reserves label keys starting with goog-.
  // Compute Engine limits one metadata value (the startup-script) to 256 KB.
  userDataLimitBytes: 256 * 1024,
  userDataBytes: (script) => Buffer.byteLength(script, "utf8"),
};
