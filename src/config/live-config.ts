import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { UserError } from "../errors.js";
import { watch, type FSWatcher } from "chokidar";
import { CONFIG_DEBOUNCE_MS } from "./defaults.js";
import { agentsConfigPath, loadAgentsConfig, type AgentsConfig } from "./agents-config.js";
import { loadProjectConfig, projectConfigPath, type ProjectConfig } from "./project-config.js";
import { logger } from "../log.js";

const log = logger("config");

/**
 * The project's configuration, reloaded when `project.toml` or `agents.toml` change
 * (debounced). An invalid edit is logged with its file and reason and the previous config kept.
 */
export class LiveConfig extends EventEmitter<{ change: []; rejected: [reason: string] }> {
  project: ProjectConfig;
  agents: AgentsConfig;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Loads both files from `root`, unless `initial` gives the values (tests, embedded use). */
  constructor(
    readonly root: string,
    initial?: { project: ProjectConfig; agents: AgentsConfig },
  ) {
    super();
    this.project = initial?.project ?? loadProjectConfig(root);
    this.agents = initial?.agents ?? loadAgentsConfig(root);
    this.agentsFilePresent = !initial && existsSync(agentsConfigPath(root));
  }

  /** Whether agents.toml existed when the config in use was read (a missing one means "no slots"). */
  private agentsFilePresent = false;

  /** Resolves once the file watcher is armed (edits before that are not seen). */
  ready: Promise<void> = Promise.resolve();

  watch(): this {
    this.watcher = watch([projectConfigPath(this.root), agentsConfigPath(this.root)], { ignoreInitial: true });
    this.ready = new Promise((resolve) =>
      this.watcher!.once("ready", () => {
        log.debug({ root: this.root }, "config files watched");
        resolve();
      }),
    );
    this.watcher.on("all", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), CONFIG_DEBOUNCE_MS);
    });
    return this;
  }

  reload(): boolean {
    try {
      // A file that disappears is treated like an invalid one (issue 24, rule 8): a deleted
      // agents.toml read as "no slots" silently stopped an agent. Start without it to mean that.
      const agentsFile = agentsConfigPath(this.root);
      const projectFile = projectConfigPath(this.root);
      for (const [file, was] of [
        [projectFile, true],
        [agentsFile, this.agentsFilePresent],
      ] as const)
        if (was && !existsSync(file))
          throw new UserError(`config file ${file} disappeared (restore it; huskies goes on with the previous config)`);
      const project = loadProjectConfig(this.root);
      const agents = loadAgentsConfig(this.root);
      this.project = project;
      this.agents = agents;
      this.agentsFilePresent = existsSync(agentsFile);
      log.info({ max_coders: project.max_coders, max_mesh_peers: project.max_mesh_peers, slots: agents.agent.length }, "config reloaded");
      this.emit("change");
      return true;
    } catch (err) {
      log.error({ reason: (err as Error).message }, "config edit rejected; keeping the previous config");
      this.emit("rejected", (err as Error).message);
      return false;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
  }
}
