import { signParts, verifyParts } from "./signed-record.js";
import type { Identity } from "./identity.js";

/**
 * An admission certificate: the project's rendezvous (`issuer`) says `node` may sync with any
 * node of the project. sig = sign_issuer(`huskies-admit-v1|issuer|node|issuedAt`). Every node
 * checks it against the rendezvous key it learned at join (pinned or on first contact), never
 * against anything read from the document.
 */
export interface Certificate {
  node: string;
  issuer: string;
  issuedAt: number;
  sig: string;
}

export const ADMIT_KIND = "huskies-admit-v1";

export function issueCertificate(issuer: Identity, node: string, issuedAt = Date.now()): Certificate {
  return { node, issuer: issuer.nodeId, issuedAt, sig: signParts(issuer, ADMIT_KIND, issuer.nodeId, node, issuedAt) };
}

/** Field types only (frames are validated with this before anything else looks at them). */
export function isCertificateShape(v: unknown): v is Certificate {
  if (!v || typeof v !== "object") return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.node === "string" &&
    /^[0-9a-f]{64}$/.test(c.node) &&
    typeof c.issuer === "string" &&
    /^[0-9a-f]{64}$/.test(c.issuer) &&
    typeof c.issuedAt === "number" &&
    Number.isSafeInteger(c.issuedAt) &&
    c.issuedAt >= 0 &&
    typeof c.sig === "string" &&
    /^[0-9a-f]{128}$/.test(c.sig)
  );
}

/** Whether `cert` admits `node` and was signed by `issuer` (the rendezvous key). Never throws. */
export function verifyCertificate(cert: unknown, expect: { node: string; issuer: string | undefined }): cert is Certificate {
  if (!expect.issuer || !isCertificateShape(cert)) return false;
  if (cert.node !== expect.node || cert.issuer !== expect.issuer) return false;
  return verifyParts(cert.issuer, cert.sig, ADMIT_KIND, cert.issuer, cert.node, cert.issuedAt);
}
