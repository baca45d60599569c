import * as Y from "yjs";
import type { SeededRandom } from "../../test/support/seeded-random.js";
import type { Scheduler } from "./virtual-clock.js";

/** A replica on the simulated network: its document, and whether it is answering now. */
export interface SimPeer {
  readonly name: string;
  readonly doc: Y.Doc;
  /** A frozen peer (SIGSTOP, a hung process) neither sends nor takes anything, and never closes its links. */
  frozen(): boolean;
}

/**
 * The simulated network between replicas: a link per pair, each update delivered after a seeded
 * delay (so updates reorder), dropped with a seeded chance or when the link is cut or either end is
 * frozen. A periodic catch-up over every working link (each side sends what the other's state
 * vector lacks) stands in for the sync protocol's step 1/2, so a dropped update is repaired as
 * a reconnect repairs it. A peer relays what it receives to its other links (the rendezvous of
 * a star).
 */
export class SimNetwork {
  private readonly links = new Map<string, Set<string>>();
  private readonly cut = new Set<string>();
  private readonly peers = new Map<string, SimPeer>();
  /** Links that lost an update since their last catch-up: only those need one (a full diff costs). */
  private readonly dirty = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly rnd: SeededRandom,
    private readonly o: { dropChance: number; maxDelayMs: number; catchUpMs: number },
  ) {}

  add(peer: SimPeer): void {
    this.peers.set(peer.name, peer);
    this.links.set(peer.name, new Set());
    peer.doc.on("update", (update: Uint8Array, origin: unknown) => {
      const from = (origin as { peerId?: string } | null)?.peerId;
      for (const to of this.links.get(peer.name)!) if (to !== from) this.send(peer.name, to, update, false);
    });
  }

  link(a: string, b: string): void {
    this.links.get(a)!.add(b);
    this.links.get(b)!.add(a);
    this.sched.at(this.o.catchUpMs, () => this.catchUp(a, b), this.o.catchUpMs);
  }

  private key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  setCut(a: string, b: string, isCut: boolean): void {
    if (isCut) this.cut.add(this.key(a, b));
    else this.cut.delete(this.key(a, b));
  }

  /** Whether `a` can reach `b` now (the rendezvous' "linked" for its offers). */
  up(a: string, b: string): boolean {
    return !this.cut.has(this.key(a, b)) && !this.peers.get(a)!.frozen() && !this.peers.get(b)!.frozen();
  }

  private send(from: string, to: string, update: Uint8Array, catchingUp: boolean): void {
    if (!this.up(from, to) || this.rnd.chance(this.o.dropChance)) {
      this.dropped += 1;
      this.dirty.add(this.key(from, to));
      return;
    }
    this.sched.at(this.rnd.int(1, this.o.maxDelayMs), () => {
      // Cut or frozen while in flight: lost, as on a real link that breaks.
      if (!this.up(from, to)) {
        this.dropped += 1;
        this.dirty.add(this.key(from, to));
        return;
      }
      this.delivered += 1;
      Y.applyUpdate(this.peers.get(to)!.doc, update, { catchingUp, peerId: from });
    });
  }

  private catchUp(a: string, b: string): void {
    if (!this.up(a, b) || !this.dirty.delete(this.key(a, b))) return;
    const da = this.peers.get(a)!.doc;
    const db = this.peers.get(b)!.doc;
    const toB = Y.encodeStateAsUpdate(da, Y.encodeStateVector(db));
    const toA = Y.encodeStateAsUpdate(db, Y.encodeStateVector(da));
    // An empty diff is 2 bytes: nothing to send.
    if (toB.length > 2) this.send(a, b, toB, true);
    if (toA.length > 2) this.send(b, a, toA, true);
  }
}
