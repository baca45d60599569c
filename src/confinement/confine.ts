import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { SandboxMode } from "../config/agents-config.js";
import { logger } from "../log.js";
import { findExecutable } from "../runtime/sandbox.js";
import { startSupervised, type SupervisedOptions, type SupervisedRun } from "../runtime/supervised-process.js";
import { bwrapArgs, SANDBOX_HOME } from "./bwrap.js";
import { CredentialProxy } from "./credential-proxy.js";
import { EgressProxy } from "./egress-proxy.js";
import { closeGitView, openGitView, type GitView } from "./git-view.js";
import { readPlainFile, writeHostFile } from "./host-files.js";
import { buildPolicy, NO_SANDBOX_SETTINGS, SANDBOX_PROXY_PORT, type Channel, type RunPolicy, type SandboxSettings } from "./policy.js";
import { bwrapPath, probeSandbox, type SandboxProbe } from "./probe.js";
import { SANDBOX_PLACEHOLDERS } from "./placeholders.js";

/**
 * One process a story controls, to be started confined. Runtimes, gates, QA and merges describe
 * what to run here and call `Confinement.start`; nothing else in `src/` spawns story-controlled
 * code (test/unit/confinement-spawn-path.test.ts fails on any other spawn).
 */
export interface ConfinedSpec extends Omit<SupervisedOptions, "cwd" | "env"> {
  /** For log lines and the unconfined warning: the slot name, or `gate`. */
  label: string;
  storyId: string;
  /** The story's checkout (worktree or merge workspace): the working directory. */
  cwd: string;
  /** The checkout holding `.huskies/` (hidden but for the story's own files). */
  projectRoot?: string;
  /** The slot's `sandbox`, or `[gates] sandbox`; unset is `auto`. */
  mode: SandboxMode | undefined;
  /** The allow-listed environment (`agentEnv`/`gateEnv`); model keys in it are swapped for placeholders. */
  env: Record<string, string>;
  command: string;
  /**
   * The arguments, or a function of the policy (claude: `--settings`) and of the environment the
   * program gets (codex: its provider's base URL, the credential proxy's once routed).
   */
  args: readonly string[] | ((policy: RunPolicy | undefined, env: Readonly<Record<string, string>>) => string[]);
  /**
   * The program sandboxes its own tools from the policy it is given (claude's `--settings`): it is
   * not wrapped in bwrap, which would break its own sandbox.
   */
  selfSandboxed?: boolean;
  /** The branch the run may move (`feature/story-<id>`); the merge workspace has none. */
  ownBranch?: string;
  baseBranch: string;
  /** Files the run must read (the prompt file), or directories (a CLI's installed package). */
  readFiles?: readonly string[];
  /** Directories the program keeps its own state in and must write (a CLI's sessions, to resume). */
  writeDirs?: readonly string[];
  /** The run writes nothing (the board's assistant): no git view, its checkout mounted read-only. */
  readOnly?: boolean;
  /** The story-scoped channel back to huskies, when one is served (MCP for coders). */
  channel?: Channel;
}

/** How a run of a given mode goes on this node. */
export type Decision = { confined: true } | { confined: false; warning: string } | { refused: string };

export interface ConfinementOptions {
  /** The project checkout; per-run directories go under its `.huskies/runs/`. */
  root?: string;
  settings?: () => SandboxSettings;
  log?: Logger;
  /** The node's environment (holds the real model-API credentials). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The one module that starts story-controlled processes, one per node. `start()` probes the
 * sandbox once (it really starts bwrap) and opens the egress and credential proxies; `run` starts
 * one process under the policy (`policy.ts`): bwrap for everything but self-sandboxing CLIs,
 * claude's `--settings` for claude. With `auto` and no working sandbox a run goes unconfined with
 * a warning line every time (and `/health` says `confined: false`); `required` refuses.
 */
export class Confinement {
  probe: SandboxProbe = { works: false, reason: "not probed yet" };
  private egress: EgressProxy | undefined;
  private credentials: CredentialProxy | undefined;
  private socketDir: string | undefined;
  private identity: { name?: string; email?: string } = {};
  private readonly log: Logger;

  constructor(private readonly o: ConfinementOptions = {}) {
    this.log = o.log ?? logger("confine");
  }

  async start(): Promise<this> {
    this.probe = await probeSandbox();
    if (!this.probe.works) this.log.warn({ reason: this.probe.reason }, "sandbox unavailable on this node");
    else this.log.info({ startMs: this.probe.ms }, "sandbox works");
    // Unix socket paths are limited to ~108 bytes: a short private directory, not the project.
    this.socketDir = mkdtempSync(join(tmpdir(), "huskies-sock-"));
    // Host-only files every run reads, written once, outside every directory a run can write.
    writeHostFile(
      this.excludesFile(),
      `# huskies: Claude Code's sandbox placeholders (not the agent's work)\n${SANDBOX_PLACEHOLDERS.map((n) => `/${n}`).join("\n")}\n`,
      {
        exclusive: true,
        mode: 0o644,
      },
    );
    const settings = this.o.settings ?? (() => NO_SANDBOX_SETTINGS);
    this.egress = await new EgressProxy(() => ({ allowHosts: settings().allow_hosts }), this.log).start(
      join(this.socketDir, "egress.sock"),
    );
    this.credentials = await new CredentialProxy(this.o.env ?? process.env, this.log).start(join(this.socketDir, "model.sock"));
    if (this.o.root) this.identity = await gitIdentity(this.o.root);
    return this;
  }

  async close(): Promise<void> {
    await Promise.all([this.egress?.close(), this.credentials?.close()]);
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  /** Whether runs of these modes are confined here (`/health` `confined`). */
  confined(modes: ReadonlyArray<SandboxMode | undefined>): boolean {
    return modes.every((m) => {
      const d = this.decide(m);
      return "confined" in d && d.confined;
    });
  }

  decide(mode: SandboxMode | undefined): Decision {
    const m = mode ?? "auto";
    if (m === "off") return { confined: false, warning: 'sandbox = "off": running unconfined' };
    if (this.probe.works) return { confined: true };
    if (m === "required") return { refused: `sandbox required but unavailable: ${this.probe.reason}` };
    return { confined: false, warning: `sandbox unavailable (${this.probe.reason}): running unconfined` };
  }

  /** Start `spec` under the policy; the returned run's `done` resolves after the git view is taken back. */
  run(spec: ConfinedSpec): SupervisedRun {
    const decision = this.decide(spec.mode);
    const env = { ...spec.env };
    if ("refused" in decision) return refusedRun(decision.refused, spec);
    if (!decision.confined) {
      // Every unconfined run says so, so nobody mistakes it for a confined one.
      this.log.warn({ story: spec.storyId, slot: spec.label }, `${spec.label}: ${decision.warning}`);
      return startSupervised(spec.command, argsOf(spec, undefined, env), { ...spec, cwd: spec.cwd, env });
    }
    const dir = this.viewDir(spec.storyId);
    let view: GitView | undefined;
    try {
      const excludes = this.socketDir ? [this.excludesFile()] : [];
      // A read-only run gets no git view: nothing of it is taken back into the checkout after it.
      view = spec.readOnly
        ? undefined
        : openGitView({
            cwd: spec.cwd,
            dir,
            ownBranch: spec.ownBranch,
            baseBranch: spec.baseBranch,
            excludesFile: excludes[0],
            identity: this.identity,
          });
      // Where the view came from, beside it (not in it): a node that dies mid-run takes it back at restart.
      if (view) writeHostFile(`${dir}.json`, JSON.stringify(view), { exclusive: true });
      const routed = this.credentials?.routeEnv(env) ?? [];
      const policy = buildPolicy({
        cwd: spec.cwd,
        projectRoot: spec.projectRoot,
        settings: this.o.settings?.() ?? NO_SANDBOX_SETTINGS,
        git: view ? { viewDir: view.dir, objectsDir: view.objectDirs[0]!, commonDir: view.commonDir, env: view.env } : undefined,
        readFiles: [...(spec.readFiles ?? []), ...excludes],
        writeDirs: spec.writeDirs,
        egress: this.egress ? { socket: join(this.socketDir!, "egress.sock"), port: this.egress.port } : undefined,
        bridges: routed.length && this.credentials ? [this.credentials.bridge()] : [],
        channel: spec.channel,
        readOnly: spec.readOnly,
      });
      Object.assign(env, policy.env);
      let command = spec.command;
      let args = argsOf(spec, policy, env);
      if (!spec.selfSandboxed) {
        // bwrap would report a missing program as its own exit 1 (a story failure); a runtime
        // binary that is not there is the node's trouble, as it is unconfined.
        if (!findProgram(command, spec.cwd, env.PATH)) {
          void this.finish(spec, dir, view);
          return refusedRun(`could not start ${command}: spawn ${command} ENOENT`, spec);
        }
        const proxy = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
        Object.assign(env, {
          HOME: SANDBOX_HOME,
          TMPDIR: "/tmp",
          ...Object.fromEntries(["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"].map((k) => [k, proxy])),
          ALL_PROXY: `socks5h://127.0.0.1:${SANDBOX_PROXY_PORT}`,
          all_proxy: `socks5h://127.0.0.1:${SANDBOX_PROXY_PORT}`,
          NO_PROXY: "localhost,127.0.0.1,::1",
          no_proxy: "localhost,127.0.0.1,::1",
        });
        args = bwrapArgs(policy, command, args);
        command = bwrapPath();
      }
      const run = startSupervised(command, args, { ...spec, cwd: spec.cwd, env });
      const done = run.done.finally(() => this.finish(spec, dir, view));
      return { ...run, done };
    } catch (err) {
      this.finish(spec, dir, view).catch(() => undefined);
      return refusedRun(`could not prepare the sandbox: ${(err as Error).message}`, spec);
    }
  }

  /** Take back the story's git changes and remove the run's directory. */
  private async finish(spec: ConfinedSpec, dir: string, view: GitView | undefined): Promise<void> {
    try {
      if (view) {
        const r = await closeGitView(view);
        if (r.refused.length)
          this.log.warn({ story: spec.storyId, refused: r.refused.slice(0, 10) }, "a confined run left git changes that were not taken");
      }
    } catch (err) {
      this.log.error({ story: spec.storyId, err: (err as Error).message }, "taking back a confined run's git changes failed");
    } finally {
      // Off the run's path: nothing reads the view once it is taken back.
      void rm(dir, { recursive: true, force: true })
        .then(() => rm(`${dir}.json`, { force: true }))
        .catch(() => undefined);
    }
  }

  /**
   * Take back the git views of runs a previous life of this node never finished (it died
   * mid-run): a commit the coder made is in its view until then. Call before reconciling
   * worktrees; the branch is taken only if nobody moved it since (as after any run).
   */
  async recoverViews(): Promise<string[]> {
    if (!this.o.root) return [];
    const base = join(this.o.root, ".huskies", "runs");
    let names: string[];
    try {
      names = readdirSync(base).filter((n) => n.endsWith(".json"));
    } catch {
      return [];
    }
    const taken: string[] = [];
    for (const n of names) {
      const meta = join(base, n);
      const view = parseView(readPlainFile(meta)?.toString("utf8"), join(base, n.slice(0, -".json".length)));
      if (view) {
        const r = await closeGitView(view);
        if (r.branch) taken.push(view.ownBranch ?? view.dir);
        if (r.refused.length)
          this.log.warn({ view: view.dir, refused: r.refused.slice(0, 10) }, "a left-behind git view had changes that were not taken");
      }
      await rm(view?.dir ?? meta.slice(0, -".json".length), { recursive: true, force: true });
      await rm(meta, { force: true });
    }
    if (taken.length) this.log.info({ branches: taken }, "took back git views a previous run left");
    return taken;
  }

  private excludesFile(): string {
    return join(this.socketDir!, "exclude");
  }

  /** A fresh directory for one run's git view, beside the repository (same file system). */
  private viewDir(storyId: string): string {
    const base = this.o.root ? join(this.o.root, ".huskies", "runs") : join(tmpdir(), "huskies-runs");
    if (!this.madeBase.has(base)) {
      mkdirSync(base, { recursive: true, mode: 0o700 });
      this.madeBase.add(base);
    }
    return mkdtempSync(join(base, `${storyId.slice(0, 40)}-`));
  }

  private readonly madeBase = new Set<string>();
}

/** Whether `command` names an executable: a path (relative to `cwd`), or a name on `path`. */
function findProgram(command: string, cwd: string, path: string | undefined): boolean {
  return command.includes("/") ? !!findExecutable(resolve(cwd, command)) : !!findExecutable(command, path ?? "");
}

/** A view's record, checked: huskies wrote it, but it is read back from disk after a crash. */
function parseView(text: string | undefined, dir: string): GitView | undefined {
  try {
    const v = JSON.parse(text ?? "") as GitView;
    const paths = [v.commonDir, v.adminDir, ...v.objectDirs];
    if (v.dir !== dir || !paths.every((p) => typeof p === "string" && p.startsWith("/"))) return undefined;
    if (v.ownBranch !== undefined && !/^feature\/story-[0-9]+_[a-z]+_[a-z0-9_]*$/.test(v.ownBranch)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

function argsOf(spec: ConfinedSpec, policy: RunPolicy | undefined, env: Record<string, string>): string[] {
  return typeof spec.args === "function" ? spec.args(policy, env) : [...spec.args];
}

/** A run that never started: its result says why (a node failure: the sandbox, not the story). */
function refusedRun(reason: string, spec: ConfinedSpec): SupervisedRun {
  const done = Promise.resolve(spec.finish({ exit: null, durationMs: 0, startError: reason, endedAt: Date.now() }));
  return { pid: -1, done, stop: () => Promise.resolve() };
}

/** The identity commits in a view are made by (the repository's or the user's git config). */
async function gitIdentity(root: string): Promise<{ name?: string; email?: string }> {
  const get = (key: string) =>
    new Promise<string | undefined>((resolve) => {
      const child = spawn("git", ["config", "--get", key], {
        cwd: root,
        stdio: ["ignore", "pipe", "ignore"],
        env: { ...process.env, HOME: process.env.HOME ?? homedir() },
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.once("error", () => resolve(undefined));
      child.once("close", () => resolve(out.trim() || undefined));
    });
  return { name: await get("user.name"), email: await get("user.email") };
}
