// The AWS stack: one aws_instance per runner. Security posture lives here: IMDSv2 only, encrypted root volume deleted
// with the instance, terminate on power-off, no inbound traffic, public IP only when asked, and (with
// lifetime-role) a lifetime cap outside the machine: an EventBridge Scheduler schedule that terminates it.
import { gzipSync } from "node:zlib";
import { Fn, TerraformLocal } from "cdktf";
import { formatAccelerator } from "../accelerator.ts";
import type { CloudTerraform } from "../cloud.ts";
import { lifetimeCapTime } from "../lifetime-cap.ts";
import { lazyBindings } from "../provider-bindings.ts";
import { type MachineMade, RunnerStack, type RunnerSlot } from "../runner-stack.ts";
import { architectureOf, defaultImageParameter } from "./catalog.ts";
import { AWS_APPLY_ERROR_HINTS } from "./apply-errors.ts";
import type { AwsConfig } from "./config.ts";
import { IAM_ROLE_ARN } from "./inputs.ts";
import { scheduleDescription } from "./schedule-owner.ts";

/** The provider bindings, imported on first use (deep paths: the package root loads 2,200 modules). */
const bindings = lazyBindings("aws", async () => {
  const [ami, instanceType, ssmParameter, subnet, vpc, instance, provider, schedule, securityGroup] = await Promise.all(
    [
      import("@cdktf/provider-aws/lib/data-aws-ami/index.js"),
      import("@cdktf/provider-aws/lib/data-aws-ec2-instance-type/index.js"),
      import("@cdktf/provider-aws/lib/data-aws-ssm-parameter/index.js"),
      import("@cdktf/provider-aws/lib/data-aws-subnet/index.js"),
      import("@cdktf/provider-aws/lib/data-aws-vpc/index.js"),
      import("@cdktf/provider-aws/lib/instance/index.js"),
      import("@cdktf/provider-aws/lib/provider/index.js"),
      import("@cdktf/provider-aws/lib/scheduler-schedule/index.js"),
      import("@cdktf/provider-aws/lib/security-group/index.js"),
    ],
  );
  return {
    DataAwsAmi: ami.DataAwsAmi,
    DataAwsEc2InstanceType: instanceType.DataAwsEc2InstanceType,
    DataAwsSsmParameter: ssmParameter.DataAwsSsmParameter,
    DataAwsSubnet: subnet.DataAwsSubnet,
    DataAwsVpc: vpc.DataAwsVpc,
    Instance: instance.Instance,
    AwsProvider: provider.AwsProvider,
    SchedulerSchedule: schedule.SchedulerSchedule,
    SecurityGroup: securityGroup.SecurityGroup,
  };
});

export class AwsRunnerStack extends RunnerStack<AwsConfig> {
  protected override configureProvider(config: AwsConfig): AwsConfig {
    const { AwsProvider } = bindings.get();
    new AwsProvider(this, "aws", { region: config.region, defaultTags: [{ tags: this.ownershipTags() }] });
    if (config.securityGroupIds.length > 0) return config;
    return { ...config, securityGroupIds: [this.noInboundGroup(config)] };
  }

  /** Without a given security group, one with no inbound rule at all: the runner only dials out to GitHub. */
  private noInboundGroup(config: AwsConfig): string {
    const { DataAwsSubnet, DataAwsVpc, SecurityGroup } = bindings.get();
    const vpcId = config.subnetId
      ? new DataAwsSubnet(this, "subnet", { id: config.subnetId }).vpcId
      : new DataAwsVpc(this, "default-vpc", { default: true }).id;
    const group = new SecurityGroup(this, "no-inbound", {
      namePrefix: `${this.shared.label}-`,
      description: "Ephemeral GPU runner: no inbound, all outbound",
      vpcId,
      egress: [{ fromPort: 0, toPort: 0, protocol: "-1", cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      tags: this.ownershipTags(),
    });
    return group.id;
  }

  /** EC2's GPU count for the instance type (DescribeInstanceTypes, read at apply): the GPU gate expects that many. */
  protected override gpuCountAtApply(config: AwsConfig): string {
    const described = this.instanceTypeData(config);
    return Fn.sum(Fn.concat([[0], Fn.lookupNested(described.gpus, ["*", "count"])]));
  }

  /**
   * EC2's own description of the instance type, read once per stack. Its postconditions fail the plan, before
   * anything is created, when the type does not carry the accelerator asked for or cannot boot the image's
   * architecture.
   */
  private instanceTypeData(config: AwsConfig) {
    const { DataAwsEc2InstanceType } = bindings.get();
    const existing = this.node.tryFindChild("machine-type");
    if (existing instanceof DataAwsEc2InstanceType) return existing;
    const checks = [];
    if (config.accelerator) {
      checks.push({
        condition: `\${sum(concat([0], tolist(self.gpus)[*].count)) == ${config.accelerator.count}}`,
        errorMessage: `EC2 describes ${config.instanceType} with another number of GPUs than accelerator ${formatAccelerator(config.accelerator)} asks for.`,
      });
    }
    if (config.image.kind === "default" || config.image.kind === "name") {
      const arch = architectureOf(config.instanceType);
      checks.push({
        condition: `\${contains(self.supported_architectures, "${arch}")}`,
        errorMessage: `The image is chosen for ${arch}, and ${config.instanceType} does not run ${arch}: set image to one built for its architecture.`,
      });
    }
    return new DataAwsEc2InstanceType(this, "machine-type", {
      instanceType: config.instanceType,
      lifecycle: { postcondition: checks },
    });
  }

  /** The AMI id, resolved by Terraform at apply (once per stack) unless given as an id. */
  private imageId(config: AwsConfig): string {
    const { DataAwsAmi, DataAwsSsmParameter } = bindings.get();
    const image = config.image;
    if (image.kind === "id") return image.id;
    const existing = this.node.tryFindChild("machine-image");
    if (existing instanceof DataAwsAmi) return existing.id;
    // insecure_value: an AMI id is public, and a sensitive value would hide the image from plans and outputs.
    if (existing instanceof DataAwsSsmParameter) return existing.insecureValue;
    if (image.kind === "ssm")
      return new DataAwsSsmParameter(this, "machine-image", { name: image.parameter }).insecureValue;
    if (image.kind === "default")
      return new DataAwsSsmParameter(this, "machine-image", { name: defaultImageParameter(config.instanceType) })
        .insecureValue;
    const found = new DataAwsAmi(this, "machine-image", {
      mostRecent: true,
      owners: [image.owner],
      filter: [
        { name: "name", values: [image.pattern] },
        { name: "architecture", values: [architectureOf(config.instanceType)] },
        { name: "state", values: ["available"] },
      ],
    });
    return found.id;
  }

  protected override createMachine(runner: RunnerSlot, userData: string, config: AwsConfig): MachineMade {
    const { Instance } = bindings.get();
    const tags = { ...this.ownershipTags(), Name: runner.name };
    // Its checks hold even when expected-gpus makes the GPU count not needed.
    if (config.accelerator || config.image.kind === "default" || config.image.kind === "name")
      this.instanceTypeData(config);
    const instance = new Instance(this, `runner-${runner.index}`, {
      ami: this.imageId(config),
      instanceType: config.instanceType,
      // The base the user keeps outside the action (key pair, placement, capacity reservation...); every argument
      // set here overrides the template's, so it cannot weaken the settings below.
      launchTemplate: config.launchTemplate,
      subnetId: config.subnetId,
      availabilityZone: config.availabilityZone,
      vpcSecurityGroupIds: config.securityGroupIds,
      iamInstanceProfile: config.instanceProfile,
      associatePublicIpAddress: config.publicIp,
      // A one-time Spot request that terminates on interruption: an interrupted CI machine is never resumed.
      instanceMarketOptions: config.spot
        ? {
            marketType: "spot",
            spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" },
          }
        : undefined,
      // Power-off (after the job, at idle timeout or at max-lifetime) must end the bill, not park the machine.
      instanceInitiatedShutdownBehavior: "terminate",
      // IMDSv2 only, one hop: a container in a job cannot reach the instance's credentials.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        encrypted: true,
        deleteOnTermination: true,
        volumeSize: config.diskSizeGb,
        volumeType: config.diskType,
        iops: config.diskIops,
        throughput: config.diskThroughput,
      },
      // Gzipped (cloud-init unpacks it): EC2 takes at most 16 KB of user-data, and the script plus a JIT config
      // comes close to that in clear. The script is a local so the JSON stays readable and needs no second escaping.
      userDataBase64: Fn.base64gzip(new TerraformLocal(this, `boot_script_${runner.index}`, userData).asString),
      userDataReplaceOnChange: true,
      tags,
      // default_tags do not reach volumes created with the instance.
      volumeTags: tags,
    });
    if (config.lifetimeRole) this.lifetimeSchedule(runner, instance.id, config.lifetimeRole);
    return { id: instance.id, image: instance.ami };
  }

  /**
   * The hard cap outside the machine's reach: the boot script's timer (power-off, then terminate) lives in the VM,
   * where a job with sudo can disarm it. This one-time EventBridge Scheduler schedule calls EC2 TerminateInstances
   * on the instance at the cap, whatever runs on it, then deletes itself.
   */
  private lifetimeSchedule(runner: RunnerSlot, instanceId: string, roleArn: string): void {
    const { SchedulerSchedule } = bindings.get();
    const partition = IAM_ROLE_ARN.exec(roleArn)?.[1] ?? "aws";
    new SchedulerSchedule(this, `lifetime-${runner.index}`, {
      // The runner's name starts with the start's label: unique per start, and what the sweep lists by prefix
      // (schedules take no tags: only schedule groups do). Names: 1-64 of [0-9a-zA-Z-_.].
      name: runner.name,
      groupName: "default",
      description: scheduleDescription(runner.name, this.shared.ownership.repositoryId),
      // A one-time schedule, at(yyyy-mm-ddThh:mm:ss) in the time zone given (docs.aws.amazon.com/scheduler/latest/
      // UserGuide/schedule-types.html#one-time).
      scheduleExpression: atExpression(
        lifetimeCapTime(this.shared.synthesizedAt, this.shared.boot.maxLifetimeMinutes, "second"),
      ),
      scheduleExpressionTimezone: "UTC",
      // OFF: invoked at the time given (within its minute), not spread over a window after it.
      flexibleTimeWindow: { mode: "OFF" },
      // DELETE: the schedule removes itself after its one invocation (UserGuide/managing-schedule-delete.html;
      // aws_scheduler_schedule.action_after_completion, NONE by default), so none is left behind to find.
      actionAfterCompletion: "DELETE",
      target: {
        // The universal target arn:aws:scheduler:::aws-sdk:SERVICE:apiAction calls that API with Input as its
        // request parameters (UserGuide/managing-targets-universal.html), here EC2 TerminateInstances. Its
        // partition follows the role's (aws-cn, aws-us-gov).
        arn: `arn:${partition}:scheduler:::aws-sdk:ec2:terminateInstances`,
        input: Fn.jsonencode({ InstanceIds: [instanceId] }),
        roleArn,
        // The most EventBridge Scheduler allows (APIReference/API_RetryPolicy.html), written out for the reviewer:
        // a throttled or failing EC2 call is retried with backoff for up to a day rather than dropped.
        retryPolicy: { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 },
      },
    });
  }
}

/** EventBridge Scheduler's one-time expression, at(yyyy-mm-ddThh:mm:ss), read in the schedule's time zone (UTC). */
function atExpression(time: Date): string {
  return `at(${time.toISOString().slice(0, 19)})`;
}

/** EC2's answers that mean "no capacity for this, here, now": the next instance type or subnet may have some. */
const CAPACITY_ERRORS: readonly RegExp[] = [
  /InsufficientInstanceCapacity/,
  /InsufficientHostCapacity/,
  /InsufficientCapacityOnHost/,
  /MaxSpotInstanceCountExceeded/,
  /SpotMaxPriceTooLow/,
  /capacity-not-available/,
  /InstanceLimitExceeded.*spot/is,
  /Unsupported.*(instance type|Availability Zone)/i,
];

export const awsTerraform: CloudTerraform<AwsConfig> = {
  load: bindings.load,
  providerPackages: ["@cdktf/provider-aws"],
  createStack: (scope, id, shared, config) => new AwsRunnerStack(scope, id, shared, config),
  capacityErrors: CAPACITY_ERRORS,
  applyErrorHints: AWS_APPLY_ERROR_HINTS,
  credentialsHint:
    "that aws-actions/configure-aws-credentials ran in this job and its role has the permissions listed in docs/aws.md " +
    "(ssm:GetParameter for the default image, ec2:DescribeInstanceTypes for the GPU count), that the image exists in this region, " +
    "and that the account's EC2 quota for this instance family is not exhausted.",
  // EC2 rejects user-data over 16 KB (before base64; here after gzip).
  userDataLimitBytes: 16 * 1024,
  // The stack sends it gzipped (Fn.base64gzip): EC2 counts the gzip's bytes.
  userDataBytes: (script) => gzipSync(script).length,
};
