// Recognising "the cloud has no capacity for this right now" among apply failures: only these are worth retrying
// with another machine type, zone or subnet. Anything else (permissions, a bad image) would fail the same way.

const CAPACITY_ERRORS: readonly RegExp[] = [
  // EC2
  /InsufficientInstanceCapacity/,
  /InsufficientHostCapacity/,
  /InsufficientCapacityOnHost/,
  /MaxSpotInstanceCountExceeded/,
  /SpotMaxPriceTooLow/,
  /capacity-not-available/,
  /InstanceLimitExceeded.*spot/is,
  /Unsupported.*(instance type|Availability Zone)/i,
  // Compute Engine
  /ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?/,
  /does not have enough resources available to fulfill the request/,
  /QUOTA_EXCEEDED.*(GPUS|PREEMPTIBLE)/is,
];

export function isCapacityError(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message}\n${(error as { stderrTail?: string }).stderrTail ?? ""}` : String(error);
  return CAPACITY_ERRORS.some((pattern) => pattern.test(text));
}
