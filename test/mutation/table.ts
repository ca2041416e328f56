// Mutations that StrykerJS does not make: the boot script (bash, which it does not read), numeric constants of the
// TypeScript modules (it changes operators and statements, never a number), and wiring in modules outside its list.
// Each row is one realistic slip, a flipped comparison, a dropped line or a changed constant, in code a safety rule
// rests on, named by the question a reviewer would ask. The row is applied to a scratch copy of the project and the
// named test files run there; the mutant is killed when one of them fails.
export interface TableMutant {
  /** The rule a reviewer would ask about, and the slip. */
  name: string;
  file: string;
  /** Text found exactly once in the file, and what it becomes. */
  find: string;
  replace: string;
  /** The test files that must notice; the boot script's by default. */
  tests?: string[];
}

export const BOOT_TESTS = ["test/boot-script.test.ts", "test/boot-render.test.ts"];
const BOOT = "stacks/boot/runner.sh";

export const TABLE: TableMutant[] = [
  // The GPU gate
  { name: "more GPUs than expected pass the gate", file: BOOT, find: "((n == GPUS)) ||", replace: "((n >= GPUS)) ||" },
  {
    name: "a GPU with uncorrected ECC errors passes",
    file: BOOT,
    find: "((10#$ecc == 0)) ||",
    replace: "((10#$ecc <= 3)) ||",
  },
  { name: "a GPU that reports no memory passes", file: BOOT, find: "((10#$mem > 0))", replace: "((10#$mem >= 0))" },
  // Timeouts and the lifetime cap
  {
    name: "the idle timeout is half the one configured",
    file: BOOT,
    find: "local end=$((SECONDS + IDLE * UNIT))",
    replace: "local end=$((SECONDS + IDLE * UNIT / 2))",
  },
  {
    name: "the idle timeout stops a running job",
    file: BOOT,
    find: "[[ -n $JOB ]] || ((SECONDS < end)) ||",
    replace: "((SECONDS < end)) ||",
  },
  {
    name: "the production time unit is a second, not a minute",
    file: BOOT,
    find: "want UNIT TIME_UNIT_SECONDS 60 ",
    replace: "want UNIT TIME_UNIT_SECONDS 1 ",
  },
  {
    name: "the deadline is twice the lifetime",
    file: BOOT,
    find: "d=$((now + LIFE * UNIT))",
    replace: "d=$((now + 2 * LIFE * UNIT))",
  },
  {
    name: "the lifetime timer's signal is not trapped (the boot dies without its reason)",
    file: BOOT,
    find: "  trap life_over USR1\n",
    replace: "\n",
  },
  {
    name: "a deadline from another machine is obeyed, this machine's ignored",
    file: BOOT,
    find: 'if [[ $id != "$(machine_id)" ]]; then',
    replace: 'if [[ $id == "$(machine_id)" ]]; then',
  },
  {
    name: "the lifetime re-arm is not enabled for the next boot",
    file: BOOT,
    find: '    ln -sfn -- "$dir/$unit" "$dir/multi-user.target.wants/$unit"',
    replace: "    :",
  },
  {
    name: "the backstop shutdown loses its 2 minutes past the deadline",
    file: BOOT,
    find: "m=$(((left + 59) / 60 + 2))",
    replace: "m=$(((left + 59) / 60))",
  },
  {
    name: "a termination signal is not handled",
    file: BOOT,
    find: "  trap 'power_off \"boot script got a termination signal\"' HUP INT TERM\n",
    replace: "\n",
  },
  {
    name: "the cloud's end command is never run",
    file: BOOT,
    find: "  if [[ -n $RUNNER ]]; then end_through_cloud runner-started; else end_through_cloud before-runner; fi\n  halt_machine\n",
    replace: "  halt_machine\n",
    tests: [...BOOT_TESTS, "test/clouds/gcp/self-delete.test.ts"],
  },
  {
    name: "the lifetime cap on a later boot powers off without ending the machine through the cloud",
    file: BOOT,
    find: 'counted from the first boot)"\n    end_through_cloud\n',
    replace: 'counted from the first boot)"\n',
    tests: ["test/clouds/gcp/self-delete.test.ts"],
  },
  // The runner user without sudo
  {
    name: "an existing account in the docker group keeps root with runner-sudo: false",
    file: BOOT,
    find: "for g in docker lxd incus-admin libvirt disk root; do",
    replace: "for g in lxd incus-admin libvirt disk root; do",
    tests: ["test/boot-user.test.ts"],
  },
  {
    name: "an existing account with its own sudoers rule keeps it with runner-sudo: false",
    file: BOOT,
    find: '  elif ((rc == 0)) && grep -q "^User $USR may run the following commands" "$out"; then',
    replace: "  elif false; then",
    tests: ["test/boot-user.test.ts"],
  },
  {
    name: "an account sudo cannot answer for is accepted with runner-sudo: false",
    file: BOOT,
    find: '  power_off "could not tell what runner user $USR may run with sudo',
    replace: '  return 0\n  power_off "could not tell what runner user $USR may run with sudo',
    tests: ["test/boot-user.test.ts"],
  },
  // The user-data scrub
  {
    name: "the scrub looks for compressed user-data at offset 0 only",
    file: BOOT,
    find: "done < <(LC_ALL=C grep -obaF -f <(printf '\\037\\213\\010') -- \"$1\" 2>/dev/null)",
    replace: "done < <(printf '0:\\n')",
    tests: ["test/boot-scrub.test.ts"],
  },
  {
    name: "the power-off leaves the runner running",
    file: BOOT,
    find: 'for p in "$TIMER" "$STEP" "$RUNNER"; do',
    replace: 'for p in "$TIMER" "$STEP"; do',
  },
  // The runner's user and its rights
  {
    name: "root may be the runner user",
    file: BOOT,
    find: "[[ $USR != root ]] || bad RUNNER_USER root 'a user other than root'\n",
    replace: "\n",
  },
  {
    name: "a system account of the image (uid 100 to 999) is accepted",
    file: BOOT,
    find: "((uid < 1000))",
    replace: "((uid < 100))",
  },
  {
    name: "an admin of the image keeps sudo with GR_RUNNER_SUDO=false",
    file: BOOT,
    find: '$groups == *" sudo "* ||',
    replace: '$groups == *" sudoers "* ||',
  },
  {
    name: "GR_RUNNER_SUDO=false still grants sudo",
    file: BOOT,
    find: "if [[ $SUDO == false ]]; then\n    rm -f",
    replace: "if [[ $SUDO == true ]]; then\n    rm -f",
  },
  // The runner's download and its environment
  {
    name: "a runner with a wrong checksum is installed",
    file: BOOT,
    find: 'if ! printf \'%s  %s\\n\' "$SHA" "$tgz" | sha256sum -c --strict --status; then',
    replace: "if false; then",
  },
  {
    name: "an HTTP error page is saved as the tarball (curl without -f)",
    file: BOOT,
    find: "curl -q -fsSL",
    replace: "curl -q -sSL",
  },
  {
    name: "the runner inherits the boot script's whole environment",
    file: BOOT,
    find: '|| unset "$n"',
    replace: "|| :",
  },
  {
    name: "the JIT config is passed in the runner's argv",
    file: BOOT,
    find: 'exec runuser -u "$USR" -- ./run.sh',
    replace: 'exec runuser -u "$USR" -- ./run.sh --jitconfig "$JIT"',
  },
  {
    name: "the boot script traces its commands (the config in the log)",
    file: BOOT,
    find: "set +x -u -o pipefail",
    replace: "set -x -u -o pipefail",
  },
  { name: "files are made readable by all", file: BOOT, find: "\numask 077\n", replace: "\numask 022\n" },
  // The pre-runner script
  {
    name: "a failing pre-runner script is ignored",
    file: BOOT,
    find: '(($1 == 0)) || power_off "pre-runner script failed (exit code $1)"',
    replace: ":",
  },
  // The scrub of the user-data's copies
  {
    name: "the user-data's copies are not scrubbed at all",
    file: BOOT,
    find: "  scrub\n  settings\n",
    replace: "  settings\n",
  },
  {
    name: "the copies holding the config are not removed",
    file: BOOT,
    find: 'shred -z -n 0 -u -- "$f" 2>/dev/null || rm -f -- "$f"',
    replace: ":",
  },
  {
    name: "gzip-compressed copies are not searched",
    file: BOOT,
    find: "    (($4 != 0)) || return 2\n",
    replace: "",
    tests: [...BOOT_TESTS, "test/boot-scrub.test.ts"],
  },
  {
    name: "base64 copies are searched at one offset only",
    file: BOOT,
    find: "for k in 0 1 2; do # the base64 patterns",
    replace: "for k in 0; do # the base64 patterns",
  },
  { name: "the guest agent's directory is not searched", file: BOOT, find: '  dirs+=("$d")\n', replace: "\n" },
  // Wiring StrykerJS is not pointed at (its modules are not in the list), checked here once each
  {
    name: "start hands the fork guard allow-forks inverted",
    file: "scripts/phases/start.ts",
    find: "await guardAgainstForks(context, inputs.allowForks);",
    replace: "await guardAgainstForks(context, !inputs.allowForks);",
    tests: ["test/start-stop.test.ts"],
  },
  {
    name: "a cloud's CLI inherits the step's whole environment (its secrets included)",
    file: "scripts/adapters/command.ts",
    find: "{ silent: true, ignoreReturnCode: true, env: childEnv }",
    replace: "{ silent: true, ignoreReturnCode: true }",
    tests: ["test/child-env.test.ts"],
  },
  // Numeric constants of the TypeScript modules
  {
    name: "the state's scrypt cost is lowered 32-fold",
    file: "scripts/adapters/state-crypto.ts",
    find: "N: 2 ** 15,",
    replace: "N: 2 ** 10,",
    tests: ["test/state-crypto.test.ts"],
  },
  {
    name: "the outside cap and the sweep give the machine's own timer no margin",
    file: "stacks/lifetime-cap.ts",
    find: "export const LIFETIME_CAP_MARGIN_MINUTES = 10;",
    replace: "export const LIFETIME_CAP_MARGIN_MINUTES = 0;",
    tests: ["test/sweep.test.ts", "test/cloud-rules.test.ts"],
  },
  {
    name: "the outside cap and the sweep let a machine outlive its max-lifetime by an hour",
    file: "stacks/lifetime-cap.ts",
    find: "export const LIFETIME_CAP_MARGIN_MINUTES = 10;",
    replace: "export const LIFETIME_CAP_MARGIN_MINUTES = 60;",
    tests: ["test/sweep.test.ts", "test/cloud-rules.test.ts"],
  },
];
