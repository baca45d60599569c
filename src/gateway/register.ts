import type { Logger } from "pino";
import { registrationMessage } from "./registration-proof.js";

/**
 * Register this agent with a gateway using a one-time join token, proving it holds its key: ask
 * for a challenge, sign it with the token's hash and the gateway's id, send all of it. A failure
 * is logged, never fatal.
 */
export async function registerWithGateway(
  gatewayUrl: string,
  body: { token: string; label: string; address: string },
  identity: { nodeId: string; sign(message: string): string },
  log: Logger,
): Promise<boolean> {
  const base = gatewayUrl.replace(/\/+$/, "");
  const url = `${base}/gateway/register`;
  try {
    const asked = await fetch(`${base}/gateway/challenge`, { signal: AbortSignal.timeout(10_000) });
    if (!asked.ok) {
      log.error({ url, status: asked.status, reason: await asked.text() }, "gateway registration refused");
      return false;
    }
    const { challenge, gatewayId } = (await asked.json()) as { challenge: string; gatewayId: string };
    const signature = identity.sign(registrationMessage(String(gatewayId), body.token, String(challenge)));
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(10_000),
      body: JSON.stringify({ ...body, nodeId: identity.nodeId, challenge, signature }),
    });
    if (!res.ok) {
      log.error({ url, status: res.status, reason: await res.text() }, "gateway registration refused");
      return false;
    }
    log.info({ url, label: body.label }, "registered with gateway");
    return true;
  } catch (err) {
    log.error({ url, err: (err as Error).message }, "gateway registration failed");
    return false;
  }
}
