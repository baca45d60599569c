import { randomBytes } from "node:crypto";
import { signedText } from "./signed-record.js";
import type { Certificate } from "./admission.js";
import type { AuthVerdict, Gatekeeper } from "./auth-policy.js";
import type { Identity } from "./identity.js";

/**
 * Sync handshake v2, mutual: the acceptor A sends challenge cA; the connector C answers with
 * its own challenge cC and sign_C(answerText); A replies with sign_A(welcomeText). Both texts
 * name both node ids and both challenges, so a signature made for one link is worthless on any
 * other (a relay that forwards C's answer to a third node fails: that node's id and challenge
 * differ), and the "answer"/"welcome" role word keeps one side's signature from being replayed
 * as the other's.
 */
export const HANDSHAKE_KIND = "huskies-sync-v2";

export function newChallenge(): string {
  return randomBytes(32).toString("hex");
}

export function answerText(acceptor: string, connector: string, acceptorChallenge: string, connectorChallenge: string): string {
  return signedText(HANDSHAKE_KIND, "answer", acceptor, connector, acceptorChallenge, connectorChallenge);
}

export function welcomeText(acceptor: string, connector: string, acceptorChallenge: string, connectorChallenge: string): string {
  return signedText(HANDSHAKE_KIND, "welcome", acceptor, connector, acceptorChallenge, connectorChallenge);
}

/** The two ends of a link: the acceptor decides with a gate; the connector proves itself and checks who answered. */
export type Side =
  | { kind: "accept"; gate: Gatekeeper; identity: Identity }
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
    };
