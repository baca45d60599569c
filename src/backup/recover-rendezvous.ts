import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { huskiesDir } from "../config/project-root.js";
import { UserError } from "../errors.js";
import { logger } from "../log.js";
import { Claims } from "../state/claims.js";
import { isNodeId } from "../state/document-reader.js";
import { documentSchema, SCHEMA } from "../state/migrations/index.js";
import { Replica } from "../state/replica.js";
import { openSqliteStore } from "../state/sqlite-store.js";
import { loadIdentity, loadOrCreateIdentity, nodeIdOfKeyFile, type Identity } from "../trust/identity.js";
import { loadProjectConfig } from "../config/project-config.js";
import { signHandover } from "../trust/operator-keys.js";
import { HANDOVER_FILE, writeHandoverFile } from "../trust/handover-file.js";
import { nodeSignatures } from "../trust/node-signatures.js";
import { adoptLostRendezvous, type Adopted } from "./adopt-lost-rendezvous.js";
import { resealItems } from "./reseal-items.js";
import { ItemAuthority } from "../trust/item-authority.js";
import { NODE_KEY_FILE, nodeStateIn, REPLICA_FILE } from "./node-state.js";
import { copyReplicaOnline } from "./online-copy.js";
import { summarizeReplica, type ReplicaSummary } from "./replica-summary.js";

export interface Recovery extends Adopted {
  /** The agent's `.huskies/` the replica came from. */
  from: string;
  agentNodeId: string | undefined;
  /** The lost rendezvous' key, as the agent had it pinned. */
  lostKey: string | undefined;
  /** This checkout's new rendezvous key. */
  nodeId: string;
  items: number;
  byStage: ReplicaSummary["byStage"];
  /** The operator key that signed the handover (`--operator-key`), if one did. */
  operator?: string;
  /** Items signed again with the new key (what the lost key signed stops counting). */
  resealed: number;
  /** Nodes whose certificates from the lost key still admit them here (with a handover). */
  nodes: number;
}

/**
 * `huskies serve --from-replica AGENT_DIR`, before the node starts: the rendezvous' own disk is
 * gone, so this checkout becomes the project's new rendezvous, starting from a consistent copy of
 * an agent's replica (SQLite's online backup: the agent may keep running). The new rendezvous
 * gets a new key (the old one is lost, and the agent's key stays the agent's), so agents pinned
 * to the old key refuse it until they re-join with a join string from the new one.
 *
 * Only what some agent had received can come back: stories the lost rendezvous acknowledged but
 * never sent to anyone are not in any replica.
 */
export async function recoverRendezvous(root: string, agentArg: string, operatorKeyFile?: string): Promise<Recovery> {
  const from = agentHuskiesDir(agentArg);
  const operator = operatorKeyFile ? operatorIdentity(root, operatorKeyFile) : undefined;
  const dir = huskiesDir(root);
  if (resolve(from) === resolve(dir))
    throw new UserError(`--from-replica needs another checkout's replica: ${from} is this checkout's own`);
  const state = nodeStateIn(dir);
  if (state.length)
    throw new UserError(
      `refusing to recover into ${dir}: it already holds ${state.slice(0, 5).join(", ")} (to restart a recovered rendezvous run \`huskies serve\` without --from-replica; to recover afresh use a new checkout)`,
    );
  const lostKey = pinnedRendezvous(from);
  const agentNodeId = existsSync(join(from, NODE_KEY_FILE)) ? nodeIdOfKeyFile(join(from, NODE_KEY_FILE)) : undefined;

  mkdirSync(dir, { recursive: true });
  const replicaFile = join(dir, REPLICA_FILE);
  const tmp = `${replicaFile}.recovering`;
  try {
    await copyReplicaOnline(join(from, REPLICA_FILE), tmp);
    const identity = loadOrCreateIdentity(join(dir, NODE_KEY_FILE));
    if (identity.nodeId === agentNodeId || identity.nodeId === lostKey) throw new UserError(`${dir}/${NODE_KEY_FILE} is not a new key`);
    let adopted: Adopted = { revocations: 0, directives: 0, released: [] };
    let nodes: string[] = [];
    let resealed = 0;
    // The lost key's item writes count while the new key signs them again (reseal-items.ts).
    const authority = new ItemAuthority(identity, (key) => key === identity.nodeId || key === lostKey);
    const replica = new Replica(openSqliteStore(tmp), { log: logger("state"), signatures: nodeSignatures(identity), authority });
    try {
      // An older document is migrated when the new rendezvous opens it; a newer one it could only serve read-only.
      const schema = documentSchema(replica.doc);
      if (schema === undefined || schema > SCHEMA)
        throw new UserError(
          `the replica in ${from} is of document schema ${schema ?? "(unreadable)"}, newer than this huskies understands (${SCHEMA}): recover with the huskies release the agents run`,
        );
      if (lostKey) {
        adopted = adoptLostRendezvous(replica.pipeline, new Claims(replica.pipeline), identity, lostKey);
        resealed = resealItems(replica.pipeline, authority, lostKey);
      }
      nodes = replica.pipeline
        .listNodes()
        .map((n) => n.id)
        .filter((id) => id !== lostKey);
    } finally {
      replica.close();
    }
    const summary = summarizeReplica(tmp);
    if (operator) {
      if (!lostKey) throw new UserError(`${from} names no rendezvous it followed (.huskies/rendezvous.json): nothing to hand over`);
      writeHandoverFile(dir, { handover: signHandover(operator, identity.nodeId), lostKey, nodes });
    }
    renameSync(tmp, replicaFile);
    return {
      from,
      agentNodeId,
      lostKey,
      nodeId: identity.nodeId,
      items: summary.items,
      byStage: summary.byStage,
      ...adopted,
      operator: operator?.nodeId,
      resealed,
      nodes: operator ? nodes.length : 0,
    };
  } catch (err) {
    // Leave the checkout as it was: the key too, so a retry is not refused as "already a node".
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, replicaFile, join(dir, NODE_KEY_FILE), join(dir, HANDOVER_FILE)])
      rmSync(f, { force: true });
    throw err;
  }
}

/**
 * The operator key that vouches for the new rendezvous (`--operator-key FILE`): it must exist
 * (never created here) and be one of the checkout's `operator_keys`, the list the agents check
 * it against (each reads its own checkout's project.toml, the same committed file).
 */
function operatorIdentity(root: string, file: string): Identity {
  if (!existsSync(file)) throw new UserError(`--operator-key ${file}: no such file (create one with \`huskies operator-key FILE\`)`);
  let operator: Identity;
  try {
    operator = loadIdentity(file);
  } catch (err) {
    throw new UserError(`--operator-key ${file}: not an Ed25519 private key (${(err as Error).message})`);
  }
  if (!loadProjectConfig(root).operator_keys.includes(operator.nodeId))
    throw new UserError(
      `--operator-key ${file}: its key ${operator.nodeId} is not in operator_keys of ${root}/.huskies/project.toml, so no agent would follow the handover`,
    );
  return operator;
}

/** AGENT_DIR is an agent's checkout or its `.huskies/` itself. */
function agentHuskiesDir(arg: string): string {
  const dir = resolve(arg);
  for (const candidate of [huskiesDir(dir), dir]) {
    if (existsSync(join(candidate, REPLICA_FILE))) return candidate;
  }
  throw new UserError(
    `${dir} holds no ${basename(dir) === ".huskies" ? "" : ".huskies/"}${REPLICA_FILE}: give the checkout of an agent of this project`,
  );
}

/** The rendezvous key the agent had pinned (`.huskies/rendezvous.json`), if it has one. */
function pinnedRendezvous(from: string): string | undefined {
  try {
    const pin = JSON.parse(readFileSync(join(from, "rendezvous.json"), "utf8")) as { nodeId?: unknown };
    return isNodeId(pin.nodeId) ? pin.nodeId : undefined;
  } catch {
    return undefined;
  }
}
