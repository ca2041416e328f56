// The local kind keeps the cloud contract as far as it applies (test/cloud-contract.test.ts): a local process for
// tests, whose only cap is the boot script's timer and which carries no tags.
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { CloudContract, Json } from "../cloud-cases.ts";
import { localKindNodeOptions } from "../local-github/world.ts";

export const localContract: CloudContract = {
  env: {
    LOCAL_KIND_ROOT: join(tmpdir(), "cloud-contract-local"),
    LOCAL_KIND_RUNNER_URL: "http://127.0.0.1:9/runner",
    LOCAL_KIND_RUNNER_SHA256: "0".repeat(64),
    NODE_OPTIONS: localKindNodeOptions(),
  },
  machines: (json) =>
    Object.values((json.resource?.terraform_data ?? {}) as Record<string, Json>).map((data) => ({
      // Each "machine" is a directory named after its runner.
      name: basename(data.input?.dir ?? ""),
      resource: data,
      bootScript:
        (data.provisioner as Json[])
          .map((p) => p["local-exec"]?.environment?.GR_USER_DATA)
          .find((s) => typeof s === "string") ?? "",
      tagSets: {},
    })),
  cloudLifetimeSeconds: () => ({ notApplicable: "a local process for tests; the boot script's timer is its only cap" }),
  endsRatherThanStops: { notApplicable: "a local process for tests; its destroy-time provisioner stops it" },
  deliveredBytes: (script) => Buffer.byteLength(script, "utf8"),
  ownership: { notApplicable: "terraform_data carries no tags; nothing is created in a cloud" },
};
