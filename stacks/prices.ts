// On-demand list prices (USD per hour, Linux) of common GPU machine types, for the job summary's estimates.
// Dated, from the clouds' public price lists in one region each; other regions, Spot, discounts and disks differ.
// A machine type not listed is "unknown", never a guess.

export const PRICES_AS_OF = "2025-06";

/** AWS EC2, us-east-1, on-demand Linux. */
export const AWS_ON_DEMAND: Readonly<Record<string, number>> = {
  "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
  "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
  "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
  "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
  "g5g.xlarge": 0.42, "g5g.2xlarge": 0.556, "g5g.4xlarge": 0.828, "g5g.8xlarge": 1.372, "g5g.16xlarge": 2.744,
  "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
  "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
  "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48,
};

/** Compute Engine, us-central1, on-demand: machine types (A2 and G2 include their GPUs). */
export const GCE_ON_DEMAND: Readonly<Record<string, number>> = {
  "n1-standard-4": 0.189999, "n1-standard-8": 0.379998, "n1-standard-16": 0.759996, "n1-standard-32": 1.519992,
  "g2-standard-4": 0.70683, "g2-standard-8": 0.85362, "g2-standard-12": 1.00041, "g2-standard-16": 1.1472,
  "g2-standard-32": 1.73375,
  "a2-highgpu-1g": 3.673385, "a2-highgpu-2g": 7.34677, "a2-highgpu-4g": 14.69354, "a2-highgpu-8g": 29.38708,
};

/** Compute Engine, us-central1, on-demand: one GPU attached to an N1 machine. */
export const GCE_GPU_ON_DEMAND: Readonly<Record<string, number>> = {
  "nvidia-tesla-t4": 0.35, "nvidia-tesla-p4": 0.6, "nvidia-tesla-p100": 1.46, "nvidia-tesla-v100": 2.48,
};
