import type { AgentSlot, SandboxMode } from "../config/agents-config.js";
import type { SandboxProbe } from "../confinement/probe.js";
import { findClaude } from "./claude-code-runtime.js";
import { missingCli } from "./cli-binary.js";
import { findExecutable } from "./sandbox.js";

/** One reason a slot cannot run on this node; the node pauses instead of failing stories. */
export interface Problem {
  slot: string;
  message: string;
}

/**
 * Check at start that every slot can run here: its runtime's binary exists and is executable, and
 * a `sandbox = "required"` slot (or `[gates] sandbox = "required"`) has a sandbox that really
 * started (`probe`, from `probeSandbox`). (An `auto` slot without one is not a problem: each of
 * its runs says it runs unconfined.)
 */
export function preflightSlots(
  slots: readonly AgentSlot[],
  o: { probe?: SandboxProbe; gates?: { sandbox?: SandboxMode }; path?: string } = {},
): Problem[] {
  const path = o.path ?? process.env.PATH ?? "";
  const problems: Problem[] = [];
  const noSandbox = o.probe && !o.probe.works ? (o.probe.reason ?? "the sandbox does not start") : undefined;
  for (const slot of slots) {
    if (slot.runtime === "claude-code") {
      const claude = findClaude(slot.claude_path);
      if (!findExecutable(claude, path))
        problems.push({
          slot: slot.name,
          message: `slot ${slot.name}: claude not found or not executable (${claude}); install @anthropic-ai/claude-code or set claude_path`,
        });
    } else if (slot.runtime === "codex" || slot.runtime === "gemini") {
      const problem = missingCli(slot.runtime, slot.name, slot.path, path);
      if (problem) problems.push({ slot: slot.name, message: problem });
    } else if (slot.command && checkable(slot.command) && !findExecutable(slot.command, path)) {
      problems.push({ slot: slot.name, message: `slot ${slot.name}: command ${slot.command} not found or not executable` });
    }
    if (slot.sandbox === "required" && noSandbox)
      problems.push({ slot: slot.name, message: `slot ${slot.name}: sandbox = "required" but ${noSandbox}` });
  }
  if (o.gates?.sandbox === "required" && noSandbox)
    problems.push({ slot: "gates", message: `[gates] sandbox = "required" but ${noSandbox}` });
  return problems;
}

/** A bare name (looked up on PATH) or an absolute path; relative paths depend on the worktree. */
function checkable(command: string): boolean {
  return !command.includes("{{") && (command.startsWith("/") || !command.includes("/"));
}
