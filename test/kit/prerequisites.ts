// The tools `npm test` needs beside Node and npm, checked once before any test runs: the real terraform binary
// (the orchestration and end-to-end tests run it), Debian's shellcheck (every shell script is linted), and the
// clouds' own CLIs, aws, gcloud and az, and openssl (the cloud CLI tests run the CLIs against local stand-ins, built
// from the API descriptions they ship; the Azure one speaks TLS with a certificate openssl makes). A missing one is
// one clear line saying how to get it, instead of a failure in every test that needs it (those tests fail too, with
// the same line: test/kit/cloud-apis/clis.ts).
import { spawnSync } from "node:child_process";
import { AWS_CLI, AZ_CLI, type CliTool, GCLOUD_CLI, OPENSSL, onPath } from "./cloud-apis/clis.ts";

interface Prerequisite {
  tool: string;
  /** undefined when usable, else what is wrong with what was found. */
  problem(): string | undefined;
  howToGet: string;
}

const TERRAFORM_MINIMUM = [1, 11];

export const PREREQUISITES: Prerequisite[] = [
  {
    tool: "terraform >= 1.11",
    problem() {
      const run = spawnSync("terraform", ["version", "-json"], {
        encoding: "utf8",
        env: { ...process.env, CHECKPOINT_DISABLE: "1" },
      });
      if (run.error || run.status !== 0) return "not found on PATH";
      const version = /"terraform_version":\s*"(\d+)\.(\d+)\.(\d+)"/.exec(run.stdout);
      if (!version) return "its version could not be read";
      const [major, minor] = [Number(version[1]), Number(version[2])];
      const [wantMajor, wantMinor] = TERRAFORM_MINIMUM as [number, number];
      return major > wantMajor || (major === wantMajor && minor >= wantMinor)
        ? undefined
        : `found ${version[1]}.${version[2]}.${version[3]}`;
    },
    howToGet: "https://developer.hashicorp.com/terraform/install (a single binary; 1.11.4 is what CI uses)",
  },
  {
    tool: "shellcheck",
    problem: () => (spawnSync("shellcheck", ["--version"]).error ? "not found on PATH" : undefined),
    howToGet:
      "sudo apt-get install shellcheck (Debian, Ubuntu), brew install shellcheck (macOS), or https://github.com/koalaman/shellcheck#installing",
  },
  ...[AWS_CLI, GCLOUD_CLI, AZ_CLI, OPENSSL].map(
    (cli: CliTool): Prerequisite => ({
      tool: cli.command,
      problem: () => (onPath(cli.command) ? cli.tooOld?.() : "not found on PATH"),
      howToGet: cli.howToGet,
    }),
  ),
];

/** One line per missing or unusable tool; empty when everything is there. */
export function missingPrerequisites(): string[] {
  return PREREQUISITES.flatMap((p) => {
    const problem = p.problem();
    return problem === undefined ? [] : [`npm test needs ${p.tool} (${problem}): ${p.howToGet}`];
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const missing = missingPrerequisites();
  for (const line of missing) console.error(line);
  if (missing.length > 0) process.exitCode = 1;
}
