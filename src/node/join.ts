import type { Logger } from "pino";
import { UserError } from "../errors.js";
import { registerForJoin } from "../gateway/register.js";
import type { Identity } from "../trust/identity.js";
import { decodeJoin, type RendezvousJoin } from "../trust/join-string.js";
import type { JoinTokenStore } from "../trust/join-tokens.js";
import type { TlsPin } from "../trust/tls-pin.js";
import type { AdmitKey } from "../server/rest-api.js";
import type { TrustStore } from "../trust/trust-store.js";

/** The link an agent keeps to its rendezvous. */
export interface Upstream {
  url: string;
  /** Checked before any frame (certificate) and at the welcome (key); a mismatch stops the node. */
  pin?: TlsPin;
  joinToken?: string;
}

export interface JoinInput {
  /** `--join`: a rendezvous or a gateway join string. */
  join?: string;
  /** `--rendezvous URL [--join-token T]`, the older form. */
  rendezvousUrl?: string;
  joinToken?: string;
  /** Whether the join token is for the gateway (`--gateway-url`), not the rendezvous. */
  tokenForGateway?: boolean;
  label: string;
  advertise?: string;
}

/**
 * Where an agent's upstream link goes and what it pins, from (in order) `--join`, `--rendezvous`,
 * or the rendezvous an earlier join stored in `.huskies/rendezvous.json`. A join string's key and
 * fingerprint are stored there before the first connection, so a restart without `--join` keeps
 * the same pins. A gateway join string first registers with the gateway (proving this key), which
 * admits the key in its project and answers with that project's join string.
 */
export async function resolveUpstream(input: JoinInput, identity: Identity, trust: TrustStore, log: Logger): Promise<Upstream | undefined> {
  if (input.join) {
    let join = decodeJoin(input.join);
    if (join.kind === "gateway") {
      const already = trust.rendezvous();
      const projectJoin = await registerForJoin(join, { label: input.label, address: input.advertise }, identity).catch((err: unknown) => {
        const hint = already ? " (this checkout joined before: run `huskies agent` without --join to reconnect)" : "";
        throw new UserError(`${(err as Error).message}${hint}`);
      });
      const decoded = decodeJoin(projectJoin);
      if (decoded.kind !== "rendezvous") throw new UserError(`the gateway at ${join.url} answered with a join string for another gateway`);
      log.info({ gateway: join.url, project: join.project, rendezvous: decoded.url }, "registered with the gateway; joining its project");
      join = decoded;
    }
    return pinned(join, trust, log);
  }
  const stored = trust.rendezvous();
  const url = input.rendezvousUrl ?? stored?.url;
  if (!url) return undefined;
  // A stored fingerprint keeps pinning the certificate (a wss URL only: plain ws has none to check).
  const fingerprint = stored?.fingerprint && url.startsWith("wss://") ? stored.fingerprint : undefined;
  return {
    url,
    pin: fingerprint ? { fingerprint256: fingerprint } : undefined,
    joinToken: input.tokenForGateway ? undefined : input.joinToken,
  };
}

function pinned(join: RendezvousJoin, trust: TrustStore, log: Logger): Upstream {
  const before = trust.rendezvous();
  if (before && before.nodeId !== join.nodeId)
    log.warn(
      { was: before.nodeId.slice(0, 12), now: join.nodeId.slice(0, 12) },
      "the join string names another rendezvous key than this checkout knew; pinning the new one",
    );
  trust.saveRendezvous({ url: join.url, nodeId: join.nodeId, ...(join.fingerprint ? { fingerprint: join.fingerprint } : {}) });
  return {
    url: join.url,
    pin: { nodeId: join.nodeId, ...(join.fingerprint ? { fingerprint256: join.fingerprint } : {}) },
    joinToken: join.token,
  };
}

/** The upstream link of a node: an agent's rendezvous (see resolveUpstream, required); a server's `rendezvous` config. */
export async function upstreamOf(
  o: Omit<JoinInput, "tokenForGateway"> & { role: "rendezvous" | "agent"; gatewayUrl?: string; configured?: string },
  identity: Identity,
  trust: TrustStore,
  log: Logger,
): Promise<Upstream | undefined> {
  if (o.role === "rendezvous") return o.configured ? { url: o.configured } : undefined;
  const upstream = await resolveUpstream({ ...o, tokenForGateway: !!o.gatewayUrl }, identity, trust, log);
  if (!upstream)
    throw new UserError(
      "an agent needs a rendezvous: --join JOIN_STRING, or --rendezvous URL (a checkout that joined before reconnects without either)",
    );
  return upstream;
}

/** `POST /api/nodes/admit` (the gateway, for a key it saw proven): admitted as by a used join token; never a revoked key. */
export function keyAdmitter(tokens: JoinTokenStore, isRevoked: (nodeId: string) => boolean, log: Logger): AdmitKey {
  return (nodeId) => {
    if (isRevoked(nodeId)) return { ok: false, status: 409, error: `key ${nodeId.slice(0, 12)}… is revoked in this project` };
    tokens.admitKey(nodeId);
    log.info({ node: nodeId.slice(0, 12) }, "key admitted by an operator");
    return { ok: true };
  };
}
