import type { Logger } from "pino";
import * as awarenessProtocol from "y-protocols/awareness";
import type * as Y from "yjs";
import { MAX_AWARENESS_STATES } from "../config/defaults.js";
import { encodeAwareness } from "./sync-message.js";

/** The part of a link the relay needs. */
export interface AwarenessLink {
  readonly ready: boolean;
  send(frame: Uint8Array): void;
}

/** Origin of the removals made when a link closes (forwarded to everyone else). */
class LinkClosed {
  constructor(readonly link: AwarenessLink) {}
}

type Change = { added: number[]; updated: number[]; removed: number[] };

/**
 * Presence (who is looking at the board) held per node in a y-protocols `Awareness`. This node
 * publishes nothing of its own (local state null). An incoming update is applied, and only the
 * entries it made newer (higher clock) are re-encoded and forwarded to the other links: a frame
 * that comes back round a mesh loop changes nothing and stops here. Raw frames are never relayed.
 * States a link introduced are removed (and the removal forwarded) when it closes.
 */
export class AwarenessRelay {
  readonly awareness: awarenessProtocol.Awareness;
  private readonly owner = new Map<number, AwarenessLink>();
  private capLogged = false;

  constructor(
    doc: Y.Doc,
    private readonly links: () => Iterable<AwarenessLink>,
    private readonly log: Logger,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    this.awareness.setLocalState(null);
    // Its renewal/timeout timer must not keep a process (or a test) alive on its own.
    (this.awareness as unknown as { _checkInterval?: NodeJS.Timeout })._checkInterval?.unref?.();
    this.awareness.on("update", (change: Change, origin: unknown) => {
      try {
        this.forward(change, origin);
      } catch (err) {
        this.log.error({ err }, "forwarding an awareness update failed");
      }
    });
  }

  /** Apply an update received on `from` (already validated by the decoder). */
  apply(from: AwarenessLink, update: Uint8Array, clients: number[]): void {
    const states = this.awareness.states;
    if (states.size >= MAX_AWARENESS_STATES && clients.some((c) => !states.has(c))) {
      if (!this.capLogged) this.log.warn({ max: MAX_AWARENESS_STATES }, "awareness state limit reached: ignoring new clients");
      this.capLogged = true;
      return;
    }
    awarenessProtocol.applyAwarenessUpdate(this.awareness, update, from);
  }

  /** Answer query-awareness (and greet a new link): every state this node knows. */
  sendStates(to: AwarenessLink): void {
    const clients = [...this.awareness.getStates().keys()];
    if (clients.length) to.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients)));
  }

  /** Forget what `link` introduced; the removal goes to every other link. */
  linkClosed(link: AwarenessLink): void {
    const mine = [...this.owner].filter(([, l]) => l === link).map(([id]) => id);
    if (mine.length) awarenessProtocol.removeAwarenessStates(this.awareness, mine, new LinkClosed(link));
  }

  private forward(change: Change, origin: unknown): void {
    // Local changes (our own null state) and timeouts (every node times out by itself) stay here.
    const from = origin instanceof LinkClosed ? origin.link : isLink(origin) ? origin : undefined;
    if (!from) return;
    if (!(origin instanceof LinkClosed)) for (const id of change.added) this.owner.set(id, from);
    for (const id of change.removed) this.owner.delete(id);
    const clients = [...change.added, ...change.updated, ...change.removed];
    if (!clients.length) return;
    const frame = encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
    for (const link of this.links()) if (link !== from && link.ready) link.send(frame);
  }

  destroy(): void {
    this.awareness.destroy();
    this.owner.clear();
  }
}

function isLink(v: unknown): v is AwarenessLink {
  return !!v && typeof v === "object" && typeof (v as AwarenessLink).send === "function";
}
