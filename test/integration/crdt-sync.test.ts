import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import * as encoding from "lib0/encoding";
import { Cluster, postJson, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { decodeJoin } from "../../src/trust/join-string.js";
import { loadOrCreateIdentity } from "../../src/trust/identity.js";
import { waitFor } from "../support/wait-for.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const cluster = new Cluster();
const projects: Project[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((c) => c());
  await cluster.stopAll();
  projects.splice(0).forEach((p) => p.cleanup());
});

function project(projectToml?: string): Project {
  const p = createProject({ projectToml });
  projects.push(p);
  return p;
}

/** An unmodified y-websocket provider, as any Yjs app would use it. */
function stockClient(url: string, params: Record<string, string> = {}): { doc: Y.Doc; provider: WebsocketProvider } {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, "crdt-sync", doc, { WebSocketPolyfill: WebSocket as never, params, disableBc: true });
  cleanups.push(() => provider.destroy());
  return { doc, provider };
}

function itemsOf(doc: Y.Doc): Record<string, Record<string, unknown>> {
  return doc.getMap("items").toJSON() as Record<string, Record<string, unknown>>;
}

function openRaw(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, closed }));
    ws.once("error", reject);
  });
}

describe("/crdt-sync", () => {
  it("a stock y-websocket client receives the document and sees items", async () => {
    const p = project();
    const server = await cluster.server(p.root, ["--no-agent"]);
    await runCli(["story", "add", "Add login", "--stage", "current", "--body", "As a user…"], { env: { HUSKIES_SERVER: server.http } });
    const { doc } = stockClient(`ws://127.0.0.1:${server.port}`);
    const item = await waitFor(() => itemsOf(doc)["1_story_add_login"], "the item to arrive");
    expect(item).toMatchObject({ name: "Add login", type: "story", stage: "current", body: "As a user…" });

    // A stock client is no operator (§13): its write reaches the server, is counted and ignored,
    // and the server writes the last signed value back, which the client then sees too.
    const unverified = async () => (await server.health()).unverifiedWrites ?? 0;
    const before = await unverified();
    (doc.getMap("items").get("1_story_add_login") as Y.Map<unknown>).set("name", "Add login v2");
    await waitFor(async () => (await unverified()) > before, "the server to see the unsigned edit");
    expect((await (await fetch(`${server.http}/api/stories/1_story_add_login`)).json()).name).toBe("Add login");
    await waitFor(() => itemsOf(doc)["1_story_add_login"]?.name === "Add login", "the signed name to be written back");
  });

  it("an acknowledged story survives SIGKILL of the server", async () => {
    const p = project();
    const server = await cluster.server(p.root, ["--no-agent"]);
    const item = await postJson<{ id: string }>(`${server.http}/api/stories`, { name: "Survive a crash", stage: "current" });
    server.kill("SIGKILL");
    await server.exited;
    const again = await cluster.server(p.root, ["--no-agent"]);
    const res = await fetch(`${again.http}/api/stories/${item.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: "Survive a crash", stage: "current" });
  });

  it("two servers syncing converge after concurrent edits on both", async () => {
    // Each server signs its REST writes with its own key; each lists the other's key in
    // operator_keys, so both servers' writes are valid everywhere (§13).
    const a = project();
    const b = project();
    const keyA = loadOrCreateIdentity(join(a.root, ".huskies", "node.key")).nodeId;
    const keyB = loadOrCreateIdentity(join(b.root, ".huskies", "node.key")).nodeId;
    writeFileSync(join(a.root, ".huskies", "project.toml"), `operator_keys = ["${keyB}"]\n`);
    // Keys made before the first start look like a lost replica (§10): --accept-empty says these are new.
    const serverA = await cluster.server(a.root, ["--no-agent", "--accept-empty"]);
    writeFileSync(join(b.root, ".huskies", "project.toml"), `rendezvous = "${serverA.ws}"\noperator_keys = ["${keyA}"]\n`);
    const serverB = await cluster.server(b.root, ["--no-agent", "--accept-empty"]);
    const first = await postJson<{ id: string }>(`${serverA.http}/api/stories`, { name: "Shared" });
    await waitFor(async () => (await fetch(`${serverB.http}/api/stories/${first.id}`)).ok, "B to see A's story");
    // Concurrent edits: different fields of the same item, and one item each.
    await Promise.all([
      fetch(`${serverA.http}/api/stories/${first.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "Renamed on A" }),
      }),
      fetch(`${serverB.http}/api/stories/${first.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ body: "Body from B" }),
      }),
      postJson(`${serverA.http}/api/stories`, { name: "Only on A" }),
    ]);
    await waitFor(async () => {
      const [ha, hb] = await Promise.all([serverA.health(), serverB.health()]);
      return ha.digest === hb.digest && ha.items === 2 && hb.items === 2;
    }, "both replicas to be identical");
    const onB = await (await fetch(`${serverB.http}/api/stories/${first.id}`)).json();
    // name and body are one signed record (the item group, src/trust/write-rights.ts): concurrent
    // edits of it resolve as a whole to one side's record, never a mix no one signed.
    const onA = await (await fetch(`${serverA.http}/api/stories/${first.id}`)).json();
    expect(onA).toMatchObject({ name: onB.name, body: onB.body });
    // Each side's value is one it or the other wrote (a write that saw the other's keeps both).
    expect(["Renamed on A", "Shared"]).toContain(onB.name);
    expect(["Body from B", "# Shared\n"]).toContain(onB.body);
  });

  it("garbage, a truncated sync message and an oversized frame close only that connection", async () => {
    const p = project("max_frame_bytes = 65536\n");
    const server = await cluster.server(p.root, ["--no-agent"]);
    const { doc } = stockClient(`ws://127.0.0.1:${server.port}`);

    const garbage = await openRaw(server.ws);
    garbage.ws.send(Buffer.from([0xff, 0xfe, 0x42, 0x13, 0x37]));
    expect(await garbage.closed).toBe(4002);

    const truncated = await openRaw(server.ws);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0); // sync
    encoding.writeVarUint(e, 2); // update
    encoding.writeVarUint(e, 500); // claims 500 bytes, sends 3
    encoding.writeUint8Array(e, new Uint8Array([1, 2, 3]));
    truncated.ws.send(encoding.toUint8Array(e));
    expect(await truncated.closed).toBe(4002);

    const huge = await openRaw(server.ws);
    huge.ws.send(Buffer.alloc(200_000, 7));
    expect(await huge.closed).toBe(1009);

    const text = await openRaw(server.ws);
    text.ws.send("hello");
    expect(await text.closed).toBe(4002);

    expect((await fetch(`${server.http}/health`)).ok).toBe(true);
    await postJson(`${server.http}/api/stories`, { name: "Still syncing" });
    await waitFor(() => itemsOf(doc)["1_story_still_syncing"], "the healthy client to keep syncing");
    await waitFor(() => server.logs.filter((l) => l.msg === "closing sync connection").length >= 4, "each close to be logged");
  });
});

describe("sync authentication", () => {
  it("refuses a wrong signature or an unknown key, admits a join token once", async () => {
    const { ephemeralIdentity, verifySignature } = await import("../../src/trust/identity.js");
    const { answerText, welcomeText } = await import("../../src/trust/handshake.js");
    const { PROTOCOL, MIN_PROTOCOL, VERSION } = await import("../../src/version.js");
    const { encodeAuth, decodeFrame } = await import("../../src/sync/sync-message.js");
    const { randomBytes } = await import("node:crypto");
    const trusted = ephemeralIdentity();
    const p = project(`auth = "required"\ntrusted_keys = ["${trusted.nodeId}"]\n`);
    // With sync auth required, minting a join token needs the admin token even on loopback.
    const admin = { HUSKIES_ADMIN_TOKEN: "s3cret-admin" };
    const server = await cluster.server(p.root, ["--no-agent"], admin);

    /**
     * Connect and run the handshake (protocol 3) by hand, as documented in src/trust/handshake.ts:
     * answer the challenge with our own challenge, our release and a signature over both ids, both
     * challenges and the channel binding ("-" on plain ws); check the server's welcome signature;
     * only after a verified `pending` welcome present the join token. Returns the close code or
     * "welcome" (admitted).
     */
    const attempt = async (
      id: { nodeId: string; sign(m: string): string },
      joinToken?: string,
      tamper = false,
    ): Promise<number | "welcome"> => {
      // Listen before the socket opens: the challenge is the server's first frame.
      const ws = new WebSocket(server.ws);
      const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
      const mine = randomBytes(32).toString("hex");
      let theirs = "";
      const admitted = (admission: unknown, resolve: (v: "welcome") => void) => {
        // The rendezvous certifies every key it admits.
        expect(admission).toMatchObject({ node: id.nodeId, issuer: server.nodeId });
        resolve("welcome");
        ws.close();
      };
      const outcome = new Promise<number | "welcome">((resolve) => {
        ws.on("message", (data: Buffer) => {
          const msg = decodeFrame(new Uint8Array(data));
          if (msg.kind !== "auth") return;
          const f = msg.frame;
          if (f.type === "challenge") {
            expect(f).toMatchObject({ v: 2, nodeId: server.nodeId, protocol: PROTOCOL });
            theirs = f.challenge;
            let signature = id.sign(answerText(server.nodeId, id.nodeId, theirs, mine));
            if (tamper) signature = (signature[0] === "a" ? "b" : "a") + signature.slice(1);
            const release = { protocol: PROTOCOL, minProtocol: MIN_PROTOCOL, version: VERSION };
            ws.send(encodeAuth({ type: "answer", nodeId: id.nodeId, challenge: mine, signature, joining: !!joinToken, ...release }));
          } else if (f.type === "welcome") {
            expect(verifySignature(server.nodeId, welcomeText(server.nodeId, id.nodeId, theirs, mine), f.signature)).toBe(true);
            if (!f.pending) return admitted(f.admission, resolve);
            // The server proved its key; only now may the one-time token travel.
            expect(joinToken).toBeDefined();
            ws.send(encodeAuth({ type: "token", joinToken: joinToken! }));
          } else if (f.type === "admitted") admitted(f.admission, resolve);
        });
        void closed.then(resolve);
      });
      return outcome;
    };

    expect(await attempt(trusted)).toBe("welcome");
    expect(await attempt(trusted, undefined, true)).toBe(4001);
    expect(await attempt(ephemeralIdentity())).toBe(4001);

    // The first stdout line is a join string: the server's URL and key with the one-time token.
    const joined = decodeJoin(
      (await runCli(["token", "create", "--ttl", "10m"], { env: { HUSKIES_SERVER: server.http, ...admin } })).stdout.split("\n")[0]!,
    );
    expect(joined).toMatchObject({ kind: "rendezvous", url: server.ws, nodeId: server.nodeId, token: expect.stringMatching(/^hj_/) });
    expect(joined).not.toHaveProperty("fingerprint");
    const token = joined.token!;
    const newcomer = ephemeralIdentity();
    expect(await attempt(newcomer, token)).toBe("welcome");
    expect(await attempt(newcomer)).toBe("welcome"); // admitted for good
    expect(await attempt(ephemeralIdentity(), token)).toBe(4001); // the token is spent
    await waitFor(
      () => server.logs.some((l) => l.msg === "closing sync connection" && /token already used/.test(String(l.reason))),
      "the refusal to be logged with its reason",
    );

    // A stock client without a token is never welcomed; with the admin token it syncs.
    const s = stockClient(`ws://127.0.0.1:${server.port}`);
    await waitFor(
      () => server.logs.some((l) => l.reason === "no answer to the challenge" || l.reason === "sync before authentication"),
      "the stock client to be refused",
      15_000,
    );
    expect(itemsOf(s.doc)).toEqual({});
  });

  it("a stock client with the admin token as URL parameter syncs", async () => {
    const p = project(`auth = "required"\n`);
    writeFileSync(join(p.root, ".env.unused"), "");
    const server = await cluster.server(p.root, ["--no-agent"], { HUSKIES_ADMIN_TOKEN: "s3cret-admin" });
    await postJson(`${server.http}/api/stories`, { name: "Token synced" }, "s3cret-admin");
    const { doc } = stockClient(`ws://127.0.0.1:${server.port}`, { token: "s3cret-admin" });
    await waitFor(() => itemsOf(doc)["1_story_token_synced"], "the item via a bearer-authenticated stock client");
  });
});
