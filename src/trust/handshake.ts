import { randomBytes } from "node:crypto";
import { signedText } from "./signed-record.js";
import type { Certificate } from "./admission.js";
import type { AuthVerdict, Gatekeeper } from "./auth-policy.js";
import type { Identity } from "./identity.js";

/**
 * Sync handshake (protocol 3), mutual: the acceptor A sends challenge cA; the connector C answers
 * with its own challenge cC and sign_C(answerText); A replies with sign_A(welcomeText). Both texts
 * name both node ids, both challenges and the channel binding, so a signature made for one link
 * is worthless on any other: a relay that forwards C's answer to a third node fails (that node's
 * id and challenge differ), and over TLS a relay that terminates the connection fails too (its two
 * TLS sessions export different keying material). The "answer"/"welcome" role word keeps one
 * side's signature from being replayed as the other's. A join token travels only after the
 * welcome proved A's key (a `pending` welcome, then a `token` frame).
 */
export const HANDSHAKE_KIND = "huskies-sync-v3";

/** The TLS exporter label (RFC 5705 / 8446 §7.5) the channel binding is taken with. */
export const BINDING_LABEL = "EXPORTER-huskies-sync-binding";

export function newChallenge(): string {
  return randomBytes(32).toString("hex");
}

export function answerText(
  acceptor: string,
  connector: string,
  acceptorChallenge: string,
  connectorChallenge: string,
  binding = "",
): string {
  return signedText(HANDSHAKE_KIND, "answer", acceptor, connector, acceptorChallenge, connectorChallenge, binding || "-");
}

export function welcomeText(
  acceptor: string,
  connector: string,
  acceptorChallenge: string,
  connectorChallenge: string,
  binding = "",
): string {
  return signedText(HANDSHAKE_KIND, "welcome", acceptor, connector, acceptorChallenge, connectorChallenge, binding || "-");
}

/**
 * The channel binding of a connection: 32 bytes of keying material exported from its TLS session
 * (hex), the same on both ends of one session and different on every other; "" without TLS.
 */
export function channelBinding(socket: unknown): string {
  const s = socket as { exportKeyingMaterial?: (len: number, label: string) => Buffer; encrypted?: boolean } | undefined;
  if (!s || typeof s.exportKeyingMaterial !== "function" || !s.encrypted) return "";
  try {
    return s.exportKeyingMaterial(32, BINDING_LABEL).toString("hex");
  } catch {
    return "";
  }
}

/** The two ends of a link: the acceptor decides with a gate; the connector proves itself and checks who answered. */
export type Side =
  | {
      kind: "accept";
      gate: Gatekeeper;
      identity: Identity;
      /** The connection's channel binding (see `channelBinding`). */
      binding?: () => string;
      /** Why a huskies peer on this connection is refused before admission (plain ws:// from another host). */
      refusePeer?: () => string | undefined;
    }
  | {
      kind: "connect";
      identity: Identity;
      joinToken?: string;
      /** This is the link to the rendezvous (always carries everything). */
      upstream?: boolean;
      /** The node id this link was dialled for; another key answering drops the link (4001). */
      expectedPeer?: string;
      /** This node's certificate, presented in the answer. */
      admission?: () => Certificate | undefined;
      /** Whether the node that answered may sync with us (mesh: the policy's `admits`). */
      admitPeer?: (peerId: string, credential?: Certificate) => AuthVerdict;
      /** A certificate the rendezvous issued to this node in its welcome (already verified). */
      onAdmission?: (cert: Certificate) => void;
      /** The connection's channel binding (see `channelBinding`), read when the challenge arrives. */
      binding?: () => string;
    };
