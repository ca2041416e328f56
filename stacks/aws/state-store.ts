// state-backend: s3, the AWS bucket that keeps each start's encrypted state bundle.
import type { StateStore, StateStoreDefinition } from "../cloud-cli.ts";
import { runChecked, type CommandRunner } from "../cloud-command.ts";
import type { InputReader } from "../input-reader.ts";
import { bundleKey, readStoreLocation } from "../state-store.ts";
import { REGION, regionFromEnv } from "./inputs.ts";

/** S3 bucket names: 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * state-backend: s3. Each start's encrypted bundle is one object, written and read with the aws CLI (on GitHub's
 * hosted runners, with the credentials of aws-actions/configure-aws-credentials).
 */
function s3Store(read: InputReader): StateStore {
  const location = readStoreLocation(read, {
    pattern: S3_BUCKET,
    expected: "the name of the S3 bucket that keeps the encrypted state",
  });
  const region = read.matching(
    "state-region",
    REGION,
    "the AWS region of the state bucket, such as us-east-1",
    regionFromEnv(read.env),
  );
  const url = (stateId: string) => `s3://${location.bucket}/${bundleKey(location, stateId)}`;
  const s3 = (run: CommandRunner, args: string[]) =>
    runChecked(run, "aws", ["s3", ...args, "--region", region, "--only-show-errors"]);
  return {
    kind: "s3",
    description: `s3://${location.bucket}/${location.prefix}/ (${region})`,
    put: async (stateId, file, run) => void (await s3(run, ["cp", file, url(stateId)])),
    async get(stateId, file, run) {
      // `aws s3 ls` of the exact key first: a missing bundle is "nothing to stop", not an error.
      const listing = await run("aws", ["s3", "ls", url(stateId), "--region", region]);
      if (listing.exitCode === 1 && listing.stderr.trim() === "") return false;
      if (listing.exitCode !== 0)
        throw new Error(
          `aws s3 ls failed (exit ${listing.exitCode}): ${listing.stderr.trim().split("\n").slice(-3).join(" ")}`,
        );
      await s3(run, ["cp", url(stateId), file]);
      return true;
    },
    remove: async (stateId, run) => void (await s3(run, ["rm", url(stateId)])),
  };
}

export const s3StateStore: StateStoreDefinition = { kind: "s3", parse: s3Store };
