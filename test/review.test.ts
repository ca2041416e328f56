// npm run review: what a start would create, from the same inputs as the action, on a machine with no account.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InputError } from "../stacks/input-reader.ts";
import { review } from "../scripts/dev/review.ts";
import { UnknownInputError } from "../scripts/dev/review-env.ts";

const dir = mkdtempSync(join(tmpdir(), "review-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const outdir = () => join(dir, `out-${n++}`);

function row(text: string, name: string): string | undefined {
  return new RegExp(`^ {2}${name} +(.*)$`, "m").exec(text)?.[1];
}

/** The inputs the review says it filled in from the cloud's example, as "input=value" items; [] when none. */
function examples(text: string): string[] {
  const line = /^Filled in as examples: (.*) \(set them to review your own: a run would not fill them in\)$/m.exec(
    text,
  );
  return line ? line[1]!.split(", ") : [];
}

describe("review", () => {
  it("with nothing set, shows the AWS example and writes its Terraform JSON", async () => {
    const { text, stackDir } = await review({}, outdir());
    assert.equal(row(text, "cloud"), "aws");
    assert.deepEqual(examples(text), ["accelerator=t4", "region=us-east-1"]);
    assert.equal(row(text, "machines"), "1 x g4dn.xlarge");
    assert.equal(
      row(text, "GPUs checked before a job"),
      "1 per machine (accelerator t4:1; at apply, EC2's description of g4dn.xlarge decides)",
    );
    assert.match(row(text, "estimated cost") ?? "", /^\$0\.53 per hour for 1 machine\(s\)/);
    assert.ok(JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).resource.aws_instance["runner-0"]);
  });

  it("on AWS, says plainly when nothing outside the machine caps its lifetime, and shows the schedule when something does", async () => {
    const without = await review({}, outdir());
    assert.match(
      row(without.text, "caveat") ?? "",
      /^lifetime-role is not set: on AWS only the machine's own timer .* and the stop job end the machine/,
    );
    assert.equal(
      JSON.parse(readFileSync(join(without.stackDir, "cdk.tf.json"), "utf8")).resource.aws_scheduler_schedule,
      undefined,
    );
    const role = "arn:aws:iam::123456789012:role/gpu-runner-lifetime";
    const withRole = await review({ GPU_RUNNER_LIFETIME_ROLE: role }, outdir());
    assert.equal(row(withRole.text, "caveat"), undefined);
    const schedule = JSON.parse(readFileSync(join(withRole.stackDir, "cdk.tf.json"), "utf8")).resource
      .aws_scheduler_schedule["lifetime-0"];
    assert.equal(schedule.target.role_arn, role);
  });

  // The same two inputs resolved by each cloud, nothing else set: `GPU_RUNNER_CLOUD=gcp GPU_RUNNER_ACCELERATOR=t4 npm run review`.
  const BY_CLOUD: Record<string, Record<string, string>> = {
    aws: {
      machines: "1 x g4dn.xlarge",
      "GPUs checked before a job":
        "1 per machine (accelerator t4:1; at apply, EC2's description of g4dn.xlarge decides)",
      location: "us-east-1",
      image:
        "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id (the default: AWS Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04), resolved at apply)",
      "estimated cost": "$0.53 per hour for 1 machine(s) (on-demand list price of 2025-06)",
    },
    gcp: {
      machines: "1 x n1-standard-4 + 1 x nvidia-tesla-t4",
      "GPUs checked before a job": "1 per machine (accelerator t4:1, attached to n1-standard-4)",
      location: "us-central1-a",
      image:
        "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580 (the default Deep Learning VM family: its newest image at apply)",
      "estimated cost": "$0.54 per hour for 1 machine(s) (on-demand list price of 2025)",
    },
    azure: {
      machines: "1 x Standard_NC4as_T4_v3",
      "GPUs checked before a job": "1 per machine (accelerator t4:1)",
      location: "eastus, gpu-runners",
      image:
        "microsoft-dsvm:ubuntu-hpc:2404:latest (the default: Ubuntu-HPC 24.04 with the NVIDIA driver, its latest version at apply)",
      "estimated cost": "$0.53 per hour for 1 machine(s) (on-demand list price of 2024)",
    },
  };
  for (const [cloud, rows] of Object.entries(BY_CLOUD)) {
    it(`GPU_RUNNER_CLOUD=${cloud} GPU_RUNNER_ACCELERATOR=t4: the cloud's machine, GPU count, image and price for a T4`, async () => {
      const { text } = await review({ GPU_RUNNER_CLOUD: cloud, GPU_RUNNER_ACCELERATOR: "t4" }, outdir());
      assert.equal(row(text, "cloud"), cloud);
      for (const [name, value] of Object.entries(rows)) assert.equal(row(text, name), value, name);
      assert.ok(!text.includes("Notice:"), "no input of the other cloud was given");
    });
  }

  it("one with: block for both clouds: the other cloud's inputs are noticed, not refused", async () => {
    const shared = {
      GPU_RUNNER_ACCELERATOR: "t4",
      GPU_RUNNER_REGION: "us-east-1",
      GPU_RUNNER_ZONE: "us-central1-a",
      GPU_RUNNER_PROJECT: "my-project",
    };
    const aws = (await review({ ...shared, GPU_RUNNER_CLOUD: "aws" }, outdir())).text;
    assert.match(
      aws,
      /^Notice: Input 'project' is read only with cloud gcp; ignored with cloud aws\.\nNotice: Input 'zone' is read only with cloud gcp; ignored with cloud aws\.\n/,
    );
    const gcp = (await review({ ...shared, GPU_RUNNER_CLOUD: "gcp" }, outdir())).text;
    assert.match(gcp, /^Notice: Input 'region' is read only with cloud aws; ignored with cloud gcp\.\nReview:/);
    assert.equal(row(gcp, "location"), "us-central1-a");
  });

  it("reads the inputs from a JSON file, dropping an example value that contradicts them", async () => {
    const file = join(dir, "gpu.json");
    writeFileSync(
      file,
      JSON.stringify({
        cloud: "gcp",
        project: "my-project",
        zone: "us-central1-a",
        "machine-type": "a2-highgpu-2g",
        count: 2,
      }),
    );
    const { text } = await review({ GPU_RUNNER_CONFIG_FILE: file }, outdir());
    assert.equal(row(text, "cloud"), "gcp");
    // The example's accelerator (t4) does not fit an A2 type: dropped, the A2's own two GPUs counted.
    assert.equal(row(text, "machines"), "2 x a2-highgpu-2g");
    assert.equal(
      row(text, "GPUs checked before a job"),
      "2 per machine (the action's catalog of a2-highgpu-2g; at apply, Compute Engine's description of a2-highgpu-2g decides)",
    );
  });

  it("spot: the on-demand price as the upper bound, not unknown", async () => {
    const { text } = await review({ GPU_RUNNER_ACCELERATOR: "l4", GPU_RUNNER_SPOT: "true" }, outdir());
    assert.equal(
      row(text, "estimated cost"),
      "at most $0.80 per hour for 1 machine(s) (Spot; the on-demand list price of 2025-06 is the upper bound)",
    );
  });

  it("the worst case: the highest price among the capacity candidates x count x max-lifetime, beside max-cost", async () => {
    const one = await review({ GPU_RUNNER_MAX_COST: "10" }, outdir());
    assert.equal(
      row(one.text, "worst case"),
      "$3.16 = $0.526 per hour (g4dn.xlarge in us-east-1) x 1 machine(s) x 6 h max-lifetime; max-cost $10.00",
    );
    // Two candidates: g5.xlarge, the second, costs more; the bound is its price, whichever gets capacity.
    const two = await review(
      { GPU_RUNNER_MACHINE_TYPE: "g4dn.xlarge,g5.xlarge", GPU_RUNNER_COUNT: "2", GPU_RUNNER_MAX_LIFETIME: "90" },
      outdir(),
    );
    assert.equal(row(two.text, "machines"), "2 x g4dn.xlarge");
    assert.equal(
      row(two.text, "worst case"),
      "$3.02 = $1.006 per hour (g5.xlarge in us-east-1, the highest of 2 capacity candidates) x 2 machine(s) x 1.5 h max-lifetime; max-cost not set",
    );
  });

  it("refuses the user's own bad input with the action's message", async () => {
    await assert.rejects(
      review(
        { GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_MACHINE_TYPE: "a2-highgpu-1g", GPU_RUNNER_ACCELERATOR: "t4" },
        outdir(),
      ),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.input, "accelerator");
        assert.match(error.message, /a2-highgpu-1g is not N1/);
        return true;
      },
    );
    await assert.rejects(review({ GPU_RUNNER_COUNT: "0" }, outdir()), /^InputError: Input 'count': got "0"/);
  });

  it("refuses a config file that is not a JSON object of inputs", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, "[1, 2]");
    await assert.rejects(review({ GPU_RUNNER_CONFIG_FILE: file }, outdir()), /GPU_RUNNER_CONFIG_FILE.*a JSON object/);
  });
  // Which example values a review fills in: only those the parser asks for, and only from a group of related inputs
  // (the machine choice; the cloud's own inputs of its example) that the user left wholly unset.
  const FILLED: [string, Record<string, string>, string[]][] = [
    ["nothing set", {}, ["accelerator=t4", "region=us-east-1"]],
    [
      "AWS with lifetime-role alone",
      { GPU_RUNNER_LIFETIME_ROLE: "arn:aws:iam::123456789012:role/gpu-runner-lifetime" },
      ["accelerator=t4", "region=us-east-1"],
    ],
    ["AWS with AWS_REGION in the environment", { AWS_REGION: "eu-west-1" }, ["accelerator=t4"]],
    ["AWS with machine-type", { GPU_RUNNER_MACHINE_TYPE: "g5.xlarge" }, ["region=us-east-1"]],
    [
      "GCP with an accelerator",
      { GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_ACCELERATOR: "l4" },
      ["project=example-project", "zone=us-central1-a"],
    ],
    [
      "GCP with GOOGLE_CLOUD_PROJECT",
      { GPU_RUNNER_CLOUD: "gcp", GOOGLE_CLOUD_PROJECT: "my-project", GPU_RUNNER_ACCELERATOR: "t4" },
      ["zone=us-central1-a"],
    ],
    [
      "GCP fully set",
      {
        GPU_RUNNER_CLOUD: "gcp",
        GPU_RUNNER_PROJECT: "my-project",
        GPU_RUNNER_ZONE: "europe-west4-a",
        GPU_RUNNER_ACCELERATOR: "l4",
      },
      [],
    ],
    ["AWS fully set", { GPU_RUNNER_REGION: "eu-west-1", GPU_RUNNER_MACHINE_TYPE: "g5.xlarge" }, []],
  ];
  for (const [name, env, filled] of FILLED) {
    it(`marks every value filled in from the example: ${name}`, async () => {
      const { text } = await review(env, outdir());
      assert.deepEqual(examples(text), filled);
    });
  }

  it("GCP n1-standard-4 without accelerator: refused as a run refuses it, and never given the example T4", async () => {
    const cpu = { GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_MACHINE_TYPE: "n1-standard-4" };
    await assert.rejects(
      review(cpu, outdir()),
      (error: unknown) =>
        error instanceof InputError && error.input === "machine-type" && /N1 with no GPU attached/.test(error.message),
    );
    const { text } = await review({ ...cpu, GPU_RUNNER_EXPECTED_GPUS: "0" }, outdir());
    assert.equal(row(text, "machines"), "1 x n1-standard-4");
    assert.equal(row(text, "GPUs checked before a job"), "no check (expected-gpus: 0)");
    assert.deepEqual(examples(text), ["project=example-project", "zone=us-central1-a"]);
  });

  // A group of related inputs the user began is theirs to finish: the review fails as the run would.
  const UNFINISHED: [string, Record<string, string>, string][] = [
    [
      "GCP zone without project",
      { GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_ZONE: "us-central1-a", GPU_RUNNER_ACCELERATOR: "t4" },
      "project",
    ],
    ["GCP project without zone", { GPU_RUNNER_CLOUD: "gcp", GPU_RUNNER_PROJECT: "my-project" }, "zone"],
    ["Azure location alone", { GPU_RUNNER_CLOUD: "azure", GPU_RUNNER_LOCATION: "westeurope" }, "subscription"],
  ];
  for (const [name, env, input] of UNFINISHED) {
    it(`fails where a run would: ${name}`, async () => {
      await assert.rejects(review(env, outdir()), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.input, input);
        assert.match(error.message, new RegExp(`^Input '${input}': got nothing; expected`));
        return true;
      });
    });
  }

  it("GCP zone without project passes with GOOGLE_CLOUD_PROJECT set, as a run would, filling in nothing", async () => {
    const { text } = await review(
      {
        GPU_RUNNER_CLOUD: "gcp",
        GPU_RUNNER_ZONE: "us-central1-a",
        GPU_RUNNER_ACCELERATOR: "t4",
        GOOGLE_CLOUD_PROJECT: "my-project",
      },
      outdir(),
    );
    assert.equal(row(text, "machines"), "1 x n1-standard-4 + 1 x nvidia-tesla-t4");
    assert.deepEqual(examples(text), []);
  });

  it("refuses a misspelled variable, naming each unknown one and the input it likely meant", async () => {
    await assert.rejects(
      review({ GPU_RUNNER_ACELERATOR: "t4", GPU_RUNNER_REGOIN: "eu-west-1", GPU_RUNNER_XYZZY: "1" }, outdir()),
      (error: unknown) => {
        assert.ok(error instanceof UnknownInputError);
        assert.deepEqual(error.names, [
          "GPU_RUNNER_ACELERATOR (did you mean GPU_RUNNER_ACCELERATOR?)",
          "GPU_RUNNER_REGOIN (did you mean GPU_RUNNER_REGION?)",
          "GPU_RUNNER_XYZZY",
        ]);
        assert.match(
          error.message,
          /^Not inputs of this action: GPU_RUNNER_ACELERATOR \(did you mean GPU_RUNNER_ACCELERATOR\?\); /,
        );
        return true;
      },
    );
  });

  it("takes the review's own and the test-only GPU_RUNNER_* variables as no input, and refuses nothing for them", async () => {
    const { text } = await review(
      { GPU_RUNNER_REVIEW_LABEL: "gpu-1-1-00000000", GPU_RUNNER_TEST_POLL_MS: "100", GPU_RUNNER_INPUTS: "{}" },
      outdir(),
    );
    assert.equal(row(text, "cloud"), "aws");
  });

  it("refuses an unknown key of the config file, naming it and the input it likely meant", async () => {
    const file = join(dir, "typo.json");
    writeFileSync(
      file,
      JSON.stringify({ cloud: "gcp", projet: "my-project", Zone: "us-central1-a", "machine-type": "g2-standard-4" }),
    );
    await assert.rejects(review({ GPU_RUNNER_CONFIG_FILE: file }, outdir()), (error: unknown) => {
      assert.ok(error instanceof UnknownInputError);
      assert.deepEqual(error.names, [`key 'projet' of ${file} (did you mean 'project'?)`]);
      return true;
    });
    writeFileSync(
      file,
      JSON.stringify({ cloud: "gcp", project: "my-project", Zone: "us-central1-a", "machine-type": "g2-standard-4" }),
    );
    const { text } = await review({ GPU_RUNNER_CONFIG_FILE: file }, outdir());
    assert.equal(row(text, "machines"), "1 x g2-standard-4");
    assert.deepEqual(examples(text), [], "input names ignore case, as in a with: block");
  });
});
