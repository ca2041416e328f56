// Runs the real terraform binary against stacks of built-in terraform_data resources (no provider download, so it
// works offline). Each test has its own stack directory and marker directory; only the plugin cache is shared.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { JIT_VARIABLE_PREFIX } from "../stacks/names.ts";
import {
  createTerraform,
  PLACEHOLDER_SECRET,
  placeholderSecretEnv,
  type Terraform,
  TerraformError,
} from "../scripts/adapters/terraform.ts";
import { PARALLEL, waitFor } from "./kit/patience.ts";
import { markerPath, tfDataStack, writeTfDataStack } from "./kit/tf-data-stack.ts";

// Base64 values, so they pass the variables' validation; distinctive, so a leak is easy to find.
const SECRETS = ["U0VDUkVULU1BUktFUi0wLXF1aWNrYnJvd24=", "U0VDUkVULU1BUktFUi0xLWxhenlkb2c="];
const secretEnv = (values: string[]) =>
  Object.fromEntries(values.map((v, i) => [`TF_VAR_${JIT_VARIABLE_PREFIX}${i}`, v]));
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let root: string;
let pluginCacheDir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "tf-test-"));
  pluginCacheDir = join(root, "plugin-cache", "nested"); // does not exist yet: createTerraform must create it
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Fixture {
  tf: Terraform;
  logs: string[];
  stackDir: string;
  markerDir: string;
  stack: Record<string, unknown>;
}

async function fixture(name: string, count: number, failIndex?: number): Promise<Fixture> {
  const stackDir = join(root, name, "stack");
  const markerDir = join(root, name, "markers");
  await mkdir(stackDir, { recursive: true });
  await mkdir(markerDir, { recursive: true });
  const stack = await writeTfDataStack(stackDir, { count, markerDir, failIndex });
  const logs: string[] = [];
  const tf = createTerraform({ pluginCacheDir, log: (line) => logs.push(line) });
  await tf.init(stackDir);
  return { tf, logs, stackDir, markerDir, stack };
}

describe("placeholderSecretEnv", () => {
  const cases: { name: string; stack: unknown; want: Record<string, string> }[] = [
    {
      name: "every prefixed variable, nothing else",
      stack: { variable: { jit_config_0: {}, jit_config_1: { sensitive: true }, region: { default: "x" } } },
      want: { TF_VAR_jit_config_0: PLACEHOLDER_SECRET, TF_VAR_jit_config_1: PLACEHOLDER_SECRET },
    },
    { name: "no variable block", stack: { resource: {} }, want: {} },
    { name: "not an object", stack: "nope", want: {} },
    { name: "null", stack: null, want: {} },
    { name: "variable is an array", stack: { variable: ["jit_config_0"] }, want: {} },
    {
      name: "the helper stack",
      stack: tfDataStack({ count: 3, markerDir: "/nowhere" }),
      want: {
        TF_VAR_jit_config_0: PLACEHOLDER_SECRET,
        TF_VAR_jit_config_1: PLACEHOLDER_SECRET,
        TF_VAR_jit_config_2: PLACEHOLDER_SECRET,
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(placeholderSecretEnv(c.stack, JIT_VARIABLE_PREFIX), c.want);
    });
  }

  test("the placeholder is valid base64", () => {
    assert.match(PLACEHOLDER_SECRET, /^[A-Za-z0-9+/=]+$/);
    assert.equal(Buffer.from(PLACEHOLDER_SECRET, "base64").toString("utf8"), "destroy");
  });
});

describe("terraform (real binary)", { concurrency: PARALLEL }, () => {
  test("init, apply, output, state count, destroy", async () => {
    const f = await fixture("lifecycle", 2);
    assert.ok(existsSync(pluginCacheDir), "the plugin cache directory was created");

    await f.tf.apply(f.stackDir, { secretEnv: secretEnv(SECRETS) });
    for (const [i, secret] of SECRETS.entries()) {
      // The provisioner saw the exact value through TF_VAR_ -> var -> environment.
      assert.equal((await readFile(markerPath(f.markerDir, i), "utf8")).trim(), sha256(secret));
    }
    const log = f.logs.join("\n");
    assert.match(log, /Apply complete! Resources: 2 added/);
    assert.match(log, /output suppressed due to sensitive value/);
    const config = await readFile(join(f.stackDir, "cdk.tf.json"), "utf8");
    for (const secret of SECRETS) {
      assert.ok(!log.includes(secret), "the secret is not in the log");
      assert.ok(!config.includes(secret), "the secret is not in cdk.tf.json");
    }

    const outputs = await f.tf.output(f.stackDir);
    assert.deepEqual(Object.keys(outputs), ["ids"]);
    const ids = outputs.ids;
    assert.ok(Array.isArray(ids) && ids.length === 2 && ids.every((id) => typeof id === "string" && id.length > 0));
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 2);

    await f.tf.destroy(f.stackDir, { secretEnv: placeholderSecretEnv(f.stack, JIT_VARIABLE_PREFIX) });
    assert.deepEqual(await readdir(f.markerDir), [], "destroy-time provisioners removed the markers");
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
    assert.deepEqual(await f.tf.output(f.stackDir), {});
    assert.match(f.logs.join("\n"), /Destroy complete! Resources: 2 destroyed/);
  });

  test("destroy reads no data source: a lookup that fails after apply does not block teardown", async () => {
    // Like the image's SSM parameter or the machine type's description, read with permissions the stop job may
    // lack: here Terraform's built-in terraform_remote_state, made unreadable once the machines exist.
    const f = await fixture("lookup", 1);
    const source = join(root, "lookup", "source.tfstate");
    const sourceState = {
      version: 4,
      terraform_version: "1.11.4",
      serial: 1,
      lineage: "x",
      outputs: { gpus: { value: 1, type: "number" } },
      resources: [],
    };
    await writeFile(source, JSON.stringify(sourceState));
    const stack = f.stack as { data?: unknown; output: Record<string, unknown> };
    stack.data = { terraform_remote_state: { lookup: { backend: "local", config: { path: source } } } };
    stack.output.gpus = { value: "${data.terraform_remote_state.lookup.outputs.gpus}" };
    await writeFile(join(f.stackDir, "cdk.tf.json"), JSON.stringify(stack));
    await f.tf.apply(f.stackDir, { secretEnv: secretEnv([SECRETS[0]!]) });
    assert.equal((await f.tf.output(f.stackDir)).gpus, 1);

    await rm(source);
    // The same lookup fails any run that reads it (so the test can fail), and destroy still ends everything.
    await assert.rejects(
      f.tf.plan(f.stackDir, { secretEnv: placeholderSecretEnv(f.stack, JIT_VARIABLE_PREFIX) }),
      /No stored state was found/,
    );
    await f.tf.destroy(f.stackDir, { secretEnv: placeholderSecretEnv(f.stack, JIT_VARIABLE_PREFIX) });
    assert.deepEqual(await readdir(f.markerDir), []);
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
  });

  test("a directory that never applied: no state, no outputs, destroy succeeds", async () => {
    const f = await fixture("fresh", 1);
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
    assert.deepEqual(await f.tf.output(f.stackDir), {});
    await f.tf.destroy(f.stackDir, { secretEnv: placeholderSecretEnv(f.stack, JIT_VARIABLE_PREFIX) });
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
  });

  test("a failed apply throws TerraformError, and destroy removes what it created", async () => {
    const f = await fixture("partial", 2, 1);
    const err = await f.tf.apply(f.stackDir, { secretEnv: secretEnv(SECRETS) }).then(
      () => assert.fail("apply should fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TerraformError);
    assert.equal(err.command, "apply");
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /^terraform apply failed with exit code 1/);
    assert.match(err.stderrTail, /local-exec provisioner error/);
    for (const secret of SECRETS) assert.ok(!err.message.includes(secret));

    assert.ok(existsSync(markerPath(f.markerDir, 0)), "runner_0 was created");
    assert.ok(!existsSync(markerPath(f.markerDir, 1)), "runner_1 failed");
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 2, "runner_0 created, runner_1 kept as tainted");

    await f.tf.destroy(f.stackDir, { secretEnv: placeholderSecretEnv(f.stack, JIT_VARIABLE_PREFIX) });
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
    assert.deepEqual(await readdir(f.markerDir), []);
  });

  test("a secret that fails validation stops apply before anything exists, and is scrubbed", async () => {
    const f = await fixture("invalid", 2);
    const bad = "not base64 !! SECRET-MARKER-invalid";
    const err = await f.tf.apply(f.stackDir, { secretEnv: secretEnv([SECRETS[0]!, bad]) }).then(
      () => assert.fail("apply should fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TerraformError);
    assert.equal(err.command, "apply");
    assert.equal(err.exitCode, 1);
    assert.match(err.stderrTail, /Invalid value for variable/);
    assert.match(err.stderrTail, /jit_config_1 must be base64/);
    // Terraform prints the rejected value even though the variable is sensitive: it must come out scrubbed.
    assert.match(err.stderrTail, /\*\*\*/);
    for (const text of [err.message, err.stderrTail, f.logs.join("\n")]) {
      assert.ok(!text.includes(bad));
      assert.ok(!text.includes(SECRETS[0]!));
    }
    assert.deepEqual(await readdir(f.markerDir), []);
    assert.equal(await f.tf.stateResourceCount(f.stackDir), 0);
  });

  test("destroy without values for the variables fails: the placeholders are needed", async () => {
    const f = await fixture("novars", 1);
    await assert.rejects(f.tf.destroy(f.stackDir), (e: unknown) => {
      assert.ok(e instanceof TerraformError);
      assert.equal(e.command, "destroy");
      assert.match(e.stderrTail, /No value for required variable/);
      return true;
    });
  });

  test("a missing binary is reported", async () => {
    const dir = join(root, "nobinary");
    await mkdir(dir, { recursive: true });
    const tf = createTerraform({ binary: "terraform-does-not-exist-here", log: () => {} });
    await assert.rejects(tf.init(dir), /terraform-does-not-exist-here/);
  });

  test("terraform and its provisioners see none of the step's secrets, only what they need", async () => {
    const dir = join(root, "environment");
    await mkdir(dir, { recursive: true });
    const dump = join(dir, "env.txt");
    const stack = {
      resource: {
        terraform_data: {
          probe: {
            input: dump,
            provisioner: [{ "local-exec": { command: 'env > "$DUMP"', environment: { DUMP: "${self.input}" } } }],
          },
        },
      },
    };
    await writeFile(join(dir, "cdk.tf.json"), JSON.stringify(stack));
    // The step's environment, as action.yml gives it to the action's process (terraform's default source).
    const stepEnv: Record<string, string> = {
      GPU_RUNNER_INPUTS: JSON.stringify({
        "github-token": "ghs_step-token-must-not-reach-terraform",
        "state-passphrase": "passphrase-must-not-reach-terraform",
      }),
      JOB_GITHUB_TOKEN: "ghs_job-token-must-not-reach-terraform",
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc-request-token-must-not-reach-terraform",
      TF_VAR_jit_config_9: "a variable from the step's environment must not reach terraform",
      CLOUD_REGION: "eu-1",
      UNRELATED: "nothing of terraform's",
    };
    Object.assign(process.env, stepEnv);
    try {
      const tf = createTerraform({ pluginCacheDir, log: () => {}, passEnv: [/^CLOUD_/] });
      await tf.init(dir);
      await tf.apply(dir);
    } finally {
      for (const name of Object.keys(stepEnv)) delete process.env[name];
    }
    const seen = await readFile(dump, "utf8");
    for (const leaked of ["must-not-reach-terraform", "TF_VAR_jit_config_9", "UNRELATED"])
      assert.ok(!seen.includes(leaked), `${leaked} reached a provisioner`);
    assert.match(seen, /^CLOUD_REGION=eu-1$/m, "the cloud's own variables do");
    assert.match(seen, /^PATH=/m);
    assert.match(seen, /^TF_PLUGIN_CACHE_DIR=/m);
  });

  test("interrupt() stops a running apply the way Ctrl-C would, and terraform records what it made", async () => {
    const dir = join(root, "interrupt");
    await mkdir(dir, { recursive: true });
    const marker = join(dir, "first-made");
    const stack = {
      resource: {
        terraform_data: {
          first: {
            input: marker,
            provisioner: [{ "local-exec": { command: 'touch "$M"', environment: { M: "${self.input}" } } }],
          },
          second: {
            depends_on: ["terraform_data.first"],
            input: join(dir, "second-finished"),
            // Its shell and sleep, by pid, for the test to end: terraform leaves a running provisioner behind.
            provisioner: [
              {
                "local-exec": {
                  command: 'sleep 600 & echo "$$ $!" >"$M.pids"; wait $! && touch "$M"',
                  environment: { M: "${self.input}" },
                },
              },
            ],
          },
        },
      },
    };
    await writeFile(join(dir, "cdk.tf.json"), JSON.stringify(stack));
    const logs: string[] = [];
    const tf = createTerraform({ pluginCacheDir, log: (line) => logs.push(line) });
    await tf.init(dir);
    const applying = tf.apply(dir);
    await waitFor("the first resource", () => existsSync(marker));
    await tf.interrupt();
    await assert.rejects(applying, TerraformError);
    assert.ok(!existsSync(join(dir, "second-finished")), "the long provisioner did not run to its end");
    const pids = existsSync(join(dir, "second-finished.pids"))
      ? readFileSync(join(dir, "second-finished.pids"), "utf8")
      : "";
    for (const pid of pids.trim().split(" ").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    assert.ok(
      logs.some((line) => /Interrupt received/.test(line)),
      "terraform was told, not killed",
    );
    // What it made before the interrupt is in the state, so a later destroy finds it.
    assert.ok((await tf.stateResourceCount(dir)) >= 1);
  });
});
