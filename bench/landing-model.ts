import type { RecordedRequest, Script, ScriptedReply } from "../src/demo/scripted-model-server.js";

/**
 * The landing benchmark's model (issue 29.4), behind the real `claude` binary: a competent agent
 * for stories that write a line, as a script. Each answer comes after a fixed latency, so wall
 * time measures huskies rather than the model.
 *
 * - A story (`working on story <id>`): looks at the tree, makes its change, commits, reports: four
 *   answers. Overlapping stories insert `line <id>` right after `# list` in `shared.txt` (so any two
 *   coded from one base conflict); the others write `notes/<id>.txt`.
 * - A conflict round (`## Conflict round`): merges the named base into the branch and resolves by
 *   keeping both sides (drops the marker lines), commits the merge, reports: two answers. It
 *   records whether the request carried its own earlier turns (the session that wrote the code).
 * - The mergemaster (`You are the mergemaster`): resolves the merge workspace the same way and
 *   stages it: two answers.
 */
export const SHARED = "shared.txt";
const KEEP_BOTH = `sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d'`;

export interface ModelStats {
  /** Conflict-round runs seen (their first answer), and of those, how many carried the story's own earlier turns. */
  rounds: number;
  roundsInOwnSession: number;
  /** Story ids of rounds that did not see their own earlier work. */
  roundsWithoutHistory: string[];
  mergemasterRuns: number;
  /** Requests the script did not recognise (answered with a short text). */
  other: number;
  /** Estimated tokens (4 characters each) of every request and answer. */
  inputTokens: number;
  outputTokens: number;
}

type Message = NonNullable<RecordedRequest["body"]["messages"]>[number];

function texts(m: Message): string[] {
  if (typeof m.content === "string") return [m.content];
  return m.content.filter((c) => c.type === "text").map((c) => c.text ?? "");
}

const PROMPT = /working on story ([0-9]+_[a-z]+_[a-z0-9_]*)|## Conflict round \d+|You are the mergemaster/;

/** The latest prompt huskies gave (a resumed session has earlier ones), and the answers since. */
function latestPrompt(req: RecordedRequest): { text: string; index: number; steps: number } | undefined {
  const msgs = req.body.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i]!;
    if (m.role !== "user") continue;
    const text = texts(m).find((t) => PROMPT.test(t));
    if (text !== undefined) return { text, index: i, steps: msgs.slice(i + 1).filter((x) => x.role === "assistant").length };
  }
  return undefined;
}

const bash = (command: string, description: string): ScriptedReply => ({ tool: { name: "Bash", input: { command, description } } });

function storyAnswer(id: string, overlapping: boolean, step: number): ScriptedReply {
  const change = overlapping ? `sed -i "/^# list$/a line ${id}" ${SHARED}` : `mkdir -p notes && echo "note of ${id}" > notes/${id}.txt`;
  switch (step) {
    case 0:
      return bash(`git status --short && cat ${SHARED}`, "Look at the tree");
    case 1:
      return bash(change, `Make the change of ${id}`);
    case 2:
      return bash(`git add -A && git commit -qm "Work on ${id}"`, "Commit it");
    default:
      return { text: `Done: ${id} is committed.` };
  }
}

/** The model, with its counters; `overlapping(id)` says which stories share lines of `shared.txt`. */
export function landingModel(opts: { latencyMs: number; overlapping: (id: string) => boolean }): { script: Script; stats: ModelStats } {
  const stats: ModelStats = {
    rounds: 0,
    roundsInOwnSession: 0,
    roundsWithoutHistory: [],
    mergemasterRuns: 0,
    other: 0,
    inputTokens: 0,
    outputTokens: 0,
  };
  const answer = (request: RecordedRequest): ScriptedReply => {
    const p = latestPrompt(request);
    if (!p) {
      stats.other += 1;
      return { text: "Nothing to do here." };
    }
    const round = /## Conflict round (\d+)/.exec(p.text);
    const story = /story ([0-9]+_[a-z]+_[a-z0-9_]*)/.exec(p.text)?.[1];
    if (/You are the mergemaster/.test(p.text)) {
      if (p.steps === 0) {
        stats.mergemasterRuns += 1;
        return bash(`${KEEP_BOTH} $(git diff --name-only --diff-filter=U) && git add -A`, "Keep both sides and stage the merge");
      }
      return { text: "Resolved: both sides kept, staged." };
    }
    if (round && story) {
      const ref = /git merge (huskies\/base\/\S+)/.exec(p.text)?.[1] ?? `origin/main`;
      if (p.steps === 0) {
        stats.rounds += 1;
        // Its own earlier work is in the conversation: the command that made its change.
        const history = JSON.stringify((request.body.messages ?? []).slice(0, p.index));
        if (history.includes(`line ${story}`) || history.includes(`note of ${story}`)) stats.roundsInOwnSession += 1;
        else stats.roundsWithoutHistory.push(story);
        return bash(
          `git merge --no-edit ${ref} || { ${KEEP_BOTH} ${SHARED} && git add -A && git commit -q --no-edit; }`,
          `Merge ${ref}, keeping both sides`,
        );
      }
      return { text: `Merged ${ref} into the branch, both sides kept.` };
    }
    if (story) return storyAnswer(story, opts.overlapping(story), p.steps);
    stats.other += 1;
    return { text: "Nothing to do here." };
  };
  const script: Script = async ({ request }) => {
    const reply = answer(request);
    stats.inputTokens += Math.ceil(JSON.stringify(request.body).length / 4);
    stats.outputTokens += Math.ceil(JSON.stringify(reply).length / 4);
    await new Promise((r) => setTimeout(r, opts.latencyMs));
    return reply;
  };
  return { script, stats };
}
