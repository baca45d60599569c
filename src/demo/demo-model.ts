import type { Script } from "./scripted-model-server.js";

/**
 * The built-in scripted model of `huskies demo`: for a coder prompt it writes
 * `stories/<id>.md` from the story's markdown and commits it with the Bash tool, then reports.
 * It answers anything else with a short text, so an unexpected prompt ends cleanly.
 */
export const demoModel: Script = ({ step, prompt }) => {
  const id = /working on story ([0-9]+_[a-z]+_[a-z0-9_]*)\./.exec(prompt)?.[1];
  if (!id) return { text: "Nothing for me to do here." };
  if (step === 0) {
    // The id matched the validated id pattern above, so it is safe inside this command.
    const command = `mkdir -p stories && cp "$HUSKIES_PROMPT_FILE" stories/${id}.md && git add stories && git commit -qm "Write up ${id}"`;
    return { tool: { name: "Bash", input: { command, description: `Write stories/${id}.md and commit it` } } };
  }
  return { text: `Done: stories/${id}.md is committed on the feature branch.` };
};
