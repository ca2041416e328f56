// state-backend: gcs, the Cloud Storage bucket that keeps each start's encrypted state bundle.
import type { StateStore, StateStoreDefinition } from "../cloud-cli.ts";
import { runChecked } from "../cloud-command.ts";
import type { InputReader } from "../input-reader.ts";
import { bundleKey, readStoreLocation } from "../state-store.ts";

/** Cloud Storage bucket names: 3-63 lower-case letters, digits, '_', '-' and '.', starting and ending with a letter or digit. */
const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/**
 * state-backend: gcs. Each start's encrypted bundle is one object, written and read with gcloud (on GitHub's hosted
 * runners, with the credentials of google-github-actions/auth).
 */
function gcsStore(read: InputReader): StateStore {
  const location = readStoreLocation(read, {
    pattern: GCS_BUCKET,
    expected: "the name of the Cloud Storage bucket that keeps the encrypted state",
  });
  const url = (stateId: string) => `gs://${location.bucket}/${bundleKey(location, stateId)}`;
  return {
    kind: "gcs",
    description: `gs://${location.bucket}/${location.prefix}/`,
    put: async (stateId, file, run) =>
      void (await runChecked(run, "gcloud", ["storage", "cp", file, url(stateId), "--quiet"])),
    async get(stateId, file, run) {
      // `gcloud storage ls` of the exact object first: a missing bundle is "nothing to stop", not an error.
      const listing = await run("gcloud", ["storage", "ls", url(stateId)]);
      if (listing.exitCode !== 0 && /One or more URLs matched no objects|matched no objects/i.test(listing.stderr))
        return false;
      if (listing.exitCode !== 0)
        throw new Error(
          `gcloud storage ls failed (exit ${listing.exitCode}): ${listing.stderr.trim().split("\n").slice(-3).join(" ")}`,
        );
      await runChecked(run, "gcloud", ["storage", "cp", url(stateId), file, "--quiet"]);
      return true;
    },
    remove: async (stateId, run) => void (await runChecked(run, "gcloud", ["storage", "rm", url(stateId), "--quiet"])),
  };
}

export const gcsStateStore: StateStoreDefinition = { kind: "gcs", parse: gcsStore };
