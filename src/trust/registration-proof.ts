import { createHash } from "node:crypto";

/**
 * What an agent signs to register with a gateway: it binds the gateway (so a signature cannot be
 * replayed at another one), the token (by hash, so the text carries no secret) and a fresh
 * single-use challenge (so a captured request cannot be replayed at this one).
 */
export function registrationMessage(gatewayId: string, token: string, challenge: string): string {
  return `huskies-gateway-register-v1|${gatewayId}|${createHash("sha256").update(token).digest("hex")}|${challenge}`;
}
