/** The pipeline stages in order. */
export const STAGES = ["backlog", "current", "qa", "merge", "done", "archived"] as const;
export type Stage = (typeof STAGES)[number];

/** huskies' on-disk names, accepted as input everywhere. */
const LEGACY: Record<string, Stage> = {
  "1_backlog": "backlog",
  "2_current": "current",
  "3_qa": "qa",
  "4_merge": "merge",
  "5_done": "done",
  "6_archived": "archived",
};

export function parseStage(input: string): Stage | undefined {
  const s = input.trim().toLowerCase();
  if ((STAGES as readonly string[]).includes(s)) return s as Stage;
  return LEGACY[s];
}

export function isStage(value: unknown): value is Stage {
  return typeof value === "string" && (STAGES as readonly string[]).includes(value);
}
