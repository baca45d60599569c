import type { AgentSlot } from "../config/agents-config.js";
import type { Role } from "../pipeline/roles.js";

export type RunStatus = "pending" | "running" | "completed" | "failed" | "stopped";

export interface SlotState {
  slot: AgentSlot;
  storyId?: string;
  status: RunStatus | "idle";
}

export interface StoryRun {
  storyId: string;
  slot: string;
  role: Role;
  status: RunStatus;
  startedAt: number;
  endedAt?: number;
  error?: string;
}

/**
 * The slots of this node (one per `[[agent]]` entry), at most `max_coders` of them coders.
 * A slot is taken before its process starts and given back only after the process tree is
 * confirmed gone.
 */
export class AgentPool {
  private slots: SlotState[] = [];
  private readonly runs = new Map<string, StoryRun>();

  constructor(slots: AgentSlot[], maxCoders: number) {
    this.configure(slots, maxCoders);
  }

  /** Apply a new config; busy slots keep running and stay counted until they finish. */
  configure(slots: AgentSlot[], maxCoders: number): void {
    let coders = 0;
    const wanted = slots.filter((s) => s.role !== "coder" || coders++ < maxCoders);
    const busy = this.slots.filter((s) => s.status === "running" || s.status === "pending");
    const fresh = wanted.filter((w) => !busy.some((b) => b.slot.name === w.name)).map((slot) => ({ slot, status: "idle" as const }));
    this.slots = [...busy, ...fresh];
    this.wanted = new Set(wanted.map((w) => w.name));
  }

  private wanted = new Set<string>();
  /** Whether a slot can take work now (its accounts: not all paused or over budget). Default: always. */
  usable: (slot: AgentSlot) => boolean = () => true;

  capacity(role: Role): number {
    return this.slots.filter((s) => s.slot.role === role && this.wanted.has(s.slot.name)).length;
  }

  busy(role: Role): number {
    return this.slots.filter((s) => s.slot.role === role && s.status !== "idle").length;
  }

  /** Idle slots of `role` that can take work now. */
  free(role: Role): number {
    const unusable = this.slots.filter(
      (s) => s.slot.role === role && s.status === "idle" && this.wanted.has(s.slot.name) && !this.usable(s.slot),
    ).length;
    return Math.max(0, this.capacity(role) - this.busy(role) - unusable);
  }

  acquire(role: Role, storyId: string): AgentSlot | undefined {
    if (this.free(role) === 0) return undefined;
    const s = this.slots.find((x) => x.slot.role === role && x.status === "idle" && this.wanted.has(x.slot.name) && this.usable(x.slot));
    if (!s) return undefined;
    s.status = "pending";
    s.storyId = storyId;
    this.runs.set(storyId, { storyId, slot: s.slot.name, role, status: "pending", startedAt: Date.now() });
    return s.slot;
  }

  markRunning(storyId: string): void {
    const run = this.runs.get(storyId);
    if (run) run.status = "running";
    const s = this.slots.find((x) => x.storyId === storyId);
    if (s) s.status = "running";
  }

  /** Call only after the run's process tree is gone. */
  release(storyId: string, status: Exclude<RunStatus, "pending" | "running">, error?: string): void {
    const run = this.runs.get(storyId);
    if (run) Object.assign(run, { status, error, endedAt: Date.now() });
    const s = this.slots.find((x) => x.storyId === storyId);
    if (!s) return;
    s.status = "idle";
    s.storyId = undefined;
    // A slot removed from the config while busy disappears once it is free.
    if (!this.wanted.has(s.slot.name)) this.slots = this.slots.filter((x) => x !== s);
  }

  states(): SlotState[] {
    return this.slots.map((s) => ({ ...s }));
  }

  history(): StoryRun[] {
    return [...this.runs.values()];
  }
}
