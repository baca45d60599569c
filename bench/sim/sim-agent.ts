import { createHash } from "node:crypto";
import * as Y from "yjs";
import pino from "pino";
import { preferredOrder } from "../../src/pipeline/claim-rules.js";
import type { Stage } from "../../src/pipeline/stages.js";
import { ClaimView, claimTimings } from "../../src/state/claim-view.js";
import { Claims, type ClaimToken } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ItemAuthority } from "../../src/trust/item-authority.js";
import { OwnWriteReassert } from "../../src/trust/own-write-reassert.js";
import type { Clock } from "../../src/util/clock.js";
import type { SeededRandom } from "../../test/support/seeded-random.js";
import type { JobSpan } from "../chaos/invariants.js";
import { simIdentity } from "./sim-identity.js";

/** A simulated node's id: the public key of its identity (64 hex digits), fixed by its name. */
export function simNodeId(name: string): string {
  return simIdentity(name).nodeId;
}

/**
 * The write authority every real node has (`HuskiesNode`): writes signed by their author and
 * checked on read, the rendezvous the one operator key. It is what makes the epoch fence hold
 * across replicas: a holder checks its token against its own replica only, and one that was
 * frozen writes on a stale replica when it wakes; readers refuse that write (a stale epoch, §13
 * of docs/architecture.md) instead of letting it clear the newer holder's claim.
 */
export function simAuthority(name: string): ItemAuthority {
  const rendezvous = simNodeId("rendezvous");
  return new ItemAuthority(simIdentity(name), (key) => key === rendezvous);
}

/** `scan_interval_secs`: the simulated rendezvous passes every second (simulate.ts), as its scan would. */
export const SIM_TIMINGS = { node_alive_secs: 5, claim_timeout_secs: 10, scan_interval_secs: 1 };
const ROLES = [
  { role: "coder", stage: "current" as Stage },
  { role: "mergemaster", stage: "merge" as Stage },
] as const;

/** What git would hold: every push of a story to the base branch (the fake records, never refuses). */
export class FakeOrigin {
  readonly merged: string[] = [];
  has(story: string): boolean {
    return this.merged.includes(story);
  }
}

/** Everything the simulated agents report to the checker. */
export interface SimLedger {
  jobs: JobSpan[];
  origin: FakeOrigin;
}

interface Running {
  token: ClaimToken;
  span: JobSpan;
  done: { cancelled: boolean };
}

/**
 * A simulated agent: its own replica (the real `PipelineDoc` and `Claims`), a heartbeat, and the
 * work loop's claim rules — ask for an unclaimed item of a role's stage in hash order, start when
 * the document names this node as holder, stop when it no longer does, and on finishing move the
 * item on only through the holder's token (the fencing the real loop relies on). Runtimes are
 * instant fakes that take a seeded time; git is `FakeOrigin`, checked before pushing as the real
 * mergemaster checks origin's trailers.
 */
export class SimAgent {
  readonly doc = new Y.Doc();
  readonly pipeline: PipelineDoc;
  readonly claims: Claims;
  private readonly running = new Map<string, Running>();
  frozenUntil = 0;
  private readonly asked = new Map<string, { id: string; at: number }>();

  /** The node id (64 hex digits, as the document requires); `name` is for reports. */
  readonly id: string;

  constructor(
    readonly name: string,
    readonly clock: Clock,
    private readonly rnd: SeededRandom,
    private readonly ledger: SimLedger,
  ) {
    this.id = simNodeId(name);
    // Yjs draws a random client id per document, and concurrent writes are ordered by it: fixed
    // here so that the seed, not the process, decides which of two concurrent writes wins.
    this.doc.clientID = rnd.int(1, 2 ** 31 - 1);
    const authority = simAuthority(name);
    this.pipeline = new PipelineDoc(this.doc, { clock, log: pino({ level: "silent" }), authority });
    this.claims = new Claims(this.pipeline);
    new OwnWriteReassert(this.claims, authority, pino({ level: "silent" }), (fn) => clock.setTimeout(fn, 0)).start();
    this.pipeline.onChange(() => this.clock.setTimeout(() => this.tick(), 0));
    this.clock.setInterval(() => this.heartbeat(), 2_000);
    this.clock.setInterval(() => this.tick(), 1_000);
    this.heartbeat();
  }

  frozen(): boolean {
    return this.clock.monotonic() < this.frozenUntil;
  }

  private heartbeat(): void {
    if (this.frozen()) return;
    this.pipeline.setOwnNode(this.id, {
      label: this.name,
      address: "",
      role: "agent",
      lastSeen: this.clock.now(),
      alive: true,
      capacity: { coder: 1, qa: 0, mergemaster: 1 },
    });
  }

  private tick(): void {
    if (this.frozen()) return;
    for (const { role, stage } of ROLES) {
      const job = this.running.get(role);
      if (job) {
        if (this.claims.holds(job.token)) continue;
        // Granted to this node again (its claim lapsed while it was cut off, then it asked again):
        // the job carries on under the new epoch rather than starting over.
        const again = this.claims.tokenOf(job.token.id, this.id);
        if (again && again.stage === job.token.stage && this.claims.holds(again)) job.token = again;
        else this.stop(role, job);
        continue;
      }
      const items = this.pipeline.listItemsIn([stage]).filter((i) => !i.blocked);
      const mine = items.find((i) => i.claim?.node === this.id && i.claim.stage === stage);
      if (mine) {
        this.start(role, this.claims.tokenOf(mine.id, this.id)!);
        continue;
      }
      const view = new ClaimView(this.pipeline, claimTimings(SIM_TIMINGS));
      const free = items.filter((i) => !view.live(i));
      // One request at a time per role, asked again only after a while (as the work loop does):
      // the sequencer drops requests it cannot grant, so a standing one may be gone.
      const asked = this.asked.get(role);
      if (asked && free.some((i) => i.id === asked.id) && this.clock.monotonic() - asked.at < 3_000) continue;
      const first = preferredOrder(
        this.id,
        free.map((i) => i.id),
      )[0];
      if (first) {
        this.asked.set(role, { id: first, at: this.clock.monotonic() });
        this.claims.request(first, this.id);
      }
    }
  }

  private start(role: string, token: ClaimToken): void {
    const span: JobSpan = { story: token.id, role, holder: this.name, node: this.name, start: this.clock.monotonic(), end: undefined };
    this.ledger.jobs.push(span);
    const done = { cancelled: false };
    this.running.set(role, { token, span, done });
    this.clock.setTimeout(() => this.finish(role, done), this.rnd.int(500, 20_000));
  }

  private stop(role: string, job: Running): void {
    job.done.cancelled = true;
    job.span.end = this.clock.monotonic();
    this.running.delete(role);
  }

  private finish(role: string, done: { cancelled: boolean }): void {
    const job = this.running.get(role);
    if (!job || job.done !== done) return;
    // A frozen process finishes nothing: the job's end waits for the thaw.
    if (this.frozen()) return void this.clock.setTimeout(() => this.finish(role, done), this.frozenUntil - this.clock.monotonic());
    const { token } = job;
    if (role === "coder") {
      if (this.claims.moveAs(token, "qa", { actor: "coder" }))
        this.claims.moveOnAs(token, "qa", "merge", { actor: "system", commitsAhead: 1 });
    } else if (this.claims.holds(token)) {
      if (!this.ledger.origin.has(token.id)) this.ledger.origin.merged.push(token.id);
      const mergeCommit = createHash("sha1").update(token.id).digest("hex");
      this.claims.moveAs(token, "done", { actor: "mergemaster", mergeCommit }, { mergeCommit });
    }
    this.stop(role, job);
    this.tick();
  }
}
