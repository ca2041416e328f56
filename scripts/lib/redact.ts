// The one redactor: every place that writes text which may carry a secret (the GitHub client's errors and logs,
// terraform's output, the cloud CLIs' stderr) replaces each known secret with *** before the text leaves.

export const REDACTED = "***";

export interface Redactor {
  /** Remembers a secret; later calls of `redact` replace it. Empty values are ignored. */
  add(secret: string): void;
  redact(text: string): string;
}

export function createRedactor(initial: Iterable<string> = []): Redactor {
  const secrets = new Set<string>();
  let ordered: string[] = [];
  const add = (secret: string) => {
    if (!secret || secrets.has(secret)) return;
    secrets.add(secret);
    // Longest first, so a secret that contains another is replaced whole.
    ordered = [...secrets].sort((a, b) => b.length - a.length);
  };
  for (const secret of initial) add(secret);
  return {
    add,
    redact(text) {
      let out = text;
      for (const secret of ordered) out = out.split(secret).join(REDACTED);
      return out;
    },
  };
}
