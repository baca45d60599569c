import { BOT_HELP, resolveRef, type BotCommand } from "../pipeline/bot-command.js";
import { isNodeAlive } from "../pipeline/claim-rules.js";
import { STAGES } from "../pipeline/stages.js";
import { parseCriteria } from "../pipeline/story-markdown.js";
import { parseLogLine, TimelineBuilder } from "../runtime/log-timeline.js";
import { formatEntry } from "../cli/print-timeline.js";
import type { OperatorActions } from "../server/operator-actions.js";
import type { Item } from "../state/item.js";

/** Lines of a story's log `log ID` shows: a glance, not the whole run (the story view has that). */
const LOG_LINES = 30;

/**
 * The bot's answer to a command, as markdown, from the same OperatorActions as every other
 * interface. A refused action (an unknown story, a forbidden move) is answered, never thrown.
 */
export async function answerCommand(cmd: BotCommand, actions: OperatorActions, o: { nodeAliveMs: number; now?: number }): Promise<string> {
  const now = o.now ?? Date.now();
  const id = (ref: string) => {
    const all = Object.values(actions.view().stages).flat();
    return (
      resolveRef(
        ref,
        all.map((i) => i.id),
      ) ?? ref
    );
  };
  try {
    switch (cmd.cmd) {
      case "help":
        return ["Commands (anything else goes to the assistant):", ...BOT_HELP.map(([u, w]) => `- \`${u}\` — ${w}`)].join("\n");
      case "status":
        return status(actions, now, o.nodeAliveMs);
      case "show":
        return show(actions.get(id(cmd.ref)));
      case "move": {
        const moved = await actions.move(id(cmd.ref), cmd.stage, "moved from the board's chat");
        return `Moved **${moved.name}** (${moved.id}) to ${moved.stage}.`;
      }
      case "pause": {
        const n = actions.pauseNode(cmd.node, cmd.reason);
        return `Paused ${n.label} (${n.id.slice(0, 12)}): it takes no new work until resumed.`;
      }
      case "resume": {
        const n = actions.resumeNode(cmd.node);
        return `Resumed ${n.label} (${n.id.slice(0, 12)}).`;
      }
      case "log": {
        const storyId = id(cmd.ref);
        const w = await actions.log(storyId, { tail: LOG_LINES });
        const b = new TimelineBuilder();
        const text = w.lines.flatMap((l) => {
          const line = parseLogLine(l);
          return line ? b.push(line).map((e) => formatEntry(e, { color: false })) : [];
        });
        return text.length ? `Last lines of ${storyId}'s log:\n\n\`\`\`\n${text.join("\n")}\n\`\`\`` : `${storyId} has no log yet.`;
      }
    }
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

function status(actions: OperatorActions, now: number, nodeAliveMs: number): string {
  const v = actions.view();
  const counts = STAGES.filter((s) => s !== "archived").map((s) => `${s} ${v.stages[s].length}`);
  const items = Object.values(v.stages).flat();
  const running = items.filter((i) => i.claim && i.stage !== "done" && i.stage !== "archived");
  const label = new Map(v.nodes.map((n) => [n.id, n.label]));
  // Sections are paragraphs (a blank line apart), each heading followed by its list.
  const lines = [`**Stages:** ${counts.join(" · ")}`, ""];
  const waiting = items.filter((i) => i.question && i.question.answer === undefined);
  const blocked = items.filter((i) => i.blocked);
  if (running.length)
    lines.push(
      "**Running:**",
      ...running.map((i) => `- ${i.id} ${i.name} (${i.stage}, on ${label.get(i.claim!.node) ?? i.claim!.node.slice(0, 8)})`),
    );
  if (waiting.length) lines.push("**Needs a person:**", ...waiting.map((i) => `- ${i.id}: ${i.question!.text.split("\n")[0]}`));
  if (blocked.length) lines.push("**Blocked:**", ...blocked.map((i) => `- ${i.id}: ${i.blocked}`));
  lines.push(
    "**Nodes:**",
    ...v.nodes.map((n) => {
      const state = n.paused ? `paused: ${n.paused.reason}` : isNodeAlive(n, now, nodeAliveMs) ? "alive" : "not seen lately";
      return `- ${n.label} (${n.role}) ${state}`;
    }),
  );
  return lines.join("\n");
}

function show(i: Item): string {
  const lines = [`**${i.name}** — ${i.id} · ${i.type} · ${i.stage}${i.blocked ? ` · blocked: ${i.blocked}` : ""}`];
  if (i.claim) lines.push(`claimed by ${i.claim.node.slice(0, 12)} (epoch ${i.claim.epoch})`);
  const criteria = parseCriteria(i.body);
  if (criteria.length) lines.push("", ...criteria.map((c) => `- [${c.done ? "x" : " "}] ${c.text}`));
  if (i.question && i.question.answer === undefined) lines.push("", `**Needs a person:** ${i.question.text}`);
  if (i.progress) lines.push("", `Progress: ${i.progress.text}`);
  if (i.lastRun) lines.push("", `Last run: ${i.lastRun.outcome ?? "?"}${i.lastRun.error ? ` — ${i.lastRun.error.split("\n")[0]}` : ""}`);
  if (i.failure) lines.push(`Last failure (${i.failure.kind}): ${i.failure.message.split("\n")[0]}`);
  return lines.join("\n");
}
