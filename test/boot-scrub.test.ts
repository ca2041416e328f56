// The boot script's scrub of the user-data's on-disk copies (stacks/boot/runner.sh, scrub and holds), run for real in
// the boot sandbox (test/kit/boot-sandbox.ts), for gzip streams that do not start the file: cloud-init's cached,
// pickled datasource (obj.pkl) holds the raw user-data, gzip-compressed as EC2 delivers the stack's, among other
// bytes. Every stream is found wherever it starts, and what cannot be checked is named, never reported as "none".
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { BOOT_LOG_PREFIX } from "../stacks/names.ts";
import { renderBootScript } from "../stacks/boot-script.ts";
import { type BootSandbox, gzipStreamAt, type RunResult, sandboxesOfThisFile } from "./kit/boot-sandbox.ts";
import { PARALLEL } from "./kit/patience.ts";

const { create } = sandboxesOfThisFile();

/** The scrub's log line: what it removed (gzip ones marked), what it could not check. */
function scrubReport(result: RunResult): { removed: string[]; gzip: string[]; unchecked: string; line: string } {
  const lines = result.lines.filter((l) => l.startsWith(`${BOOT_LOG_PREFIX} user-data: `));
  assert.equal(lines.length, 1, result.stdout);
  const line = lines[0]!;
  const m =
    /^gpu-runner: user-data: removed (\d+) on-disk cop\(ies\) holding the runner credential \((\d+) gzip-compressed, (\d+) base64-encoded\)(?:: (.*?))?; could not check: (.*?)(?:; could not remove: .*)?$/.exec(
      line,
    );
  assert.ok(m, line);
  const listed = m[4] ? m[4].split(", ") : [];
  return {
    removed: listed.map((entry) => entry.replace(/ \((gzip|base64)\)$/, "")),
    gzip: listed.filter((entry) => entry.endsWith(" (gzip)")).map((entry) => entry.slice(0, -" (gzip)".length)),
    unchecked: m[5]!,
    line,
  };
}

/** Bytes as a pickle frames them: a protocol-4 header, then a bytes object with its length, as obj.pkl holds data. */
function pickled(...parts: Buffer[]): Buffer {
  const framed = parts.map((part) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(part.length);
    return Buffer.concat([Buffer.from([0x42]), length, part, Buffer.from([0x94])]); // BINBYTES, MEMOIZE
  });
  return Buffer.concat([
    Buffer.from([0x80, 0x04, 0x95, 0x2a, 0x10, 0, 0, 0, 0, 0, 0, 0x8c, 0x07]),
    ...framed,
    Buffer.from("."),
  ]);
}

/** A run of bytes that begins like a gzip header (1f 8b 08) but is no stream. */
const FALSE_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x03, 0xff, 0xff, 0xff, 0xff]);

async function sandbox(): Promise<BootSandbox> {
  const s = await create();
  return s;
}

describe("boot script: gzip streams anywhere in a file", { concurrency: PARALLEL }, () => {
  it("the fixture is what it says: the config only in a gzip stream that does not start the file", async () => {
    const s = await sandbox();
    const blob = pickled(Buffer.from("cloudinit.sources.DataSourceEc2"), gzipSync(s.userData), Buffer.from("i-0"));
    const at = blob.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
    assert.ok(at > 0, "not at offset 0");
    assert.ok(!blob.includes(Buffer.from(s.secret)), "not in clear");
    assert.ok(gzipStreamAt(blob, at)?.includes(Buffer.from(s.secret)), "in the stream");
  });

  it("a pickled object holding only the compressed user-data, at a non-zero offset, is removed and named (gzip)", async () => {
    const s = await sandbox();
    const instance = join(s.cloudDir, "instances", "i-0123456789abcdef0");
    const pkl = join(instance, "obj.pkl");
    // As cloud-init's cache can hold it: the raw user-data (gzip bytes) alone, after a stream of another config that
    // is complete, and after a run of bytes that only looks like a header. Before this was fixed the scrub left it,
    // and said "could not check: none".
    const other = renderBootScript({
      values: { GR_RUNNER_NAME: "gpu-1234-1-1", GR_JIT_CONFIG: `jit-${randomBytes(1536).toString("base64")}` },
    });
    await writeFile(
      pkl,
      pickled(
        Buffer.from("cloudinit.sources.DataSourceEc2.DataSourceEc2Local"),
        FALSE_HEADER,
        gzipSync(other),
        gzipSync(s.userData),
        Buffer.from("userdata_raw"),
      ),
    );
    const result = await s.run();
    assert.ok(!existsSync(pkl), `${pkl} was removed`);
    const report = scrubReport(result);
    assert.ok(report.gzip.includes(pkl), report.line);
    assert.deepEqual(s.filesHoldingSecret(), []);
  });

  it("another config's stream at a non-zero offset stays, and is not named", async () => {
    const s = await sandbox();
    const other = renderBootScript({
      values: { GR_RUNNER_NAME: "gpu-1234-1-1", GR_JIT_CONFIG: `jit-${randomBytes(1536).toString("base64")}` },
    });
    const file = join(s.cloudDir, "instances", "i-0123456789abcdef0", "other.pkl");
    await writeFile(file, pickled(Buffer.from("x"), gzipSync(other), Buffer.from("y")));
    const result = await s.run();
    const report = scrubReport(result);
    assert.ok(existsSync(file), "kept");
    assert.ok(!report.line.includes(file), report.line);
    assert.equal(report.unchecked, "none", report.line);
  });

  it("a header at a non-zero offset that does not decompress is named with its offset, not reported as none", async () => {
    const s = await sandbox();
    const file = join(s.cloudDir, "instances", "i-0123456789abcdef0", "cut.pkl");
    const head = Buffer.from("cloudinit.sources.DataSourceEc2");
    // A truncated stream: its first 20 bytes (a header and a little deflate data), then other bytes.
    const cut = gzipSync(s.userData).subarray(0, 20);
    const blob = Buffer.concat([head, cut, Buffer.from([0x94, 0x2e])]);
    await writeFile(file, blob);
    const result = await s.run();
    const report = scrubReport(result);
    assert.equal(report.unchecked, `${file} (gzip at byte(s) ${head.length} that does not decompress)`, report.line);
    assert.ok(existsSync(file), "what it could not check, it leaves");
  });

  it("at offset 0 the wording is the one it always had", async () => {
    const s = await sandbox();
    const file = join(s.cloudDir, "instances", "i-0123456789abcdef0", "vendor-data.txt");
    await writeFile(file, gzipSync(s.userData).subarray(0, 20));
    const report = scrubReport(await s.run());
    assert.equal(report.unchecked, `${file} (gzip that does not decompress)`, report.line);
  });

  it("past 64 headers the rest are named as not checked, and the config after them is not claimed as checked", async () => {
    const s = await sandbox();
    const file = join(s.cloudDir, "instances", "i-0123456789abcdef0", "many.bin");
    const filler = Buffer.concat(Array.from({ length: 70 }, () => FALSE_HEADER));
    await writeFile(file, Buffer.concat([filler, gzipSync(s.userData)]));
    const result = await s.run();
    const report = scrubReport(result);
    const offsets = Array.from({ length: 64 }, (_, i) => i * FALSE_HEADER.length).join(", ");
    assert.equal(
      report.unchecked,
      `${file} (gzip at byte(s) ${offsets.slice(0, 200)} that does not decompress; gzip headers past the 64th, from byte ${64 * FALSE_HEADER.length}, not checked)`,
      report.line,
    );
    assert.ok(existsSync(file));
    assert.ok(readFileSync(file).length > filler.length);
  });
});
