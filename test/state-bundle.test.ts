import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  BUNDLE_FILES,
  packStackDir,
  readEncryptedBundle,
  type StateBundle,
  StateBundleError,
  unpackStackDir,
  writeEncryptedBundle,
} from "../scripts/adapters/state-bundle.ts";
import { encryptState, StateDecryptError } from "../scripts/adapters/state-crypto.ts";

const PASS = "state passphrase for tests";
const SECRET = "SECRET-USER-DATA-MARKER-77a1";
const META = {
  cloud: "aws",
  label: "gpu-123-1-abcd",
  createdAt: "2025-01-01T00:00:00.000Z",
  runners: [
    { name: "gpu-123-1-abcd-0", id: 41 },
    { name: "gpu-123-1-abcd-1", id: 42 },
  ],
};

let root: string;
let n = 0;
const fresh = async (name: string) => {
  const dir = join(root, `${name}-${n++}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), "bundle-test-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function stackDirWithEverything(): Promise<string> {
  const dir = await fresh("stack");
  await writeFile(join(dir, "cdk.tf.json"), '{"resource":{}}\n');
  await writeFile(join(dir, "terraform.tfstate"), `{"user_data":"${SECRET}"}\n`);
  await writeFile(join(dir, ".terraform.lock.hcl"), "# lock\n");
  await writeFile(join(dir, "terraform.tfstate.backup"), "{}");
  await writeFile(join(dir, "notes.txt"), "not for the bundle");
  await mkdir(join(dir, ".terraform", "providers"), { recursive: true });
  await writeFile(join(dir, ".terraform", "providers", "big-binary"), "provider");
  return dir;
}

describe("packStackDir / unpackStackDir", () => {
  test("round trip carries only the allow-listed files", async () => {
    const src = await stackDirWithEverything();
    const bundle = await packStackDir(src, META);
    assert.equal(bundle.format, 1);
    assert.deepEqual({ ...bundle, format: undefined, files: undefined }, { ...META, format: undefined, files: undefined });
    assert.deepEqual(Object.keys(bundle.files).sort(), [...BUNDLE_FILES].sort());

    const dst = join(await fresh("unpacked"), "new", "stack");
    await unpackStackDir(bundle, dst);
    assert.deepEqual((await readdir(dst)).sort(), [...BUNDLE_FILES].sort());
    for (const name of BUNDLE_FILES) {
      assert.equal(await readFile(join(dst, name), "utf8"), await readFile(join(src, name), "utf8"));
      assert.equal((await stat(join(dst, name))).mode & 0o777, 0o600, `${name} is 0600`);
    }
  });

  test("optional files may be missing; cdk.tf.json may not", async () => {
    const dir = await fresh("minimal");
    await assert.rejects(packStackDir(dir, META), StateBundleError);
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    const bundle = await packStackDir(dir, META);
    assert.deepEqual(Object.keys(bundle.files), ["cdk.tf.json"]);
  });

  test("a symlink in the stack directory is not followed", async () => {
    const dir = await fresh("symlink");
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    await writeFile(join(dir, "elsewhere"), "outside");
    await symlink(join(dir, "elsewhere"), join(dir, "terraform.tfstate"));
    await assert.rejects(packStackDir(dir, META), /not a regular file/);
  });

  test("unpack overwrites existing files and makes them 0600", async () => {
    const dst = await fresh("overwrite");
    await writeFile(join(dst, "terraform.tfstate"), "old old old old old old", { mode: 0o644 });
    await unpackStackDir({ format: 1, ...META, files: { "terraform.tfstate": "new" } }, dst);
    assert.equal(await readFile(join(dst, "terraform.tfstate"), "utf8"), "new");
    assert.equal((await stat(join(dst, "terraform.tfstate"))).mode & 0o777, 0o600);
  });

  for (const name of [
    "../evil",
    "../../etc/passwd",
    "sub/cdk.tf.json",
    "/etc/passwd",
    "..",
    ".terraform/providers/x",
    "..\\evil",
    "notes.txt",
    "terraform.tfstate.backup",
  ]) {
    test(`refuses file name ${JSON.stringify(name)}, writing nothing`, async () => {
      const dst = await fresh("traversal");
      const bundle: StateBundle = { format: 1, ...META, files: { "cdk.tf.json": "{}", [name]: "x" } };
      await assert.rejects(unpackStackDir(bundle, join(dst, "stack")), StateBundleError);
      assert.deepEqual(await readdir(dst), [], "nothing written, not even the directory");
    });
  }
});

describe("encrypted bundle file", () => {
  test("round trip; the file holds no secret in clear and is 0600", async () => {
    const bundle = await packStackDir(await stackDirWithEverything(), META);
    const path = join(await fresh("enc"), "out", "state.bin");
    await writeEncryptedBundle(path, bundle, PASS);
    const raw = await readFile(path);
    assert.ok(!raw.includes(SECRET));
    assert.ok(!raw.includes(META.label));
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(path, "..")), ["state.bin"], "no temporary file left behind");
    assert.deepEqual(await readEncryptedBundle(path, PASS), bundle);
  });

  test("rewriting replaces the file", async () => {
    const path = join(await fresh("rewrite"), "state.bin");
    const files = { "cdk.tf.json": "{}" };
    await writeEncryptedBundle(path, { format: 1, ...META, label: "first", files }, PASS);
    await writeEncryptedBundle(path, { format: 1, ...META, label: "second", files }, PASS);
    assert.equal((await readEncryptedBundle(path, PASS))?.label, "second");
  });

  test("a missing file is undefined", async () => {
    assert.equal(await readEncryptedBundle(join(await fresh("missing"), "nope.bin"), PASS), undefined);
  });

  test("a wrong passphrase is a StateDecryptError", async () => {
    const path = join(await fresh("wrongpass"), "state.bin");
    await writeEncryptedBundle(path, { format: 1, ...META, files: { "cdk.tf.json": "{}" } }, PASS);
    await assert.rejects(readEncryptedBundle(path, "not it"), StateDecryptError);
  });

  test("an invalid bundle is not written", async () => {
    const path = join(await fresh("invalid-write"), "state.bin");
    const bad = { format: 1, ...META, files: { "../x": "y" } } as StateBundle;
    await assert.rejects(writeEncryptedBundle(path, bad, PASS), StateBundleError);
    await assert.rejects(stat(path), { code: "ENOENT" });
  });

  const valid = { format: 1, ...META, files: { "cdk.tf.json": "{}" } };
  const malformed: { name: string; plaintext: string; error: RegExp }[] = [
    { name: "not JSON", plaintext: "{not json", error: /content is not JSON/ },
    { name: "an array", plaintext: "[]", error: /expected a JSON object/ },
    { name: "format 2", plaintext: JSON.stringify({ ...valid, format: 2 }), error: /format is 2, expected 1/ },
    { name: "no format", plaintext: JSON.stringify({ ...valid, format: undefined }), error: /format/ },
    { name: "empty cloud", plaintext: JSON.stringify({ ...valid, cloud: "" }), error: /cloud must be/ },
    { name: "label a number", plaintext: JSON.stringify({ ...valid, label: 7 }), error: /label must be/ },
    { name: "runners not array", plaintext: JSON.stringify({ ...valid, runners: {} }), error: /runners must be/ },
    {
      name: "runner id a string",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: "a", id: "1" }] }),
      error: /runners\[0\]/,
    },
    { name: "files an array", plaintext: JSON.stringify({ ...valid, files: [] }), error: /files must be/ },
    {
      name: "file content not text",
      plaintext: JSON.stringify({ ...valid, files: { "cdk.tf.json": 1 } }),
      error: /not text/,
    },
    {
      name: "traversal name",
      plaintext: JSON.stringify({ ...valid, files: { "../../x": "" } }),
      error: /leaves the stack directory/,
    },
  ];
  for (const c of malformed) {
    test(`decrypts but is malformed: ${c.name}`, async () => {
      const path = join(await fresh("malformed"), "state.bin");
      await writeFile(path, encryptState(Buffer.from(c.plaintext), PASS));
      await assert.rejects(readEncryptedBundle(path, PASS), (e: unknown) => {
        assert.ok(e instanceof StateBundleError, String(e));
        assert.match(e.message, /^the state bundle is not usable: /);
        assert.match(e.message, c.error);
        return true;
      });
    });
  }
});
