/** How an item leaves `qa`: the coder's node passes it (gates passed), a QA slot checks it, or a person does. */
export const QA_MODES = ["server", "agent", "human"] as const;
export type QaMode = (typeof QA_MODES)[number];
