// The clouds' real command-line tools, run by the tests against the local stand-ins: where each is installed (so the
// stand-ins can read the API descriptions that ship with it), how to get one that is missing, and the one runner the
// action itself uses (scripts/adapters/command.ts), given an environment that points the CLI at 127.0.0.1.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { commandRunner } from "../../../scripts/adapters/command.ts";
import type { CommandRunner } from "../../../stacks/cloud-command.ts";

export interface CliTool {
  command: string;
  howToGet: string;
  /** What is wrong with the installed version, when the tests cannot point it at a stand-in; undefined when fine. */
  tooOld?(): string | undefined;
}

export const AWS_CLI: CliTool = {
  command: "aws",
  howToGet:
    "install the AWS CLI, v1.29 or later or v2.13 or later (pip install awscli, or https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html); it ships botocore's service models, which the stand-ins check requests against",
  tooOld() {
    // The per-service endpoint variables (AWS_ENDPOINT_URL_EC2...) that point it at the stand-ins came with
    // botocore 1.31 (aws-cli 1.29) and aws-cli 2.13; an older CLI would send the tests' requests to AWS itself.
    const printed = spawnSync("aws", ["--version"], { encoding: "utf8" });
    const version = /aws-cli\/(\d+)\.(\d+)/.exec(`${printed.stdout}${printed.stderr}`);
    if (!version) return "its version could not be read";
    const [major, minor] = [Number(version[1]), Number(version[2])];
    return (major === 1 && minor >= 29) || (major === 2 && minor >= 13) || major > 2
      ? undefined
      : `found aws-cli ${major}.${minor}, which ignores AWS_ENDPOINT_URL_<SERVICE>`;
  },
};

export const GCLOUD_CLI: CliTool = {
  command: "gcloud",
  howToGet:
    "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install, or Debian's google-cloud-cli package); it ships the generated API clients, which the stand-ins check requests against",
};

export const AZ_CLI: CliTool = {
  command: "az",
  howToGet:
    "install the Azure CLI (sudo apt-get install azure-cli on Debian, or https://learn.microsoft.com/cli/azure/install-azure-cli); it ships the Azure SDK for Python, which the stand-in checks requests against",
};

/** The stand-in of Azure Resource Manager speaks TLS (az sends a bearer token to https only): openssl makes its certificate. */
export const OPENSSL: CliTool = {
  command: "openssl",
  howToGet: "sudo apt-get install openssl (Debian, Ubuntu), or your system's package",
};

/** Where `command` is on PATH (the file it resolves to), or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Fails (never skips) when the CLI is absent: the message says how to get it. Called at the top of each real-CLI
 * test file, so a machine without the CLI reports one clear line per file instead of passing nothing.
 */
const checked = new Map<string, string>();

export function requireCli(tool: CliTool): string {
  const known = checked.get(tool.command);
  if (known) return known;
  const found = onPath(tool.command);
  if (!found) throw new Error(`these tests run the real \`${tool.command}\`, which is not on PATH: ${tool.howToGet}`);
  const tooOld = tool.tooOld?.();
  if (tooOld) throw new Error(`these tests need a newer \`${tool.command}\` (${tooOld}): ${tool.howToGet}`);
  checked.set(tool.command, found);
  return found;
}

/**
 * botocore's data folder (service models, `<service>/<version>/service-2.json[.gz]`) of the installed aws CLI. aws-cli
 * v1 is a Python script (its interpreter on its first line, or behind a pyenv shim) that imports botocore; aws-cli v2
 * bundles botocore under its install's dist/awscli/botocore.
 */
export function botocoreDataDir(): string {
  const aws = requireCli(AWS_CLI);
  let script = realpathSync(aws);
  const v2 = [
    join(dirname(script), "..", "dist", "awscli", "botocore", "data"),
    join(dirname(script), "dist", "awscli", "botocore", "data"),
  ].find(existsSync);
  if (v2) return v2;
  if (readFileSync(script, "utf8").includes("pyenv")) {
    const which = spawnSync("pyenv", ["which", "aws"], { encoding: "utf8" });
    if (which.status === 0) script = which.stdout.trim();
  }
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(readFileSync(script, "utf8"));
  const interpreter = shebang?.[1]?.endsWith("/env") ? shebang[2] : shebang?.[1];
  if (!interpreter) throw new Error(`cannot tell which Python runs ${script}: ${AWS_CLI.howToGet}`);
  // aws-cli v2 built from source (Debian's awscli package) vendors botocore as awscli.botocore; v1 imports botocore.
  const locate = [
    "import os",
    "try:\n  from awscli import botocore\nexcept ImportError:\n  import botocore",
    "print(os.path.dirname(botocore.__file__))",
  ].join("\n");
  const found = spawnSync(interpreter, ["-c", locate], { encoding: "utf8" });
  const dir = join(found.stdout.trim(), "data");
  if (found.status !== 0 || !existsSync(dir))
    throw new Error(`botocore's service models were not found beside ${script}: ${AWS_CLI.howToGet}`);
  return dir;
}

/** The Cloud SDK's generated API clients (`<api>/<version>/<api>_<version>_client.py` and `_messages.py`). */
export function googleApisDir(): string {
  const gcloud = realpathSync(requireCli(GCLOUD_CLI));
  const dir = join(dirname(gcloud), "..", "lib", "googlecloudsdk", "generated_clients", "apis");
  if (!existsSync(dir))
    throw new Error(`the Cloud SDK's generated API clients are not beside ${gcloud}: ${GCLOUD_CLI.howToGet}`);
  return dir;
}

/**
 * The action's own CommandRunner (scripts/adapters/command.ts, which passes a child only the common variables and
 * the cloud's own), given the environment that points the real CLI at the stand-ins. So a variable the cloud's
 * `environment` list did not let through would fail here as it would in a job.
 */
export function realRunner(env: Record<string, string>, passEnv: readonly RegExp[]): CommandRunner {
  return commandRunner({ PATH: process.env.PATH, HOME: process.env.HOME, NO_PROXY: "127.0.0.1", ...env }, passEnv);
}

/** A scratch folder for a CLI's own configuration, so the developer's (or CI's) settings and accounts play no part. */
export function scratchConfig(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * For a test file: `scratch()` makes a scratch folder (for a state bundle, say) named after `prefix`, and every one it
 * made is removed when the file's tests end (node:test's after hook of the calling file).
 */
export function scratchFolders(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
