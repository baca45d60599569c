/** Every timing and limit, with the reason for its value. All overridable in project.toml. */

/** The port `serve` listens on, and where client commands look for it. */
export const PORT = 3001;
/** Agents listen one above the server so both fit on one laptop. */
export const AGENT_PORT = 3002;
export const GATEWAY_PORT = 3000;
/** Heartbeat period and backstop scan; claims are event-driven, this only catches missed events. */
export const SCAN_INTERVAL_SECS = 15;
/** Four missed heartbeats: a node is dead for mesh and hash-rule purposes. */
export const NODE_ALIVE_SECS = 60;
/** Long enough for a real coding session to survive a laptop sleep, short enough to not lose a day. */
export const CLAIM_TIMEOUT_SECS = 1800;
/** Without the sequencer this long, nodes claim for themselves (deterministic hash rule). */
export const AUTONOMOUS_AFTER_SECS = 60;
/** Supplementary sync links per agent; every-node-to-every-node was a connection storm in huskies. */
export const MAX_MESH_PEERS = 3;
export const MESH_SCAN_INTERVAL_SECS = 60;
/** Done work stays visible on the board for half a working day. */
export const ARCHIVE_AFTER_SECS = 4 * 60 * 60;
/** A coder that prints nothing for 15 minutes is stuck, not thinking. */
export const INACTIVITY_TIMEOUT_SECS = 900;
export const MAX_CODERS = 3;
export const MAX_RETRIES = 3;
/** Frames above this close the connection; a full replica of 10,000 stories is far below it. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** A peer that cannot drain this much outgoing data is too slow to keep. */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Reconnect backoff: start fast, cap so a returning server is found within half a minute. */
export const BACKOFF_INITIAL_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** After this many failures in a row the reconnect log goes from warn to error. */
export const BACKOFF_ERROR_AFTER = 10;
/** An unauthenticated connection gets this long to answer the challenge. */
export const AUTH_TIMEOUT_MS = 10_000;
/** Before its first output line an agent is given at least this long (a 250 MB binary loading on a busy machine is not silence). */
export const AGENT_STARTUP_GRACE_MS = 60_000;
/** At this share of a usage limit (claude's `allowed_warning`), a node stops taking new stories. */
export const LIMIT_PAUSE_UTILIZATION = 0.95;
/** Grace between SIGTERM and SIGKILL when stopping a coder's process tree. */
export const KILL_GRACE_MS = 3000;
/** Config edits are usually several writes; apply once they settle. */
export const CONFIG_DEBOUNCE_MS = 300;
/** Compact the SQLite update log into the snapshot once it holds this many rows. */
export const COMPACT_AFTER_UPDATES = 500;
/** Join tokens are short-lived secrets. */
export const JOIN_TOKEN_TTL_SECS = 3600;
