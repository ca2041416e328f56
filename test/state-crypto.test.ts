import assert from "node:assert/strict";
import crypto, { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { syncBuiltinESMExports } from "node:module";
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

// The stop job's log shows this message and this name: both are the user's interface.
const isDecryptError = (e: unknown) => {
  assert.ok(e instanceof StateDecryptError, `expected StateDecryptError, got ${String(e)}`);
  assert.equal(e.name, "StateDecryptError");
  assert.equal(
    e.message,
    "the state could not be decrypted: wrong state-passphrase/github-token, or the artifact was altered",
  );
  return true;
};
const EMPTY_PASSPHRASE = "the state passphrase is empty: cannot encrypt or decrypt the state";

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

  // The passphrase comes from the environment, where an unset variable is undefined at run time whatever the types
  // say: refused with the same message, not a TypeError from inside the key derivation.
  for (const [name, passphrase] of [
    ["undefined", undefined],
    ["null", null],
    ["a number", 42],
  ] as const) {
    test(`a passphrase that is ${name} is refused both ways, as an empty one`, () => {
      const p = passphrase as unknown as string;
      assert.throws(() => encryptState(Buffer.from("x"), p), { name: "Error", message: EMPTY_PASSPHRASE });
      assert.throws(() => decryptState(blob, p), { name: "Error", message: EMPTY_PASSPHRASE });
    });
  }
});

describe("state encryption: what is refused before any key is derived", () => {
  // scrypt costs about 0.1 s and 64 MiB per derivation: a blob that cannot be a state of this format (too short to
  // hold salt, iv and tag, or another header) is refused up front. Counted by wrapping node's scryptSync, which the
  // module's named import sees through syncBuiltinESMExports.
  const countDerivations = (run: () => void): number => {
    const original = crypto.scryptSync;
    let calls = 0;
    crypto.scryptSync = ((...args: Parameters<typeof original>) => {
      calls++;
      return original(...args);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      run();
    } finally {
      crypto.scryptSync = original;
      syncBuiltinESMExports();
    }
    return calls;
  };
  const header = Buffer.from("GPURUNNER-STATE-1\n", "ascii");

  for (const [name, blob, derivations] of [
    // header (18) + salt (16) + iv (12) + tag (16) = 62 bytes at the least.
    ["the right header, one byte short of a tag", Buffer.concat([header, Buffer.alloc(61 - HEADER_LEN)]), 0],
    ["the right header, salt and iv, no tag", Buffer.concat([header, Buffer.alloc(28)]), 0],
    ["another header, long enough", Buffer.concat([Buffer.from("GPURUNNER-STATE-2\n"), Buffer.alloc(100)]), 0],
    // The control: a blob of the right shape whose tag is wrong is only found out by deriving the key.
    ["the right header, long enough, a wrong tag", Buffer.concat([header, Buffer.alloc(62 - HEADER_LEN)]), 1],
  ] as const) {
    test(`${name}: ${derivations} key derivation(s), then refused`, () => {
      assert.equal(
        countDerivations(() => assert.throws(() => decryptState(blob, PASS), isDecryptError)),
        derivations,
      );
    });
  }
});

describe("state encryption: the documented parameters, checked against an independent implementation", () => {
  // The same format written here from the header comment of state-crypto.ts: AES-256-GCM, a 16-byte tag, the key from
  // scrypt with N=2^15, r=8, p=1. A weaker cost (an offline guess made cheap) or another cipher would not read it.
  const sealWithDocumentedParameters = (
    plaintext: Buffer,
    passphrase: string,
    headerText = "GPURUNNER-STATE-1\n",
  ): Buffer => {
    const header = Buffer.from(headerText, "ascii");
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = scryptSync(Buffer.from(passphrase, "utf8"), salt, 32, {
      N: 2 ** 15,
      r: 8,
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.concat([header, salt, iv]));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, salt, iv, cipher.getAuthTag(), ciphertext]);
  };

  test("a blob sealed with them is read", () => {
    const plaintext = Buffer.from(`{"secret":"${MARKER}"}`);
    assert.deepEqual(decryptState(sealWithDocumentedParameters(plaintext, PASS), PASS), plaintext);
  });

  // A later format gets a new header; this reader must refuse it even when it authenticates (the header is part of the
  // authenticated data, so only the header check stands between an unknown format and a misread).
  for (const headerText of ["GPURUNNER-STATE-2\n", "GPURUNNER-STATE-0\n", "gpurunner-state-1\n"]) {
    test(`a blob sealed with them under the header ${JSON.stringify(headerText)} is refused`, () => {
      const blob = sealWithDocumentedParameters(Buffer.from(`{"secret":"${MARKER}"}`), PASS, headerText);
      assert.throws(() => decryptState(blob, PASS), isDecryptError);
    });
  }

  test("what encryptState writes is opened with them", () => {
    const blob = encryptState(Buffer.from(MARKER), PASS);
    const salt = blob.subarray(REGIONS.salt, REGIONS.iv);
    const iv = blob.subarray(REGIONS.iv, REGIONS.tag);
    const key = scryptSync(Buffer.from(PASS, "utf8"), salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    decipher.setAAD(blob.subarray(0, REGIONS.tag));
    decipher.setAuthTag(blob.subarray(REGIONS.tag, REGIONS.ciphertext));
    const opened = Buffer.concat([decipher.update(blob.subarray(REGIONS.ciphertext)), decipher.final()]);
    assert.equal(opened.toString(), MARKER);
  });
});
