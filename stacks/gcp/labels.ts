// Compute Engine labels: what the user's tags and the ownership tags become on every resource, and what a sweep
// searches by. Their rules are narrower than tags (lower case, 63 characters), so every value passes through here.

/** GCE label rules: lowercase letters, digits, '_' and '-'; keys start with a letter; both at most 63 characters. */
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
/** Compute Engine allows 64 labels per resource. */
export const GCP_MAX_LABELS = 64;

function labelText(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "_")
    .slice(0, 63);
}

function labelKey(key: string): string {
  const text = labelText(key);
  return /^[a-z]/.test(text) ? text : `t_${text}`.slice(0, 63);
}

/**
 * Tags (any case, '/', ':', spaces...) as valid Compute Engine labels: lower-cased, every other character '_',
 * cut to 63 characters ("Owner/Repo" -> "owner_repo"). Keys that are already valid labels win a collision over
 * keys that had to be changed, so the ownership keys (gpu-runner-*) always keep their values. A sweeper that
 * looks for a start's machines by label must normalise its search values with this same function.
 *
 * The folding is lossy: "octo-org/md_sim" and "octo-org/md.sim" (and any two names equal in their first 63
 * characters once lower-cased) become one value. So the readable repository label is for people only; ownership is
 * decided by the repository-id label, whose digits pass through unchanged.
 */
export function toGcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const changed: Record<string, string> = {};
  const exact: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (LABEL_KEY.test(key)) exact[key] = labelText(value);
    else changed[labelKey(key)] = labelText(value);
  }
  return { ...changed, ...exact };
}

export function isValidGcpLabel(key: string, value: string): boolean {
  return LABEL_KEY.test(key) && LABEL_VALUE.test(value);
}
