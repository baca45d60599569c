import { EventEmitter } from "node:events";
import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { LogRelay, type LogSource } from "../../src/sync/log-relay.js";
import { memoryPair } from "../../src/sync/memory-transport.js";
import { encodeLog, encodeSyncStep1 } from "../../src/sync/sync-message.js";
import { waitFor } from "../support/wait-for.js";
import { closedCode, link, makeNode, rawLink, until, type SyncTransportSetup } from "../conformance/sync-kit.js";

const memory: SyncTransportSetup = {
  name: "memory",
  pair: async ({ maxFrameBytes }) => {
    const [acceptor, connector] = memoryPair({ maxPayload: maxFrameBytes });
    return { acceptor, connector };
  },
  teardown: async () => {},
};

/** Logs in memory, shaped like StoryLogs. */
class FakeLogs implements LogSource {
  readonly texts = new Map<string, string>();
  readonly bus = new EventEmitter();
  read(id: string): string | undefined {
    return this.texts.get(id);
  }
  follow(id: string, cb: (line: string) => void): () => void {
    this.bus.on(id, cb);
    return () => this.bus.off(id, cb);
  }
  append(id: string, line: string): void {
    this.texts.set(id, `${this.texts.get(id) ?? ""}${line}\n`);
    this.bus.emit(id, line);
  }
}

async function pairOfNodes() {
  const holder = makeNode({ open: true });
  const asker = makeNode({ role: "agent" });
  const logs = new FakeLogs();
  new LogRelay(holder.hub, logs);
  const relay = new LogRelay(asker.hub);
  const l = await link(memory, holder, asker);
  await until(l.c, "ready");
  return { holder, asker, logs, relay, l };
}

describe("log relay over the sync link", () => {
  it("fetches a peer's log by node id, in batches under the frame limit", async () => {
    const { holder, logs, relay } = await pairOfNodes();
    for (let i = 0; i < 3000; i++) logs.append("1_story_a", JSON.stringify({ i, text: "x".repeat(60) }));
    const text = await relay.fetch(holder.identity.nodeId, "1_story_a");
    expect(text).toBe(logs.texts.get("1_story_a"));
    expect(await relay.fetch(holder.identity.nodeId, "2_story_none")).toBeUndefined();
    expect(await relay.fetch(holder.identity.nodeId, "../../etc/passwd")).toBeUndefined();
    expect(await relay.fetch("f".repeat(64), "1_story_a")).toBeUndefined();
  });

  it("follows a log until cancelled, and ends a follow when the link closes", async () => {
    const { holder, logs, relay, l } = await pairOfNodes();
    logs.append("1_story_a", "first");
    const lines: string[] = [];
    const stop = relay.follow(holder.identity.nodeId, "1_story_a", (line) => lines.push(line));
    await waitFor(() => lines.length === 1, "the existing line");
    await waitFor(() => logs.bus.listenerCount("1_story_a") === 1, "the holder to follow");
    logs.append("1_story_a", "second");
    logs.append("1_story_a", "third");
    await waitFor(() => lines.length === 3, "new lines");
    stop();
    await waitFor(() => logs.bus.listenerCount("1_story_a") === 0, "the holder to stop following");

    let ended: string | undefined;
    relay.follow(
      holder.identity.nodeId,
      "1_story_a",
      () => {},
      (reason) => {
        ended = reason ?? "ended";
      },
    );
    await waitFor(() => logs.bus.listenerCount("1_story_a") === 1, "a second follow");
    l.c.close(1000, "bye");
    await waitFor(() => ended === "link closed", "the follow to end with the link");
    await waitFor(() => logs.bus.listenerCount("1_story_a") === 0, "the holder to drop it");
  });

  it("a client that did not prove a key gets no log (the link is closed)", async () => {
    const holder = makeNode({ open: true });
    new LogRelay(holder.hub, new FakeLogs());
    const { a, raw } = await rawLink(memory, holder);
    raw.ws.send(encodeSyncStep1(new Y.Doc()));
    await waitFor(() => a.ready, "the stock client in");
    const closing = closedCode(a);
    raw.ws.send(encodeLog({ type: "log-request", rid: 1, story: "1_story_a", follow: false }));
    expect(await closing).toBe(4001);
  });
});
