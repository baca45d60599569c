import { describe, expect, it } from "vitest";
import { isPaused, timeLeft, whyStuck, type StuckItem, type StuckNode } from "../../src/pipeline/stuck-hint.js";

const NOW = 1_700_000_000_000;
const cfg = { nodeAliveMs: 60_000, defaultQa: "agent" as const };
const item = (over: Partial<StuckItem> = {}): StuckItem => ({ stage: "current", claim: null, blocked: null, ...over });
const node = (id: string, capacity: StuckNode["capacity"], over: Partial<StuckNode> = {}): StuckNode => ({
  id,
  label: id,
  alive: true,
  lastSeen: NOW - 1000,
  capacity,
  ...over,
});

describe("whyStuck", () => {
  it("says nothing when a live node can take the item, or the item does not wait for a node", () => {
    const nodes = [node("a", { coder: 1, qa: 1, mergemaster: 1 })];
    for (const stage of ["current", "qa", "merge"] as const) expect(whyStuck(item({ stage }), nodes, NOW, cfg)).toBeUndefined();
    for (const stage of ["backlog", "done", "archived"] as const) expect(whyStuck(item({ stage }), [], NOW, cfg)).toBeUndefined();
    expect(whyStuck(item({ blocked: "gates failed" }), [], NOW, cfg)).toBeUndefined();
    expect(whyStuck(item({ claim: { node: "a" } }), nodes, NOW, cfg)).toBeUndefined();
  });

  it("names a missing role: qa under agent QA, merge without a mergemaster, current without a coder", () => {
    const coders = [node("a", { coder: 2, qa: 0, mergemaster: 0 })];
    expect(whyStuck(item({ stage: "qa" }), coders, NOW, cfg)).toBe(
      'no node has a QA slot: add an [[agent]] with role = "qa" to a node\'s agents.toml',
    );
    expect(whyStuck(item({ stage: "merge" }), coders, NOW, cfg)).toContain("no node has a mergemaster slot");
    expect(whyStuck(item({ stage: "current" }), [node("m", { mergemaster: 1 })], NOW, cfg)).toContain("no node has a coder slot");
  });

  it("tells offline slots apart from missing ones", () => {
    const dead = node("old", { coder: 1 }, { lastSeen: NOW - 120_000 });
    const stopped = node("gone", { coder: 1 }, { alive: false });
    expect(whyStuck(item(), [dead], NOW, cfg)).toBe("no live node has a coder slot (old is offline)");
    expect(whyStuck(item(), [dead, stopped], NOW, cfg)).toBe("no live node has a coder slot (2 nodes with one are offline)");
  });

  it("follows the item's QA mode, then the project's", () => {
    const nodes = [node("a", { coder: 1, mergemaster: 1 })];
    expect(whyStuck(item({ stage: "qa", qa: "human" }), nodes, NOW, cfg)).toMatch(/^waiting for a person/);
    expect(whyStuck(item({ stage: "qa" }), nodes, NOW, { ...cfg, defaultQa: "server" })).toMatch(/^nothing moves it on: QA is server/);
    expect(whyStuck(item({ stage: "qa", qa: "agent" }), [node("q", { qa: 1 })], NOW, { ...cfg, defaultQa: "human" })).toBeUndefined();
    // A reader that does not know the project's mode says nothing about an item without its own.
    expect(whyStuck(item({ stage: "qa" }), nodes, NOW, { nodeAliveMs: 60_000 })).toBeUndefined();
    expect(whyStuck(item({ stage: "qa", qa: "agent" }), nodes, NOW, { nodeAliveMs: 60_000 })).toContain("no node has a QA slot");
  });

  it("says when every live node with the role is paused, with the reason and time left", () => {
    const limited = node("a", { coder: 1 }, { paused: { reason: "usage limit", since: NOW - 60_000, until: NOW + 12 * 60_000 } });
    const manual = node("b", { coder: 1 }, { paused: { reason: "maintenance", since: NOW, until: null } });
    expect(whyStuck(item(), [limited], NOW, cfg)).toBe("every live node with a coder slot is paused (a: usage limit, resumes in 12m)");
    expect(whyStuck(item(), [manual, limited], NOW, cfg)).toBe(
      "every live node with a coder slot is paused (b: maintenance, until resumed by hand, and 1 more)",
    );
    // One working node is enough; a pause whose time has passed no longer counts.
    expect(whyStuck(item(), [limited, node("c", { coder: 1 })], NOW, cfg)).toBeUndefined();
    const later = NOW + 13 * 60_000;
    expect(whyStuck(item(), [{ ...limited, lastSeen: later - 1000 }], later, cfg)).toBeUndefined();
  });

  it("points at a holder that stopped heartbeating", () => {
    const dead = node("a", { coder: 1 }, { lastSeen: NOW - 120_000 });
    expect(whyStuck(item({ claim: { node: "a" } }), [dead], NOW, cfg)).toBe(
      "its holder a is not alive: another node takes it once the claim times out",
    );
  });
});

describe("pause helpers", () => {
  it("reads pause state and time left", () => {
    expect(isPaused(node("a", {}, { paused: null }), NOW)).toBe(false);
    expect(isPaused(node("a", {}, { paused: { reason: "x", since: 0, until: NOW - 1 } }), NOW)).toBe(false);
    expect(isPaused(node("a", {}, { paused: { reason: "x", since: 0, until: null } }), NOW)).toBe(true);
    expect([timeLeft(NOW + 30_000, NOW), timeLeft(NOW + 3_000_000, NOW), timeLeft(NOW + 9_000_000, NOW), timeLeft(null, NOW)]).toEqual([
      "in 30s",
      "in 50m",
      "in 2h 30m",
      "until resumed",
    ]);
  });
});
