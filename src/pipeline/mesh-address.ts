import { isIP } from "node:net";

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
  if (isIP(host) === 4) return !host.startsWith("169.254.") && !host.startsWith("0.");
  if (isIP(host) === 6) return !/^fe[89ab]/.test(host) && !host.startsWith("fd00:ec2:") && !/^::ffff:169\.254\./.test(host);
  return true;
}

const METADATA_NAMES = new Set(["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"]);
