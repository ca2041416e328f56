// What a child process of the action may see (scripts/adapters/child-env.ts, command.ts) and the one redactor
// (scripts/lib/redact.ts): the step's secrets reach no CLI, and no text leaves with a secret in it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { childEnvironment } from "../scripts/adapters/child-env.ts";
import { commandRunner } from "../scripts/adapters/command.ts";
import { createRedactor, REDACTED } from "../scripts/lib/redact.ts";
import { allClouds } from "../stacks/clouds.ts";
import { INPUTS_VARIABLE } from "../stacks/names.ts";

/** The inputs as action.yml's main step passes them: every secret input in one variable. */
const INPUTS_JSON = JSON.stringify({
  "github-token": "ghp_secret-token",
  "state-passphrase": "a passphrase of the step",
  region: "us-east-1",
});

const SECRETS = {
  [INPUTS_VARIABLE]: INPUTS_JSON,
  JOB_GITHUB_TOKEN: "ghs_job-token",
  TF_VAR_gpu_runner_jit_0: "jit-config",
  TF_VAR_GPU_RUNNER_JIT_0: "jit-config-upper",
  INPUT_GITHUB_TOKEN: "ghp_input",
};

describe("childEnvironment", () => {
  const kept: [string, string][] = [
    ["PATH", "/usr/bin"],
    ["HOME", "/home/runner"],
    ["USER", "runner"],
    ["TMPDIR", "/tmp"],
    ["LANG", "C.UTF-8"],
    ["LC_ALL", "C"],
    // Proxies in both spellings curl and the Go HTTP stack read, for plain http as well as https.
    ["HTTPS_PROXY", "http://proxy:3128"],
    ["HTTP_PROXY", "http://proxy:3128"],
    ["NO_PROXY", "localhost"],
    ["https_proxy", "http://proxy:3128"],
    ["http_proxy", "http://proxy:3128"],
    ["no_proxy", "localhost"],
    ["SSL_CERT_FILE", "/etc/ssl/cert.pem"],
    ["SSL_CERT_DIR", "/etc/ssl/certs"],
    ["CURL_CA_BUNDLE", "/etc/ssl/cert.pem"],
    ["REQUESTS_CA_BUNDLE", "/etc/ssl/cert.pem"],
    ["TF_PLUGIN_CACHE_DIR", "/cache"],
    ["TF_CLI_CONFIG_FILE", "/terraformrc"],
    ["TF_LOG", "DEBUG"],
    ["CHECKPOINT_DISABLE", "1"],
  ];
  for (const [name, value] of kept) {
    it(`passes ${name}, which any program may need`, () => {
      assert.deepEqual(childEnvironment({ [name]: value, ...SECRETS }), { [name]: value });
    });
  }

  // Near misses of the kept names: each pattern is anchored at both ends.
  const dropped = [
    "XPATH",
    "PATHS",
    "LC_",
    "lc_all",
    "TF_VAR_x",
    "TF_var_x",
    "tf_plugin_cache_dir",
    "MY_TF_LOG",
    "TF_LOGfile",
    "MY_HTTPS_PROXY",
    "HTTPS_PROXY_USER",
    "http_proxy_pass",
    "MY_SSL_CERT_FILE",
    "SSL_CERT_FILE_PASSWORD",
    "NO_CHECKPOINT_DISABLE",
    "CHECKPOINT_DISABLED",
    "AWS_REGION",
  ];
  for (const name of dropped) {
    it(`drops ${name}`, () => {
      assert.deepEqual(childEnvironment({ [name]: "value" }), {});
    });
  }

  it("drops every secret of the step, TF_VAR_ names in either case included", () => {
    assert.deepEqual(childEnvironment({ ...SECRETS }), {});
  });

  it("never passes the inputs variable, whatever a cloud allows, nor to any registered cloud's children", () => {
    assert.deepEqual(childEnvironment({ [INPUTS_VARIABLE]: INPUTS_JSON, PATH: "/bin" }, [/.*/]), { PATH: "/bin" });
    for (const cloud of allClouds()) {
      assert.deepEqual(childEnvironment({ [INPUTS_VARIABLE]: INPUTS_JSON }, cloud.environment), {}, cloud.name);
    }
  });

  it("never passes the step's tokens, whatever a cloud allows", () => {
    const tokens = {
      [INPUTS_VARIABLE]: INPUTS_JSON,
      JOB_GITHUB_TOKEN: "ghs_job-token",
      GITHUB_TOKEN: "ghs_workflow-token",
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc-request-token",
      ACTIONS_RUNTIME_TOKEN: "runtime-token",
    };
    for (const name of Object.keys(tokens))
      assert.deepEqual(
        childEnvironment({ ...tokens, PATH: "/bin" }, [new RegExp(`^${name}$`)]),
        { PATH: "/bin" },
        name,
      );
    // What the OIDC request token comes with, its URL, is no secret: a cloud that asks for it gets it.
    assert.deepEqual(
      childEnvironment({ ...tokens, ACTIONS_ID_TOKEN_REQUEST_URL: "https://t.example" }, [/^ACTIONS_ID_TOKEN_/]),
      { ACTIONS_ID_TOKEN_REQUEST_URL: "https://t.example" },
    );
  });

  it("passes a cloud's own variables only when that cloud allows them, and never an unset one", () => {
    const env = {
      AWS_REGION: "us-east-1",
      AWS_PROFILE: "ci",
      GOOGLE_CLOUD_PROJECT: "p",
      PATH: "/bin",
      HOME: undefined,
      ...SECRETS,
    };
    assert.deepEqual(childEnvironment(env, [/^AWS_[A-Z_]+$/]), {
      AWS_REGION: "us-east-1",
      AWS_PROFILE: "ci",
      PATH: "/bin",
    });
    assert.deepEqual(childEnvironment(env), { PATH: "/bin" });
  });
});

describe("commandRunner: what a real child process sees", () => {
  it("runs the command with the common variables and the cloud's, and none of the step's secrets", async () => {
    const env = { PATH: process.env.PATH, AWS_REGION: "eu-west-1", OTHER: "not passed", ...SECRETS };
    // A cloud that allowed every GPU_RUNNER_ variable still would not pass the inputs on.
    const run = commandRunner(env, [/^AWS_REGION$/, /^GPU_RUNNER_/]);
    const result = await run("env", []);
    assert.equal(result.exitCode, 0, result.stderr);
    const seen = Object.fromEntries(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    assert.deepEqual(seen, { PATH: process.env.PATH, AWS_REGION: "eu-west-1" });
  });

  it("a CLI that is not installed answers as a failed command (exit 127), not a throw", async () => {
    const result = await commandRunner({ PATH: process.env.PATH }, [])("gpu-runner-no-such-cli", ["--version"]);
    assert.equal(result.exitCode, 127);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /gpu-runner-no-such-cli/);
  });
});

describe("the redactor", () => {
  it("replaces every occurrence of each secret it was given", () => {
    const r = createRedactor(["s3cret", "t0ken"]);
    assert.equal(r.redact("a s3cret, a t0ken, s3crets3cret"), `a ${REDACTED}, a ${REDACTED}, ${REDACTED}${REDACTED}`);
  });

  it("replaces a secret that contains another whole, whatever the order they came in", () => {
    for (const order of [
      ["abc", "abcdef"],
      ["abcdef", "abc"],
    ]) {
      const r = createRedactor(order);
      assert.equal(r.redact("x abcdef y abc"), `x ${REDACTED} y ${REDACTED}`, order.join(", "));
    }
  });

  it("a secret added later is replaced from then on; an empty one is ignored (it would match everywhere)", () => {
    const r = createRedactor();
    assert.equal(r.redact("late secret"), "late secret");
    r.add("secret");
    r.add("");
    assert.equal(r.redact("late secret"), `late ${REDACTED}`);
    assert.equal(createRedactor([""]).redact("text"), "text");
  });

  it("writes three asterisks in a secret's place, the mark GitHub's own log masking uses", () => {
    assert.equal(REDACTED, "***");
    assert.equal(createRedactor(["s3cret"]).redact("token=s3cret;"), "token=***;");
  });

  // A redactor that knows no secret starts with none: every text comes back as it went in. The last text is the one
  // mutation testing plants as a stray default entry, so a default that is not empty shows here.
  for (const text of ["", "plain text", "***", "ghp_ looks like a token but was never added", "Stryker was here"]) {
    it(`with no secret given, ${JSON.stringify(text)} comes back unchanged`, () => {
      assert.equal(createRedactor().redact(text), text);
      assert.equal(createRedactor([]).redact(text), text);
    });
  }

  it("adding a secret twice changes nothing", () => {
    const r = createRedactor(["ab"]);
    r.add("ab");
    r.add("abcd");
    assert.equal(r.redact("abcd ab"), `${REDACTED} ${REDACTED}`);
  });
});
