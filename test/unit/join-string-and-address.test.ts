import { describe, expect, it } from "vitest";
import { AdvertisedAddress, parseAdvertise, syncUrlOf } from "../../src/node/advertised-address.js";
import { reachableAuthority } from "../../src/server/join-issuer.js";
import { decodeJoin, encodeJoin, JOIN_PREFIX } from "../../src/trust/join-string.js";

const KEY = "ab".repeat(32);
const FP = "cd".repeat(32);

describe("join strings", () => {
  it("round-trip both kinds; fingerprints are normalized", () => {
    const r = { v: 1, kind: "rendezvous", url: "wss://10.0.0.1:3001/crdt-sync", nodeId: KEY, token: "hj_x", fingerprint: FP } as const;
    expect(encodeJoin(r).startsWith(JOIN_PREFIX)).toBe(true);
    expect(decodeJoin(encodeJoin(r))).toEqual(r);
    const colons = FP.toUpperCase().match(/../g)!.join(":");
    expect(decodeJoin(encodeJoin({ ...r, fingerprint: colons }))).toEqual(r);
    const g = {
      v: 1,
      kind: "gateway",
      url: "https://10.0.0.1:3000",
      gatewayId: `gw_${"0".repeat(32)}`,
      token: "hj_y",
      project: "demo",
      fingerprint: FP,
    } as const;
    expect(decodeJoin(`  ${encodeJoin(g)}\n`)).toEqual(g);
  });

  it("refuses anything else with one clear message", () => {
    const bad = (o: unknown) => JOIN_PREFIX + Buffer.from(JSON.stringify(o)).toString("base64url");
    const base = { v: 1, kind: "rendezvous", url: "wss://h:1/crdt-sync", nodeId: KEY };
    expect(() => decodeJoin("ws://h:1/crdt-sync")).toThrow("not a huskies join string: it must start with hj1.");
    expect(() => decodeJoin(`${JOIN_PREFIX}!!`)).toThrow("it is damaged");
    expect(() => decodeJoin(bad({ ...base, v: 2 }))).toThrow(/^not a usable join string: v: /);
    expect(() => decodeJoin(bad({ ...base, nodeId: "x" }))).toThrow(/nodeId/);
    expect(() => decodeJoin(bad({ ...base, extra: 1 }))).toThrow(/not a usable join string/);
    expect(() => decodeJoin(bad({ ...base, fingerprint: "12" }))).toThrow("fingerprint must be a SHA-256 (64 hex digits)");
    expect(() => decodeJoin(bad({ ...base, url: "ws://h:1/crdt-sync", fingerprint: FP }))).toThrow(
      "a certificate fingerprint needs a wss:// URL",
    );
  });
});

describe("advertised addresses", () => {
  const make = (o: Partial<ConstructorParameters<typeof AdvertisedAddress>[0]> = {}) =>
    new AdvertisedAddress({ role: "agent", boundHost: "0.0.0.0", tls: true, port: () => 3002, publicUrls: () => [], ...o });

  it("an agent on all interfaces advertises the local end of its link to the rendezvous, with its own port and scheme", () => {
    const a = make();
    expect(a.learnLocalAddress("::ffff:10.1.2.3")).toBe(true);
    expect(a.current()).toBe("wss://10.1.2.3:3002/crdt-sync");
    expect(a.learnLocalAddress("10.1.2.3")).toBe(false);
    // A loopback link says nothing about other hosts: an earlier routable guess stays.
    expect(a.learnLocalAddress("127.0.0.1")).toBe(false);
    expect(a.current()).toBe("wss://10.1.2.3:3002/crdt-sync");
    expect(a.learnLocalAddress("fd00::5")).toBe(true);
    expect(a.current()).toBe("wss://[fd00::5]:3002/crdt-sync");
  });

  it("--advertise wins; a specific bound address beats the link; the rendezvous uses public_urls[0]", () => {
    expect(make({ explicit: "https://agent.example:8443/" }).current()).toBe("wss://agent.example:8443/crdt-sync");
    const bound = make({ boundHost: "10.9.9.9", tls: false });
    bound.learnLocalAddress("10.1.2.3");
    expect(bound.current()).toBe("ws://10.9.9.9:3002/crdt-sync");
    expect(make({ role: "rendezvous", publicUrls: () => ["https://huskies.example/team/"] }).current()).toBe(
      "wss://huskies.example/team/crdt-sync",
    );
    expect(make({ role: "rendezvous", boundHost: "127.0.0.1", tls: false }).current()).toBe("ws://127.0.0.1:3002/crdt-sync");
  });

  it("validates --advertise and maps URLs to /crdt-sync", () => {
    expect(parseAdvertise("ws://10.0.0.2:3002/crdt-sync")).toBe("ws://10.0.0.2:3002/crdt-sync");
    expect(syncUrlOf("http://h:1")).toBe("ws://h:1/crdt-sync");
    expect(() => parseAdvertise("10.0.0.2:3002")).toThrow(/--advertise must be/);
    expect(() => parseAdvertise("wss://0.0.0.0:3002")).toThrow("not 0.0.0.0");
  });

  it("a join string names the Host the caller used, unless that is loopback on a routably bound server", () => {
    expect(reachableAuthority("10.0.0.1:3001", "0.0.0.0", 3001)).toBe("10.0.0.1:3001");
    expect(reachableAuthority("127.0.0.1:3001", "10.0.0.1", 3001)).toBe("10.0.0.1:3001");
    expect(reachableAuthority("localhost:3001", "0.0.0.0", 3001)).toBe("localhost:3001");
    expect(reachableAuthority(undefined, "::", 3001)).toBe("127.0.0.1:3001");
  });
});
