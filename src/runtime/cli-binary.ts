import { findExecutable } from "./sandbox.js";

/** The npm package each CLI runtime's binary comes from (named in preflight problems). */
export const CLI_PACKAGES = { codex: "@openai/codex", gemini: "@google/gemini-cli" } as const;
export type CliRuntime = keyof typeof CLI_PACKAGES;

/**
 * A CLI runtime's executable: the slot's `path`, else `codex`/`gemini` on PATH. huskies does not
 * install these (together ~500 MB): a node that runs such slots installs the package itself.
 */
export function findCli(runtime: CliRuntime, configured?: string, path = process.env.PATH ?? ""): string {
  return configured ?? findExecutable(runtime, path) ?? runtime;
}

/** The preflight problem of a slot whose CLI is not installed, or undefined. */
export function missingCli(runtime: CliRuntime, slot: string, configured?: string, path = process.env.PATH ?? ""): string | undefined {
  const bin = findCli(runtime, configured, path);
  if (findExecutable(bin, path)) return undefined;
  return `slot ${slot}: ${runtime} not found or not executable (${bin}); install ${CLI_PACKAGES[runtime]} (npm install -g ${CLI_PACKAGES[runtime]}) or set the slot's path`;
}
