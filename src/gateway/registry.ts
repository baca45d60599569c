import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { JoinTokenStore } from "../trust/join-tokens.js";

/** One agent that registered with the gateway. */
export interface Registration {
  nodeId: string;
  label: string;
  /** What the agent said at registration (`--advertise`), often empty: the project's entry is the live one. */
  address: string;
  /** The project the gateway admitted it in (empty for a token bound to none). */
  project: string;
  registeredAt: number;
}

/**
 * The gateway's SQLite state: its random id, its one-time tokens (hashes only) and which project
 * each is for, and the agents that registered.
 */
export class GatewayRegistry {
  readonly tokens: JoinTokenStore;
  readonly gatewayId: string;

  constructor(private readonly db: Database.Database) {
    this.tokens = new JoinTokenStore(db);
    db.exec(`
      CREATE TABLE IF NOT EXISTS agents (node_id TEXT PRIMARY KEY, label TEXT NOT NULL, address TEXT NOT NULL, registered_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS token_projects (hash TEXT PRIMARY KEY, project TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS gateway_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    const columns = db.prepare("PRAGMA table_info(agents)").all() as Array<{ name: string }>;
    // Databases from before projects were admitted through the gateway lack the column.
    if (!columns.some((c) => c.name === "project")) db.exec("ALTER TABLE agents ADD COLUMN project TEXT NOT NULL DEFAULT ''");
    this.gatewayId = this.identity();
  }

  /** A one-time token, bound to `project` when given. */
  createToken(ttlSecs: number, project: string | undefined): { token: string; expiresAt: number } {
    const created = this.tokens.create(ttlSecs);
    if (project)
      this.db.prepare("INSERT INTO token_projects (hash, project) VALUES (?, ?)").run(JoinTokenStore.hashOf(created.token), project);
    return created;
  }

  projectOf(token: string): string | undefined {
    const row = this.db.prepare("SELECT project FROM token_projects WHERE hash = ?").get(JoinTokenStore.hashOf(token)) as
      { project: string } | undefined;
    return row?.project;
  }

  record(r: Omit<Registration, "registeredAt">, now = Date.now()): void {
    this.db
      .prepare("INSERT OR REPLACE INTO agents (node_id, label, address, project, registered_at) VALUES (?, ?, ?, ?, ?)")
      .run(r.nodeId, r.label, r.address, r.project, now);
  }

  list(): Registration[] {
    return this.db
      .prepare("SELECT node_id AS nodeId, label, address, project, registered_at AS registeredAt FROM agents ORDER BY registered_at")
      .all() as Registration[];
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM agents").get() as { n: number }).n;
  }

  /** The gateway's id: random, kept in its database so agents see the same one across restarts. */
  private identity(): string {
    const row = this.db.prepare("SELECT value FROM gateway_meta WHERE key = 'id'").get() as { value: string } | undefined;
    if (row) return row.value;
    const id = `gw_${randomBytes(16).toString("hex")}`;
    this.db.prepare("INSERT INTO gateway_meta (key, value) VALUES ('id', ?)").run(id);
    return id;
  }
}
