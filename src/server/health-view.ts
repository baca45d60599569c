/** What `GET /health` reports. Every long-running process serves it. */
export interface Health {
  nodeId: string;
  role: string;
  version: string;
  /** The sync protocol this node speaks, and the oldest it works with (README "Versions"). */
  protocol: number;
  minProtocol: number;
  /** The document's `meta.schema` (null when unreadable) and the schema this release understands. */
  schema: { document: number | null; supported: number };
  /** Why this node does not write the document (a newer schema), when it does not. */
  readOnly?: string;
  label?: string;
  rendezvous: { url: string | null; connected: boolean };
  mesh: { peers: string[]; connected?: string[]; max: number };
  running: string[];
  items?: number;
  digest?: string;
  paused?: unknown;
  /** Whether this node serves https:// and wss://. */
  tls?: boolean;
  [extra: string]: unknown;
}

/** The fields anyone may see: no story ids or names, no addresses, no peer list. */
export interface PublicHealth {
  nodeId: string;
  role: string;
  version: string;
  protocol: number;
  minProtocol: number;
  schema: { document: number | null; supported: number };
  readOnly?: string;
  label?: string;
  rendezvous: { connected: boolean };
  mesh: { peerCount: number; connectedCount: number; max: number };
  items?: number;
  digest?: string;
  paused?: unknown;
  tls?: boolean;
  /** Whether this node's agents and gates run confined (absent on a node without slots). */
  confined?: boolean;
  config?: unknown;
  /** Writes to the document that did not verify and were ignored (a count: nothing secret). */
  unverifiedWrites?: number;
}

export function publicHealth(h: Health): PublicHealth {
  return {
    nodeId: h.nodeId,
    role: h.role,
    version: h.version,
    protocol: h.protocol,
    minProtocol: h.minProtocol,
    schema: h.schema,
    ...(h.readOnly ? { readOnly: h.readOnly } : {}),
    label: h.label,
    rendezvous: { connected: h.rendezvous.connected },
    mesh: { peerCount: h.mesh.peers.length, connectedCount: h.mesh.connected?.length ?? 0, max: h.mesh.max },
    items: h.items,
    digest: h.digest,
    paused: h.paused ?? null,
    tls: h.tls,
    ...(typeof h.confined === "boolean" ? { confined: h.confined } : {}),
    ...(typeof h.unverifiedWrites === "number" ? { unverifiedWrites: h.unverifiedWrites } : {}),
    // Project settings the board's rules need; no story or address in them.
    ...(h.config ? { config: h.config } : {}),
  };
}
