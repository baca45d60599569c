import { createHash } from "node:crypto";
import { identityFromSeed, type Identity } from "../../src/trust/identity.js";

const byName = new Map<string, Identity>();

/**
 * A simulated node's Ed25519 identity, derived from its name so that the same name is the same
 * node id in every run (a real node draws its key at random: `loadOrCreateIdentity`). Signing is
 * as a real node signs, so every replica checks writes with the real `ItemAuthority`.
 */
export function simIdentity(name: string): Identity {
  let id = byName.get(name);
  if (!id) {
    id = identityFromSeed(createHash("sha256").update(`huskies-sim|${name}`).digest());
    byName.set(name, id);
  }
  return id;
}
