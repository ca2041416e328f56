// What every cloud's state store reads the same way: the bucket and the key prefix under which each start's
// encrypted bundle is one object, `<prefix>/<state id>.bin`.
import type { InputReader } from "./input-reader.ts";

/** Parts of letters, digits, '.', '_' and '-' joined by '/', none of them '.' or '..'. */
const PREFIX = /^(?!(.*\/)?\.{1,2}(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export interface StoreLocation {
  bucket: string;
  prefix: string;
}

/** `bucket`: the cloud's own rule for bucket names, and how to say it. */
export function readStoreLocation(read: InputReader, bucket: { pattern: RegExp; expected: string }): StoreLocation {
  return {
    bucket: read.matching("state-bucket", bucket.pattern, bucket.expected),
    prefix: read.matching(
      "state-prefix",
      PREFIX,
      "a key prefix of letters, digits, '.', '_' and '-', in parts separated by '/' (none of them . or ..)",
      "gpu-runner",
    ),
  };
}

export function bundleKey(location: StoreLocation, stateId: string): string {
  return `${location.prefix}/${stateId}.bin`;
}
