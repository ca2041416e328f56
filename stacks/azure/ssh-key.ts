// The SSH key Azure requires on a Linux VM, made unusable: its private half is discarded as it is made.
import { generateKeyPairSync } from "node:crypto";

/** An OpenSSH ssh-rsa public key whose private key is discarded at once: made once per process, never written. */
let sshKey: string | undefined;
export function unusableSshKey(): string {
  if (sshKey) return sshKey;
  const { n, e } = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
  // RFC 4253: string "ssh-rsa", mpint e, mpint n; each a 4-byte length and its bytes (an mpint with its sign bit clear).
  const field = (bytes: Buffer) => Buffer.concat([u32(bytes.length), bytes]);
  const mpint = (b64url: string) => {
    const raw = Buffer.from(b64url, "base64url");
    return field((raw[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  sshKey = `ssh-rsa ${Buffer.concat([field(Buffer.from("ssh-rsa")), mpint(e!), mpint(n!)]).toString("base64")} gpu-runner-no-login`;
  return sshKey;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}
