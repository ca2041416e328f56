import assert from "node:assert/strict";
import crypto from "node:crypto";
import fsPromises, { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
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
    assert.deepEqual(
      { ...bundle, format: undefined, files: undefined },
      { ...META, format: undefined, files: undefined },
    );
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

  // Each refusal says why: a name that would leave the stack directory (a separator of either system, a parent
  // reference, a NUL) is named as such even where the allow-list alone would also refuse it.
  const LEAVES = "it leaves the stack directory";
  const ONLY = "only cdk.tf.json, terraform.tfstate, .terraform.lock.hcl travel";
  for (const [name, quoted, why] of [
    ["../evil", '"../evil"', LEAVES],
    ["../../etc/passwd", '"../../etc/passwd"', LEAVES],
    ["sub/cdk.tf.json", '"sub/cdk.tf.json"', LEAVES],
    ["/etc/passwd", '"/etc/passwd"', LEAVES],
    ["..", '".."', LEAVES],
    [".terraform/providers/x", '".terraform/providers/x"', LEAVES],
    ["..\\evil", '"..\\\\evil"', LEAVES],
    ["sub\\cdk.tf.json", '"sub\\\\cdk.tf.json"', LEAVES],
    ["cdk.tf.json\0", '"cdk.tf.json\\u0000"', LEAVES],
    ["notes.txt", '"notes.txt"', ONLY],
    ["terraform.tfstate.backup", '"terraform.tfstate.backup"', ONLY],
    ["CDK.TF.JSON", '"CDK.TF.JSON"', ONLY],
  ]) {
    test(`refuses file name ${quoted} (${why === LEAVES ? "leaves" : "not allow-listed"}), writing nothing`, async () => {
      const dst = await fresh("traversal");
      const bundle: StateBundle = { format: 1, ...META, files: { "cdk.tf.json": "{}", [name!]: "x" } };
      await assert.rejects(unpackStackDir(bundle, join(dst, "stack")), {
        name: "StateBundleError",
        message: `the state bundle is not usable: refusing file name ${quoted}: ${why}`,
      });
      assert.deepEqual(await readdir(dst), [], "nothing written, not even the directory");
    });
  }

  test("unpack refuses a file whose content is not text, by name", async () => {
    const dst = await fresh("not-text");
    const bundle = { format: 1, ...META, files: { "cdk.tf.json": 5 } } as unknown as StateBundle;
    await assert.rejects(unpackStackDir(bundle, dst), {
      name: "StateBundleError",
      message: 'the state bundle is not usable: file "cdk.tf.json" is not text',
    });
    assert.deepEqual(await readdir(dst), []);
  });
});

describe("packStackDir: errors and the machine", () => {
  const MACHINE = { type: "g5.xlarge", location: "us-east-1", usdPerHour: 1.006, pricesAsOf: "2025-01-01" };

  test("a stack directory without cdk.tf.json: the error names the directory", async () => {
    const dir = await fresh("no-cdk");
    await writeFile(join(dir, "terraform.tfstate"), "{}");
    await assert.rejects(packStackDir(dir, META), (e: unknown) => {
      assert.ok(e instanceof StateBundleError);
      assert.equal(e.name, "StateBundleError");
      assert.equal(e.message, `the state bundle is not usable: ${dir} has no cdk.tf.json`);
      return true;
    });
  });

  test("a stack directory that cannot be read is that error, not a bundle with nothing in it", async () => {
    // Only a missing file is skipped; a path through a regular file (ENOTDIR) is not "no such file".
    const notADir = join(await fresh("file-not-dir"), "stack");
    await writeFile(notADir, "a file where the stack directory should be");
    await assert.rejects(packStackDir(notADir, META), { code: "ENOTDIR" });
  });

  test("a symlink: the error names the path", async () => {
    const dir = await fresh("symlink-msg");
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    await symlink(join(dir, "cdk.tf.json"), join(dir, ".terraform.lock.hcl"));
    await assert.rejects(packStackDir(dir, META), {
      name: "StateBundleError",
      message: `the state bundle is not usable: ${join(dir, ".terraform.lock.hcl")} is not a regular file`,
    });
  });

  test("the machine travels, as a copy of what was given", async () => {
    const dir = await fresh("machine");
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    const machine = { ...MACHINE };
    const bundle = await packStackDir(dir, { ...META, machine });
    machine.type = "changed afterwards";
    assert.deepEqual(bundle.machine, {
      type: "g5.xlarge",
      location: "us-east-1",
      usdPerHour: 1.006,
      pricesAsOf: "2025-01-01",
    });
    const path = join(dir, "state.bin");
    await writeEncryptedBundle(path, bundle, PASS);
    assert.deepEqual((await readEncryptedBundle(path, PASS))?.machine, bundle.machine);
  });

  test("without a machine there is no machine key", async () => {
    const dir = await fresh("no-machine");
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    assert.ok(!("machine" in (await packStackDir(dir, META))));
  });

  test("a malformed machine is refused at packing", async () => {
    const dir = await fresh("bad-machine");
    await writeFile(join(dir, "cdk.tf.json"), "{}");
    await assert.rejects(
      packStackDir(dir, { ...META, machine: { ...MACHINE, pricesAsOf: 20250101 as unknown as string } }),
      {
        name: "StateBundleError",
        message:
          "the state bundle is not usable: machine must be { type: string, location: string, usdPerHour?: number, pricesAsOf?: string }",
      },
    );
  });
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

  test("a path that is there but cannot be read is that error, not undefined", async () => {
    // undefined means "nothing was started"; a directory at the path (EISDIR) is not that.
    const path = join(await fresh("dir-at-path"), "state.bin");
    await mkdir(path);
    await assert.rejects(readEncryptedBundle(path, PASS), { code: "EISDIR" });
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

describe("readEncryptedBundle: each malformed field is refused with a message that names it", () => {
  const PREFIX = "the state bundle is not usable: ";
  const RUNNER = "runners[0] must be { name: non-empty string, id: integer >= 0 }";
  const MACHINE = "machine must be { type: string, location: string, usdPerHour?: number, pricesAsOf?: string }";
  const FILES = "files must be an object of file name -> text";
  const valid = { format: 1, ...META, files: { "cdk.tf.json": "{}" } };
  const machine = { type: "g5.xlarge", location: "us-east-1" };
  const cases: { name: string; plaintext: string; message: string }[] = [
    { name: "null", plaintext: "null", message: "expected a JSON object" },
    { name: "a number", plaintext: "5", message: "expected a JSON object" },
    { name: "a string", plaintext: '"a bundle"', message: "expected a JSON object" },
    { name: "a runner that is null", plaintext: JSON.stringify({ ...valid, runners: [null] }), message: RUNNER },
    { name: "a runner that is a string", plaintext: JSON.stringify({ ...valid, runners: ["gpu-0"] }), message: RUNNER },
    { name: "a runner without a name", plaintext: JSON.stringify({ ...valid, runners: [{ id: 1 }] }), message: RUNNER },
    {
      name: "a runner named by a number",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: 5, id: 1 }] }),
      message: RUNNER,
    },
    {
      name: "a runner with an empty name",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: "", id: 1 }] }),
      message: RUNNER,
    },
    {
      name: "a runner without an id",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: "a" }] }),
      message: RUNNER,
    },
    {
      name: "a runner id of -1",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: "a", id: -1 }] }),
      message: RUNNER,
    },
    {
      name: "a runner id of 1.5",
      plaintext: JSON.stringify({ ...valid, runners: [{ name: "a", id: 1.5 }] }),
      message: RUNNER,
    },
    {
      name: "the second runner bad: its index is named",
      plaintext: JSON.stringify({
        ...valid,
        runners: [
          { name: "a", id: 0 },
          { name: "b", id: -1 },
        ],
      }),
      message: "runners[1] must be { name: non-empty string, id: integer >= 0 }",
    },
    { name: "machine null", plaintext: JSON.stringify({ ...valid, machine: null }), message: MACHINE },
    { name: "machine a string", plaintext: JSON.stringify({ ...valid, machine: "g5.xlarge" }), message: MACHINE },
    { name: "machine empty", plaintext: JSON.stringify({ ...valid, machine: {} }), message: MACHINE },
    {
      name: "machine without a type",
      plaintext: JSON.stringify({ ...valid, machine: { location: "l" } }),
      message: MACHINE,
    },
    {
      name: "machine without a location",
      plaintext: JSON.stringify({ ...valid, machine: { type: "t" } }),
      message: MACHINE,
    },
    {
      name: "machine type a number",
      plaintext: JSON.stringify({ ...valid, machine: { ...machine, type: 1 } }),
      message: MACHINE,
    },
    {
      name: "machine location a number",
      plaintext: JSON.stringify({ ...valid, machine: { ...machine, location: 1 } }),
      message: MACHINE,
    },
    {
      name: "usdPerHour a string",
      plaintext: JSON.stringify({ ...valid, machine: { ...machine, usdPerHour: "1.006" } }),
      message: MACHINE,
    },
    {
      name: "usdPerHour null",
      plaintext: JSON.stringify({ ...valid, machine: { ...machine, usdPerHour: null } }),
      message: MACHINE,
    },
    {
      // JSON.parse reads 1e999 as Infinity: a number, and no price.
      name: "usdPerHour 1e999",
      plaintext: `{"format":1,"cloud":"aws","label":"l","createdAt":"c","runners":[],"machine":{"type":"t","location":"l","usdPerHour":1e999},"files":{}}`,
      message: MACHINE,
    },
    {
      name: "pricesAsOf a number",
      plaintext: JSON.stringify({ ...valid, machine: { ...machine, pricesAsOf: 20250101 } }),
      message: MACHINE,
    },
    { name: "files null", plaintext: JSON.stringify({ ...valid, files: null }), message: FILES },
    { name: "files a string", plaintext: JSON.stringify({ ...valid, files: "cdk.tf.json" }), message: FILES },
    { name: "files missing", plaintext: JSON.stringify({ ...valid, files: undefined }), message: FILES },
    {
      name: "a file name outside the allow-list",
      plaintext: JSON.stringify({ ...valid, files: { "notes.txt": "" } }),
      message: 'refusing file name "notes.txt": only cdk.tf.json, terraform.tfstate, .terraform.lock.hcl travel',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const path = join(await fresh("refused"), "state.bin");
      await writeFile(path, encryptState(Buffer.from(c.plaintext), PASS));
      await assert.rejects(readEncryptedBundle(path, PASS), (e: unknown) => {
        assert.ok(e instanceof StateBundleError, String(e));
        assert.equal(e.name, "StateBundleError");
        assert.equal(e.message, PREFIX + c.message);
        return true;
      });
    });
  }

  // The edges of what is accepted: the bounds above are not drawn too tight.
  const accepted: { name: string; bundle: StateBundle }[] = [
    { name: "no runners", bundle: { ...valid, format: 1, runners: [] } },
    { name: "a runner id of 0", bundle: { ...valid, format: 1, runners: [{ name: "gpu-0", id: 0 }] } },
    { name: "a machine with type and location only", bundle: { ...valid, format: 1, machine: { ...machine } } },
    {
      name: "a machine with a price and its date",
      bundle: { ...valid, format: 1, machine: { ...machine, usdPerHour: 0, pricesAsOf: "2025-01-01" } },
    },
    { name: "no files at all", bundle: { ...valid, format: 1, files: {} } },
  ];
  for (const c of accepted) {
    test(`accepted: ${c.name}`, async () => {
      const path = join(await fresh("accepted"), "state.bin");
      await writeFile(path, encryptState(Buffer.from(JSON.stringify(c.bundle)), PASS));
      assert.deepEqual(await readEncryptedBundle(path, PASS), c.bundle);
    });
  }
});

describe("writeEncryptedBundle: failures leave nothing behind and report the real cause", () => {
  const bundle: StateBundle = { format: 1, ...META, files: { "cdk.tf.json": "{}" } };

  // Swaps one export of a node module for the duration of `run`; the modules under test import it by name, and
  // syncBuiltinESMExports makes their binding follow.
  async function withStub<M extends object, K extends keyof M>(mod: M, key: K, stub: M[K], run: () => Promise<void>) {
    const original = mod[key];
    mod[key] = stub;
    syncBuiltinESMExports();
    try {
      await run();
    } finally {
      mod[key] = original;
      syncBuiltinESMExports();
    }
  }

  test("the rename fails (a directory is at the path): its error, and no temporary file left", async () => {
    const dir = await fresh("rename-fails");
    await mkdir(join(dir, "state.bin", "occupied"), { recursive: true });
    await assert.rejects(writeEncryptedBundle(join(dir, "state.bin"), bundle, PASS), { code: "EISDIR" });
    assert.deepEqual(await readdir(dir), ["state.bin"]);
  });

  test("the temporary file cannot be created (disk full): that error, not the clean-up's", async () => {
    // Nothing was created, so the clean-up finds nothing to remove; that must not replace ENOSPC with ENOENT.
    const dir = await fresh("open-fails");
    const diskFull = async () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, open"), { code: "ENOSPC" });
    };
    await withStub(fsPromises, "open", diskFull as typeof fsPromises.open, async () => {
      await assert.rejects(writeEncryptedBundle(join(dir, "state.bin"), bundle, PASS), { code: "ENOSPC" });
    });
    assert.deepEqual(await readdir(dir), []);
  });

  test("a hard link planted at the temporary name is not written through", async () => {
    // The temporary file is created exclusively: whatever already sits at its name (here a hard link to another file,
    // which O_NOFOLLOW would not stop) makes the write fail rather than overwrite that other file. The name is
    // .<file>.<pid>.<12 hex digits>.tmp; the random part is pinned so the test can plant something there.
    const dir = await fresh("planted");
    const victim = join(dir, "victim");
    await writeFile(victim, "untouched");
    await link(victim, join(dir, `.state.bin.${process.pid}.abababababab.tmp`));
    const real = crypto.randomBytes; // taken before the stub: this file's own import follows the stub too
    const pinned = ((size: number) => (size === 6 ? Buffer.alloc(6, 0xab) : real(size))) as typeof crypto.randomBytes;
    await withStub(crypto, "randomBytes", pinned, async () => {
      await assert.rejects(writeEncryptedBundle(join(dir, "state.bin"), bundle, PASS), { code: "EEXIST" });
    });
    assert.equal(await readFile(victim, "utf8"), "untouched");
    await assert.rejects(stat(join(dir, "state.bin")), { code: "ENOENT" });
  });
});

describe("file descriptors", () => {
  // Every file written is closed again: a stop job that unpacks and rewrites bundles must not leak one per file.
  // Linux lists a process's open descriptors in /proc/self/fd.
  const openFds = async () => (await readdir("/proc/self/fd")).length;

  test("unpackStackDir and writeEncryptedBundle leave no file open", async () => {
    const bundle = await packStackDir(await stackDirWithEverything(), META);
    const before = await openFds();
    await unpackStackDir(bundle, await fresh("fds-unpack"));
    await writeEncryptedBundle(join(await fresh("fds-write"), "state.bin"), bundle, PASS);
    assert.equal(await openFds(), before);
  });
});
