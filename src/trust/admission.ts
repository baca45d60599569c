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
  /**
   * Issued by a rendezvous running open (loopback, no keys): it admits nobody on the rendezvous,
   * and agents accept it from a mesh peer only while their own certificate is an open one too,
   * i.e. while the project runs open (issue 27). Signed under its own kind, `huskies-admit-open-v1`.
   */
  open?: true;
}

export const ADMIT_KIND = "huskies-admit-v1";
export const ADMIT_OPEN_KIND = "huskies-admit-open-v1";

export function issueCertificate(issuer: Identity, node: string, issuedAt = Date.now(), open = false): Certificate {
  const kind = open ? ADMIT_OPEN_KIND : ADMIT_KIND;
  return {
    node,
    issuer: issuer.nodeId,
    issuedAt,
    sig: signParts(issuer, kind, issuer.nodeId, node, issuedAt),
    ...(open ? { open: true as const } : {}),
  };
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
    /^[0-9a-f]{128}$/.test(c.sig) &&
    (c.open === undefined || c.open === true)
  );
}

/**
 * Whether `cert` admits `node` and was signed by `issuer` (the rendezvous key). With `ttlMs`, a
 * certificate issued longer ago than that has lapsed (`admission_ttl`; the rendezvous issues a
 * fresh one at every connection, so a node that keeps connecting keeps one). An open-mode
 * certificate counts only with `acceptOpen`. Never throws.
 */
export function verifyCertificate(
  cert: unknown,
  expect: { node: string; issuer: string | undefined; ttlMs?: number; now?: number; acceptOpen?: boolean },
): cert is Certificate {
  if (!expect.issuer || !isCertificateShape(cert)) return false;
  if (cert.node !== expect.node || cert.issuer !== expect.issuer) return false;
  if (cert.open && !expect.acceptOpen) return false;
  if (expect.ttlMs !== undefined && (expect.now ?? Date.now()) - cert.issuedAt > expect.ttlMs) return false;
  return verifyParts(cert.issuer, cert.sig, cert.open ? ADMIT_OPEN_KIND : ADMIT_KIND, cert.issuer, cert.node, cert.issuedAt);
}
