import { timingSafeEqual } from "node:crypto";
import { verifySignature } from "./identity.js";
import type { JoinTokenStore } from "./join-tokens.js";
import type { AuthVerdict, Gatekeeper } from "./sync-connection.js";
import { challengeText, type AuthFrame } from "./sync-message.js";

/**
 * Who may sync with this node. A key is trusted when it is listed in `trusted_keys`, was admitted
 * earlier through a join token, or already has an entry in the replicated `nodes` map (it was
 * admitted somewhere in this project, which is what lets agents mesh without each admitting each
 * other). A bearer token (the admin token) admits a client that cannot sign, e.g. a browser.
 */
export interface AuthPolicy {
  open: boolean;
  adminToken?: string;
  trustedKeys(): ReadonlySet<string>;
  knownNodes(): ReadonlySet<string>;
  tokens?: JoinTokenStore;
}

export function bearerMatches(expected: string | undefined, given: string | null | undefined): boolean {
  if (!expected || !given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function gatekeeper(policy: AuthPolicy, bearer: string | null): Gatekeeper {
  return {
    preAuthorized: policy.open || bearerMatches(policy.adminToken, bearer),
    verify: (challenge, answer) => verifyAnswer(policy, challenge, answer),
  };
}

function verifyAnswer(policy: AuthPolicy, challenge: string, answer: Extract<AuthFrame, { type: "answer" }>): AuthVerdict {
  const key = String(answer.nodeId ?? "");
  if (!verifySignature(key, challengeText(challenge), String(answer.signature ?? ""))) {
    return { ok: false, reason: "bad signature" };
  }
  if (policy.trustedKeys().has(key) || policy.knownNodes().has(key) || policy.tokens?.isAdmitted(key)) {
    return { ok: true, peerId: key };
  }
  if (answer.joinToken && policy.tokens) {
    const used = policy.tokens.consume(String(answer.joinToken), key);
    if (!used.ok) return { ok: false, reason: `join token refused: ${used.reason}` };
    policy.tokens.admitKey(key);
    return { ok: true, peerId: key };
  }
  return { ok: false, reason: "unknown key" };
}
