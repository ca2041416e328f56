// Encryption of the terraform state bundle that travels as a workflow artifact between the start and stop jobs.
//
// Why: the state holds the machines' user-data (the runner's JIT config, its credential) in clear, and artifacts of
// a public repository can be downloaded by any signed-in user for up to 90 days.
//
// Format: HEADER | salt (16) | iv (12) | tag (16) | ciphertext. AES-256-GCM, key = scrypt(passphrase, salt).
// HEADER, salt and iv are bound as additional authenticated data, so any change anywhere fails authentication.

import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";

/** Magic and format version. A new format gets a new header; old readers then refuse it clearly. */
const HEADER = Buffer.from("GPURUNNER-STATE-1\n", "ascii");
const SALT_LEN = 16;
const IV_LEN = 12;
const TAG_LEN = 16;
const KEY_LEN = 32;
const PREFIX_LEN = HEADER.length + SALT_LEN + IV_LEN;

// scrypt cost: N=2^15, r=8 needs 128 * N * r = 32 MiB, which is exactly node's default maxmem and is refused;
// allow twice that. About 0.1 s per derivation: negligible once per job, costly for offline guessing.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export class StateDecryptError extends Error {
  constructor() {
    super("the state could not be decrypted: wrong state-passphrase/github-token, or the artifact was altered");
    this.name = "StateDecryptError";
  }
}

function deriveKey(passphrase: string, salt: Buffer): Buffer {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new Error("the state passphrase is empty: cannot encrypt or decrypt the state");
  }
  // Stryker disable next-line StringLiteral: Buffer.from(string, "") falls back to utf8, the encoding named here
  return scryptSync(Buffer.from(passphrase, "utf8"), salt, KEY_LEN, SCRYPT);
}

export function encryptState(plaintext: Buffer, passphrase: string): Buffer {
  const salt = randomBytes(SALT_LEN);
  const iv = randomBytes(IV_LEN);
  const key = deriveKey(passphrase, salt);
  // Stryker disable next-line ObjectLiteral: GCM's tag is 16 bytes (TAG_LEN) by default; naming it changes no byte written
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_LEN });
  cipher.setAAD(Buffer.concat([HEADER, salt, iv]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([HEADER, salt, iv, cipher.getAuthTag(), ciphertext]);
}

export function decryptState(blob: Buffer, passphrase: string): Buffer {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new Error("the state passphrase is empty: cannot encrypt or decrypt the state");
  }
  if (blob.length < PREFIX_LEN + TAG_LEN || !blob.subarray(0, HEADER.length).equals(HEADER)) {
    throw new StateDecryptError();
  }
  const salt = blob.subarray(HEADER.length, HEADER.length + SALT_LEN);
  const iv = blob.subarray(HEADER.length + SALT_LEN, PREFIX_LEN);
  const tag = blob.subarray(PREFIX_LEN, PREFIX_LEN + TAG_LEN);
  const ciphertext = blob.subarray(PREFIX_LEN + TAG_LEN);
  try {
    const key = deriveKey(passphrase, Buffer.from(salt));
    // Stryker disable next-line ObjectLiteral: the tag is always a TAG_LEN slice (shorter blobs are refused above), so no shorter tag can reach it
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_LEN });
    decipher.setAAD(blob.subarray(0, PREFIX_LEN));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new StateDecryptError();
  }
}
