// The one encrypted file that the start job uploads as an artifact and the stop job downloads: enough of the stack
// directory to run `terraform destroy` later, plus what stop needs to clean up the runners on GitHub.

import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { lstat, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { decryptState, encryptState } from "./state-crypto.ts";

export interface StateBundle {
  format: 1;
  cloud: string;
  label: string;
  createdAt: string;
  runners: { name: string; id: number }[];
  /** What was started, for the stop job's summary (how long it lived, what it cost). */
  machine?: { type: string; location: string; usdPerHour?: number; pricesAsOf?: string };
  files: Record<string, string>;
}

/**
 * The files of the stack directory that travel. Never `.terraform/` (provider binaries, hundreds of MB: init
 * fetches them again, pinned by the lock file) nor anything else a name could smuggle in.
 */
export const BUNDLE_FILES = ["cdk.tf.json", "terraform.tfstate", ".terraform.lock.hcl"] as const;

export class StateBundleError extends Error {
  constructor(message: string) {
    super(`the state bundle is not usable: ${message}`);
    this.name = "StateBundleError";
  }
}

export async function packStackDir(
  stackDir: string,
  meta: Omit<StateBundle, "format" | "files">,
): Promise<StateBundle> {
  const files: Record<string, string> = {};
  for (const name of BUNDLE_FILES) {
    const path = join(stackDir, name);
    let isFile: boolean;
    try {
      // lstat: a symlink in the stack directory is not ours; do not follow it into the rest of the disk.
      isFile = (await lstat(path)).isFile();
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    if (!isFile) throw new StateBundleError(`${path} is not a regular file`);
    files[name] = await readFile(path, "utf8");
  }
  if (files["cdk.tf.json"] === undefined) throw new StateBundleError(`${stackDir} has no cdk.tf.json`);
  const bundle: StateBundle = {
    format: 1,
    cloud: meta.cloud,
    label: meta.label,
    createdAt: meta.createdAt,
    runners: meta.runners.map((r) => ({ name: r.name, id: r.id })),
    ...(meta.machine ? { machine: { ...meta.machine } } : {}),
    files,
  };
  validateBundle(bundle);
  return bundle;
}

export async function unpackStackDir(bundle: StateBundle, stackDir: string): Promise<void> {
  // Check every name before writing any: a bundle with one bad name writes nothing.
  for (const name of Object.keys(bundle.files)) checkFileName(name);
  await mkdir(stackDir, { recursive: true, mode: 0o700 });
  for (const [name, content] of Object.entries(bundle.files)) {
    if (typeof content !== "string") throw new StateBundleError(`file ${JSON.stringify(name)} is not text`);
    await writePrivate(join(stackDir, name), content);
  }
}

export async function writeEncryptedBundle(path: string, bundle: StateBundle, passphrase: string): Promise<void> {
  validateBundle(bundle);
  // Stryker disable next-line StringLiteral: Buffer.from(string, "") falls back to utf8, the encoding named here
  const blob = encryptState(Buffer.from(JSON.stringify(bundle), "utf8"), passphrase);
  await mkdir(dirname(path), { recursive: true });
  // Atomic: a reader (or the upload step after a crash) sees the old file or the whole new one, never half.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writePrivate(tmp, blob, true);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function readEncryptedBundle(path: string, passphrase: string): Promise<StateBundle | undefined> {
  let blob: Buffer;
  try {
    blob = await readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const plaintext = decryptState(blob, passphrase); // StateDecryptError on a wrong key or any alteration
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString("utf8"));
  } catch {
    throw new StateBundleError("it decrypted, but its content is not JSON");
  }
  validateBundle(parsed);
  return parsed;
}

function validateBundle(value: unknown): asserts value is StateBundle {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StateBundleError("expected a JSON object");
  }
  const b = value as Record<string, unknown>;
  if (b.format !== 1) {
    throw new StateBundleError(`format is ${JSON.stringify(b.format)}, expected 1 (written by another version?)`);
  }
  for (const key of ["cloud", "label", "createdAt"] as const) {
    if (typeof b[key] !== "string" || b[key] === "") {
      throw new StateBundleError(`${key} must be a non-empty string`);
    }
  }
  if (!Array.isArray(b.runners)) throw new StateBundleError("runners must be an array");
  for (const [i, r] of b.runners.entries()) {
    const ok =
      typeof r === "object" &&
      r !== null &&
      typeof r.name === "string" &&
      r.name !== "" &&
      Number.isSafeInteger(r.id) &&
      r.id >= 0;
    if (!ok) throw new StateBundleError(`runners[${i}] must be { name: non-empty string, id: integer >= 0 }`);
  }
  if (b.machine !== undefined) {
    const m = b.machine as Record<string, unknown> | null;
    const ok =
      typeof m === "object" &&
      m !== null &&
      typeof m.type === "string" &&
      typeof m.location === "string" &&
      (m.usdPerHour === undefined || (typeof m.usdPerHour === "number" && Number.isFinite(m.usdPerHour))) &&
      (m.pricesAsOf === undefined || typeof m.pricesAsOf === "string");
    if (!ok)
      throw new StateBundleError(
        "machine must be { type: string, location: string, usdPerHour?: number, pricesAsOf?: string }",
      );
  }
  if (typeof b.files !== "object" || b.files === null || Array.isArray(b.files)) {
    throw new StateBundleError("files must be an object of file name -> text");
  }
  for (const [name, content] of Object.entries(b.files)) {
    checkFileName(name);
    if (typeof content !== "string") throw new StateBundleError(`file ${JSON.stringify(name)} is not text`);
  }
}

function checkFileName(name: string): void {
  // The allow-list alone would do; the explicit checks say why a name is refused.
  if (name.includes("/") || name.includes("\\") || name.includes("..") || name.includes("\0")) {
    throw new StateBundleError(`refusing file name ${JSON.stringify(name)}: it leaves the stack directory`);
  }
  if (!(BUNDLE_FILES as readonly string[]).includes(name)) {
    throw new StateBundleError(`refusing file name ${JSON.stringify(name)}: only ${BUNDLE_FILES.join(", ")} travel`);
  }
}

/** Writes with mode 0600 whether or not the file existed, without following a symlink planted at the path. */
async function writePrivate(path: string, content: string | Buffer, exclusive = false): Promise<void> {
  const flags =
    fsConstants.O_WRONLY |
    fsConstants.O_CREAT |
    fsConstants.O_NOFOLLOW |
    (exclusive ? fsConstants.O_EXCL : fsConstants.O_TRUNC);
  const handle = await open(path, flags, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "ENOENT";
}
