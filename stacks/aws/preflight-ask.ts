// How the AWS preflight asks: one aws CLI command read into an Answer, an identical read-only question in flight
// shared by the candidates asking it. Apart from the questions so that each of them asks through the same memo.
import type { CommandRunner } from "../cloud-command.ts";
import type { AwsConfig } from "./config.ts";
import { type Answer, readAnswer } from "./preflight-answers.ts";

/**
 * The questions in flight, per runner: the candidates of one start are asked at once with the same runner, and
 * most of their questions are the same (the image, the subnet, the Spot role, the family's quota). Each aws CLI
 * process costs a good half second of CPU, so an identical read-only question asked while another is in flight
 * shares its answer instead of starting one more. Only while in flight: a later preflight asks again.
 */
const inFlight = new WeakMap<CommandRunner, Map<string, Promise<Answer>>>();

export class Asker {
  constructor(
    private readonly config: AwsConfig,
    private readonly run: CommandRunner,
  ) {}

  /** One aws command in the config's region, read into an Answer; a runner that throws is a question not asked. */
  ask(service: string, command: string, args: string[]): Promise<Answer> {
    const argv = [service, command, "--region", this.config.region, ...args];
    const key = JSON.stringify(argv);
    let asking = inFlight.get(this.run);
    if (!asking) {
      asking = new Map();
      inFlight.set(this.run, asking);
    }
    const shared = asking.get(key);
    if (shared) return shared;
    // Through a resolved promise, so that a runner throwing at once is a question not asked, like one that rejects.
    const answer = Promise.resolve()
      .then(() => this.run("aws", argv))
      .then(
        readAnswer,
        (error: unknown): Answer => ({
          kind: "unasked",
          why: `the aws CLI could not be run: ${(error as Error).message}`,
        }),
      );
    asking.set(key, answer);
    const done = asking;
    void answer.finally(() => done.delete(key));
    return answer;
  }
}

/** The JSON a `--output json` answer printed, or undefined when it is not JSON. */
export function json(stdout: string): unknown {
  try {
    return JSON.parse(stdout || "null");
  } catch {
    return undefined;
  }
}
