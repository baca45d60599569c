/** What an agent slot does: `coder` works `current`, `qa` works `qa`, `mergemaster` works `merge`. */
export const ROLES = ["coder", "qa", "mergemaster"] as const;
export type Role = (typeof ROLES)[number];
