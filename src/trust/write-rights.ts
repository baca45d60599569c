import { checkTransition, type Actor } from "../pipeline/transitions.js";
import { isStage, type Stage } from "../pipeline/stages.js";
import { ACCOUNT_PAUSE_MAX_SECS } from "../config/defaults.js";
import { ACCOUNT_PAUSE_KIND, ACCOUNTS_MAP, SPEND_KIND, SPEND_MAP, type LedgerKind } from "./ledger-signatures.js";

/**
 * The rights table: which key may sign which field of the document (docs/architecture.md §13).
 * Every field that decides what runs belongs to exactly one signed group; a group is written
 * whole (all its fields and its signature record in one transaction), so the last writer of a
 * group wins all of its fields together and the signature always covers what readers see.
 *
 * | group   | fields                                                   | may sign                                          |
 * | ------- | -------------------------------------------------------- | ------------------------------------------------- |
 * | `item`  | id, name, type, body, createdAt, dependsOn, qa           | an operator key                                   |
 * | `place` | stage, stageAt, claim, epoch, logNode                    | an operator key (moves, grants, releases);        |
 * |         |                                                          | the named node for its own claim (autonomous);    |
 * |         |                                                          | the holder: release or a move the transition      |
 * |         |                                                          | table allows its role from the claim's stage      |
 * | `work`  | retries, blocked, failure, lastRun, branch, mergeCommit  | an operator key; the holder of the claim          |
 * | `claim` | (the claim object itself: node, at, epoch, stage)        | an operator key (the sequencer); the named node   |
 *
 * The account ledger (issue 28) is two maps of per-writer entries, each signed whole
 * (`signRecord`) by the node it names in `node` (`LEDGER_RIGHTS`, `mayWriteLedger`):
 *
 * | map        | key          | may sign                                                          |
 * | ---------- | ------------ | ----------------------------------------------------------------- |
 * | `accounts` | account name | any member node (the one that saw the limit), for at most 8 days  |
 * | `spend`    | node id      | that node only                                                    |
 *
 * Operator keys: the rendezvous key and `operator_keys` of project.toml. Holder writes carry
 * the signed claim they were made under (`held`), so the epoch is bound into the signature and a
 * reader that missed the grant can still check them. Node entries (`huskies-node-v1`, signed by
 * their node), revocations and operator directives (an operator key) are the other signed maps.
 *
 * Adding a signed map or field: give each field one group here (a new group gets its own
 * signature key and kind), state who may sign it in `mayWrite`, and read the field only through
 * the verified view (`ItemAuthority.read`). Claim requests are unsigned on purpose: only the
 * sequencer reads them, and each node writes its own key.
 */
export const GROUPS = {
  item: { fields: ["id", "name", "type", "body", "createdAt", "dependsOn", "qa"], sigKey: "itemSig", kind: "huskies-item-v1" },
  place: { fields: ["stage", "stageAt", "claim", "epoch", "logNode"], sigKey: "placeSig", kind: "huskies-place-v1" },
  work: { fields: ["retries", "blocked", "failure", "lastRun", "branch", "mergeCommit"], sigKey: "workSig", kind: "huskies-work-v1" },
} as const;

export type Group = keyof typeof GROUPS;
export const GROUP_NAMES = Object.keys(GROUPS) as Group[];
export const CLAIM_KIND = "huskies-claim-v1";

/** The group a field belongs to, if it is signed. */
export function groupOf(field: string): Group | undefined {
  for (const g of GROUP_NAMES) if ((GROUPS[g].fields as readonly string[]).includes(field)) return g;
  return undefined;
}

/** A claim as granted and signed: `{node, at, epoch, stage}` plus who granted it and the signature. */
export interface SignedClaim {
  node: string;
  at: number;
  epoch: number;
  stage: Stage;
  by: string;
  sig: string;
}

/** What a reader knows of an item from its own history (monotone: never goes back). */
export interface ItemHistory {
  /** The highest claim epoch this reader has seen in a verified write. */
  maxEpoch: number;
  /** The stage of the last verified place record, if any. */
  stage?: Stage;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

const OK: Verdict = { ok: true };
const no = (reason: string): Verdict => ({ ok: false, reason });

/** The role that holds claims in a stage, as an actor of the transition table. */
const HOLDER_ACTOR: Partial<Record<Stage, Actor>> = { current: "coder", qa: "qa", merge: "mergemaster" };

/** Facts the transition guards ask for; the holder checked the real ones before it wrote. */
const GUARDS_SATISFIED = { reason: "holder", commitsAhead: 1, mergeCommit: "0000000" };

/** Stages a holder of a claim granted in `from` may move the item to. Pure. */
export function holderTargets(from: Stage): Stage[] {
  const actor = HOLDER_ACTOR[from];
  if (!actor) return [];
  const out: Stage[] = [];
  for (const to of ["backlog", "current", "qa", "merge", "done", "archived"] as const) {
    if (to !== from && checkTransition(from, to, { actor, ...GUARDS_SATISFIED }).ok) out.push(to);
  }
  // Server QA: the coder that submitted to `qa` passes it straight on to `merge`, as a second write.
  if (from === "current") out.push("merge");
  return out;
}

function sameClaim(a: unknown, b: SignedClaim): boolean {
  const c = a as Partial<SignedClaim> | null;
  return !!c && c.node === b.node && c.at === b.at && c.epoch === b.epoch && c.stage === b.stage && c.by === b.by && c.sig === b.sig;
}

/**
 * Whether `by` may sign `values` for `group` of an item. `held` is the verified claim a
 * non-operator wrote under (undefined when absent or invalid); `isOperator` tells operator keys.
 * Pure: the signature itself is checked by the caller.
 */
export function mayWrite(
  group: Group,
  by: string,
  values: Record<string, unknown>,
  held: SignedClaim | undefined,
  isOperator: (key: string) => boolean,
  history: ItemHistory,
): Verdict {
  if (isOperator(by)) return OK;
  if (group === "item") return no("only an operator key may write an item's existence and body");
  if (!held) return no("not an operator, and no valid claim held");
  if (held.node !== by) return no("the claim held names another node");
  if (held.epoch < history.maxEpoch) return no(`a stale claim (epoch ${held.epoch} < ${history.maxEpoch})`);
  if (group === "work") return OK;
  // place
  const stage = values.stage;
  if (!isStage(stage)) return no("invalid stage");
  if (values.epoch !== held.epoch) return no("the epoch is not the held claim's");
  if (held.by === by && sameClaim(values.claim, held)) {
    // A node granting itself (autonomous): only in the stage the item is in, as far as this reader knows.
    if (stage !== held.stage) return no("a self-granted claim cannot move the item");
    if (!HOLDER_ACTOR[stage]) return no(`nothing is claimed in ${stage}`);
    if (history.stage !== undefined && history.stage !== stage)
      return no(`a self-granted claim for ${stage}, the item is in ${history.stage}`);
    return OK;
  }
  if (values.claim === null || values.claim === undefined) {
    if (stage === held.stage) return OK; // release
    if (holderTargets(held.stage).includes(stage)) return OK;
    return no(`a holder in ${held.stage} may not move the item to ${stage}`);
  }
  if (sameClaim(values.claim, held) && stage === held.stage) return OK; // a holder's write that keeps its claim
  return no("a holder may not grant a claim");
}

/** Who may sign an entry of each ledger map, and under which record kind (see the table above). */
export const LEDGER_RIGHTS = {
  [ACCOUNTS_MAP]: { kind: ACCOUNT_PAUSE_KIND, signer: "any member node" },
  [SPEND_MAP]: { kind: SPEND_KIND, signer: "the node the key names" },
} as const satisfies Record<string, { kind: LedgerKind; signer: string }>;

export type LedgerMap = keyof typeof LEDGER_RIGHTS;

/**
 * Whether an entry of a ledger map under `key`, whose record names `node` as its signer, may count
 * (the signature itself is checked by the caller, against `node`). Pure. A member is a node with a
 * verified, unrevoked entry in `nodes`; an operator key has no business in the ledger.
 */
export function mayWriteLedger(
  map: LedgerMap,
  key: string,
  record: { node: string; account?: unknown; since?: unknown; until?: unknown },
  isMember: (nodeId: string) => boolean,
): Verdict {
  if (!isMember(record.node)) return no("the signer is not a member node of this project");
  if (map === SPEND_MAP) return record.node === key ? OK : no("a node's spend is written only by that node");
  if (record.account !== key) return no("the pause names another account than its key");
  const { since, until } = record;
  if (typeof since !== "number" || typeof until !== "number" || until < since) return no("a pause needs since <= until");
  if (until - since > ACCOUNT_PAUSE_MAX_SECS * 1000) return no(`a pause longer than ${ACCOUNT_PAUSE_MAX_SECS / 86400} days`);
  return OK;
}
