/** agents.toml snippets for tests: `command`-runtime coders that are shell scripts. */

/** A coder that writes one file named after the story and commits it. */
export const COMMIT_SCRIPT =
  'echo "done by $HUSKIES_SLOT" > "story-$HUSKIES_STORY_ID.txt" && git add -A && git commit -qm "work on $HUSKIES_STORY_ID"';

/** `env`: names of the node's environment variables the coder may see (agents.toml `env`). */
export function commandSlots(n: number, script = COMMIT_SCRIPT, role = "coder", prefix = "coder", env: string[] = []): string {
  return Array.from(
    { length: n },
    (_, i) => `[[agent]]
name = "${prefix}-${i + 1}"
role = "${role}"
runtime = "command"
command = "sh"
args = ["-c", ${JSON.stringify(script)}]
${env.length ? `env = ${JSON.stringify(env)}\n` : ""}`,
  ).join("\n");
}

export function projectToml(over: Record<string, string | number | boolean> = {}, gates: string[] = []): string {
  const base: Record<string, string | number | boolean> = {
    default_qa: "human",
    scan_interval_secs: 1,
    node_alive_secs: 5,
    mesh_scan_interval_secs: 1,
    ...over,
  };
  const lines = Object.entries(base).map(([k, v]) => `${k} = ${typeof v === "string" ? JSON.stringify(v) : v}`);
  return `${lines.join("\n")}\n\n[gates]\ncommands = ${JSON.stringify(gates)}\n`;
}

/** One claude-code coder slot for end-to-end tests with the real `claude` binary. */
export function claudeSlot(o: { maxTurns?: number; tools?: string[]; sandbox?: "auto" | "required" | "off" } = {}): string {
  return `[[agent]]
name = "claude-1"
role = "coder"
runtime = "claude-code"
model = "claude-sonnet-4-5"
max_turns = ${o.maxTurns ?? 6}
allowed_tools = ${JSON.stringify(o.tools ?? ["Bash", "Write", "Edit", "Read"])}
${o.sandbox ? `sandbox = "${o.sandbox}"\n` : ""}`;
}

/**
 * A `[sandbox]` section letting confined coders read `dirs` (project.toml). Coders run confined
 * with a private `/tmp`, so a test's signal file must sit in a directory named here to be seen.
 */
export function sandboxReads(...dirs: string[]): string {
  return `\n[sandbox]\nallow_read = ${JSON.stringify(dirs)}\n`;
}
