import type { AgentSlot } from "../config/agents-config.js";
import { findClaude } from "./claude-code-runtime.js";
import { missingCli } from "./cli-binary.js";
import { findExecutable, missingSandboxTools } from "./sandbox.js";

/** One reason a slot cannot run on this node; the node pauses instead of failing stories. */
export interface Problem {
  slot: string;
  message: string;
}

/**
 * Check at start that every slot can run here: its runtime's binary exists and is executable, and
 * a `sandbox = "required"` slot has bubblewrap and socat. Reads only the file system and PATH.
 * (An `auto` slot without bwrap is not a problem: its runtime logs one warning line.)
 */
export function preflightSlots(slots: readonly AgentSlot[], path = process.env.PATH ?? ""): Problem[] {
  const problems: Problem[] = [];
  const missing = missingSandboxTools(path);
  for (const slot of slots) {
    if (slot.runtime === "claude-code") {
      const claude = findClaude(slot.claude_path);
      if (!findExecutable(claude, path))
        problems.push({
          slot: slot.name,
          message: `slot ${slot.name}: claude not found or not executable (${claude}); install @anthropic-ai/claude-code or set claude_path`,
        });
      if (slot.sandbox === "required" && missing.length)
        problems.push({
          slot: slot.name,
          message: `slot ${slot.name}: sandbox = "required" but ${missing.join(" and ")} not found on PATH (install bubblewrap and socat)`,
        });
    } else if (slot.runtime === "codex" || slot.runtime === "gemini") {
      const problem = missingCli(slot.runtime, slot.name, slot.path, path);
      if (problem) problems.push({ slot: slot.name, message: problem });
      if (slot.sandbox === "required" && !findExecutable("bwrap", path))
        problems.push({
          slot: slot.name,
          message: `slot ${slot.name}: sandbox = "required" but bwrap not found on PATH (install bubblewrap)`,
        });
    } else if (slot.command && checkable(slot.command) && !findExecutable(slot.command, path)) {
      problems.push({ slot: slot.name, message: `slot ${slot.name}: command ${slot.command} not found or not executable` });
    }
  }
  return problems;
}

/** A bare name (looked up on PATH) or an absolute path; relative paths depend on the worktree. */
function checkable(command: string): boolean {
  return !command.includes("{{") && (command.startsWith("/") || !command.includes("/"));
}
