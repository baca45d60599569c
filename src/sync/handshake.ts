import { randomBytes } from "node:crypto";
import { signedText } from "../state/signed-record.js";

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
