import pino from "pino";
import * as Y from "yjs";
import type { Certificate } from "../../src/trust/admission.js";
import { ephemeralIdentity, type Identity } from "../../src/trust/identity.js";
import { SyncClient } from "../../src/sync/sync-client.js";
import { SyncHub } from "../../src/sync/sync-hub.js";
import { Claims } from "../../src/state/claims.js";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { ItemAuthority } from "../../src/trust/item-authority.js";
import { waitFor } from "./wait-for.js";

/**
 * A replica in the test process that syncs with huskies nodes as a node would: its own key, the
 * certificate a rendezvous issues it, then links to agents with that certificate. For writing to
 * the document where no REST API exists (agents serve no writes) — e.g. while the rendezvous is down.
 */
export class DocClient {
  readonly doc = new Y.Doc();
  readonly pipeline: PipelineDoc;
  readonly claims: Claims;
  readonly hub = new SyncHub(this.doc, pino({ level: "silent" }));
  private readonly links: SyncClient[] = [];
  certificate: Certificate | undefined;

  /**
   * `signs`: write as huskies does, signing with this key (an operator key when the project lists
   * it in `operator_keys`; otherwise the writes are a non-operator's, which nodes ignore). Without
   * it the client writes plain values, as a stock Yjs client would. `operators`: keys whose
   * writes this client reads as valid besides its own (the rendezvous key).
   */
  constructor(
    readonly identity: Identity = ephemeralIdentity(),
    opts: { signs?: boolean; operators?: string[] } = {},
  ) {
    const operators = new Set([identity.nodeId, ...(opts.operators ?? [])]);
    const authority = opts.signs ? new ItemAuthority(identity, (k) => operators.has(k)) : undefined;
    this.pipeline = new PipelineDoc(this.doc, { authority });
    this.claims = new Claims(this.pipeline);
  }

  /** Link to a node's /crdt-sync and wait until synced. */
  async link(url: string, opts: { token?: string; joinToken?: string } = {}): Promise<SyncClient> {
    const client = new SyncClient({
      url,
      hub: this.hub,
      identity: this.identity,
      maxFrameBytes: 8 * 1024 * 1024,
      healProbe: false,
      ...opts,
      admission: () => this.certificate,
      onAdmission: (cert) => {
        this.certificate = cert;
      },
    });
    this.links.push(client);
    client.start();
    await waitFor(() => client.synced, `a synced link to ${url}`);
    return client;
  }

  close(): void {
    for (const l of this.links.splice(0)) l.stop();
  }
}
