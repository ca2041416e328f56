// An ActionIO that records what the action would print, mask and output.
import type { ActionIO } from "../../scripts/adapters/action-io.ts";

export interface RecordingIO extends ActionIO {
  lines: string[];
  warnings: string[];
  notices: string[];
  secrets: string[];
  outputs: Record<string, string>;
  summaries: string[];
}

export function recordingIO(): RecordingIO {
  const io: RecordingIO = {
    lines: [],
    warnings: [],
    notices: [],
    secrets: [],
    outputs: {},
    summaries: [],
    info: (line) => io.lines.push(line),
    warning: (line) => io.warnings.push(line),
    notice: (line) => io.notices.push(line),
    setSecret: (value) => io.secrets.push(value),
    setOutput: (name, value) => {
      io.outputs[name] = value;
    },
    group: async (title, fn) => {
      io.lines.push(`::group::${title}`);
      try {
        return await fn();
      } finally {
        io.lines.push("::endgroup::");
      }
    },
    summary: async (markdown) => {
      io.summaries.push(markdown);
    },
  };
  return io;
}
