import type { StoryLogs } from "../runtime/story-log.js";
import type { SlotState, StoryRun } from "../runtime/agent-pool.js";
import type { OperatorActions } from "./operator-actions.js";

/** What the HTTP surfaces (REST, MCP) need from the node that serves them, and nothing more. */
export interface NodeInfo {
  actions: OperatorActions;
  logs: StoryLogs;
  /** This node's slots and the runs they did. */
  slots(): SlotState[];
  runs(): StoryRun[];
}
