import { writeFileSync } from "node:fs";
import type { Logger } from "pino";
import type { AgentSlot } from "../config/agents-config.js";
import { huskiesDir } from "../config/project-root.js";
import type { RunResult } from "../runtime/agent-runtime.js";
import { runtimeFor } from "../runtime/runtimes.js";
import { buildMcpServer } from "../server/mcp-server.js";
import { channelSocketPath, serveMcpOnSocket } from "../server/mcp-socket.js";
import type { Confirmation } from "../server/mcp-tool.js";
import type { NodeInfo } from "../server/node-info.js";
import type { Confinement } from "../confinement/confine.js";

export interface AssistantRunOptions {
  root: string;
  slot: AgentSlot;
  node: NodeInfo;
  prompt: string;
  /** Destructive tool calls wait for this (a person's click in the panel). */
  confirm: (c: Confirmation) => Promise<boolean>;
  /** The longest a tool call may take (a confirmation waits that long), and the run's silence limit. */
  toolTimeoutMs: number;
  inactivityMs: number;
  log: Logger;
  /** The node's confinement (absent on a rendezvous without slots: the shared one is used). */
  confinement?: Confinement;
  /** Each log line of the run (`{t, kind, event?, text?}` JSON, as story logs have them). */
  onLine: (line: string) => void;
}

export interface AssistantRun {
  done: Promise<RunResult>;
  stop(reason: string): Promise<void>;
}

/**
 * One answer of the board's assistant: the project's `[assistant]` runtime in the project's
 * checkout, read-only (file tools that read, scoped to the checkout, `.huskies/` denied; no
 * command or write tools), with huskies' operator tools over an MCP channel whose destructive
 * calls wait for a person. The prompt carries the recent conversation; each message is a fresh
 * session, so nothing depends on a session surviving a restart.
 */
export async function startAssistantRun(o: AssistantRunOptions): Promise<AssistantRun> {
  const channel = await serveMcpOnSocket(channelSocketPath(o.root), () => buildMcpServer(o.node, { confirm: o.confirm }), o.log);
  const promptFile = huskiesDir(o.root, "chat.prompt.md");
  writeFileSync(promptFile, o.prompt);
  try {
    // The runtime starts it through src/confinement/ (it reads story text, so it is story-controlled), read-only: no git view.
    const running = runtimeFor(o.slot.runtime).start({
      storyId: "chat",
      slot: o.slot,
      cwd: o.root,
      projectRoot: o.root,
      prompt: o.prompt,
      storyMarkdown: "",
      promptFile,
      baseBranch: "",
      inactivityMs: Math.max(o.inactivityMs, o.toolTimeoutMs + 60_000),
      readOnly: true,
      confinement: o.confinement,
      channel: { hostPath: channel.path, sandboxPath: channel.path, timeoutMs: o.toolTimeoutMs },
      onLog: (entry) => o.onLine(JSON.stringify({ t: Date.now(), ...entry })),
    });
    const done = running.done.finally(() => channel.close());
    return { done, stop: (reason) => running.stop(reason) };
  } catch (err) {
    await channel.close();
    throw err;
  }
}
