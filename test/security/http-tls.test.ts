import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Cluster, runCli } from "../support/cluster.js";
import { createProject, type Project } from "../support/git-fixture.js";
import { projectToml } from "../support/coders.js";
import { rawRequest } from "../support/raw-http.js";
import { waitFor } from "../support/wait-for.js";

const cluster = new Cluster();
let project: Project | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((c) => c());
  await cluster.stopAll();
  project?.cleanup();
});

/** A self-signed Ed25519 certificate for localhost / 127.0.0.1, made fresh for this run. */
let certDir: string;
let cert: string;
let key: string;
beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), "huskies-tls-"));
  cert = join(certDir, "cert.pem");
  key = join(certDir, "key.pem");
  const selfSigned = (c: string, k: string) =>
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ed25519",
        "-keyout",
        k,
        "-out",
        c,
        "-days",
        "2",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
  selfSigned(cert, key);
  selfSigned(join(certDir, "other-cert.pem"), join(certDir, "other-key.pem"));
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

const JSON_CT = { "content-type": "application/json" };

describe("TLS on the server side", () => {
  it("serve --tls-cert/--tls-key answers https and wss on one port; the start line and /health say so", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const server = await cluster.server(project.root, ["--no-agent", "--tls-cert", cert, "--tls-key", key]);
    const https = `https://127.0.0.1:${server.port}`;
    const line = await waitFor(() => server.stdout.find((l) => l.startsWith("huskies serving")), "the start line");
    expect(line).toContain(`on https://127.0.0.1:${server.port} (board /, sync wss://127.0.0.1:${server.port}/crdt-sync`);

    const health = await rawRequest(`${https}/health`);
    expect(health.json()).toMatchObject({ nodeId: server.nodeId, tls: true, address: expect.stringMatching(/^wss:\/\//) });
    const created = await rawRequest(`${https}/api/stories`, {
      method: "POST",
      body: JSON.stringify({ name: "Over TLS" }),
      headers: JSON_CT,
    });
    expect(created.status).toBe(201);
    // The board is served over https, and the guard takes https://host as the node's own origin.
    expect((await rawRequest(`${https}/`)).text).toContain("<html");
    expect((await rawRequest(`${https}/api/pipeline`, { headers: { origin: https } })).status).toBe(200);
    expect((await rawRequest(`${https}/api/pipeline`, { headers: { origin: `http://127.0.0.1:${server.port}` } })).status).toBe(403);

    // wss: a stock y-websocket client (trusting the self-signed cert) gets the document.
    class TrustingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { rejectUnauthorized: false });
      }
    }
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(`wss://127.0.0.1:${server.port}`, "crdt-sync", doc, {
      WebSocketPolyfill: TrustingWebSocket as never,
      disableBc: true,
    });
    cleanups.push(() => provider.destroy());
    await waitFor(
      () => (doc.getMap("items").get("1_story_over_tls") as Y.Map<unknown> | undefined)?.get("name") === "Over TLS",
      "the story over wss",
    );

    // Plain http on the TLS port gets no answer it could mistake for one.
    await expect(rawRequest(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
    // A client that checks certificates refuses the self-signed one unless told to trust it.
    await expect(fetch(`${https}/health`)).rejects.toThrow();
  });

  it("[tls] in project.toml, paths relative to the project root; unreadable or mismatched files are one clear error", async () => {
    project = createProject({ projectToml: projectToml({}) });
    const tomlFile = join(project.root, ".huskies", "project.toml");
    mkdirSync(join(project.root, ".huskies", "tls"));
    copyFileSync(cert, join(project.root, ".huskies", "tls", "cert.pem"));
    copyFileSync(key, join(project.root, ".huskies", "tls", "key.pem"));
    const withTls = (c: string, k: string) => writeFileSync(tomlFile, `${projectToml({})}\n[tls]\ncert = "${c}"\nkey = "${k}"\n`);

    withTls(".huskies/tls/cert.pem", ".huskies/tls/key.pem");
    const server = await cluster.server(project.root, ["--no-agent"]);
    expect((await rawRequest(`https://127.0.0.1:${server.port}/health`)).json()).toMatchObject({ tls: true });
    await server.stop();

    withTls("missing-cert.pem", ".huskies/tls/key.pem");
    const missing = await runCli(["serve", project.root, "--no-agent", "--port", "0"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      1,
      `error: invalid config ${tomlFile}: key \`tls.cert\`: cannot read ${join(project.root, "missing-cert.pem")}: ENOENT`,
    ]);

    withTls(".huskies/tls/cert.pem", ".huskies/tls");
    const dir = await runCli(["serve", project.root, "--no-agent", "--port", "0"]);
    expect([dir.code, dir.stderr.trim()]).toEqual([
      1,
      `error: invalid config ${tomlFile}: key \`tls.key\`: cannot read ${join(project.root, ".huskies", "tls")}: EISDIR`,
    ]);

    const mismatched = await runCli([
      "serve",
      project.root,
      "--no-agent",
      "--port",
      "0",
      "--tls-cert",
      cert,
      "--tls-key",
      join(certDir, "other-key.pem"),
    ]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr.trim()).toMatch(/^error: --tls-cert: .*cert\.pem and .*other-key\.pem are not a usable certificate and key: /);
    expect(mismatched.stderr.trim().split("\n")).toHaveLength(1);

    const half = await runCli(["serve", project.root, "--no-agent", "--port", "0", "--tls-cert", cert]);
    expect([half.code, half.stderr.trim()]).toEqual([1, "error: --tls-cert and --tls-key go together: give both"]);
  });

  it("huskies gateway --tls-cert/--tls-key serves https", async () => {
    const gw = await cluster.gateway(["--tls-cert", cert, "--tls-key", key]);
    const line = await waitFor(() => gw.stdout.find((l) => l.startsWith("huskies gateway on")), "the start line");
    expect(line).toBe(`huskies gateway on https://127.0.0.1:${gw.port}`);
    expect((await rawRequest(`https://127.0.0.1:${gw.port}/health`)).json()).toMatchObject({ role: "gateway", tls: true });
    const token = await rawRequest(`https://127.0.0.1:${gw.port}/gateway/tokens`, { method: "POST", body: "{}", headers: JSON_CT });
    expect(token.status).toBe(201);
  });
});
