import { useEffect, useState } from "react";
import type { StuckConfig } from "../../src/pipeline/stuck-hint";

/**
 * Used until (or unless) the server says otherwise: DESIGN's `node_alive_secs`; the QA mode is
 * left unknown rather than guessed, so no hint about QA is shown on a guess.
 */
const DEFAULTS: StuckConfig = { nodeAliveMs: 60_000, defaultQa: undefined };

/**
 * The project settings the board's rules need (`node_alive_secs`, `default_qa`), read once from
 * the server's `/health` (`config` field) when it offers them; else the documented defaults.
 */
export function useBoardConfig(): StuckConfig {
  const [cfg, setCfg] = useState(DEFAULTS);
  useEffect(() => {
    let live = true;
    fetch("/health")
      .then((r) => (r.ok ? r.json() : undefined))
      .then((h: { config?: { node_alive_secs?: number; default_qa?: StuckConfig["defaultQa"] } } | undefined) => {
        if (!live || !h?.config) return;
        setCfg({
          nodeAliveMs: typeof h.config.node_alive_secs === "number" ? h.config.node_alive_secs * 1000 : DEFAULTS.nodeAliveMs,
          defaultQa: h.config.default_qa ?? DEFAULTS.defaultQa,
        });
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return cfg;
}
