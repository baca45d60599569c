import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { agentSlotSchema, type AgentSlot } from "../../src/config/agents-config.js";
import { preflightSlots } from "../../src/runtime/preflight.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A PATH directory holding these files; `true` = executable. */
function bin(files: Record<string, boolean>): string {
  const dir = mkdtempSync(join(tmpdir(), "huskies-bin-"));
  dirs.push(dir);
  for (const [name, exec] of Object.entries(files)) {
    writeFileSync(join(dir, name), "#!/bin/sh\n");
    chmodSync(join(dir, name), exec ? 0o755 : 0o644);
  }
  return dir;
}

const slot = (s: Partial<AgentSlot>): AgentSlot => agentSlotSchema.parse({ name: "s1", ...s });

describe("preflight of a node's slots", () => {
  it("finds nothing wrong when every binary is there", () => {
    const path = bin({ claude: true, codex: true, bwrap: true, socat: true });
    expect(
      preflightSlots(
        [slot({ claude_path: join(path, "claude"), sandbox: "required" }), slot({ name: "s2", runtime: "command", command: "codex" })],
        { path, probe: { works: true } },
      ),
    ).toEqual([]);
  });

  it("names a missing or non-executable runtime binary, one line per slot", () => {
    const path = bin({ codex: false });
    const problems = preflightSlots(
      [slot({ claude_path: "/nonexistent/claude" }), slot({ name: "s2", runtime: "command", command: "codex" })],
      { path },
    );
    expect(problems.map((p) => p.slot)).toEqual(["s1", "s2"]);
    expect(problems[0]!.message).toBe(
      "slot s1: claude not found or not executable (/nonexistent/claude); install @anthropic-ai/claude-code or set claude_path",
    );
    expect(problems[1]!.message).toBe("slot s2: command codex not found or not executable");
  });

  it('refuses sandbox = "required" (on any runtime, and for gates) when the sandbox did not start; auto is not a problem', () => {
    const path = bin({ claude: true, codex: true });
    const claude = join(path, "claude");
    const probe = { works: false, reason: "bwrap and socat not found on PATH (install bubblewrap and socat)" };
    expect(
      preflightSlots(
        [
          slot({ claude_path: claude, sandbox: "required" }),
          slot({ name: "s2", runtime: "command", command: "codex", sandbox: "required" }),
        ],
        { path, probe, gates: { sandbox: "required" } },
      ),
    ).toEqual([
      { slot: "s1", message: 'slot s1: sandbox = "required" but bwrap and socat not found on PATH (install bubblewrap and socat)' },
      { slot: "s2", message: 'slot s2: sandbox = "required" but bwrap and socat not found on PATH (install bubblewrap and socat)' },
      { slot: "gates", message: '[gates] sandbox = "required" but bwrap and socat not found on PATH (install bubblewrap and socat)' },
    ]);
    expect(preflightSlots([slot({ claude_path: claude })], { path, probe })).toEqual([]);
  });

  it("does not guess at commands relative to the worktree or made of templates", () => {
    expect(
      preflightSlots(
        [
          slot({ runtime: "command", command: "./scripts/agent.sh" }),
          slot({ name: "s2", runtime: "command", command: "{{worktree_path}}/run" }),
        ],
        { path: bin({}) },
      ),
    ).toEqual([]);
  });
});
