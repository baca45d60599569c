import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import * as D from "./defaults.js";
import { UserError } from "../errors.js";

const positive = z.number().positive();

/**
 * How a slot's (or the gates') processes are confined: `auto` = confined whenever the sandbox
 * works on this node (then a failure to confine is a failure, never a fallback), unconfined with a
 * warning on every run when it does not; `required` refuses to run without it; `off` runs
 * unconfined (with that warning), for a trusted script.
 */
export const SANDBOX_MODES = ["auto", "required", "off"] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** Events a `[[notify]]` webhook can subscribe to (issue 16.5). */
export const NOTIFY_EVENTS = ["blocked", "done", "paused", "merge_failed", "question"] as const;
const qaMode = z.enum(["server", "agent", "human"]);
const httpUrl = z.string().refine((s) => /^https?:$/.test(urlOrUndefined(s)?.protocol ?? ""), "must be an http:// or https:// URL");
const httpOrigin = httpUrl.refine((s) => {
  const u = urlOrUndefined(s);
  return !u || `${u.origin}/` === u.href;
}, "must be an origin (scheme://host[:port], no path)");

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-CA", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const absolutePath = z
  .string()
  .regex(/^\/./, "must be an absolute path")
  .refine((p) => p !== "/" && !/(^|\/)\.\.(\/|$)/.test(p), "must not be / or contain ..");
const hostPattern = z
  .string()
  .regex(
    /^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/,
    "must be a host name, optionally starting with *. (e.g. registry.npmjs.org, *.pypi.org)",
  );
/** Seconds from a number of seconds or a duration string ("30d", "12h", "90m", "45s"). */
export function durationSecs(v: number | string): number {
  if (typeof v === "number") return v;
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(v.trim())!;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

function urlOrUndefined(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

/** Schema of `.huskies/project.toml`. Unknown keys are errors: a typo must not be silently ignored. */
export const projectSchema = z.strictObject({
  port: z.number().int().min(1).max(65535).default(D.PORT),
  base_branch: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, "must be a plain branch name")
    .optional(),
  default_qa: qaMode.default("server"),
  max_coders: z.number().int().min(0).default(D.MAX_CODERS),
  max_retries: z.number().int().min(1).default(D.MAX_RETRIES),
  scan_interval_secs: positive.default(D.SCAN_INTERVAL_SECS),
  node_alive_secs: positive.default(D.NODE_ALIVE_SECS),
  claim_timeout_secs: positive.default(D.CLAIM_TIMEOUT_SECS),
  autonomous_after_secs: positive.default(D.AUTONOMOUS_AFTER_SECS),
  max_mesh_peers: z.number().int().min(0).default(D.MAX_MESH_PEERS),
  mesh_scan_interval_secs: positive.default(D.MESH_SCAN_INTERVAL_SECS),
  archive_after_secs: z.number().min(0).default(D.ARCHIVE_AFTER_SECS),
  inactivity_timeout_secs: positive.default(D.INACTIVITY_TIMEOUT_SECS),
  auto_promote: z.boolean().default(true),
  trusted_keys: z.array(z.string().regex(/^[0-9a-f]{64}$/, "must be a 64-char hex Ed25519 public key")).default([]),
  /** `auto`: open on loopback when no keys are trusted, else required. `open` allows open on any address. */
  auth: z.enum(["auto", "required", "open"]).default("auto"),
  max_frame_bytes: z.number().int().min(1024).default(D.MAX_FRAME_BYTES),
  // Faults (issue 24): every wait on a peer is bounded.
  link_ping_secs: positive.default(D.LINK_PING_MS / 1000),
  handshake_timeout_secs: positive.default(D.AUTH_TIMEOUT_MS / 1000),
  /** Another huskies server to keep this one's replica in sync with (server-to-server). */
  rendezvous: z
    .string()
    .regex(/^wss?:\/\//, "must be a ws:// or wss:// URL")
    .optional(),
  // Fleet health (issue 13): how a node that hit a usage limit or lost its credentials pauses.
  limit_backoff_secs: positive.default(D.LIMIT_BACKOFF_SECS),
  limit_backoff_max_secs: positive.default(D.LIMIT_BACKOFF_MAX_SECS),
  limit_pause_utilization: z.number().min(0).max(1).default(D.LIMIT_PAUSE_UTILIZATION),
  // Prepared worktrees (issue 15.3): how many each agent keeps checked out at the latest fetched
  // base, so a claim starts its coder without `git worktree add`. Default: one per coder slot; 0 disables.
  worktree_pool: z.number().int().min(0).max(64).optional(),
  // Faults (issue 24): every git command has a deadline; a failing step restarts with backoff.
  git_timeout_secs: positive.default(D.GIT_TIMEOUT_SECS),
  restart_backoff_secs: positive.default(D.RESTART_BACKOFF_SECS),
  restart_max_secs: positive.default(D.RESTART_MAX_SECS),
  // Budgets (issue 28): spend across every node and account per day, counted in `timezone`.
  daily_budget_usd: positive.optional(),
  timezone: z.string().refine(validTimeZone, "must be an IANA time zone such as UTC or Europe/Berlin").default(D.TIMEZONE),

  // `sandbox`: how gates are confined (issue 26), like a slot's `sandbox`; unset is `auto`.
  gates: z.strictObject({ commands: z.array(z.string()).default([]), sandbox: z.enum(SANDBOX_MODES).optional() }).default({ commands: [] }),
  // What every confined process may additionally read, write and connect to (issue 26).
  sandbox: z
    .strictObject({
      allow_read: z.array(absolutePath).default([]),
      allow_write: z.array(absolutePath).default([]),
      allow_hosts: z.array(hostPattern).default([]),
    })
    .default({ allow_read: [], allow_write: [], allow_hosts: [] }),

  // --- HTTP track: who may talk to this node's HTTP and WebSocket entry points ---
  /** URLs people and other hosts reach this node by (a reverse proxy, a DNS name): their hosts are served. */
  public_urls: z.array(httpUrl).default([]),
  /** Browser origins, besides the node's own, whose pages may call REST, MCP and /crdt-sync. */
  allowed_origins: z.array(httpOrigin).default([]),
  /** Request bodies above this get 413 before they are read whole. */
  max_body_bytes: z.number().int().min(1024).default(D.MAX_BODY_BYTES),
  /** Serve https:// and wss:// on the same port; paths are relative to the project root. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),

  // --- Authority track (issue 27) ---
  /** Keys (hex) besides the rendezvous' that may sign operator writes, revocations and directives: kept by people, so the project survives the loss of the rendezvous. */
  operator_keys: z.array(z.string().regex(/^[0-9a-f]{64}$/, "must be a 64-char hex Ed25519 public key")).default([]),
  /** Allow plain ws:// sync links between hosts (off loopback). Only on a private network you trust end to end. */
  allow_plaintext: z.boolean().default(false),
  /** How long an admission lasts without the node connecting: seconds, or a duration like "30d", "12h". */
  admission_ttl: z
    .union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*[smhd]$/, 'must be seconds or a duration like "30d"')])
    .default(D.ADMISSION_TTL_SECS)
    .transform(durationSecs),
  /** Largest update accepted from a peer other than the rendezvous. */
  max_update_bytes: z.number().int().min(1024).default(D.MAX_UPDATE_BYTES),
  /** The document's size budget (a warning at 80 %, updates from peers refused beyond it). */
  max_document_bytes: z
    .number()
    .int()
    .min(1024 * 1024)
    .default(D.MAX_DOCUMENT_BYTES),

  // [[notify]] webhooks (board track, issue 16.5): the rendezvous POSTs each subscribed event once
  // per entry, retrying with backoff; `slack` sends `{text}` for an incoming webhook.
  notify: z
    .array(
      z.strictObject({
        url: httpUrl,
        events: z
          .array(z.enum(NOTIFY_EVENTS))
          .min(1, "must name at least one event")
          .default([...NOTIFY_EVENTS]),
        format: z.enum(["json", "slack"]).default("json"),
      }),
    )
    .default([]),
});

export type ProjectConfig = z.infer<typeof projectSchema>;
export type NotifyTarget = ProjectConfig["notify"][number];

export function projectConfigPath(root: string): string {
  return join(root, ".huskies", "project.toml");
}

/** Load and validate a TOML file with a zod schema; errors name the file, the key and the reason. */
export function loadTomlFile<T extends z.ZodType>(file: string, schema: T, missingOk = false): z.infer<T> {
  let raw: unknown = {};
  if (existsSync(file)) {
    try {
      raw = parseToml(readFileSync(file, "utf8"));
    } catch (err) {
      throw new UserError(`invalid config ${file}: ${(err as Error).message.split("\n")[0]}`);
    }
  } else if (!missingOk) {
    throw new UserError(`missing config ${file}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UserError(`invalid config ${file}: ${describeIssue(parsed.error.issues[0]!)}`);
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    const at = issue.path.length ? `${issue.path.join(".")}.` : "";
    return `unknown key \`${at}${issue.keys.join("`, `" + at)}\``;
  }
  const key = issue.path.map(String).join(".") || "(root)";
  return `key \`${key}\`: ${issue.message}`;
}

export function loadProjectConfig(root: string): ProjectConfig {
  return loadTomlFile(projectConfigPath(root), projectSchema);
}
