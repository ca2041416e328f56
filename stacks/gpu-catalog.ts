// GPUs per machine type for common GPU instance types, so the boot script's GPU gate knows how many to expect
// without the user saying so. Unknown types return undefined (the user sets `expected-gpus`).

const AWS_GPUS: Readonly<Record<string, number>> = {
  "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.16xlarge": 1,
  "g4dn.12xlarge": 4, "g4dn.metal": 8,
  "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.16xlarge": 1,
  "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8,
  "g5g.xlarge": 1, "g5g.2xlarge": 1, "g5g.4xlarge": 1, "g5g.8xlarge": 1, "g5g.16xlarge": 2, "g5g.metal": 2,
  "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.16xlarge": 1,
  "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
  "g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1, "g6e.8xlarge": 1, "g6e.16xlarge": 1,
  "g6e.12xlarge": 4, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
  "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8,
  "p4d.24xlarge": 8, "p5.48xlarge": 8,
};

export function awsGpusPerMachine(instanceType: string): number | undefined {
  return AWS_GPUS[instanceType];
}

/** A2, A3 and G2 machine types carry their GPUs; their count is in the name (a2-highgpu-4g -> 4, g2-standard-*). */
export function gceBundledGpus(machineType: string): number | undefined {
  const accelerated = /^(a2|a3)-[a-z]+gpu-(\d+)g$/.exec(machineType);
  if (accelerated) return Number(accelerated[2]);
  const g2 = /^g2-standard-(\d+)$/.exec(machineType);
  if (g2) return G2_GPUS[Number(g2[1])];
  return undefined;
}

const G2_GPUS: Readonly<Record<number, number>> = { 4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8 };
