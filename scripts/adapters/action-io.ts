// The action's side of the workflow (logs, groups, masks, outputs, job summary), injected so orchestration can be
// tested without @actions/core's global state.
import * as core from "@actions/core";

export interface ActionIO {
  info(line: string): void;
  warning(line: string): void;
  /** A notice annotation: something the user should see, that is not wrong. */
  notice(line: string): void;
  /** Masks a value in every later log line of the job. Call it the moment a secret is received. */
  setSecret(value: string): void;
  setOutput(name: string, value: string): void;
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Appends markdown to the job summary. */
  summary(markdown: string): Promise<void>;
}

export const coreIO: ActionIO = {
  info: (line) => core.info(line),
  warning: (line) => core.warning(line),
  notice: (line) => core.notice(line),
  setSecret: (value) => core.setSecret(value),
  setOutput: (name, value) => core.setOutput(name, value),
  group: (title, fn) => core.group(title, fn),
  summary: async (markdown) => {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown, true).write();
  },
};

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
