import { registrationMessage } from "../../src/trust/registration-proof.js";

export interface Signer {
  nodeId: string;
  sign(message: string): string;
}

/**
 * One registration attempt as an agent makes it: challenge, signature, POST. `tamper` lets a test
 * change the request after signing (another token, another node id, a reused challenge).
 */
export async function register(
  gwUrl: string,
  signer: Signer,
  token: string,
  tamper: (body: Record<string, unknown>) => Record<string, unknown> = (b) => b,
  fetchInit: RequestInit = {},
): Promise<{ status: number; body: { error?: string; ok?: boolean }; sent: Record<string, unknown> }> {
  const { challenge, gatewayId } = (await (await fetch(`${gwUrl}/gateway/challenge`, fetchInit)).json()) as {
    challenge: string;
    gatewayId: string;
  };
  const sent = tamper({
    token,
    nodeId: signer.nodeId,
    label: "test-agent",
    address: "ws://127.0.0.1:1/crdt-sync",
    challenge,
    signature: signer.sign(registrationMessage(gatewayId, token, challenge)),
  });
  const res = await fetch(`${gwUrl}/gateway/register`, {
    ...fetchInit,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(sent),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; ok?: boolean }, sent };
}
