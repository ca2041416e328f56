// Compute Engine's answers at apply that have one known fix: said word for word. None is a capacity error, so none
// moves on to the next candidate.

export const GCP_APPLY_ERROR_HINTS: readonly { pattern: RegExp; hint: string }[] = [
  {
    // A boot disk smaller than its image: "Invalid value for field '...diskSizeGb': 'N'. Requested disk size cannot
    // be smaller than the image size (M GB)" (Compute Engine's instances.insert; an image family's size is known
    // only once the family resolves to its newest image, at apply).
    pattern: /Requested disk size cannot be smaller than the image size/i,
    hint: "disk-size: the image is larger than the disk asked for; set disk-size to at least the image size Compute Engine names above.",
  },
];
