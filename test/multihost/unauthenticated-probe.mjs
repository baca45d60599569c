// A client without credentials, run on one of the lab's hosts: what does it get from a node?
// Usage: node unauthenticated-probe.mjs '{"rest": [urls], "sync": [wss urls]}'
// Prints one JSON line: {rest: {url: {status, text}}, sync: {url: {code, reason, syncFrames}}}.
// Certificates are not checked: an attacker does not care whose server it is.
import { randomBytes } from "node:crypto";
import { request } from "node:https";
import WebSocket from "ws";
import { ephemeralIdentity } from "../../dist/src/trust/identity.js";
import { answerText, channelBinding } from "../../dist/src/trust/handshake.js";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../../dist/src/version.js";
import { decodeFrame, encodeAuth } from "../../dist/src/sync/sync-message.js";

const { rest = [], sync = [] } = JSON.parse(process.argv[2] ?? "{}");

function get(url) {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, text: text.slice(0, 2000) }));
    });
    req.on("error", (err) => resolve({ status: 0, text: err.message }));
    req.end();
  });
}

/** Answer the challenge properly, with a fresh key nobody admitted; count sync frames received. */
function trySync(url) {
  return new Promise((resolve) => {
    const id = ephemeralIdentity();
    const mine = randomBytes(32).toString("hex");
    const ws = new WebSocket(url, { rejectUnauthorized: false });
    let syncFrames = 0;
    ws.on("message", (data) => {
      const msg = decodeFrame(new Uint8Array(data));
      if (msg.kind === "auth" && msg.frame.type === "challenge") {
        // Signed over this TLS session's binding and sent with this release's protocol: a proper
        // answer from a key nobody admitted (src/trust/handshake.ts).
        const binding = channelBinding(ws._socket);
        const signature = id.sign(answerText(msg.frame.nodeId, id.nodeId, msg.frame.challenge, mine, binding));
        const release = { protocol: PROTOCOL, minProtocol: MIN_PROTOCOL, version: VERSION };
        ws.send(encodeAuth({ type: "answer", nodeId: id.nodeId, challenge: mine, signature, ...release }));
      } else if (msg.kind !== "auth") syncFrames += 1;
    });
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString(), syncFrames }));
    ws.on("error", (err) => resolve({ code: 0, reason: err.message, syncFrames }));
  });
}

const out = { rest: {}, sync: {} };
for (const url of rest) out.rest[url] = await get(url);
for (const url of sync) out.sync[url] = await trySync(url);
console.log(JSON.stringify(out));
