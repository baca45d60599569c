import { LATEST_PROTOCOL_VERSION, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { GATEWAY_MCP_TIMEOUT_MS, GATEWAY_PROJECT_CACHE_MS, GATEWAY_PROJECT_TIMEOUT_MS } from "../config/defaults.js";
import type { PipelineView } from "../server/operator-actions.js";
import { decodeJoin } from "../trust/join-string.js";
import { pinnedRequest, type PinnedResponse } from "../trust/pinned-request.js";

/** A project the gateway fronts (`[[project]]` in projects.toml). */
export interface GatewayProject {
  name: string;
  /** The project server's http(s) base URL. */
  url: string;
  /** The project's admin token (read from the variable `admin_token_env` names); never shown. */
  adminToken?: string;
  /** SHA-256 of the project server's certificate, for a self-signed one. */
  fingerprint?: string;
}

/** What the gateway reads of a project: its pipeline and how long its nodes count as alive. */
export interface ProjectSnapshot {
  reachable: boolean;
  error?: string;
  pipeline?: PipelineView;
  nodeAliveSecs: number;
  /** When it was read (gateway clock, ms). */
  at: number;
}

/**
 * The gateway's client for one project's REST API, with that project's admin token and, for a
 * self-signed server, its pinned certificate (checked before the token is sent). Reads are
 * cached briefly, so any number of gateway pages polling every second cost each project about
 * one read per `GATEWAY_PROJECT_CACHE_MS`.
 */
export class ProjectClient {
  private cached: Promise<ProjectSnapshot> | undefined;
  private cachedAt = 0;

  constructor(readonly project: GatewayProject) {}

  private call<T>(
    path: string,
    body?: unknown,
    o: { headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<PinnedResponse<T>> {
    const p = this.project;
    return pinnedRequest<T>(`${p.url.replace(/\/+$/, "")}${path}`, {
      method: body === undefined ? "GET" : "POST",
      body,
      headers: { ...o.headers, ...(p.adminToken ? { authorization: `Bearer ${p.adminToken}` } : {}) },
      fingerprint: p.url.startsWith("https:") ? p.fingerprint : undefined,
      timeoutMs: o.timeoutMs ?? GATEWAY_PROJECT_TIMEOUT_MS,
    });
  }

  /**
   * Call one tool of the project's `/mcp` (stateless: one JSON-RPC request, no session) and
   * return its result as the project gave it, a tool error included. Throws when the project
   * cannot be reached or refuses the request (its admin token, a pin mismatch).
   */
  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const res = await this.call<{ result?: CallToolResult; error?: { message?: string } } | { error?: string }>(
      "/mcp",
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } },
      {
        headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": LATEST_PROTOCOL_VERSION },
        timeoutMs: GATEWAY_MCP_TIMEOUT_MS,
      },
    );
    const body = typeof res.body === "object" && res.body ? res.body : {};
    const err = (body as { error?: unknown }).error;
    const message = typeof err === "string" ? err : (err as { message?: string } | undefined)?.message;
    if (res.status !== 200 || !("result" in body) || !body.result)
      throw new Error(`project ${this.project.name} answered ${res.status === 200 ? "" : `HTTP ${res.status}: `}${message ?? "no result"}`);
    this.cached = undefined;
    return body.result;
  }

  /** The project's pipeline view, at most `GATEWAY_PROJECT_CACHE_MS` old. Never rejects. */
  snapshot(now = Date.now()): Promise<ProjectSnapshot> {
    if (this.cached && now - this.cachedAt < GATEWAY_PROJECT_CACHE_MS) return this.cached;
    this.cachedAt = now;
    this.cached = this.read(now);
    return this.cached;
  }

  private async read(at: number): Promise<ProjectSnapshot> {
    try {
      const [pipeline, health] = await Promise.all([
        this.call<PipelineView & { error?: string }>("/api/pipeline"),
        this.call<{ config?: { node_alive_secs?: number } }>("/health"),
      ]);
      if (pipeline.status !== 200)
        return { reachable: false, error: `HTTP ${pipeline.status}: ${pipeline.body?.error ?? ""}`.trim(), nodeAliveSecs: 60, at };
      return { reachable: true, pipeline: pipeline.body, nodeAliveSecs: health.body?.config?.node_alive_secs ?? 60, at };
    } catch (err) {
      return { reachable: false, error: (err as Error).message, nodeAliveSecs: 60, at };
    }
  }

  /**
   * Admit a key in this project (`POST /api/nodes/admit`, admin token). Returns the project's
   * join string for it (URL, key, fingerprint; no token). Throws with the project's reason.
   */
  async admit(nodeId: string): Promise<string> {
    const res = await this.call<{ join?: string; error?: string }>("/api/nodes/admit", { nodeId });
    if (res.status !== 201 || typeof res.body?.join !== "string")
      throw new Error(`project ${this.project.name} refused: ${res.body?.error ?? `HTTP ${res.status}`}`);
    const join = decodeJoin(res.body.join);
    if (join.kind !== "rendezvous") throw new Error(`project ${this.project.name} answered with a gateway join string`);
    // The project must be the server the gateway pinned: its join string names the same certificate.
    if (this.project.fingerprint && join.fingerprint && join.fingerprint !== res.fingerprint)
      throw new Error(`project ${this.project.name} names a certificate it does not serve`);
    this.cached = undefined;
    return res.body.join;
  }
}
