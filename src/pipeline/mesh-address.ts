import { isIP } from "node:net";
import { canonicalAddress } from "./egress-rules.js";

/**
 * Whether a node entry's `address` may be dialled by the mesh: a `ws:`/`wss:` URL whose path is
 * exactly `/crdt-sync`, without credentials, query or fragment, and not a link-local or metadata
 * address (169.254.0.0/16, fe80::/10, the cloud metadata names). An entry is signed by its node,
 * but a compromised or buggy node must not turn every peer into a blind GET against
 * `http://169.254.169.254/latest/meta-data` or a local admin port path.
 */
export function meshAddressAllowed(address: string): boolean {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    return false;
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") return false;
  if (u.pathname !== "/crdt-sync" || u.search || u.hash || u.username || u.password) return false;
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (METADATA_NAMES.has(host)) return false;
  // One spelling per address: URL writes `[::ffff:169.254.169.254]` as `[::ffff:a9fe:a9fe]`.
  const ip = canonicalAddress(host);
  if (ip === undefined) return true;
  if (isIP(ip) === 4) return !ip.startsWith("169.254.") && !ip.startsWith("0.");
  const first = parseInt(ip.split(":")[0]!, 16);
  return (first & 0xffc0) !== 0xfe80 && !ip.startsWith("fd00:ec2:");
}

const METADATA_NAMES = new Set(["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"]);
