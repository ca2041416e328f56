// Names of the action alone (outputs, where the state travels). Names the clouds share with it are in stacks/names.ts.

export const OUTPUTS = {
  label: "label",
  runners: "runners",
  stateId: "state-id",
} as const;

/** Where the encrypted state lives on the GitHub runner, per state id: `${RUNNER_TEMP}/gpu-runner-state/<id>/`. */
export const STATE_DIR_NAME = "gpu-runner-state";
export const STATE_FILE_NAME = "state.bin";
/** The workflow artifact that carries one start's encrypted state: this prefix plus the state id. */
export const STATE_ARTIFACT_PREFIX = "gpu-runner-state-";
