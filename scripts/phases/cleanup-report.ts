// What each cleanup layer of a stop did, in the log and, when something is left, in the job summary.

export interface CleanupOutcome {
  /** Which layer: the machines through terraform, the runners at GitHub, the machines by their label. */
  layer: string;
  ok: boolean;
  detail: string;
}

export function cleanupTable(outcomes: CleanupOutcome[], format: "text" | "markdown"): string {
  if (format === "markdown") {
    const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
    return [
      "| Cleanup layer | Outcome |",
      "| --- | --- |",
      ...outcomes.map((o) => `| ${cell(o.layer)} | ${o.ok ? "done" : "FAILED"}: ${cell(o.detail)} |`),
    ].join("\n");
  }
  const width = Math.max(...outcomes.map((o) => o.layer.length));
  return [
    "Cleanup:",
    ...outcomes.map((o) => `  ${o.layer.padEnd(width)}  ${o.ok ? "done" : "FAILED"}: ${o.detail}`),
  ].join("\n");
}
