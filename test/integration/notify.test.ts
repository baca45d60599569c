import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as Y from "yjs";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { Claims } from "../../src/state/claims.js";
import { Notifier, type NotifyEvent } from "../../src/rendezvous/notifier.js";
import { watchNotifyEvents } from "../../src/rendezvous/notify-events.js";
import { loadProjectConfig, type NotifyTarget } from "../../src/config/project-config.js";
import { waitFor } from "../support/wait-for.js";

interface Received {
  path: string;
  id: string;
  body: Record<string, unknown>;
}

/**
 * A webhook receiver on 127.0.0.1: `/ok` answers 204, `/flaky` fails each event's first try,
 * `/hang` never answers, `/missing` is a 404.
 */
class Receiver {
  readonly accepted: Received[] = [];
  readonly attempts: Received[] = [];
  private readonly hanging: ServerResponse[] = [];
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = "";
    for await (const c of req) raw += c;
    const r: Received = { path: req.url ?? "", id: String(req.headers["x-huskies-event-id"]), body: JSON.parse(raw) };
    this.attempts.push(r);
    if (r.path === "/hang") return void this.hanging.push(res);
    if (r.path === "/missing") return void res.writeHead(404).end("no such hook");
    if (r.path === "/flaky" && this.attempts.filter((a) => a.id === r.id).length === 1) return void res.writeHead(503).end("try again");
    this.accepted.push(r);
    res.writeHead(204).end();
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await new Promise<void>((r) => {
      this.server?.close(() => r());
      this.server?.closeAllConnections();
    });
  }
}

const FAST = { initialBackoffMs: 10, maxBackoffMs: 50, timeoutMs: 5000 };
let receiver: Receiver;
let notifier: Notifier | undefined;
let stop: (() => void) | undefined;
afterEach(async () => {
  stop?.();
  notifier?.close();
  await receiver?.close();
});

/** The rendezvous' replica, and an agent's replica whose writes reach it as remote updates. */
function replicas() {
  const server = new PipelineDoc();
  const agent = new PipelineDoc();
  agent.doc.on("update", (u: Uint8Array) => Y.applyUpdate(server.doc, u, "remote"));
  return { server, agent };
}

function wire(pipeline: PipelineDoc, targets: NotifyTarget[], opts = FAST) {
  notifier = new Notifier(() => targets, { project: "demo", ...opts });
  const n = notifier;
  stop = watchNotifyEvents(pipeline, (ev) => n.notify(ev));
  return n;
}

describe("notifications", () => {
  it("a blocked event reaches the receiver exactly once, also when it fails the first attempt", async () => {
    receiver = await new Receiver().start();
    const { server, agent } = replicas();
    const n = wire(server, [
      { url: `${receiver.url}/ok`, events: ["blocked"], format: "json" },
      { url: `${receiver.url}/flaky`, events: ["blocked", "done"], format: "json" },
    ]);
    const item = server.createItem({ name: "Flaky gates", stage: "current" });
    Y.applyUpdate(agent.doc, Y.encodeStateAsUpdate(server.doc));
    // The agent blocks the story after its last retry; later writes to it notify nothing more.
    agent.update(item.id, { retries: 3, failure: { kind: "gates", message: "gate `npm test` failed" }, blocked: "gate `npm test` failed" });
    agent.update(item.id, { blocked: "gate `npm test` failed (again)" });
    agent.update(item.id, { retries: 4 });
    await n.idle();

    const ok = receiver.accepted.filter((r) => r.path === "/ok");
    const flaky = receiver.accepted.filter((r) => r.path === "/flaky");
    expect(ok).toHaveLength(1);
    expect(flaky).toHaveLength(1);
    expect(ok[0]!.body).toEqual({
      event: "blocked",
      story: item.id,
      reason: "gate `npm test` failed",
      kind: "gates",
      at: expect.any(Number),
      project: "demo",
    });
    // The flaky receiver saw two attempts of the same event (one id), and accepted one.
    expect(receiver.attempts.filter((r) => r.path === "/flaky").map((r) => r.id)).toEqual([flaky[0]!.id, flaky[0]!.id]);

    // Unblocked and blocked again: a new event.
    agent.update(item.id, { blocked: null });
    agent.update(item.id, { blocked: "still failing" });
    await n.idle();
    expect(receiver.accepted.filter((r) => r.path === "/ok").map((r) => r.body.reason)).toEqual([
      "gate `npm test` failed",
      "still failing",
    ]);
  });

  it("a slow receiver never delays the pipeline nor the other receivers", async () => {
    receiver = await new Receiver().start();
    const pipeline = new PipelineDoc();
    wire(
      pipeline,
      [
        { url: `${receiver.url}/hang`, events: ["blocked"], format: "json" },
        { url: `${receiver.url}/ok`, events: ["blocked"], format: "slack" },
      ],
      { ...FAST, timeoutMs: 60_000 },
    );
    const ids = [1, 2, 3].map((i) => pipeline.createItem({ name: `story ${i}`, stage: "current" }).id);
    // Document writes (and the observers behind them) return before any webhook has answered.
    for (const id of ids) pipeline.update(id, { blocked: "no coder" });
    expect(ids.map((id) => pipeline.getItem(id)!.blocked)).toEqual(["no coder", "no coder", "no coder"]);
    await waitFor(() => receiver.accepted.length === 3, "the fast receiver to get all three events");
    // The hanging receiver still holds its first request; its queue waits behind it, alone.
    expect(receiver.attempts.filter((r) => r.path === "/hang")).toHaveLength(1);
    expect(receiver.accepted.map((r) => r.body)).toEqual(ids.map((id) => ({ text: `[demo] :no_entry: ${id} is blocked: no coder` })));
  });

  it("derives done, merge_failed and paused, each once, and sends only subscribed events", async () => {
    receiver = await new Receiver().start();
    const pipeline = new PipelineDoc();
    const events: NotifyEvent[] = [];
    stop = watchNotifyEvents(pipeline, (ev) => events.push(ev));
    const a = pipeline.createItem({ name: "merges", stage: "merge" });
    const b = pipeline.createItem({ name: "conflicts", stage: "merge" });
    const claims = new Claims(pipeline);
    claims.move(a.id, "done", { actor: "mergemaster", mergeCommit: "abcdef1" });
    claims.move(
      b.id,
      "current",
      { actor: "mergemaster", reason: "conflict" },
      { failure: { kind: "conflict", message: "squash-merge conflicts in a.txt\nmore" } },
    );
    // A node pauses itself (a usage limit), heartbeats while paused, then its pause is extended.
    const node = "ab".repeat(32);
    pipeline.setOwnNode(node, { label: "agent-1", lastSeen: 1, alive: true });
    pipeline.setOwnNode(node, { paused: { reason: "usage limit", since: 1, until: 2 } });
    pipeline.setOwnNode(node, { lastSeen: 2 });
    pipeline.setOwnNode(node, { lastSeen: 3, paused: { reason: "usage limit", since: 1, until: 3 } });
    expect(events.map(({ at: _, ...e }) => e)).toEqual([
      { event: "done", story: a.id },
      { event: "merge_failed", story: b.id, reason: "squash-merge conflicts in a.txt" },
      { event: "paused", node, reason: "usage limit" },
    ]);
    // Resumed and paused again: a new event.
    pipeline.setOwnNode(node, { lastSeen: 4, paused: null });
    pipeline.setOwnNode(node, { lastSeen: 5, paused: { reason: "paused by an operator", since: 5, until: null } });
    expect(events.map((e) => e.reason)).toEqual([undefined, "squash-merge conflicts in a.txt", "usage limit", "paused by an operator"]);

    const n = new Notifier(() => [{ url: `${receiver.url}/ok`, events: ["done"], format: "json" }], FAST);
    notifier = n;
    for (const ev of events) n.notify(ev);
    await n.idle();
    expect(receiver.accepted.map((r) => r.body.event)).toEqual(["done"]);
  });

  it("derives question once per question a coder asks, with its text; an answer or a re-read sends nothing", async () => {
    const pipeline = new PipelineDoc();
    const events: NotifyEvent[] = [];
    const a = pipeline.createItem({ name: "asks", stage: "current" });
    // Asked before the watcher started: the baseline, not reported.
    const old = { text: "old?", askedAt: 1, node: "", slot: "c" };
    pipeline.update(a.id, { question: old });
    stop = watchNotifyEvents(pipeline, (ev) => events.push(ev));
    pipeline.update(a.id, { question: { ...old, answer: "yes", answeredAt: 2 } });
    pipeline.update(a.id, { question: undefined });
    pipeline.update(a.id, { question: { text: "Which port?\nmore detail", askedAt: 3, node: "", slot: "c" } });
    pipeline.update(a.id, { progress: { text: "still asking", at: 4 } });
    pipeline.update(a.id, { question: { text: "Which port?", askedAt: 3, node: "", slot: "c", answer: "8080", answeredAt: 5 } });
    expect(events.map(({ at: _, ...e }) => e)).toEqual([{ event: "question", story: a.id, reason: "Which port?" }]);
  });

  it("gives up after the bounded attempts on a dead receiver, and at once on a 4xx", async () => {
    receiver = await new Receiver().start();
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const dead = `http://127.0.0.1:${(probe.address() as { port: number }).port}/nothing-listens-here`;
    await new Promise<void>((r) => probe.close(() => r()));
    const warnings: object[] = [];
    const n = new Notifier(
      () => [
        { url: dead, events: ["done"], format: "json" },
        { url: `${receiver.url}/missing`, events: ["done"], format: "json" },
      ],
      {
        ...FAST,
        attempts: 3,
        log: { debug: () => undefined, warn: (o) => warnings.push(o) },
      },
    );
    notifier = n;
    n.notify({ event: "done", story: "1_story_x", at: 1 });
    await n.idle();
    expect(warnings).toEqual(
      expect.arrayContaining([
        // Logged by scheme and host only: a webhook's path is its secret.
        expect.objectContaining({ url: new URL(dead).origin, attempts: 3, event: "done" }),
        expect.objectContaining({ url: receiver.url, attempts: 1, error: "HTTP 404" }),
      ]),
    );
  });
});

describe("[[notify]] in project.toml", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const load = (toml: string) => {
    const root = mkdtempSync(join(tmpdir(), "huskies-notify-"));
    dirs.push(root);
    mkdirSync(join(root, ".huskies"));
    writeFileSync(join(root, ".huskies", "project.toml"), toml);
    return loadProjectConfig(root);
  };

  it("accepts webhook tables with defaults, and names the key of a bad one", () => {
    const cfg = load(
      '[[notify]]\nurl = "https://hooks.example.com/T/B/X"\nformat = "slack"\nevents = ["blocked", "merge_failed"]\n\n[[notify]]\nurl = "http://127.0.0.1:9000/hook"\n',
    );
    expect(cfg.notify).toEqual([
      { url: "https://hooks.example.com/T/B/X", format: "slack", events: ["blocked", "merge_failed"] },
      { url: "http://127.0.0.1:9000/hook", format: "json", events: ["blocked", "done", "paused", "merge_failed", "question"] },
    ]);
    expect(load("").notify).toEqual([]);
    expect(() => load('[[notify]]\nurl = "http://x"\nevents = ["deployed"]\n')).toThrow(/key `notify.0.events.0`/);
    expect(() => load('[[notify]]\nurl = "ftp://x"\n')).toThrow(/key `notify.0.url`: must be an http/);
    expect(() => load('[[notify]]\nurl = "http://x"\nchannel = "#ops"\n')).toThrow(/unknown key `notify.0.channel`/);
  });
});
