import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import * as Y from "yjs";
import { agentsSchema } from "../../src/config/agents-config.js";
import { LiveConfig } from "../../src/config/live-config.js";
import { projectSchema } from "../../src/config/project-config.js";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import type { Clock } from "../../src/util/clock.js";

/** A logger that drops everything (in-process tests assert on state, not log lines). */
export const silent = pino({ level: "silent" });

/** A config from values, defaults for the rest, no files. */
export function configOf(project: Record<string, unknown> = {}, agents: Array<Record<string, unknown>> = []): LiveConfig {
  return new LiveConfig("/nonexistent", { project: projectSchema.parse(project), agents: agentsSchema.parse({ agent: agents }) });
}

/** A node id (64 hex) made from a short tag, so tests read well. */
export function nodeIdOf(tag: string): string {
  return Buffer.from(tag).toString("hex").padEnd(64, "0").slice(0, 64);
}

/**
 * Replicas of one document in one process, joined like a network: every update of one is
 * applied to the others unless they are partitioned. `heal` exchanges everything missed.
 */
export class Replicas {
  readonly docs: PipelineDoc[];
  readonly claims: Claims[];
  private readonly cut = new Set<number>();

  /** `clock`: one clock for every replica (liveness is judged by heartbeat receipts on it). */
  constructor(n: number, clock?: Clock) {
    this.docs = Array.from({ length: n }, () => new PipelineDoc(new Y.Doc(), { log: silent, clock }));
    this.claims = this.docs.map((d) => new Claims(d));
    this.docs.forEach((d, i) =>
      d.doc.on("update", (u: Uint8Array, origin: unknown) => {
        if (origin === "net" || this.cut.has(i)) return;
        this.docs.forEach((o, j) => {
          if (j !== i && !this.cut.has(j)) Y.applyUpdate(o.doc, u, "net");
        });
      }),
    );
  }

  partition(i: number): void {
    this.cut.add(i);
  }

  heal(): void {
    this.cut.clear();
    for (const a of this.docs)
      for (const b of this.docs) if (a !== b) Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(b.doc)), "net");
  }
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = "huskies-unit-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
