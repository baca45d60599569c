import type { Logger } from "pino";
import type { LiveConfig } from "../config/live-config.js";
import type { Claims } from "../state/claims.js";
import { coalesce, every } from "../util/coalesce.js";
import { ClaimSequencer } from "./claim-sequencer.js";
import { Housekeeping } from "./housekeeping.js";
import { Notifier } from "./notifier.js";
import { applyTickRequests } from "./tick-requests.js";
import { watchNotifyEvents } from "./notify-events.js";

/**
 * What only the rendezvous does: sequence claims and keep house. Both react to document changes
 * (coalesced into one pass per burst) with the scan interval as a backstop, and stop cleanly.
 */
export class RendezvousService {
  readonly sequencer: ClaimSequencer;
  readonly housekeeping: Housekeeping;
  private readonly stops: Array<() => void> = [];

  private readonly notifier: Notifier;

  constructor(
    private readonly claims: Claims,
    private readonly config: LiveConfig,
    private readonly log: Logger,
    private readonly opts: { project: string; onGrant?: (nodes: string[]) => void; linked?: (nodeId: string) => boolean },
  ) {
    this.notifier = new Notifier(() => config.project.notify, { project: opts.project, log: log.child({ component: "notify" }) });
    this.sequencer = new ClaimSequencer(claims, config, log.child({ component: "sequencer" }), opts.linked);
    this.housekeeping = new Housekeeping(claims, config, log.child({ component: "housekeeping" }));
  }

  start(): void {
    const grant = coalesce(
      () => {
        // One update for the whole pass, and the grantees are named before it leaves this process
        // (the hub sends it to them first; see SyncHub.deliverFirstTo).
        if (this.claims.pipeline.readOnly) return; // see SchemaGuard
        this.claims.pipeline.transact(() => {
          const granted = this.sequencer.grant();
          if (granted.length) this.opts.onGrant?.(granted);
        });
      },
      this.log,
      "claim sequencer",
    );
    // Webhooks: only the rendezvous notifies, so each event is sent once per project.
    this.stops.push(
      watchNotifyEvents(this.claims.pipeline, (ev) => this.notifier.notify(ev), {
        onError: (err) => this.log.error({ err }, "notification event failed"),
      }),
    );
    const promote = coalesce(() => this.claims.pipeline.readOnly || this.housekeeping.promote(), this.log, "promotion");
    const ticks = coalesce(() => applyTickRequests(this.claims, this.log), this.log, "tick requests");
    const onChange = () => {
      grant.schedule();
      promote.schedule();
      ticks.schedule();
    };
    const onTimer = () => {
      onChange();
      if (!this.claims.pipeline.readOnly) this.housekeeping.archive();
    };
    this.stops.push(this.claims.pipeline.onChange(onChange), grant.cancel, promote.cancel, ticks.cancel);
    // An item put into `current` here (REST, MCP, promotion) is offered inside that same write.
    this.stops.push(
      this.claims.pipeline.onStageChange((ev) => {
        if (ev.to !== "current" || !ev.local || this.claims.pipeline.readOnly) return;
        const granted = this.sequencer.offerNow(ev.id);
        if (granted.length) this.opts.onGrant?.(granted);
      }),
    );
    this.restartTimer(onTimer);
    const onConfig = () => this.restartTimer(onTimer);
    this.config.on("change", onConfig);
    this.stops.push(() => this.config.off("change", onConfig));
    onTimer();
  }

  private stopTimer: () => void = () => undefined;

  private restartTimer(fn: () => void): void {
    this.stopTimer();
    this.stopTimer = every(this.config.project.scan_interval_secs * 1000, this.log, "rendezvous scan", fn);
  }

  stop(): void {
    this.stopTimer();
    for (const s of this.stops.splice(0)) s();
    this.notifier.close();
  }
}
