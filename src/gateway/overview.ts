import { STAGES, type Stage } from "../pipeline/stages.js";
import type { NodeEntry, PauseState } from "../state/item.js";
import type { ProjectSnapshot } from "./project-client.js";
import type { NodeView } from "../server/operator-actions.js";
import type { Registration } from "./registry.js";

/** One node of a project as the gateway shows it. */
export interface AgentView {
  nodeId: string;
  label: string;
  role: string;
  address: string;
  alive: boolean;
  /** Seconds since its last heartbeat (gateway clock; null when it never beat). */
  heartbeatAgeSecs: number | null;
  paused: PauseState | null;
  /** Stories it holds a claim on. */
  stories: Array<{ id: string; name: string }>;
}

export interface ProjectOverview {
  name: string;
  /** The project's board. */
  url: string;
  reachable: boolean;
  error?: string;
  stages: Record<Stage, number>;
  blocked: Array<{ id: string; name: string; stage: Stage; reason: string }>;
  running: Array<{ id: string; name: string; stage: Stage; node: string; label: string }>;
  agents: AgentView[];
}

/** A registered agent with what its project says about it now. */
export interface RegisteredAgentView extends Registration {
  /** Null when its project does not list it (unreachable, or it never linked). */
  alive: boolean | null;
  heartbeatAgeSecs: number | null;
  paused: PauseState | null;
  stories: Array<{ id: string; name: string }>;
}

const ACTIVE: ReadonlySet<Stage> = new Set(["current", "qa", "merge"]);

/** Pure: what the gateway page shows of one project, from a snapshot of its pipeline. */
export function projectOverview(name: string, url: string, snap: ProjectSnapshot, now: number): ProjectOverview {
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const out: ProjectOverview = { name, url, reachable: snap.reachable, error: snap.error, stages, blocked: [], running: [], agents: [] };
  const view = snap.pipeline;
  if (!view) return out;
  const nodes = new Map(view.nodes.map((n) => [n.id, n]));
  const held = new Map<string, Array<{ id: string; name: string }>>();
  for (const stage of STAGES) {
    for (const item of view.stages[stage] ?? []) {
      stages[stage] += 1;
      if (item.blocked) out.blocked.push({ id: item.id, name: item.name, stage, reason: item.blocked });
      const holder = item.claim?.node;
      if (holder && ACTIVE.has(stage)) {
        out.running.push({ id: item.id, name: item.name, stage, node: holder, label: nodes.get(holder)?.label ?? holder.slice(0, 8) });
        held.set(holder, [...(held.get(holder) ?? []), { id: item.id, name: item.name }]);
      }
    }
  }
  out.agents = view.nodes.map((n) => agentView(n, held.get(n.id) ?? [], snap.nodeAliveSecs, now));
  return out;
}

function agentView(n: NodeEntry, stories: AgentView["stories"], aliveSecs: number, now: number): AgentView {
  // The project's own judgement (heartbeat receipts on its clock) when it gives one; a server from
  // before it is read the old way, against this gateway's clock.
  const l = (n as NodeView).liveness;
  const age = l ? l.heardSecsAgo : n.lastSeen ? Math.max(0, Math.round((now - n.lastSeen) / 1000)) : null;
  return {
    nodeId: n.id,
    label: n.label,
    role: n.role,
    address: n.address,
    alive: l ? n.alive && l.alive : n.alive && age !== null && age <= aliveSecs,
    heartbeatAgeSecs: age,
    paused: n.paused ?? null,
    stories,
  };
}

/** Pure: registrations joined with their project's live view of each node (by node id). */
export function registeredAgents(regs: Registration[], overviews: Map<string, ProjectOverview>): RegisteredAgentView[] {
  return regs.map((r) => {
    const live = overviews.get(r.project)?.agents.find((a) => a.nodeId === r.nodeId);
    return {
      ...r,
      label: live?.label ?? r.label,
      address: live?.address || r.address,
      alive: live ? live.alive : null,
      heartbeatAgeSecs: live?.heartbeatAgeSecs ?? null,
      paused: live?.paused ?? null,
      stories: live?.stories ?? [],
    };
  });
}
