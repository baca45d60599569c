import type { AgentSlot } from "../config/agents-config.js";
import type { McpSocket } from "../server/mcp-socket.js";
import type { ClaimToken } from "../state/claims.js";
import type { Question } from "../state/item.js";
import type { JobContext } from "./job-context.js";
import { TICK_KIND, tickRequestKey } from "../pipeline/tick-request.js";
import { signRecord } from "../trust/signed-record.js";

/**
 * Serve one run's channel back to huskies: MCP on a fresh unix socket, scoped to the run's story
 * and written with its claim token (so a run that lost its claim writes nothing). The SDK is
 * loaded on the first run, never by an idle agent. A channel that cannot open is logged and the
 * run goes on without it: the work matters more than the reports.
 */
export async function openStoryChannel(
  ctx: JobContext,
  o: { token: ClaimToken; slot: AgentSlot; sessionId: () => string | undefined },
): Promise<McpSocket | undefined> {
  try {
    const [{ channelSocketPath, serveMcpOnSocket }, { buildCoderMcp }] = await Promise.all([
      import("../server/mcp-socket.js"),
      import("../server/mcp-coder-tools.js"),
    ]);
    const scope = {
      storyId: o.token.id,
      node: ctx.nodeId,
      slot: o.slot.name,
      item: () => ctx.pipeline.getItem(o.token.id),
      patch: (p: Parameters<typeof ctx.claims.patchAs>[1]) => ctx.claims.patchAs(o.token, p),
      sessionId: o.sessionId,
      tick: (index: number, done: boolean) => {
        if (!ctx.identity) throw new Error("this node has no key to sign a tick with");
        const fields = { item: o.token.id, node: ctx.nodeId, epoch: o.token.epoch, index, done, at: Date.now() };
        return ctx.claims.requestTick(o.token, tickRequestKey(fields), signRecord(ctx.identity, TICK_KIND, fields));
      },
      onChange: (cb: () => void) => ctx.pipeline.onChange(cb),
    };
    return await serveMcpOnSocket(channelSocketPath(ctx.root), () => buildCoderMcp(scope), ctx.log);
  } catch (err) {
    ctx.log.warn({ story: o.token.id, err: (err as Error).message }, "could not open the story's MCP channel; running without it");
    return undefined;
  }
}

/** A question that still waits for a person. */
export function openQuestion(q: Question | undefined): q is Question {
  return !!q && q.answer === undefined;
}

/**
 * Wait until the story's question is answered (resolves with it), or until waiting is over
 * without an answer (resolves undefined): the claim is no longer held, the job was stopped
 * (`stopSignal` fires), or the question was withdrawn. Event-driven: every document change
 * checks; nothing polls.
 */
export function awaitAnswer(
  ctx: JobContext,
  id: string,
  stillMine: () => boolean,
  stopSignal: (wake: () => void) => void,
): Promise<Question | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (q: Question | undefined) => {
      if (done) return;
      done = true;
      off();
      resolve(q);
    };
    const check = () => {
      const q = ctx.pipeline.getItem(id)?.question;
      if (!stillMine() || !q) return finish(undefined);
      if (q.answer !== undefined) finish(q);
    };
    const off = ctx.pipeline.onChange(check);
    stopSignal(() => finish(undefined));
    check();
  });
}
