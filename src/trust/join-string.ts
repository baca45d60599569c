import { z } from "zod";
import { UserError } from "../errors.js";
import { normalizeFingerprint } from "./tls-pin.js";

/**
 * A join string: everything a new agent needs to join a project safely, in one opaque line a
 * person can paste. `hj1.` + base64url(JSON). Two kinds:
 *
 * - `rendezvous` (from `huskies token create` / `POST /api/tokens`): the rendezvous' `/crdt-sync`
 *   URL, its node key, the SHA-256 fingerprint of its TLS certificate (wss only) and, usually, a
 *   one-time token. Without a token it only pins a server that already admitted the agent's key
 *   (the gateway's answer).
 * - `gateway` (from `POST /gateway/tokens`): the gateway's https URL, its id and fingerprint, a
 *   one-time gateway token and the project the agent is to join.
 *
 * The fingerprint and the node key are the pins: the agent refuses a server that shows another
 * certificate or another key, so a join string cannot be redirected by DNS or a planted address.
 */
export const JOIN_PREFIX = "hj1.";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const fingerprint = z
  .string()
  .transform(normalizeFingerprint)
  .pipe(z.string().regex(/^[0-9a-f]{64}$/, "fingerprint must be a SHA-256 (64 hex digits)"));

const rendezvousJoin = z.strictObject({
  v: z.literal(1),
  kind: z.literal("rendezvous"),
  url: z
    .string()
    .regex(/^wss?:\/\/[^\s]+\/crdt-sync$/, "url must be a ws(s)://…/crdt-sync URL")
    .max(500),
  nodeId: hex64,
  token: z.string().min(1).max(200).optional(),
  fingerprint: fingerprint.optional(),
});

const gatewayJoin = z.strictObject({
  v: z.literal(1),
  kind: z.literal("gateway"),
  url: z
    .string()
    .regex(/^https?:\/\/[^\s/]+$/, "url must be the gateway's http(s)://host:port")
    .max(500),
  gatewayId: z.string().regex(/^gw_[0-9a-f]{32}$/),
  token: z.string().min(1).max(200),
  project: z.string().min(1).max(100),
  fingerprint: fingerprint.optional(),
});

const joinSchema = z.discriminatedUnion("kind", [rendezvousJoin, gatewayJoin]);

export type RendezvousJoin = z.infer<typeof rendezvousJoin>;
export type GatewayJoin = z.infer<typeof gatewayJoin>;
export type Join = RendezvousJoin | GatewayJoin;

/** Encode a join (fields left undefined are omitted). */
export function encodeJoin(join: Join): string {
  const plain = Object.fromEntries(Object.entries(join).filter(([, v]) => v !== undefined));
  return JOIN_PREFIX + Buffer.from(JSON.stringify(plain), "utf8").toString("base64url");
}

/** Decode and validate a join string; anything else is one clear UserError. */
export function decodeJoin(text: string): Join {
  const s = text.trim();
  if (!s.startsWith(JOIN_PREFIX)) {
    const hint = s.startsWith("hj_") ? " (that is a bare join token: use --rendezvous URL --join-token TOKEN)" : "";
    throw new UserError(`not a huskies join string: it must start with ${JOIN_PREFIX}${hint}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(s.slice(JOIN_PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw new UserError("not a huskies join string: it is damaged (copy it whole, on one line)");
  }
  const parsed = joinSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`not a usable join string: ${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
  }
  const join = parsed.data;
  if (join.kind === "rendezvous" && join.fingerprint && !join.url.startsWith("wss://"))
    throw new UserError("not a usable join string: a certificate fingerprint needs a wss:// URL");
  if (join.kind === "gateway" && join.fingerprint && !join.url.startsWith("https://"))
    throw new UserError("not a usable join string: a certificate fingerprint needs an https:// URL");
  return join;
}
