import { describe, expect, it } from "vitest";
import { meshAddressAllowed } from "../../src/pipeline/mesh-address.js";
import { addressAllowed, canonicalAddress, egressVerdict, hostAllowed } from "../../src/pipeline/egress-rules.js";

describe("what the mesh dials", () => {
  it("only ws/wss URLs whose path is /crdt-sync, never link-local or metadata addresses", () => {
    expect(meshAddressAllowed("ws://127.0.0.1:3002/crdt-sync")).toBe(true);
    expect(meshAddressAllowed("wss://10.0.0.2:3002/crdt-sync")).toBe(true);
    expect(meshAddressAllowed("ws://127.0.0.1:4180/latest/meta-data")).toBe(false);
    expect(meshAddressAllowed("ws://127.0.0.1:3001/api/nodes/admit")).toBe(false);
    expect(meshAddressAllowed("ws://127.0.0.1:3001/crdt-sync?x=1")).toBe(false);
    expect(meshAddressAllowed("http://127.0.0.1:3001/crdt-sync")).toBe(false);
    expect(meshAddressAllowed("ws://169.254.169.254/crdt-sync")).toBe(false);
    expect(meshAddressAllowed("ws://[fe80::1]:3002/crdt-sync")).toBe(false);
    expect(meshAddressAllowed("ws://metadata.google.internal/crdt-sync")).toBe(false);
    expect(meshAddressAllowed("ws://user:pw@10.0.0.2/crdt-sync")).toBe(false);
  });
});

describe("where a confined process may connect", () => {
  const own = new Set(["10.0.0.5"]);
  it("never loopback, link-local, unspecified or the node's own addresses", () => {
    for (const a of [
      "127.0.0.1",
      "127.3.2.1",
      "::1",
      "169.254.169.254",
      "0.0.0.0",
      "::ffff:127.0.0.1",
      "fe80::1",
      "10.0.0.5",
      "fd00:ec2::254",
    ])
      expect(addressAllowed(a, own).ok, a).toBe(false);
    for (const a of ["104.16.0.1", "10.0.0.9", "2606:4700::1"]) expect(addressAllowed(a, own).ok, a).toBe(true);
  });
  it("a name is judged by every address it resolves to, and by allow_hosts when set", () => {
    expect(egressVerdict("registry.npmjs.org", ["104.16.0.1"], { allowHosts: [], ownAddresses: own }).ok).toBe(true);
    expect(egressVerdict("rebind.example", ["104.16.0.1", "127.0.0.1"], { allowHosts: [], ownAddresses: own }).ok).toBe(false);
    expect(hostAllowed("registry.npmjs.org", ["*.npmjs.org"])).toBe(true);
    expect(hostAllowed("npmjs.org.evil.com", ["*.npmjs.org"])).toBe(false);
    expect(egressVerdict("evil.com", ["1.2.3.4"], { allowHosts: ["registry.npmjs.org"], ownAddresses: own }).ok).toBe(false);
  });
  it("another spelling of an address is the same address (IPv4-mapped, IPv4-compatible, NAT64, long form)", () => {
    expect(canonicalAddress("::ffff:7f00:1")).toBe("127.0.0.1");
    expect(canonicalAddress("0:0:0:0:0:ffff:7f00:1")).toBe("127.0.0.1");
    expect(canonicalAddress("::127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("64:ff9b::a9fe:a9fe")).toBe("169.254.169.254");
    expect(canonicalAddress("[0:0:0:0:0:0:0:1]")).toBe("0:0:0:0:0:0:0:1");
    expect(canonicalAddress("FE80::1%eth0")).toBe("fe80:0:0:0:0:0:0:1");
    expect(canonicalAddress("1:2:3")).toBeUndefined();
    const own = new Set(["2001:db8::5"]);
    for (const a of [
      "::ffff:7f00:1",
      "0:0:0:0:0:ffff:7f00:1",
      "0:0:0:0:0:0:0:1",
      "::127.0.0.1",
      "::ffff:a9fe:a9fe",
      "2001:0db8:0:0:0:0:0:5",
    ])
      expect(addressAllowed(a, own).ok, a).toBe(false);
    expect(addressAllowed("::ffff:104.16.0.1", own).ok).toBe(true);
    expect(meshAddressAllowed("ws://[::ffff:169.254.169.254]/crdt-sync")).toBe(false);
    expect(meshAddressAllowed("ws://[0:0:0:0:0:ffff:a9fe:a9fe]:80/crdt-sync")).toBe(false);
  });
});
