import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { decryptState, encryptState, StateDecryptError } from "../scripts/adapters/state-crypto.ts";

const PASS = "correct horse battery staple";
const MARKER = "JIT-CONFIG-MARKER-4f1c9e";

// Layout: header "GPURUNNER-STATE-1\n" (18) | salt (16) | iv (12) | tag (16) | ciphertext.
const HEADER_LEN = 18;
const REGIONS = {
  header: 0,
  salt: HEADER_LEN,
  iv: HEADER_LEN + 16,
  tag: HEADER_LEN + 16 + 12,
  ciphertext: HEADER_LEN + 16 + 12 + 16,
} as const;

const isDecryptError = (e: unknown) => {
  assert.ok(e instanceof StateDecryptError, `expected StateDecryptError, got ${String(e)}`);
  assert.match(e.message, /wrong state-passphrase\/github-token, or the artifact was altered/);
  return true;
};

describe("state encryption", () => {
  for (const [name, plaintext] of [
    ["empty", Buffer.alloc(0)],
    ["text", Buffer.from(`{"secret":"${MARKER}"}`)],
    ["1 MiB of random bytes", randomBytes(1024 * 1024)],
  ] as const) {
    test(`round trip: ${name}`, () => {
      assert.deepEqual(decryptState(encryptState(plaintext, PASS), PASS), plaintext);
    });
  }

  test("starts with the versioned header", () => {
    assert.equal(encryptState(Buffer.from("x"), PASS).subarray(0, HEADER_LEN).toString("ascii"), "GPURUNNER-STATE-1\n");
  });

  test("two encryptions of the same plaintext differ (random salt and iv)", () => {
    const p = Buffer.from(MARKER);
    const a = encryptState(p, PASS);
    const b = encryptState(p, PASS);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a.subarray(REGIONS.salt, REGIONS.iv), b.subarray(REGIONS.salt, REGIONS.iv));
    assert.notDeepEqual(a.subarray(REGIONS.iv, REGIONS.tag), b.subarray(REGIONS.iv, REGIONS.tag));
  });

  test("the ciphertext does not contain the plaintext", () => {
    const blob = encryptState(Buffer.from(`before ${MARKER} after`), PASS);
    assert.ok(!blob.includes(MARKER));
    assert.ok(!blob.includes(Buffer.from(MARKER).toString("base64")));
  });

  test("wrong passphrase", () => {
    const blob = encryptState(Buffer.from(MARKER), PASS);
    assert.throws(() => decryptState(blob, `${PASS}!`), isDecryptError);
  });

  const blob = encryptState(Buffer.from(`payload ${MARKER}`), PASS);
  for (const [region, offset] of Object.entries(REGIONS)) {
    for (const at of ["first", "last"] as const) {
      test(`a flipped bit in the ${region} (${at} byte)`, () => {
        const ends: Record<string, number> = {
          header: REGIONS.salt,
          salt: REGIONS.iv,
          iv: REGIONS.tag,
          tag: REGIONS.ciphertext,
          ciphertext: blob.length,
        };
        const i = at === "first" ? offset : ends[region]! - 1;
        const altered = Buffer.from(blob);
        altered[i] = altered[i]! ^ 0x01;
        assert.throws(() => decryptState(altered, PASS), isDecryptError);
      });
    }
  }

  for (const [name, length] of [
    ["nothing", 0],
    ["inside the header", 5],
    ["header only", HEADER_LEN],
    ["before the tag ends", REGIONS.ciphertext - 1],
    ["no ciphertext", REGIONS.ciphertext],
    ["one byte short", blob.length - 1],
  ] as const) {
    test(`truncated: ${name}`, () => {
      assert.throws(() => decryptState(blob.subarray(0, length), PASS), isDecryptError);
    });
  }

  test("appended bytes", () => {
    assert.throws(() => decryptState(Buffer.concat([blob, Buffer.from("x")]), PASS), isDecryptError);
  });

  test("an empty passphrase is refused both ways", () => {
    assert.throws(() => encryptState(Buffer.from("x"), ""), /passphrase is empty/);
    assert.throws(() => decryptState(blob, ""), /passphrase is empty/);
  });
});
