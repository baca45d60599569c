import { describe, expect, it } from "vitest";
import { meshAddressAllowed } from "../../src/pipeline/mesh-address.js";
import { addressAllowed, egressVerdict, hostAllowed } from "../../src/pipeline/egress-rules.js";

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
});
