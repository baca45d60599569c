import * as encoding from "lib0/encoding";
import * as awarenessProtocol from "y-protocols/awareness";
import * as Y from "yjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Certificate } from "../../src/trust/admission.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { answerText } from "../../src/trust/handshake.js";
import {
  decodeFrame,
  encodeAuth,
  encodeAwareness,
  encodeChunk,
  encodeQueryAwareness,
  encodeSyncStep1,
  MSG_AWARENESS,
  MSG_CHUNK,
  MSG_STATUS,
  MSG_SYNC,
} from "../../src/sync/sync-message.js";
import { waitFor } from "../support/wait-for.js";
import { CLOSE_UNSUPPORTED_PROTOCOL } from "../../src/sync/sync-connection.js";

/** The admin token conformance rendezvous admit by (bearer). */
const ADMIT_TOKEN = "conformance-admin";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../../src/version.js";
import {
  closedCode,
  items,
  link,
  makeNode,
  rawLink,
  RawClient,
  roundTrip,
  until,
  type SyncTransportSetup,
  type TestNode,
} from "./sync-kit.js";

/**
 * The sync transport contract, run over every transport (in-memory pair, real ws on 127.0.0.1):
 * handshake v2, admission, relay resistance, bad frames, resync, the mesh relay rule, chunking,
 * awareness, link status. Each test builds its own nodes; nothing is shared between tests.
 */
export function runSyncTransportTests(makeSetup: () => SyncTransportSetup): void {
  describe("sync transport conformance", () => {
    let setup: SyncTransportSetup;
    beforeEach(() => {
      setup = makeSetup();
    });
    afterEach(async () => {
      await setup.teardown();
    });

    /** Connect `node` to an open rendezvous and keep the certificate it is issued. */
    /** Admitted by the rendezvous with its admin token (an open rendezvous vouches for nobody). */
    async function admittedBy(rendezvous: TestNode, node: TestNode): Promise<Certificate> {
      const up = await link(setup, rendezvous, node, {
        bearer: ADMIT_TOKEN,
        side: {
          onAdmission: (c) => {
            node.policy.learnRendezvous(c.issuer);
            node.policy.setCredential(c);
          },
        },
      });
      await until(up.c, "ready");
      return node.policy.credential()!;
    }

    it("handshake v2: both ends prove their keys, then the documents converge both ways", async () => {
      const agent = makeNode({ role: "agent" });
      const srv = makeNode({ trusted: [agent.identity.nodeId] });
      items(srv.doc).set("a", "from server");
      items(agent.doc).set("b", "from agent");
      let cert: Certificate | undefined;
      const { a, c } = await link(setup, srv, agent, {
        side: {
          onAdmission: (x) => {
            cert = x;
          },
        },
      });
      await Promise.all([until(a, "ready"), until(c, "ready")]);
      expect(a.peerId).toBe(agent.identity.nodeId);
      expect(c.peerId).toBe(srv.identity.nodeId);
      await waitFor(() => items(srv.doc).get("b") && items(agent.doc).get("a"), "both documents to converge");
      // A rendezvous hands the connector it admitted a certificate for its key.
      expect(cert).toMatchObject({ node: agent.identity.nodeId, issuer: srv.identity.nodeId });
      expect(agent.policy.learnRendezvous(srv.identity.nodeId)).toBe(true);
      expect(agent.policy.setCredential(cert!)).toBe(true);
    });

    it("versions: each end learns the other's release; a protocol outside its range is refused (4005) with one line naming both", async () => {
      const agent = makeNode({ role: "agent" });
      const srv = makeNode({ trusted: [agent.identity.nodeId] });
      const ours = { protocol: PROTOCOL, min: MIN_PROTOCOL, version: VERSION };
      const newer = { protocol: PROTOCOL + 1, min: PROTOCOL + 1, version: "9.0.0" };
      const newerButKind = { protocol: PROTOCOL + 1, min: PROTOCOL, version: "9.1.0" };

      // Both this build: linked, and each side knows the other's release.
      const same = await link(setup, srv, agent);
      await Promise.all([until(same.a, "ready"), until(same.c, "ready")]);
      expect(same.a.peerRelease).toEqual(ours);
      expect(same.c.peerRelease).toEqual(ours);
      expect(same.a.protocol).toBe(PROTOCOL);
      same.c.close(1000, "done");

      // A newer node that still speaks ours: linked, on our protocol.
      const kind = await link(setup, srv, agent, { release: { acceptor: newerButKind } });
      await Promise.all([until(kind.a, "ready"), until(kind.c, "ready")]);
      expect(kind.c.protocol).toBe(PROTOCOL);
      expect(kind.a.protocol).toBe(PROTOCOL);
      kind.c.close(1000, "done");

      // A newer listener that no longer speaks our protocol: the connector refuses before it
      // answers (no signature, no join token leaves it) and says who must upgrade.
      const up = await link(setup, srv, agent, { release: { acceptor: newer }, side: { joinToken: "secret-token" } });
      expect(await closedCode(up.c)).toBe(CLOSE_UNSUPPORTED_PROTOCOL);
      const line = await waitFor(() => agent.logs.find((l) => l.msg?.startsWith("refusing node")), "the refusal line");
      expect(line.msg).toContain(`huskies 9.0.0 (protocol ${PROTOCOL + 1})`);
      expect(line.msg).toContain(`huskies ${VERSION} (protocol`);
      expect(line.msg).toContain("upgrade this node");
      expect(up.a.peerId).toBeUndefined();

      // The listener's side: a connector that answers (signed, as any build would) with a protocol
      // outside our range is refused after its signature checks and before it is welcomed.
      const open = makeNode({ open: true });
      const { a: acceptor, raw } = await rawLink(setup, open);
      const challenge = await waitFor(() => raw.decoded().find((f) => f.kind === "auth")?.frame, "the challenge");
      if (challenge?.type !== "challenge") throw new Error("expected a challenge first");
      const someone = ephemeralIdentity();
      const mine = "ab".repeat(32);
      raw.ws.send(
        encodeAuth({
          type: "answer",
          nodeId: someone.nodeId,
          challenge: mine,
          signature: someone.sign(answerText(challenge.nodeId, someone.nodeId, challenge.challenge, mine)),
          ...{ protocol: newer.protocol, minProtocol: newer.min, version: newer.version },
        }),
      );
      expect(await closedCode(acceptor)).toBe(CLOSE_UNSUPPORTED_PROTOCOL);
      expect(acceptor.ready).toBe(false);
      const theirs = await waitFor(() => open.logs.find((l) => l.msg?.startsWith("refusing node")), "the listener's refusal line");
      expect(theirs.msg).toContain("upgrade this node");

      // The same refusal again is not logged again (a redialling peer costs one line).
      const before = agent.logs.filter((l) => l.msg?.startsWith("refusing node")).length;
      const again = await link(setup, srv, agent, { release: { acceptor: newer } });
      expect(await closedCode(again.c)).toBe(CLOSE_UNSUPPORTED_PROTOCOL);
      expect(agent.logs.filter((l) => l.msg?.startsWith("refusing node")).length).toBe(before);
    });

    it("refuses an unknown key (4001, reason logged); admits one certified by the rendezvous; revocation closes and refuses it", async () => {
      const rendezvous = makeNode({ adminToken: ADMIT_TOKEN });
      const agentA = makeNode({ role: "agent", rendezvousKey: rendezvous.identity.nodeId });
      const stranger = makeNode({ role: "agent" });
      const refused = await link(setup, agentA, stranger);
      expect(await closedCode(refused.c)).toBe(4001);
      await waitFor(() => agentA.logs.some((l) => l.reason === "unknown key"), "the refusal reason to be logged");

      await admittedBy(rendezvous, stranger);
      const mesh = await link(setup, agentA, stranger, { side: { admission: () => stranger.policy.credential() } });
      await until(mesh.c, "ready");
      expect(mesh.a.peerId).toBe(stranger.identity.nodeId);

      agentA.policy.enforce(agentA.hub);
      const closing = closedCode(mesh.a);
      agentA.policy.revocations.revoke(rendezvous.identity, stranger.identity.nodeId);
      expect(await closing).toBe(4001);
      const again = await link(setup, agentA, stranger, { side: { admission: () => stranger.policy.credential() } });
      expect(await closedCode(again.c)).toBe(4001);
      // A revocation signed by anyone but the rendezvous means nothing.
      const other = makeNode({ role: "agent", rendezvousKey: rendezvous.identity.nodeId });
      other.policy.revocations.revoke(ephemeralIdentity(), stranger.identity.nodeId);
      expect(other.policy.isRevoked(stranger.identity.nodeId)).toBe(false);
    });

    it("a connector that dialled a peer refuses one its policy does not admit", async () => {
      const rendezvous = makeNode({ adminToken: ADMIT_TOKEN });
      const dialler = makeNode({ role: "agent", rendezvousKey: rendezvous.identity.nodeId });
      const uncertified = makeNode({ role: "agent", trusted: [dialler.identity.nodeId] });
      const { c } = await link(setup, uncertified, dialler, { side: { admitPeer: (id, cred) => dialler.policy.admits(id, cred) } });
      expect(await closedCode(c)).toBe(4001);
      await admittedBy(rendezvous, uncertified);
      const ok = await link(setup, uncertified, dialler, { side: { admitPeer: (id, cred) => dialler.policy.admits(id, cred) } });
      await until(ok.c, "ready");
    });

    it("an open rendezvous vouches for nobody: its certificate admits on no agent that is not open-mode itself", async () => {
      const rendezvous = makeNode({ open: true });
      const agentA = makeNode({ role: "agent", rendezvousKey: rendezvous.identity.nodeId });
      const stranger = makeNode({ role: "agent" });
      const up = await link(setup, rendezvous, stranger, {
        side: {
          onAdmission: (c) => {
            stranger.policy.learnRendezvous(c.issuer);
            stranger.policy.setCredential(c);
          },
        },
      });
      await until(up.c, "ready");
      expect(stranger.policy.credential()?.open).toBe(true);
      const mesh = await link(setup, agentA, stranger, { side: { admission: () => stranger.policy.credential() } });
      expect(await closedCode(mesh.c)).toBe(4001);
    });

    it("an agent's acceptor never runs open and takes no bearer token", async () => {
      const agent = makeNode({ role: "agent", open: true, adminToken: "tok" });
      const { a, raw } = await rawLink(setup, agent, { bearer: "tok" });
      const closing = closedCode(a);
      raw.ws.send(encodeSyncStep1(new Y.Doc()));
      expect(await closing).toBe(4001);
      expect(await raw.closed).toBe(4001);
    });

    it("drops the link when another key answers than the one dialled, before answering", async () => {
      const srv = makeNode({ open: true });
      const agent = makeNode({ role: "agent" });
      const expected = ephemeralIdentity().nodeId;
      let admitted = false;
      const gate = srv.policy.gate(null);
      srv.policy.gate = () => ({
        ...gate,
        admit: (claims) => {
          admitted = true;
          return gate.admit(claims);
        },
      });
      const { c } = await link(setup, srv, agent, { side: { expectedPeer: expected } });
      expect(await closedCode(c)).toBe(4001);
      expect(c.peerMismatch).toEqual({ expected, actual: srv.identity.nodeId });
      expect(admitted).toBe(false);
      expect(agent.logs.some((l) => l.expected === expected && l.actual === srv.identity.nodeId)).toBe(true);
    });

    it("an answer relayed to another node is refused: it names the node and challenge it was made for", async () => {
      const victim = makeNode({ role: "agent" });
      const middle = makeNode({ open: true });
      const target = makeNode({ trusted: [victim.identity.nodeId] });
      const toMiddle = await link(setup, middle, victim);
      const heard = new RawClient(toMiddle.pair.acceptor);
      const answer = await waitFor(
        () =>
          heard.frames.find((f) => {
            const m = decodeFrame(f);
            return m.kind === "auth" && m.frame.type === "answer";
          }),
        "the victim's answer",
      );
      const { a, raw } = await rawLink(setup, target);
      await waitFor(() => raw.frames.length > 0, "the target's challenge");
      const closing = closedCode(a);
      raw.ws.send(answer);
      expect(await closing).toBe(4001);
      expect(target.logs.some((l) => l.reason === "bad signature")).toBe(true);
    });

    it("malformed frames close only that link (4002); the acceptor keeps serving", async () => {
      const srv = makeNode({ open: true });
      const garbage = await rawLink(setup, srv);
      garbage.raw.ws.send(new Uint8Array([0xff, 0xfe, 0x42, 0x13, 0x37]));
      expect(await garbage.raw.closed).toBe(4002);

      const truncated = await rawLink(setup, srv);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 2);
      encoding.writeVarUint(e, 500);
      encoding.writeUint8Array(e, new Uint8Array([1, 2, 3]));
      truncated.raw.ws.send(encoding.toUint8Array(e));
      expect(await truncated.raw.closed).toBe(4002);

      const badAuth = await rawLink(setup, srv);
      badAuth.raw.ws.send(encodeAuth({ type: "welcome", nodeId: "zz", signature: "x" } as never));
      expect(await badAuth.raw.closed).toBe(4002);

      const ok = await link(setup, srv, makeNode({ role: "agent" }));
      await until(ok.c, "ready");
      expect(srv.logs.filter((l) => l.msg === "closing sync connection").length).toBeGreaterThanOrEqual(3);
    });

    it("a frame above the limit closes that link with 1009", async () => {
      const srv = makeNode({ open: true });
      const { raw } = await rawLink(setup, srv, { maxFrameBytes: 4096 });
      raw.ws.send(new Uint8Array(20_000).fill(7));
      expect(await raw.closed).toBe(1009);
    });

    it("resync: a link that missed an update catches up when either side asks", async () => {
      const srv = makeNode({ open: true });
      const agent = makeNode({ role: "agent" });
      const { a, c } = await link(setup, srv, agent);
      await Promise.all([until(a, "synced"), until(c, "synced")]);
      // An update attributed to the link itself is never sent back over it.
      srv.doc.transact(() => items(srv.doc).set("missed", 1), a);
      await roundTrip(a.ws);
      expect(items(agent.doc).get("missed")).toBeUndefined();
      c.resync();
      await waitFor(() => items(agent.doc).get("missed") === 1, "the missed update after resync");
    });

    it("mesh relay rule: quiet while both sides reach the rendezvous, catches up when one loses it", async () => {
      const x = makeNode({ role: "agent" });
      const y = makeNode({ role: "agent", trusted: [x.identity.nodeId] });
      let xLinked = true;
      x.hub.selfLinked = () => xLinked;
      y.hub.selfLinked = () => true;
      const { a, c } = await link(setup, y, x);
      await Promise.all([until(a, "synced"), until(c, "synced")]);
      await waitFor(() => a.peerLinked && c.peerLinked, "both sides to report their rendezvous link");
      items(x.doc).set("quiet", 1);
      items(y.doc).set("quiet-too", 1);
      await roundTrip(c.ws);
      expect(items(y.doc).get("quiet")).toBeUndefined();
      expect(items(x.doc).get("quiet-too")).toBeUndefined();
      xLinked = false;
      x.hub.announce();
      await waitFor(() => items(y.doc).get("quiet") === 1 && items(x.doc).get("quiet-too") === 1, "both to catch up over the mesh link");
      items(y.doc).set("loud", 1);
      await waitFor(() => items(x.doc).get("loud") === 1, "new updates to flow while one side is unlinked");
    });

    it("chunks frames above the chunk size to huskies peers; stock clients get whole frames; a bad sequence is 4002", async () => {
      const srv = makeNode({ open: true });
      const agent = makeNode({ role: "agent" });
      const big = "x".repeat(60_000);
      for (let i = 0; i < 4; i++) items(srv.doc).set(`big${i}`, `${big}${i}`);
      const maxFrameBytes = 16 * 1024;
      const { c, pair } = await link(setup, srv, agent, { maxFrameBytes });
      const seen = new RawClient(pair.connector);
      await until(c, "synced");
      expect(items(agent.doc).get("big3")).toBe(`${big}3`);
      expect(seen.ofType(MSG_CHUNK).length).toBeGreaterThan(10);
      expect(Math.max(...seen.frames.map((f) => f.byteLength))).toBeLessThanOrEqual(maxFrameBytes);

      const stock = await rawLink(setup, srv, { maxFrameBytes, clientMaxFrameBytes: 1024 * 1024 });
      stock.raw.ws.send(encodeSyncStep1(new Y.Doc()));
      await waitFor(() => stock.raw.ofType(MSG_SYNC).some((f) => f.byteLength > 200_000), "the whole document in one frame");
      expect(stock.raw.ofType(MSG_CHUNK)).toHaveLength(0);

      const closing = closedCode(c);
      pair.connector.send(encodeChunk(99, 1, 3, new Uint8Array([1, 2, 3])));
      expect(await closing).toBe(4002);
    });

    it("awareness: forwarded once when newer, never looped; query answered; removed when its link closes", async () => {
      const [p, q, r] = [makeNode({ open: true }), makeNode({ open: true }), makeNode({ open: true })];
      const mesh = [];
      for (const [acc, con] of [
        [p, q],
        [q, r],
        [r, p],
      ] as const) {
        const l = await link(setup, acc, con);
        await until(l.c, "ready");
        mesh.push(l);
      }
      const board = await rawLink(setup, p);
      const observer = await rawLink(setup, r);
      observer.raw.ws.send(encodeSyncStep1(new Y.Doc()));
      board.raw.ws.send(encodeSyncStep1(new Y.Doc()));
      await waitFor(() => observer.a.ready && board.a.ready, "both clients in");
      const boardAwareness = new awarenessProtocol.Awareness(new Y.Doc());
      boardAwareness.setLocalState({ user: "board" });
      const id = boardAwareness.clientID;
      board.raw.ws.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(boardAwareness, [id])));
      boardAwareness.destroy();
      const known = (n: TestNode) => n.hub.awareness.awareness.getStates().has(id);
      await waitFor(() => [p, q, r].every(known), "every node to know the board");
      // Let anything still circulating arrive: two round trips on every link.
      for (let i = 0; i < 2; i++) for (const l of [...mesh, observer]) await roundTrip(l.a.ws);
      expect(observer.raw.ofType(MSG_AWARENESS)).toHaveLength(1);

      observer.raw.ws.send(encodeQueryAwareness());
      await waitFor(() => observer.raw.ofType(MSG_AWARENESS).length === 2, "the query answered");

      board.raw.ws.close(1000, "bye");
      await waitFor(() => ![p, q, r].some(known), "the board's state to be removed everywhere");
      for (const n of [p, q, r]) n.hub.closeAll();
    });

    it("link status is its own message type (101), sent only to authenticated peers", async () => {
      const srv = makeNode({ open: true });
      const agent = makeNode({ role: "agent" });
      const { c, pair } = await link(setup, srv, agent);
      const seen = new RawClient(pair.connector);
      await until(c, "ready");
      await waitFor(() => seen.ofType(MSG_STATUS).length === 1, "the acceptor's status");
      expect(decodeFrame(seen.ofType(MSG_STATUS)[0]!)).toEqual({ kind: "status", linked: false });
      const stock = await rawLink(setup, srv);
      stock.raw.ws.send(encodeSyncStep1(new Y.Doc()));
      await waitFor(() => stock.a.ready, "the stock client in");
      await roundTrip(stock.a.ws);
      expect(stock.raw.ofType(MSG_STATUS)).toHaveLength(0);
    });
  });
}
