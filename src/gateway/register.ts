import type { Logger } from "pino";

/** Register this agent with a gateway using a one-time join token. A failure is logged, never fatal. */
export async function registerWithGateway(gatewayUrl: string, body: { token: string; nodeId: string; label: string; address: string }, log: Logger): Promise<boolean> {
  const url = `${gatewayUrl.replace(/\/+$/, "")}/gateway/register`;
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
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
