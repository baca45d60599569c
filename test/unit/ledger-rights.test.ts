import * as Y from "yjs";
import { describe, expect, it } from "vitest";
import { AccountLedger } from "../../src/state/account-ledger.js";
import { ephemeralIdentity } from "../../src/trust/identity.js";
import { ACCOUNT_PAUSE_KIND, ACCOUNTS_MAP, signLedger, SPEND_KIND, SPEND_MAP } from "../../src/trust/ledger-signatures.js";
import { KNOWN_ROOTS, unknownRoots } from "../../src/trust/update-guard.js";
import { LEDGER_RIGHTS, mayWriteLedger } from "../../src/trust/write-rights.js";

/** The account ledger's rows of the rights table (issue 28 on top of issue 27's signed writes). */
describe("the ledger's write rights", () => {
  const a = ephemeralIdentity();
  const b = ephemeralIdentity();
  const members = new Set([a.nodeId, b.nodeId]);
  const isMember = (id: string) => members.has(id);
  const now = 1_800_000_000_000;
  const pause = (until: number) => ({ account: "team", reason: "usage limit", since: now, until, cause: "limit" as const });

  it("a member node may pause any account for at most 8 days; a stranger, another key or a longer pause is refused", () => {
    expect(mayWriteLedger(ACCOUNTS_MAP, "team", { ...pause(now + 3_600_000), node: b.nodeId }, isMember)).toEqual({ ok: true });
    expect(mayWriteLedger(ACCOUNTS_MAP, "team", { ...pause(now + 8 * 86_400_000), node: a.nodeId }, isMember).ok).toBe(true);
    expect(mayWriteLedger(ACCOUNTS_MAP, "team", { ...pause(now + 8 * 86_400_000 + 1), node: a.nodeId }, isMember).ok).toBe(false);
    expect(mayWriteLedger(ACCOUNTS_MAP, "other", { ...pause(now + 1), node: a.nodeId }, isMember).ok).toBe(false);
    expect(mayWriteLedger(ACCOUNTS_MAP, "team", { ...pause(now - 1), node: a.nodeId }, isMember).ok).toBe(false);
    expect(mayWriteLedger(ACCOUNTS_MAP, "team", { ...pause(now + 1), node: ephemeralIdentity().nodeId }, isMember).ok).toBe(false);
  });

  it("a node's spend is written only by that node", () => {
    expect(mayWriteLedger(SPEND_MAP, a.nodeId, { node: a.nodeId }, isMember)).toEqual({ ok: true });
    expect(mayWriteLedger(SPEND_MAP, a.nodeId, { node: b.nodeId }, isMember).ok).toBe(false);
    expect(LEDGER_RIGHTS).toEqual({
      accounts: { kind: ACCOUNT_PAUSE_KIND, signer: "any member node" },
      spend: { kind: SPEND_KIND, signer: "the node the key names" },
    });
  });

  it("a joined agent's ledger writes pass the update guard (known roots)", () => {
    expect(KNOWN_ROOTS.has(ACCOUNTS_MAP) && KNOWN_ROOTS.has(SPEND_MAP)).toBe(true);
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on("update", (u: Uint8Array) => updates.push(u));
    const ledger = new AccountLedger(doc, a, isMember);
    ledger.pause("team", pause(now + 60_000));
    ledger.recordSpend("2027-01-15", "team", "codex", 1.25);
    expect(updates.length).toBe(2);
    for (const u of updates) expect(unknownRoots(u)).toEqual([]);
    // A reset further out than readers act on is written at the longest pause they accept.
    const { account: _team, ...far } = pause(now + 30 * 86_400_000);
    ledger.pause("far", far);
    const other = new AccountLedger(doc, b, isMember);
    expect(other.paused("far", now + 1)?.until).toBe(now + 8 * 86_400_000);
  });

  it("on read: another node's spend under my key, an over-long pause and replays of older entries say nothing new", () => {
    const doc = new Y.Doc();
    const reader = new AccountLedger(doc, ephemeralIdentity(), isMember);
    const spendOf = (who: typeof a, total: number, day = "2027-01-15") =>
      signLedger(who, SPEND_KIND, { day, total, accounts: { team: total }, runtimes: { codex: total }, at: now });
    // b signs an entry placed under a's key: refused.
    doc.getMap(SPEND_MAP).set(a.nodeId, spendOf(b, 5));
    expect(reader.spentOn("2027-01-15").total).toBe(0);
    // a's own entries: 3 then 7; writing the older 3 again (a replay) leaves 7; so does deleting it.
    doc.getMap(SPEND_MAP).set(a.nodeId, spendOf(a, 3));
    const three = doc.getMap(SPEND_MAP).get(a.nodeId);
    expect(reader.spentOn("2027-01-15").total).toBe(3);
    doc.getMap(SPEND_MAP).set(a.nodeId, spendOf(a, 7));
    expect(reader.spentOn("2027-01-15").total).toBe(7);
    doc.getMap(SPEND_MAP).set(a.nodeId, three);
    expect(reader.spentOn("2027-01-15").total).toBe(7);
    doc.getMap(SPEND_MAP).delete(a.nodeId);
    expect(reader.spentOn("2027-01-15").total).toBe(7);

    // A pause of nine days is not acted on; a later reset written again earlier does not shorten it.
    doc.getMap(ACCOUNTS_MAP).set("team", signLedger(a, ACCOUNT_PAUSE_KIND, pause(now + 9 * 86_400_000)));
    expect(reader.paused("team", now + 1)).toBeUndefined();
    const short = signLedger(a, ACCOUNT_PAUSE_KIND, pause(now + 60_000));
    doc.getMap(ACCOUNTS_MAP).set("team", signLedger(b, ACCOUNT_PAUSE_KIND, pause(now + 3_600_000)));
    expect(reader.paused("team", now + 1)).toMatchObject({ node: b.nodeId, until: now + 3_600_000 });
    doc.getMap(ACCOUNTS_MAP).set("team", short);
    expect(reader.paused("team", now + 120_000)).toMatchObject({ node: b.nodeId, until: now + 3_600_000 });
    expect(reader.pauses(now + 120_000).map((p) => p.account)).toEqual(["team"]);
  });
});
