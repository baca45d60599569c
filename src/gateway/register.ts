import type { Logger } from "pino";
import { UserError } from "../errors.js";
import type { GatewayJoin } from "../trust/join-string.js";
import { pinnedRequest } from "../trust/pinned-request.js";
import { registrationMessage } from "../trust/registration-proof.js";

export interface RegistrationBody {
  token: string;
  label: string;
  /** This agent's `/crdt-sync` URL when it already knows it (`--advertise`); the gateway shows the project's view otherwise. */
  address?: string;
}

/** What the gateway answers a registration: for a token bound to a project, how to join it. */
export interface Registered {
  ok: true;
  /** The project's name and a join string for its rendezvous (no token: the gateway admitted this key). */
  project?: { name: string; join: string };
}

/**
 * Register with a gateway, proving this node holds its key: ask for a challenge, sign it with the
 * token's hash and the gateway's id, send all of it. `fingerprint` pins the gateway's certificate
 * (from a gateway join string); `gatewayId`, when known, must match the challenge's. Throws a
 * UserError with the gateway's reason.
 */
export async function register(
  gatewayUrl: string,
  body: RegistrationBody,
  identity: { nodeId: string; sign(message: string): string },
  pin: { fingerprint?: string; gatewayId?: string } = {},
): Promise<Registered> {
  const base = gatewayUrl.replace(/\/+$/, "");
  const call = async <T>(path: string, payload?: unknown): Promise<T> => {
    let res;
    try {
      res = await pinnedRequest<T & { error?: string }>(`${base}${path}`, {
        body: payload,
        fingerprint: pin.fingerprint,
        timeoutMs: 15_000,
      });
    } catch (err) {
      throw new UserError(`cannot register with the gateway at ${base}: ${(err as Error).message}`);
    }
    if (res.status >= 300) {
      const reason = typeof res.body === "object" && res.body?.error ? res.body.error : res.text.slice(0, 200) || `HTTP ${res.status}`;
      throw new UserError(`the gateway at ${base} refused the registration: ${reason}`);
    }
    return res.body;
  };
  const { challenge, gatewayId } = await call<{ challenge: string; gatewayId: string }>("/gateway/challenge");
  if (pin.gatewayId && gatewayId !== pin.gatewayId)
    throw new UserError(`refusing the gateway at ${base}: it is ${String(gatewayId)}, the join string names ${pin.gatewayId}`);
  const signature = identity.sign(registrationMessage(String(gatewayId), body.token, String(challenge)));
  return call<Registered>("/gateway/register", { ...body, nodeId: identity.nodeId, challenge, signature });
}

/** Register with the gateway a join string names; returns the project's join string. */
export async function registerForJoin(
  join: GatewayJoin,
  body: Omit<RegistrationBody, "token">,
  identity: { nodeId: string; sign(message: string): string },
): Promise<string> {
  const done = await register(join.url, { ...body, token: join.token }, identity, {
    fingerprint: join.fingerprint,
    gatewayId: join.gatewayId,
  });
  if (!done.project?.join) throw new UserError(`the gateway at ${join.url} registered this agent but returned no project to join`);
  if (done.project.name !== join.project)
    throw new UserError(`the gateway at ${join.url} answered for project ${done.project.name}, the join string names ${join.project}`);
  return done.project.join;
}

/**
 * The older form (`--gateway-url URL --join-token T`): register and log the outcome, never fatal.
 * When the gateway admitted the key in a project, the agent's link to that project's rendezvous
 * (from `--rendezvous`) is accepted on its next attempt.
 */
export async function registerWithGateway(
  gatewayUrl: string,
  body: RegistrationBody,
  identity: { nodeId: string; sign(message: string): string },
  log: Logger,
): Promise<boolean> {
  try {
    const done = await register(gatewayUrl, body, identity);
    log.info({ url: gatewayUrl, label: body.label, project: done.project?.name }, "registered with gateway");
    return true;
  } catch (err) {
    const refused = /refused the registration/.test((err as Error).message);
    log.error({ url: gatewayUrl, err: (err as Error).message }, refused ? "gateway registration refused" : "gateway registration failed");
    return false;
  }
}
