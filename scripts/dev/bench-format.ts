// How npm run bench prints its figures: one line at a time, medians, seconds, megabytes, aligned columns.

export const say = (text = "") => process.stdout.write(`${text}\n`);
export const median = (values: number[]) => {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : "unknown");
export const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
export const row = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
