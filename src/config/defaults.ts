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
/**
 * A link gets this long from its first byte to a finished handshake (a connector: to connect and
 * get the welcome; an acceptor: to get the answer). Its own deadline, apart from the ping
 * interval: a frozen peer that accepts TCP and never answers is a failed attempt. `handshake_timeout_secs`.
 */
export const AUTH_TIMEOUT_MS = 10_000;
/** Before its first output line an agent is given at least this long (a 250 MB binary loading on a busy machine is not silence). */
export const AGENT_STARTUP_GRACE_MS = 60_000;
/** Grace between SIGTERM and SIGKILL when stopping a coder's process tree. */
export const KILL_GRACE_MS = 3000;
/** Config edits are usually several writes; apply once they settle. */
export const CONFIG_DEBOUNCE_MS = 300;
/**
 * How long the other links wait for an update that grants a claim, after the grantee got it. Every
 * node that receives an update wakes up to apply it; on a 2-core machine with ten idle agents,
 * their wake-up overlapping the grantee's hand-over and spawn was most of the tail of claim →
 * coder start (p99 36–41 ms with 5 ms, 21 ms with 25 ms). A quarter of a frame later on the board
 * is not noticeable, and nothing waits on the other nodes seeing a claim (the sequencer decides).
 */
export const GRANTEE_HEAD_START_MS = 25;
/**
 * A node relays its peers' lazy updates (heartbeats and other node-entry changes, claim requests;
 * see `PipelineDoc.lazy`) batched over `LAZY_RELAY_PER_LINK_MS` per sync link, at most this share
 * of the heartbeat interval and at most `LAZY_RELAY_MAX_MS` (1 s from 200 links at the default
 * 15 s). Relaying costs updates × links: with 200 agents beating every 15 s the rendezvous
 * otherwise writes ~2 700 frames a second, and every agent applies each one as its own
 * transaction; batched, a second's worth goes out as one frame per link. A small fleet keeps its
 * relays nearly immediate, so its replicas are identical (equal `/health` digests) most of the
 * time rather than one heartbeat apart. Liveness is judged against `node_alive_secs` (four
 * intervals), and only the sequencer reads requests (first-hand).
 */
export const LAZY_RELAY_PER_LINK_MS = 5;
export const LAZY_RELAY_SHARE = 1 / 15;
export const LAZY_RELAY_MAX_MS = 1000;
/**
 * Compact the update log into the snapshot once it holds at least this many rows *and* at least
 * as many bytes as the snapshot (see `compactionDue`).
 */
export const COMPACT_AFTER_UPDATES = 500;
/** A client retrying a create (after a 503, a timeout) does so within minutes; a day covers a night of retries and stays small. */
export const IDEMPOTENCY_TTL_SECS = 24 * 60 * 60;
/** Join tokens are short-lived secrets. */
export const JOIN_TOKEN_TTL_SECS = 3600;
/** A node that hit a usage limit without a reset time waits this long first (then doubles)… */
export const LIMIT_BACKOFF_SECS = 60;
/** …up to half an hour: limits reset within hours, and a paused node costs nothing while it waits. */
export const LIMIT_BACKOFF_MAX_SECS = 1800;
/** Near this share of a plan's limit, a node stops taking new stories (running ones finish). */
export const LIMIT_PAUSE_UTILIZATION = 0.95;
/**
 * The longest account pause a ledger entry may set (a vendor's weekly limit is the longest reset
 * known, plus a day): a member node, faulty or hostile, cannot park a shared account for longer.
 */
export const ACCOUNT_PAUSE_MAX_SECS = 8 * 24 * 3600;

// --- Sync track (wave 2): store failures, chunking, awareness, log relay, heal probe ---
/**
 * better-sqlite3 waits 5 s on a locked file by default, freezing the event loop (every link and
 * request) for that long per write. A healthy WAL commit takes well under 10 ms, so 100 ms rides
 * out ordinary contention; anything longer is a real lock that the replica's retry queue waits
 * out without blocking.
 */
export const STORE_BUSY_TIMEOUT_MS = 100;
/** First retry of a failed append; doubles up to the max, so a released lock is noticed fast. */
export const STORE_RETRY_INITIAL_MS = 100;
export const STORE_RETRY_MAX_MS = 2000;
/** A store that cannot write for this long will not heal by itself: exit non-zero rather than serve unpersisted. */
export const STORE_FATAL_AFTER_MS = 120_000;
/** Frames above this go to huskies peers in chunks: small enough to fit any sane max_frame_bytes, big enough that 64 MiB is 256 chunks. */
export const SYNC_CHUNK_BYTES = 256 * 1024;
/** A chunked frame is held in memory while it arrives; 64 MiB is far above a 10,000-story replica and equals what a sender may queue. */
export const MAX_REASSEMBLED_BYTES = 64 * 1024 * 1024;
/** Awareness states one node keeps (a board tab is one); beyond it new clients are ignored, so a flood cannot grow memory. */
export const MAX_AWARENESS_STATES = 1000;
/** Log lines are relayed in batches of about this size, far under any frame limit. */
export const LOG_RELAY_BATCH_BYTES = 64 * 1024;
/** A log fetch over the sync link gives up after this long (as the HTTP fetch it replaces did). */
export const LOG_RELAY_TIMEOUT_MS = 5000;
/** Live log follows one peer may hold open on this node; a board opens one per story view. */
export const LOG_RELAY_MAX_FOLLOWS = 32;
/** While the rendezvous link is in backoff, a TCP connect probes it this often (plus up to as much jitter): one SYN, no server work. */
export const HEAL_PROBE_INTERVAL_MS = 250;
/** A probe counts as "up" only if the connection stays open this long: a proxy whose backend is down accepts and resets at once. */
export const HEAL_PROBE_SETTLE_MS = 100;
export const HEAL_PROBE_TIMEOUT_MS = 1000;

// --- HTTP track: request limits and gateway registration ---
/** Largest request body read: a story with 100 criteria is a few KB; 1 MiB leaves room, stops floods. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A join token lives at most 30 days: long-lived secrets in chat logs are how projects leak. */
export const MAX_TOKEN_TTL_SECS = 30 * 24 * 60 * 60;
/** A gateway registration challenge is answered by a program right away; a minute is generous. */
export const GATEWAY_CHALLENGE_TTL_SECS = 60;
/** Unanswered challenges kept at once; beyond it the oldest go, so asking cannot exhaust memory. */
export const GATEWAY_MAX_OPEN_CHALLENGES = 10_000;

// Board track (issue 16): diff, notifications.
/** A review screen shows at most this much patch; a bigger diff is cut (the file list stays whole). */
export const MAX_DIFF_PATCH_BYTES = 2 * 1024 * 1024;
/** Files listed in a story's diff; a branch touching more is a vendoring accident, not a review. */
export const MAX_DIFF_FILES = 2000;
/** Tries per webhook event: enough to ride out a receiver's restart, bounded so a dead one costs little. */
export const NOTIFY_ATTEMPTS = 5;
/** First retry delay of a webhook, doubling each try (1, 2, 4, 8 s: about 15 s in all). */
export const NOTIFY_BACKOFF_INITIAL_MS = 1000;
export const NOTIFY_BACKOFF_MAX_MS = 30_000;
/** A receiver that has not answered in this long is treated as failed (and retried). */
export const NOTIFY_TIMEOUT_MS = 10_000;
/** Events waiting per webhook target; past this the oldest are dropped (logged) so memory stays bounded. */
export const NOTIFY_QUEUE_MAX = 200;

// Hosts track (issue 14): the gateway's reads of its projects.
/** The gateway page polls every second; projects are read at most this often, however many pages are open. */
export const GATEWAY_PROJECT_CACHE_MS = 500;
/** A project that does not answer this fast is shown unreachable rather than holding the page. */
export const GATEWAY_PROJECT_TIMEOUT_MS = 3000;
/**
 * A dialled sync link (upstream, mesh) pings this often and is dropped after two unanswered
 * pings: a pulled cable sends no FIN, and until the link is known dead the mesh stays quiet.
 * `link_ping_secs`.
 */
export const LINK_PING_MS = 10_000;
/** How often the gateway page asks for fresh numbers (it must update within 2 s). */
export const GATEWAY_PAGE_POLL_MS = 1000;

// Assistant track (issue 31): MCP tools, coder channel, board chat.
/** `get_story_log` waits at most this long for new lines: under the 60 s an MCP client waits for an answer. */
export const MAX_LOG_WAIT_MS = 30_000;
/** Lines one `get_story_log` answer holds: a page a model can read, not a whole day of output. */
export const MAX_LOG_LINES = 2000;
/** A forwarded gateway tool call may take the longest log wait plus the project's own work. */
export const GATEWAY_MCP_TIMEOUT_MS = MAX_LOG_WAIT_MS + 10_000;
/** Chat messages kept per project (and across restarts): a working day of conversation, bounded on disk. */
export const CHAT_HISTORY_MAX = 200;
/** Log lines kept with one assistant answer: its text and tool calls, not every token of a long session. */
export const CHAT_TURN_MAX_LINES = 400;
/** A destructive call the assistant makes waits this long for a person's click, then counts as declined. */
export const CHAT_CONFIRM_TIMEOUT_SECS = 600;
/** A question, a progress line or a chat message longer than this is cut: the board shows lines, not files. */
export const MAX_NOTE_CHARS = 4000;
/** A coder's `tick_criterion` waits this long for the rendezvous to apply it (one round trip), then answers "requested". */
export const TICK_WAIT_MS = 10_000;

// Authority track (issue 27): signed writes, admissions, sizes.
/** An admission (certificate, join-token admission) lapses after this long without the node connecting: a lost laptop stops counting within a month. */
export const ADMISSION_TTL_SECS = 30 * 24 * 60 * 60;
/** Largest update accepted from a peer other than the rendezvous: an agent's writes are a few KB; a 100 000-character body is 400 KB at most. */
export const MAX_UPDATE_BYTES = 1024 * 1024;
/** The document's size budget: 10 000 stories are ~5 MB, so this is far beyond any real project and well below memory. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;
/** Share of `max_document_bytes` at which the node warns (once per crossing). */
export const DOCUMENT_WARN_SHARE = 0.8;
// Faults (issue 24): bounded git, the job-start breaker, node trouble.
/**
 * A git command that runs longer than this is killed and counts as node trouble: a fetch of a big
 * repository over a slow link takes minutes, an origin that stopped answering takes for ever.
 */
export const GIT_TIMEOUT_SECS = 300;
/** The same story's step starts at most once per this on a node (a failing step never loops)… */
export const RESTART_BACKOFF_SECS = 5;
/** …and after failures in a row the gap doubles up to this: a broken step costs a few starts an hour. */
export const RESTART_MAX_SECS = 300;
/** Free space below this on a worktree's disk after a failed step means the disk is full, not the story wrong. */
export const LOW_DISK_BYTES = 1024 * 1024;

// Runtimes, accounts and budgets (issue 28).
/** The model each runtime asks for when a slot names none: each vendor's current coding default. */
export const DEFAULT_MODELS = { "claude-code": "claude-sonnet-4-5", codex: "gpt-5-codex", gemini: "gemini-2.5-pro" } as const;
/**
 * USD per million tokens when a codex or gemini slot (or its account) sets no `price`: the
 * vendors' list prices for those default models, so a budget means something without
 * configuration. Claude reports its own cost.
 */
export const DEFAULT_PRICES = {
  codex: { input: 1.25, output: 10, cached_input: 0.125 },
  gemini: { input: 1.25, output: 10, cached_input: 0.31 },
} as const;
/** A day's spend is counted in this zone unless project.toml sets `timezone`. */
export const TIMEZONE = "UTC";
/** While a budget applies, a codex or gemini run's session file is read this often: a model response takes seconds. */
export const USAGE_POLL_MS = 500;
