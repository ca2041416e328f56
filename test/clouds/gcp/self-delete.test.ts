// The Compute Engine machine's own way out of its bill: the real boot script, in the boot sandbox
// (test/kit/boot-sandbox.ts), runs stacks/gcp/self-delete.sh right before its power-off, against a stand-in for the
// metadata server and the Compute API on 127.0.0.1. Asserted: what the stand-in received (method, path, headers), what
// the boot log says, and that the power-off follows whatever the API answered.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { endCommand } from "../../../stacks/gcp/end-command.ts";
import { BootSandbox, killAllSandboxes, ReleaseServer, type RunResult } from "../../kit/boot-sandbox.ts";

const PROJECT = "my-project-123";
const ZONE = "europe-west4-b";
const NAME = "gpu-4242-2-0a1b2c3d-0";
const INSTANCE_PATH = `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/${NAME}`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  /** Processes whose command line held the token while the delete was in flight. */
  argvWithToken?: number;
}

/** Stands in for the metadata server and the Compute API on 127.0.0.1; records every request. */
class GcpStandIn {
  readonly seen: Seen[] = [];
  readonly token = `ya29.${"x".repeat(60)}.planted-token`;
  /** The token endpoint's answer: 404 is what the metadata server says when no service account is attached. */
  tokenStatus = 200;
  /** The answers to the DELETEs, in order; the last one repeats. */
  deleteStatuses: number[] = [200];
  private deletes = 0;
  private server: Server | undefined;

  reset(): void {
    this.seen.length = 0;
    this.tokenStatus = 200;
    this.deleteStatuses = [200];
    this.deletes = 0;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const entry: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
        this.seen.push(entry);
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
          res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
        if (entry.url.startsWith("/computeMetadata/v1/")) {
          if (req.headers["metadata-flavor"] !== "Google") return json(403, "Missing Metadata-Flavor:Google header.");
          const path = entry.url.slice("/computeMetadata/v1/".length);
          if (path === "instance/service-accounts/default/token") {
            if (this.tokenStatus !== 200) {
              res.writeHead(this.tokenStatus, { "content-type": "text/html" }).end("service account not found\n");
              return;
            }
            return json(200, { access_token: this.token, expires_in: 3599, token_type: "Bearer" });
          }
          const values: Record<string, string> = {
            "project/project-id": PROJECT,
            "instance/zone": `projects/123456789012/zones/${ZONE}`,
            "instance/name": NAME,
          };
          const value = values[path];
          if (value === undefined) return res.writeHead(404).end();
          return res.writeHead(200, { "content-type": "application/text" }).end(value);
        }
        if (entry.method === "DELETE" && entry.url.startsWith("/compute/v1/")) {
          entry.argvWithToken = processesHolding(this.token);
          const status = this.deleteStatuses[Math.min(this.deletes++, this.deleteStatuses.length - 1)]!;
          if (status === 200)
            return json(200, { kind: "compute#operation", operationType: "delete", status: "RUNNING" });
          if (status === 429)
            return json(
              429,
              { error: { code: 429, message: "Rate Limit Exceeded", errors: [{ reason: "rateLimitExceeded" }] } },
              { "retry-after": "1" },
            );
          return json(status, {
            error: {
              code: status,
              message: `Required 'compute.instances.delete' permission for 'projects/${PROJECT}/zones/${ZONE}/instances/${NAME}'`,
              errors: [{ reason: "forbidden" }],
            },
          });
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  deletesSeen(): Seen[] {
    return this.seen.filter((s) => s.method === "DELETE");
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** How many processes have `needle` in their command line right now. */
function processesHolding(needle: string): number {
  let found = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) found++;
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** A closed port on 127.0.0.1: a metadata server that does not answer. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

describe("gcp: the boot script deletes its own instance before powering off (boot sandbox)", () => {
  const release = new ReleaseServer();
  const gcp = new GcpStandIn();
  const sandboxes: BootSandbox[] = [];

  before(async () => {
    await release.start();
    await gcp.start();
  });
  after(async () => {
    killAllSandboxes();
    await Promise.all(sandboxes.map((s) => s.cleanup()));
    await release.close();
    await gcp.close();
  });

  async function boot(
    options: { metadata?: string; runner?: "job" | "idle"; values?: Record<string, string>; gpus?: null } = {},
  ): Promise<{ sandbox: BootSandbox; result: RunResult }> {
    const command = endCommand({ metadata: options.metadata ?? gcp.url, compute: gcp.url });
    const sandbox = await BootSandbox.create({
      server: release,
      runner: options.runner,
      ...(options.gpus === null ? { gpus: null } : {}),
      values: { GR_END_COMMAND_B64: Buffer.from(command).toString("base64"), ...options.values },
    });
    sandboxes.push(sandbox);
    const result = await sandbox.run();
    assert.deepEqual(
      sandbox.calls("power").filter((c) => c.startsWith("poweroff")),
      ["poweroff"],
      `the power-off follows, whatever the API said\n${result.stdout}`,
    );
    return { sandbox, result };
  }

  /** The boot log's lines about ending through the cloud, in order, with the power-off reason first. */
  function endLines(result: RunResult): string[] {
    return result.lines.filter((l) => /^gpu-runner: (powering off|ending|ended|not ended)/.test(l));
  }

  test("after the job: a token and the instance's identity from the metadata server, then the instance's DELETE", async () => {
    gcp.reset();
    const { result } = await boot();
    const metadataCalls = gcp.seen.filter((s) => s.url.startsWith("/computeMetadata/"));
    assert.deepEqual(
      metadataCalls.map((s) => `${s.method} ${s.url}`),
      [
        "GET /computeMetadata/v1/instance/service-accounts/default/token",
        "GET /computeMetadata/v1/project/project-id",
        "GET /computeMetadata/v1/instance/zone",
        "GET /computeMetadata/v1/instance/name",
      ],
    );
    for (const call of metadataCalls) {
      assert.equal(call.headers["metadata-flavor"], "Google");
      assert.equal(call.headers.authorization, undefined, "the metadata server is never sent the token");
    }
    const [deletion, ...more] = gcp.deletesSeen();
    assert.deepEqual(more, []);
    assert.equal(deletion!.url, INSTANCE_PATH);
    assert.equal(deletion!.headers.authorization, `Bearer ${gcp.token}`);
    assert.equal(deletion!.argvWithToken, 0, "the token is in no process's command line while it is used");
    assert.equal(gcp.seen.length, 5, "nothing else was asked");
    assert.deepEqual(endLines(result), [
      "gpu-runner: powering off: runner exited (exit code 0)",
      "gpu-runner: ending the machine through the cloud's API",
      "gpu-runner: ended through the cloud's API",
    ]);
    assert.ok(!result.stdout.includes(gcp.token), "the token is never logged");
  });

  test("a role that may not delete (403): Compute Engine's message is logged, and the machine powers off", async () => {
    gcp.reset();
    gcp.deleteStatuses = [403];
    const { result } = await boot();
    assert.equal(gcp.deletesSeen().length, 1, "a refusal is not retried");
    // The boot log keeps the first 200 characters of what the end command said: the instance, the status, the start of
    // Compute Engine's message.
    const said = `the Compute API refused to delete projects/${PROJECT}/zones/${ZONE}/instances/${NAME} (HTTP 403): Required 'compute.instances.delete' permission for 'projects/${PROJECT}/zones/${ZONE}/instances/${NAME}'`;
    assert.deepEqual(endLines(result).slice(1), [
      "gpu-runner: ending the machine through the cloud's API",
      `gpu-runner: ending through the cloud's API failed (exit code 4): ${said.slice(0, 200)}`,
    ]);
    assert.ok(!result.stdout.includes(gcp.token));
  });

  test("throttled once (429, Retry-After): asked again, and the second DELETE is accepted", async () => {
    gcp.reset();
    gcp.deleteStatuses = [429, 200];
    const { result } = await boot();
    const deletes = gcp.deletesSeen();
    assert.equal(deletes.length, 2);
    for (const d of deletes) {
      assert.equal(d.url, INSTANCE_PATH);
      assert.equal(d.headers.authorization, `Bearer ${gcp.token}`);
    }
    assert.equal(endLines(result).at(-1), "gpu-runner: ended through the cloud's API");
  });

  test("throttled for good (429 every time): three retries, then the power-off, and the log says so", async () => {
    gcp.reset();
    gcp.deleteStatuses = [429];
    const { result } = await boot();
    assert.equal(gcp.deletesSeen().length, 4, "the first try and three retries");
    assert.equal(
      endLines(result).at(-1),
      `gpu-runner: ending through the cloud's API failed (exit code 4): the Compute API refused to delete projects/${PROJECT}/zones/${ZONE}/instances/${NAME} (HTTP 429): Rate Limit Exceeded`,
    );
  });

  test("no service account (the token endpoint answers 404): no DELETE, the reason logged, the power-off", async () => {
    gcp.reset();
    gcp.tokenStatus = 404;
    const { result } = await boot();
    assert.deepEqual(gcp.deletesSeen(), [], "no delete without a token");
    assert.equal(
      endLines(result).at(-1),
      "gpu-runner: ending through the cloud's API failed (exit code 2): no token (HTTP 404; is a service account attached, with service-account?): service account not found",
    );
  });

  test("a metadata server that does not answer: no DELETE, the reason logged, the power-off", async () => {
    gcp.reset();
    const { result } = await boot({ metadata: await closedPort() });
    assert.deepEqual(gcp.seen, []);
    assert.match(
      endLines(result).at(-1)!,
      /^gpu-runner: ending through the cloud's API failed \(exit code 2\): no token: the metadata server did not answer: curl: \(7\) /,
    );
  });

  test("a machine that fails before its runner starts is kept, stopped, for start to read its console", async () => {
    gcp.reset();
    // No nvidia-smi at all: the GPU check fails and the machine powers off before any runner starts.
    const { result } = await boot({ gpus: null });
    assert.deepEqual(gcp.seen, [], "not even a token is asked for");
    assert.equal(
      endLines(result).at(-1),
      "gpu-runner: not ended through the cloud's API: kept, stopped: the runner never started, so start can read this machine's console; start, stop or a sweep deletes it",
    );
  });

  test("the idle timeout ends the machine the same way", async () => {
    gcp.reset();
    const { result } = await boot({ runner: "idle", values: { GR_IDLE_TIMEOUT_MINUTES: "3" } });
    assert.equal(gcp.deletesSeen().length, 1);
    assert.deepEqual(endLines(result), [
      "gpu-runner: powering off: idle timeout: no job within 3 minute(s) of the runner starting",
      "gpu-runner: ending the machine through the cloud's API",
      "gpu-runner: ended through the cloud's API",
    ]);
  });

  test("the lifetime cap on a later boot (the re-arm) deletes the instance before its power-off", async () => {
    gcp.reset();
    const { sandbox } = await boot();
    const [, machine] = readFileSync(sandbox.deadlinePath, "utf8").trim().split(" ");
    await writeFile(sandbox.deadlinePath, `${Math.floor(Date.now() / 1000) - 5} ${machine}\n`);
    gcp.reset();
    const powerBefore = sandbox.calls("power").length;
    const later = await sandbox.perBoot();
    assert.equal(later.code, 0, later.stderr);
    assert.deepEqual(later.lines, [
      "gpu-runner: powering off: max lifetime reached (60 minute(s), counted from the first boot)",
      "gpu-runner: ending the machine through the cloud's API",
      "gpu-runner: ended through the cloud's API",
    ]);
    assert.equal(gcp.deletesSeen()[0]?.url, INSTANCE_PATH);
    assert.deepEqual(sandbox.calls("power").slice(powerBefore), ["poweroff"]);
  });
});
