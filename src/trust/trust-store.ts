import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Logger } from "pino";
import { huskiesDir } from "../config/project-root.js";
import { isCertificateShape, type Certificate } from "./admission.js";
import { isNodeId } from "../state/document-reader.js";

/** The rendezvous this node follows, as pinned by a join string or learned on first contact. */
export interface RendezvousPin {
  url: string;
  nodeId: string;
  /** SHA-256 fingerprint of its TLS certificate, when it serves wss:// and the join string said so. */
  fingerprint?: string;
  /** When the operator signed the handover this pin came from (an older handover is never followed again). */
  handoverAt?: number;
}

/**
 * What an agent keeps about whom it trusts, beside its key: `.huskies/rendezvous.json` (the
 * rendezvous key: every certificate and directive is checked against it) and
 * `.huskies/admission.json` (the certificate the rendezvous issued to this node, shown to mesh
 * peers). A file that cannot be read is reported and ignored: the node learns again on connect.
 */
export class TrustStore {
  constructor(
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  private read<T>(name: string, valid: (v: unknown) => v is T): T | undefined {
    const file = huskiesDir(this.root, name);
    if (!existsSync(file)) return undefined;
    try {
      const v = JSON.parse(readFileSync(file, "utf8")) as unknown;
      if (valid(v)) return v;
      this.log.warn({ file }, "ignoring a malformed trust file");
    } catch (err) {
      this.log.warn({ file, err: (err as Error).message }, "ignoring an unreadable trust file");
    }
    return undefined;
  }

  rendezvous(): RendezvousPin | undefined {
    return this.read("rendezvous.json", isPin);
  }

  admission(): Certificate | undefined {
    return this.read("admission.json", isCertificateShape);
  }

  /**
   * Keep the files up to date with what the sync policy learned: the rendezvous key on first
   * contact (agents), and each certificate the rendezvous issues this node.
   */
  persist(
    learned: { rendezvousKey(): string | undefined; credential(): Certificate | undefined },
    upstreamUrl: string | undefined,
    role: string,
  ): void {
    const key = learned.rendezvousKey();
    if (role === "agent" && key && upstreamUrl && this.rendezvous()?.nodeId !== key) this.saveRendezvous({ url: upstreamUrl, nodeId: key });
    const cert = learned.credential();
    if (cert && JSON.stringify(this.admission()) !== JSON.stringify(cert)) this.saveAdmission(cert);
  }

  saveRendezvous(pin: RendezvousPin): void {
    writeFileSync(huskiesDir(this.root, "rendezvous.json"), JSON.stringify(pin, null, 2) + "\n", { mode: 0o600 });
  }

  saveAdmission(cert: Certificate): void {
    writeFileSync(huskiesDir(this.root, "admission.json"), JSON.stringify(cert, null, 2) + "\n", { mode: 0o600 });
  }
}

function isPin(v: unknown): v is RendezvousPin {
  const p = v as Partial<RendezvousPin> | null;
  return (
    !!p &&
    typeof p.url === "string" &&
    isNodeId(p.nodeId) &&
    (p.fingerprint === undefined || typeof p.fingerprint === "string") &&
    (p.handoverAt === undefined || Number.isSafeInteger(p.handoverAt))
  );
}
