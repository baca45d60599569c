#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, Option, InvalidArgumentError } from "commander";
import { UserError } from "../errors.js";
import { configureLogging } from "../log.js";
import { VERSION } from "../version.js";
import { findProjectRoot } from "../config/project-root.js";
import { loadProjectConfig, projectConfigPath } from "../config/project-config.js";
import * as D from "../config/defaults.js";
import { initProject } from "./init.js";
import { describeRecovery, registerBackupCommands, registerOperatorKeyCommand } from "./backup-commands.js";
import { api, createOnce, serverUrl } from "./client.js";
import { resolveTls } from "../server/tls-files.js";
import { parseAdvertise } from "../node/advertised-address.js";
import { describeItem, describePipeline } from "./print.js";
import { formatEntry } from "./print-timeline.js";
import { parseLogLine, TimelineBuilder } from "../runtime/log-timeline.js";
import type { NodeOptions } from "../node/huskies-node.js";
import { keepYoungGenerationSmall } from "../util/young-generation.js";
import type { Item, NodeEntry } from "../state/item.js";
import { huskiesDir } from "../config/project-root.js";
import { nodeIdOfKeyFile } from "../trust/identity.js";
import type { PipelineView } from "../server/operator-actions.js";

/** Loaded by the two commands that run a node: client commands start without the node's modules. */
const runNodeUntilSignal = async (opts: NodeOptions) => (await import("./run-node.js")).runNodeUntilSignal(opts);

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number (0-65535)");
  return n;
};

function projectRoot(dir: string | undefined, what: string): string {
  const root = findProjectRoot(dir ?? ".");
  if (!root)
    throw new UserError(`${what} needs a project: no .huskies/ found in ${dir ?? "the current directory"} or above (run \`huskies init\`)`);
  return root;
}

function parseTtl(v: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError("must be a duration like 90s, 30m, 1h or 2d");
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? "s") as "s"];
}

const program = new Command("huskies")
  .description("Story-driven development with AI coding agents on many machines, over one replicated pipeline.")
  .version(VERSION)
  .addOption(new Option("--log-format <format>", "log format").choices(["pretty", "json"]))
  .showHelpAfterError()
  .hook("preAction", (cmd) => {
    const f = cmd.opts().logFormat as "pretty" | "json" | undefined;
    if (f) configureLogging({ format: f });
  });

program
  .command("init")
  .argument("[dir]", "a git repository", ".")
  .description("write .huskies/project.toml, .huskies/agents.toml and .mcp.json into a git repository")
  .option("--port <port>", "port the server will use", port)
  .action(async (dir: string, o: { port?: number }) => {
    const written = await initProject(dir, o);
    console.log(written.length ? `initialised huskies in ${dir}: ${written.join(", ")}` : `huskies already initialised in ${dir}`);
  });

program
  .command("serve")
  .argument("[dir]", "project directory", ".")
  .description("run the rendezvous server: replica, /crdt-sync, REST, MCP, board, and (unless --no-agent) an agent pool")
  .option("--port <port>", "port (default: project.toml port, 3001)", port)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--no-agent", "do not run coding agents on this node")
  .option("--tls-cert <file>", "serve https/wss with this certificate (PEM; or [tls] cert in project.toml)")
  .option("--tls-key <file>", "the certificate's private key (PEM; or [tls] key in project.toml)")
  .option("--from-replica <agent-dir>", "the rendezvous is lost: become the new one, starting from this agent checkout's replica")
  .option("--operator-key <file>", "with --from-replica: sign the handover with this operator key (one of operator_keys), so agents follow")
  .option(
    "--accept-empty",
    "take writes even though this server's replica was lost (missing, empty or damaged), without waiting for an agent to sync it back",
  )
  .action(
    async (
      dir: string,
      o: {
        port?: number;
        host: string;
        agent: boolean;
        tlsCert?: string;
        tlsKey?: string;
        fromReplica?: string;
        operatorKey?: string;
        acceptEmpty?: boolean;
      },
    ) => {
      const root = projectRoot(dir, "serve");
      const cfg = loadProjectConfig(root);
      const tls = resolveTls(o, process.cwd(), { tls: cfg.tls, root, file: projectConfigPath(root) });
      if (o.operatorKey && !o.fromReplica)
        throw new UserError("--operator-key goes with --from-replica (it signs the handover to the recovered rendezvous)");
      if (o.fromReplica) {
        const recovery = await (await import("../backup/recover-rendezvous.js")).recoverRendezvous(root, o.fromReplica, o.operatorKey);
        for (const line of describeRecovery(recovery)) console.log(line);
      }
      const node = await runNodeUntilSignal({
        root,
        role: "rendezvous",
        port: o.port ?? cfg.port,
        host: o.host,
        runAgent: o.agent,
        tls,
        acceptEmpty: !!o.acceptEmpty,
      });
      const [http, ws] = tls ? ["https", "wss"] : ["http", "ws"];
      console.log(
        `huskies serving ${root} on ${http}://${o.host}:${node.port} (board /, sync ${ws}://${o.host}:${node.port}/crdt-sync, node ${node.nodeId.slice(0, 12)})`,
      );
    },
  );

program
  .command("agent")
  .argument("[dir]", "project directory", ".")
  .description("run a headless build agent that syncs with a rendezvous and works stories")
  .option("--join <join>", "a join string from `huskies token create` or a gateway: pins the server's key and certificate")
  .option("--rendezvous <url>", "the rendezvous /crdt-sync URL, e.g. wss://host:3001/crdt-sync (without --join)")
  .option("--port <port>", "port for this agent's /crdt-sync and /health", port, D.AGENT_PORT)
  .option("--host <host>", "address to listen on (default: 0.0.0.0 when the rendezvous is on another host, else 127.0.0.1)")
  .option("--advertise <url>", "the /crdt-sync URL other hosts reach this agent by (default: the address of its link to the rendezvous)")
  .option("--join-token <token>", "one-time join token (for the gateway with --gateway-url, else for the rendezvous)")
  .option("--gateway-url <url>", "gateway to register with")
  .option("--label <name>", "label shown on the board (default build-agent-<node id>)")
  .option("--tls-cert <file>", "serve wss with this certificate (PEM; or [tls] cert in project.toml)")
  .option("--tls-key <file>", "the certificate's private key (PEM; or [tls] key in project.toml)")
  .action(
    async (
      dir: string,
      o: {
        join?: string;
        rendezvous?: string;
        port: number;
        host?: string;
        advertise?: string;
        joinToken?: string;
        gatewayUrl?: string;
        label?: string;
        tlsCert?: string;
        tlsKey?: string;
      },
    ) => {
      const root = findProjectRoot(dir);
      if (!root) throw new UserError("agent mode requires a project root (no .huskies/ found)");
      if (o.join && (o.rendezvous || o.joinToken || o.gatewayUrl))
        throw new UserError("--join carries the rendezvous and the token: leave out --rendezvous, --join-token and --gateway-url");
      if (o.rendezvous && !/^wss?:\/\//.test(o.rendezvous))
        throw new UserError(`--rendezvous must be a ws:// or wss:// URL, got ${o.rendezvous}`);
      const advertise = o.advertise === undefined ? undefined : parseAdvertise(o.advertise);
      const tls = resolveTls(o, process.cwd(), { tls: loadProjectConfig(root).tls, root, file: projectConfigPath(root) });
      const node = await runNodeUntilSignal({
        root,
        role: "agent",
        port: o.port,
        host: o.host,
        join: o.join,
        rendezvousUrl: o.rendezvous,
        joinToken: o.joinToken,
        gatewayUrl: o.gatewayUrl,
        label: o.label,
        runAgent: true,
        tls,
        advertise,
      });
      // An agent idles most of its life; the rendezvous keeps V8's default (it relays for a fleet).
      keepYoungGenerationSmall();
      console.log(
        `huskies agent ${node.label} on ${tls ? "wss" : "ws"}://${node.host}:${node.port}/crdt-sync (advertised ${node.address}), rendezvous ${node.sync.upstream?.url ?? "none"}`,
      );
    },
  );

program
  .command("gateway")
  .description("run a gateway: join tokens, agent registration, a view over several projects")
  .option("--port <port>", "port", port, D.GATEWAY_PORT)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--config <file>", "projects.toml listing [[project]] name/url")
  .option("--db <file>", "SQLite file for tokens and registrations", ":memory:")
  .option("--tls-cert <file>", "serve https with this certificate (PEM)")
  .option("--tls-key <file>", "the certificate's private key (PEM)")
  // Loaded on use: the gateway and the demo are not part of a node's memory.
  .action(async (...a: Parameters<typeof import("./gateway-command.js").runGatewayCommand>) =>
    (await import("./gateway-command.js")).runGatewayCommand(...a),
  );

const token = program.command("token").description("join tokens");
token
  .command("create")
  .description("mint a one-time join token; prints a join string for `huskies agent --join` on its first line")
  .option("--ttl <duration>", "lifetime, e.g. 30m, 1h", parseTtl, D.JOIN_TOKEN_TTL_SECS)
  .option("--server <url>", "server URL (with --project: the gateway's URL)")
  .option("--project <name>", "ask the gateway at --server for a join string into this project")
  .option("--json", "print JSON ({token, expiresAt, join})")
  .action(async (o: { ttl: number; server?: string; project?: string; json?: boolean }) => {
    if (o.project && !o.server)
      throw new UserError("--project asks a gateway: give its URL with --server (e.g. https://gateway-host:3000)");
    const t = o.project
      ? await api<{ token: string; expiresAt: number; join: string }>(serverUrl(o), "POST", "/gateway/tokens", {
          project: o.project,
          ttlSecs: o.ttl,
        })
      : await api<{ token: string; expiresAt: number; join: string }>(serverUrl(o), "POST", "/api/tokens", { ttlSecs: o.ttl });
    if (o.json) return console.log(JSON.stringify(t));
    console.log(t.join);
    process.stderr.write(
      `one-time join string, expires ${new Date(t.expiresAt).toISOString()}; on the new machine: huskies agent --join '<it>' [DIR]\n`,
    );
  });

const story = program.command("story").description("work items");
story
  .command("add")
  .argument("<name>", "story name")
  .description("file a work item; prints its id")
  .addOption(new Option("--type <type>", "item type").choices(["story", "bug", "spike", "refactor"]).default("story"))
  .option("--stage <stage>", "initial stage", "backlog")
  .option("--body <text>", "user story / description (markdown)")
  .option("--body-file <file>", "read the body from a file")
  .option("--criterion <text>", "acceptance criterion (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option("--depends-on <id>", "item that must be done first (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
  .addOption(new Option("--qa <mode>", "QA mode for this item").choices(["server", "agent", "human"]))
  .option("--server <url>", "server URL")
  .option("--json", "print the item as JSON")
  .action(
    async (
      name: string,
      o: {
        type: string;
        stage: string;
        body?: string;
        bodyFile?: string;
        criterion: string[];
        dependsOn: string[];
        qa?: string;
        server?: string;
        json?: boolean;
      },
    ) => {
      let body = o.body;
      if (o.bodyFile) {
        try {
          body = readFileSync(o.bodyFile, "utf8");
        } catch (err) {
          throw new UserError(`cannot read --body-file ${o.bodyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const item = await createOnce<Item>(serverUrl(o), "/api/stories", {
        name,
        type: o.type,
        stage: o.stage,
        body,
        criteria: o.criterion.length ? o.criterion : undefined,
        dependsOn: o.dependsOn.length ? o.dependsOn : undefined,
        qa: o.qa,
      });
      console.log(o.json ? JSON.stringify(item) : item.id);
    },
  );
story
  .command("list")
  .description("list work items")
  .option("--stage <stage>", "only this stage")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (o: { stage?: string; server?: string; json?: boolean }) => {
    const items = (await api<Item[]>(serverUrl(o), "GET", "/api/stories")).filter(
      (i) => !o.stage || i.stage === o.stage || `${i.stage}` === o.stage.replace(/^\d_/, ""),
    );
    console.log(o.json ? JSON.stringify(items) : items.map((i) => `${i.stage.padEnd(8)} ${describeItem(i)}`).join("\n"));
  });
story
  .command("show")
  .argument("<id>")
  .description("show one work item")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string, o: { server?: string; json?: boolean }) => {
    const i = await api<Item>(serverUrl(o), "GET", `/api/stories/${encodeURIComponent(id)}`);
    if (o.json) return console.log(JSON.stringify(i));
    console.log(
      `${describeItem(i)}\nstage: ${i.stage}\n${i.lastRun ? `last run: ${JSON.stringify(i.lastRun)}\n` : ""}${i.failure ? `last failure (${i.failure.kind}): ${i.failure.message}\n` : ""}\n${i.body}`,
    );
  });
story
  .command("move")
  .argument("<id>")
  .argument("<stage>")
  .description("move a work item to another stage")
  .option("--reason <text>", "why (recorded when sending work back)")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string, stage: string, o: { reason?: string; server?: string; json?: boolean }) => {
    const i = await api<Item>(serverUrl(o), "POST", `/api/stories/${encodeURIComponent(id)}/move`, { stage, reason: o.reason });
    console.log(o.json ? JSON.stringify(i) : `${i.id} → ${i.stage}`);
  });
story
  .command("answer")
  .argument("<id>")
  .argument("<answer>")
  .description("answer the question a coder asked (its session resumes with the answer)")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string, answer: string, o: { server?: string; json?: boolean }) => {
    const i = await api<Item>(serverUrl(o), "POST", `/api/stories/${encodeURIComponent(id)}/answer`, { answer });
    console.log(o.json ? JSON.stringify(i) : `${i.id}: answered`);
  });
story
  .command("log")
  .argument("<id>")
  .description("print a work item's agent log as a readable timeline")
  .option("--follow", "keep printing new lines")
  .option("--json", "print the raw log lines (JSON, one per line)")
  .option("--server <url>", "server URL")
  .action(async (id: string, o: { follow?: boolean; json?: boolean; server?: string }) => {
    const base = serverUrl(o);
    const path = `/api/stories/${encodeURIComponent(id)}/log`;
    const builder = new TimelineBuilder();
    const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
    const print = (line: string) => {
      if (o.json) return console.log(line);
      const entry = parseLogLine(line);
      for (const e of entry ? builder.push(entry) : []) console.log(formatEntry(e, { color }));
    };
    if (!o.follow) {
      await api<Item>(base, "GET", `/api/stories/${encodeURIComponent(id)}`);
      const text = await api<string>(base, "GET", path).catch((err: unknown) => {
        // The story exists (checked above): a 404 here only means no agent has run it yet.
        if (err instanceof UserError && /HTTP 404/.test(err.message)) return "";
        throw err;
      });
      if (!text.trim()) process.stderr.write(`no agent log for ${id} yet\n`);
      for (const line of text.split("\n")) if (line.trim()) print(line);
      return;
    }
    await api<Item>(base, "GET", `/api/stories/${encodeURIComponent(id)}`);
    // Through the pinned request like every call that carries the token (issue 27).
    const decoder = new TextDecoder();
    let buf = "";
    await api<string>(base, "GET", `${path}?follow`, undefined, (chunk) => {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of frame.split("\n")) if (line.startsWith("data:")) print(line.slice(5).trimStart());
      }
    });
  });

const nodeCmd = program.command("node").description("nodes: pause, resume, revoke");
/** The node named on the command line, or the node of this checkout (its .huskies/node.key). */
function nodeRef(id: string | undefined): string {
  if (id) return id;
  const root = projectRoot(undefined, "`huskies node` without an ID");
  try {
    return nodeIdOfKeyFile(huskiesDir(root, "node.key"));
  } catch {
    throw new UserError(`this checkout has no node key yet (${huskiesDir(root, "node.key")}); pass the node ID`);
  }
}
nodeCmd
  .command("pause")
  .argument("[id]", "node id, unique prefix or label (default: this checkout's node)")
  .description("pause a node: it takes no new work and keeps its worktrees until resumed")
  .option("--reason <text>", "why (shown on the board and in status)")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string | undefined, o: { reason?: string; server?: string; json?: boolean }) => {
    const n = await api<NodeEntry>(serverUrl(o), "POST", `/api/nodes/${encodeURIComponent(nodeRef(id))}/pause`, { reason: o.reason });
    console.log(o.json ? JSON.stringify(n) : `${n.label} (${n.id.slice(0, 12)}) will pause: ${o.reason ?? "paused by an operator"}`);
  });
nodeCmd
  .command("resume")
  .argument("[id]", "node id, unique prefix or label (default: this checkout's node)")
  .description("resume a paused node")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string | undefined, o: { server?: string; json?: boolean }) => {
    const n = await api<NodeEntry>(serverUrl(o), "POST", `/api/nodes/${encodeURIComponent(nodeRef(id))}/resume`, {});
    console.log(o.json ? JSON.stringify(n) : `${n.label} (${n.id.slice(0, 12)}) will resume`);
  });

nodeCmd
  .command("revoke")
  .argument("<id>", "node id (64 hex), unique prefix or label")
  .description("revoke a node's key: every node closes its links within seconds and refuses it afterwards")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (id: string, o: { server?: string; json?: boolean }) => {
    const r = await api<{ nodeId: string }>(serverUrl(o), "DELETE", `/api/nodes/${encodeURIComponent(id)}`);
    console.log(o.json ? JSON.stringify(r) : `revoked ${r.nodeId}`);
  });

program
  .command("status")
  .description("stages, items, claims, nodes and liveness")
  .option("--server <url>", "server URL")
  .option("--json", "print JSON")
  .action(async (o: { server?: string; json?: boolean }) => {
    const v = await api<PipelineView>(serverUrl(o), "GET", "/api/pipeline");
    console.log(o.json ? JSON.stringify(v) : describePipeline(v));
  });

registerBackupCommands(program);
registerOperatorKeyCommand(program);

program
  .command("demo")
  .description("a throwaway project with a server and two agents, three stories flowing to done (offline, scripted model)")
  .option("--live", "use your own Claude Code login instead of the built-in scripted model")
  .option("--keep", "keep running after the stories are done (until Ctrl-C)")
  .option("--port <port>", "server port (default: a free port)", port, 0)
  .action(async (...a: Parameters<typeof import("../demo/demo.js").runDemo>) => (await import("../demo/demo.js")).runDemo(...a));

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof UserError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  console.error(err);
  process.exit(1);
});
