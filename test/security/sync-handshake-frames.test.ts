import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { MSG_HUSKIES_AUTH } from "../../src/sync/sync-message.js";

const cluster = new Cluster();
let project: Project | undefined;
afterEach(async () => {
  await cluster.stopAll();
  project?.cleanup();
});

/** Send one frame before any handshake; the close code and reason the node answers with. */
function sendBeforeHandshake(url: string, frame: Uint8Array): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("open", () => ws.send(frame));
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) }));
    ws.on("error", reject);
  });
}

describe("handshake frames from an unauthenticated peer", () => {
  it("a handshake frame far above any real one (8 MB of nested brackets) is refused before it is parsed", async () => {
    project = createProject();
    const server = await cluster.server(project.root, ["--no-agent"]);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_HUSKIES_AUTH);
    // Parsing this held the node's event loop for seconds: /health and every link stalled.
    encoding.writeVarString(e, "[".repeat(4_000_000) + "]".repeat(4_000_000));
    const closed = await sendBeforeHandshake(server.ws, encoding.toUint8Array(e));
    expect(closed.code).toBe(4002);
    expect(closed.reason).toContain("control frame of 8000000 characters is over");
    expect((await fetch(`${server.http}/health`)).ok).toBe(true);
  });
});
