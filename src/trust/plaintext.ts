import { isLoopbackName } from "../server/served-names.js";

/**
 * Plain ws:// between hosts (issue 27): on a plain link anyone on the path can relay the
 * handshake and then inject updates, and nothing can bind the signatures to the channel. So
 * off loopback huskies peers sync over wss:// only, unless the project sets
 * `allow_plaintext = true` (for a private network trusted end to end). Both ends check: the
 * dialer before connecting, the listener before admitting.
 */

/** Whether a socket's remote address is this machine (IPv4-mapped IPv6 included). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return isLoopbackName(address.replace(/^::ffff:/i, ""));
}

/** Why dialing `url` is refused, or undefined. */
export function plaintextRefusal(url: string, allowPlaintext: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "ws:" || allowPlaintext || isLoopbackName(u.hostname)) return undefined;
  return `refusing ${url}: plain ws:// to another host is refused (use wss://, or set allow_plaintext = true on a private network)`;
}
