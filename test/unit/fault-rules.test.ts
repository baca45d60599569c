import { describe, expect, it } from "vitest";
import { GitError } from "../../src/git/git.js";
import { changedByGates, gateChangedFilesFailure } from "../../src/pipeline/gate-rules.js";
import { isNodeTrouble, missingWorktree, troubleVerdict } from "../../src/pipeline/node-trouble.js";
import { classifyPushError } from "../../src/pipeline/push-outcome.js";
import { recordEnd, recordStart, startDelay, startGap, storyDelay } from "../../src/pipeline/start-breaker.js";
import { squashMessage, trailerPattern, trailerStories } from "../../src/pipeline/story-trailer.js";
import { controlCharacter, controlCharacterMessage, withoutControlCharacters } from "../../src/pipeline/text-rules.js";
import { parseOomKills } from "../../src/runtime/memory-cgroup.js";
import { classifyRun, type RunFacts } from "../../src/runtime/run-outcome.js";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("isNodeTrouble: the machine's trouble, never the story's", () => {
  it("a full disk, by errno code or by the words of git and SQLite", () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    expect(isNodeTrouble(enospc)).toMatchObject({ kind: "disk_full", storyMayCause: true });
    const gitFull = new GitError(["worktree", "add"], "error: unable to write file README.md: No space left on device\nfatal: ...", 128);
    expect(isNodeTrouble(gitFull)?.kind).toBe("disk_full");
    expect(isNodeTrouble({ code: "SQLITE_FULL", message: "database or disk is full" })?.kind).toBe("disk_full");
    expect(isNodeTrouble("fatal: cannot write: Disk quota exceeded")?.kind).toBe("disk_full");
  });

  it("origin out of reach only for git's network commands, a refusal is not trouble", () => {
    const refused = new GitError(
      ["push", "--quiet", "origin", "HEAD:refs/heads/main"],
      "fatal: unable to access 'http://127.0.0.1:9/x.git/': Failed to connect to 127.0.0.1 port 9: Connection refused",
      128,
    );
    expect(isNodeTrouble(refused)).toMatchObject({ kind: "origin_unreachable", storyMayCause: false });
    const path = new GitError(
      ["fetch", "--quiet", "origin"],
      "fatal: '/nowhere/origin.git' does not appear to be a git repository\nfatal: Could not read from remote repository.",
      128,
    );
    expect(isNodeTrouble(path)?.kind).toBe("origin_unreachable");
    const hung = new GitError(["ls-remote", "origin"], "\ngit ls-remote timed out after 2s and was killed", 1);
    expect(isNodeTrouble(hung)?.kind).toBe("origin_unreachable");
    const hookSaidNo = new GitError(
      ["push", "--quiet", "origin", "HEAD:refs/heads/main"],
      "remote: main is frozen\n ! [remote rejected] HEAD -> main (pre-receive hook declined)\nerror: failed to push some refs",
      1,
    );
    expect(isNodeTrouble(hookSaidNo)).toBeUndefined();
    // The same words from a local command or from an agent's output are not about origin.
    expect(isNodeTrouble(new GitError(["commit", "-m", "x"], "Could not resolve host: github.com", 1))).toBeUndefined();
    expect(isNodeTrouble("npm ERR! Could not resolve host: registry.npmjs.org")).toBeUndefined();
  });

  it("memory, missing folders, a locked store, process limits and hung local git", () => {
    expect(isNodeTrouble({ code: "ENOMEM", message: "spawn ENOMEM" })).toMatchObject({ kind: "out_of_memory", storyMayCause: true });
    expect(isNodeTrouble(new GitError(["status"], "fatal: cannot change to '/x/wt': No such file or directory", 128))).toMatchObject({
      kind: "missing_path",
      storyMayCause: false,
    });
    expect(isNodeTrouble({ code: "SQLITE_BUSY", message: "database is locked" })?.kind).toBe("store");
    expect(isNodeTrouble({ code: "EMFILE", message: "too many open files" })?.kind).toBe("resources");
    expect(isNodeTrouble(new GitError(["status"], "git status timed out after 300s and was killed", 1))?.kind).toBe("timeout");
    expect(isNodeTrouble({ code: "EROFS", message: "read-only file system" })).toMatchObject({ kind: "disk_error", storyMayCause: false });
  });

  it("a story's own failures are none of these", () => {
    expect(isNodeTrouble(new Error("gate `npm test` failed (exit 1)"))).toBeUndefined();
    expect(isNodeTrouble(new GitError(["merge", "--squash"], "CONFLICT (content): Merge conflict in a.txt", 1))).toBeUndefined();
    expect(isNodeTrouble(undefined)).toBeUndefined();
    expect(isNodeTrouble(42)).toBeUndefined();
  });

  it("a worktree that vanished mid-step may be the story's doing", () => {
    expect(missingWorktree("/p/.huskies/worktrees/1_story_x")).toMatchObject({ kind: "missing_path", storyMayCause: true });
  });
});

describe("troubleVerdict: a story that troubles every node is blocked, not the fleet paused for ever", () => {
  const disk = { storyMayCause: true };
  it("two different nodes make it everywhere; the same node twice does not", () => {
    expect(troubleVerdict([], A, disk)).toEqual({ troubledNodes: [A], everywhere: false });
    expect(troubleVerdict([A], A, disk)).toEqual({ troubledNodes: [A], everywhere: false });
    expect(troubleVerdict([A], B, disk)).toEqual({ troubledNodes: [A, B], everywhere: true });
  });
  it("trouble the story cannot cause (origin down) leaves the record alone", () => {
    expect(troubleVerdict([A], B, { storyMayCause: false })).toEqual({ troubledNodes: [A], everywhere: false });
  });
});

describe("the job-start breaker", () => {
  const t = { minMs: 5000, maxMs: 300_000 };
  it("at most one start per 5 s, doubling after failures in a row, capped, reset by a success", () => {
    expect(startDelay(undefined, 1000, t)).toBe(0);
    let rec = recordStart(undefined, 10_000);
    expect(startDelay(rec, 10_001, t)).toBe(4999);
    expect(startDelay(rec, 15_000, t)).toBe(0);
    rec = recordEnd(rec, true);
    rec = recordEnd(recordStart(rec, 15_000), true);
    expect(rec.failuresInARow).toBe(2);
    expect(startDelay(rec, 15_000, t)).toBe(10_000);
    expect(startGap(3, t)).toBe(20_000);
    expect(startGap(30, t)).toBe(300_000);
    expect(recordEnd(rec, false).failuresInARow).toBe(0);
    // 20 s of a step failing at once: starts at 0, 5, 15 s — three, not half a million.
    let now = 0;
    let starts = 0;
    let r: ReturnType<typeof recordStart> | undefined;
    while (now < 20_000) {
      if (startDelay(r, now, t) === 0) {
        starts += 1;
        r = recordEnd(recordStart(r, now), true);
      }
      now += 1;
    }
    expect(starts).toBe(3);
  });
  it("after a failed job any next step of the story waits; after a good one the next step starts at once", () => {
    const good = recordEnd(recordStart(undefined, 0), false);
    expect(storyDelay(good, 1000, t)).toBe(0);
    const bad = recordEnd(recordStart(undefined, 0), true);
    expect(storyDelay(bad, 1000, t)).toBe(4000);
    expect(storyDelay(undefined, 1000, t)).toBe(0);
  });
});

describe("classifyPushError: a race is retried, a refusal carries the remote's own words", () => {
  it("a pre-receive hook's message is kept whole", () => {
    const stderr =
      "remote: main is frozen: no merges until the release        \nremote: ask #release        \nTo /tmp/o.git\n ! [remote rejected] HEAD -> main (pre-receive hook declined)\nerror: failed to push some refs to '/tmp/o.git'\n";
    expect(classifyPushError(stderr)).toEqual({
      kind: "refused",
      message: "main is frozen: no merges until the release\nask #release\n(pre-receive hook declined)",
    });
  });
  it("fetch first and non-fast-forward are races; anything else is other", () => {
    expect(classifyPushError(" ! [rejected]        HEAD -> main (fetch first)\nerror: failed\nhint: ...")).toEqual({ kind: "race" });
    expect(classifyPushError(" ! [rejected]        HEAD -> main (non-fast-forward)\n")).toEqual({ kind: "race" });
    expect(classifyPushError("fatal: Could not read from remote repository.")).toEqual({ kind: "other" });
  });
  it("terminal escapes from the remote are dropped", () => {
    const r = classifyPushError("remote: \u001b[31mno\u001b[0m\u001b[K\n ! [remote rejected] HEAD -> main (hook declined)\n");
    expect(r).toEqual({ kind: "refused", message: "no\n(hook declined)" });
  });
});

describe("text rules: control characters other than newline and tab are refused", () => {
  it("finds NUL, escapes, DEL, C1 and a lone CR; accepts newline, tab and CRLF", () => {
    expect(controlCharacter("fix the\tlogin\nform\r\n")).toBeUndefined();
    expect(controlCharacter("a\u0000b")).toEqual({ index: 1, code: 0 });
    expect(controlCharacter("\u001b[2Jboard")).toEqual({ index: 0, code: 0x1b });
    expect(controlCharacter("x\u007f")).toEqual({ index: 1, code: 0x7f });
    expect(controlCharacter("x\u0085")).toEqual({ index: 1, code: 0x85 });
    expect(controlCharacter("a\rb")).toEqual({ index: 1, code: 0x0d });
    expect(controlCharacterMessage({ index: 3, code: 0 })).toBe(
      "contains a control character (U+0000) at position 3; only newline and tab are allowed",
    );
    expect(withoutControlCharacters("a\u0000b\u001b[1mc\nd\te")).toBe("ab[1mc\nd\te");
  });
});

describe("story trailer on squash commits", () => {
  it("the message names the story in a trailer, from a hostile name", () => {
    const msg = squashMessage("7_story_login", "Log\u0000in\n  form", "feature/story-7_story_login");
    expect(msg).toBe(
      "7_story_login: Login form\n\nSquash-merge of feature/story-7_story_login by huskies.\n\nHuskies-Story: 7_story_login\n",
    );
    expect(trailerStories(msg)).toEqual(["7_story_login"]);
    expect(new RegExp(trailerPattern("1_story_a"), "m").test("x\n\nHuskies-Story: 1_story_ab\n")).toBe(false);
    expect(new RegExp(trailerPattern("1_story_a"), "m").test("x\n\nHuskies-Story: 1_story_a\n")).toBe(true);
  });
});

describe("gate rules", () => {
  it("lists the tracked files a gate changed, not those changed before it", () => {
    expect(changedByGates(["a.ts"], ["a.ts", "b.ts", "README.md"])).toEqual(["README.md", "b.ts"]);
    expect(changedByGates([], [])).toEqual([]);
    expect(gateChangedFilesFailure(["README.md"])).toContain("  README.md");
  });
});

describe("OOM kills", () => {
  const facts = (over: Partial<RunFacts>): RunFacts => ({
    runtime: "command",
    events: [],
    stdout: [],
    stderr: [],
    exit: null,
    signal: "SIGKILL",
    endedAt: 0,
    ...over,
  });
  it("reads the counter of cgroup v2 memory.events and v1 memory.oom_control", () => {
    expect(parseOomKills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")).toBe(1);
    expect(parseOomKills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")).toBe(2);
    expect(parseOomKills("oom_kill_disable 0\nunder_oom 0\n")).toBeUndefined();
  });
  it("a run the OOM killer ended is lost (resumed), a plain kill -9 stays a story failure", () => {
    expect(classifyRun(facts({ oomKilled: true }))).toMatchObject({ outcome: "lost", oomKilled: true });
    expect(classifyRun(facts({}))).toMatchObject({ outcome: "story_failure", reason: "killed by SIGKILL" });
    const claude = facts({ runtime: "claude-code", oomKilled: true, events: [{ type: "system", subtype: "init", session_id: "s-1" }] });
    expect(classifyRun(claude)).toMatchObject({ outcome: "lost", sessionId: "s-1" });
    // A run that finished is done, whatever happened to its children.
    expect(classifyRun(facts({ exit: 0, signal: undefined, oomKilled: true })).outcome).toBe("done");
  });
});
