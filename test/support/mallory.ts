import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster, NodeProc } from "./cluster.js";
import { DocClient } from "./doc-client.js";
import { waitFor } from "./wait-for.js";
import { loadOrCreateIdentity } from "../../src/trust/identity.js";
import type { Certificate } from "../../src/trust/admission.js";

/** A one-time join token from `server` (its admin token as bearer). */
export async function joinTokenFrom(server: NodeProc, admin: string): Promise<string> {
  const res = await fetch(`${server.http}/api/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ ttlSecs: 600 }),
  });
  return ((await res.json()) as { token: string }).token;
}

/**
 * An admitted node that is not an operator (issue 27's attacker): a real agent joins with a join
 * token, so its key is admitted and holds a certificate from the rendezvous, then stops; the test
 * writes with that agent's key and certificate through huskies' own sync code, signing as huskies
 * does. The client reads the rendezvous' writes as valid (it knows the rendezvous key).
 */
export async function admittedNonOperator(cluster: Cluster, server: NodeProc, root: string, admin: string): Promise<DocClient> {
  const m = await cluster.agent(root, server.ws, ["--join-token", await joinTokenFrom(server, admin), "--label", "mallory"]);
  const certFile = join(root, ".huskies", "admission.json");
  await waitFor(() => existsSync(certFile), "mallory's certificate");
  await m.stop();
  const client = new DocClient(loadOrCreateIdentity(join(root, ".huskies", "node.key")), { signs: true, operators: [server.nodeId] });
  client.certificate = JSON.parse(readFileSync(certFile, "utf8")) as Certificate;
  await client.link(server.ws);
  return client;
}
