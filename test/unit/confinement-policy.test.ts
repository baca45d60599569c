import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { bwrapArgs } from "../../src/confinement/bwrap.js";
import { claudeSettings } from "../../src/confinement/claude-settings.js";
import { closeGitView, looseObjectMatches, openGitView, readRef } from "../../src/confinement/git-view.js";
import { readPlainFile, writeHostFile } from "../../src/confinement/host-files.js";
import { buildPolicy, NO_SANDBOX_SETTINGS } from "../../src/confinement/policy.js";
import { GIT_ENV } from "../support/git-fixture.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, env: { ...process.env, ...GIT_ENV } })
    .toString()
    .trim();

describe("the policy as bwrap applies it", () => {
  it("binds nothing but what the policy names, drops every capability, unshares pid and net, mounts the channel", () => {
    const policy = buildPolicy({
      cwd: "/tmp/p/.huskies/worktrees/1_story_x",
      projectRoot: "/tmp/p",
      settings: { allow_read: ["/srv/cache"], allow_write: ["/srv/out"], allow_hosts: [] },
      channel: { hostPath: "/tmp/sock/1.sock", sandboxPath: "/run/huskies/mcp.sock" },
    });
    const a = bwrapArgs(policy, "/bin/sh", ["-c", "true"]);
    const pairs = a.map((x, i) => `${x} ${a[i + 1] ?? ""} ${a[i + 2] ?? ""}`);
    expect(pairs.some((p) => /--(ro-)?bind \/ \//.test(p))).toBe(false);
    expect(a.join(" ")).toContain("--cap-drop ALL");
    for (const f of ["--unshare-pid", "--unshare-net", "--die-with-parent", "--new-session"]) expect(a).toContain(f);
    expect(a.join(" ")).toContain("--bind-try /tmp/p/.huskies/worktrees/1_story_x /tmp/p/.huskies/worktrees/1_story_x");
    expect(a.join(" ")).toContain("--ro-bind-try /srv/cache /srv/cache");
    expect(a.join(" ")).toContain("--bind-try /srv/out /srv/out");
    expect(a.join(" ")).toContain("--bind /tmp/sock/1.sock /run/huskies/mcp.sock");
    expect(a.join(" ")).toContain("--tmpfs /tmp");
    if (existsSync("/etc/shadow")) expect(a.join(" ")).toContain("--ro-bind /dev/null /etc/shadow");
    expect(a.join(" ")).not.toContain("/root");
    expect(a.join(" ")).not.toContain("/tmp/p/.huskies ");
  });

  it("becomes claude's settings: deny-by-default reads, the run's paths re-allowed, the repository read-only, the login denied", () => {
    const policy = buildPolicy({
      cwd: "/tmp/p/.huskies/worktrees/1_story_x",
      projectRoot: "/tmp/p",
      settings: NO_SANDBOX_SETTINGS,
      git: { viewDir: "/tmp/p/.huskies/runs/v", objectsDir: "/tmp/p/.git/objects", commonDir: "/tmp/p/.git", env: {} },
      egress: { socket: "/tmp/s/egress.sock", port: 4567 },
    });
    const s = claudeSettings(policy.cwd, policy, { required: true, credentialFiles: ["/cfg/.credentials.json"] }) as {
      sandbox: {
        filesystem: Record<string, string[]>;
        network: Record<string, unknown>;
        credentials: { files: unknown[] };
        failIfUnavailable: boolean;
      };
    };
    expect(s.sandbox.failIfUnavailable).toBe(true);
    expect(s.sandbox.filesystem.denyRead).toEqual(expect.arrayContaining(["/tmp", "/root", "/tmp/p/.huskies", "/cfg/.credentials.json"]));
    expect(s.sandbox.filesystem.denyRead).not.toContain("/usr");
    expect(s.sandbox.filesystem.allowRead).toEqual(expect.arrayContaining([policy.cwd, "/tmp/p/.huskies/runs/v", "/tmp/p/.git/objects"]));
    expect(s.sandbox.filesystem.allowRead).not.toContain("/etc");
    expect(s.sandbox.filesystem.allowWrite).toEqual([policy.cwd, "/tmp/p/.huskies/runs/v"]);
    expect(s.sandbox.filesystem.denyWrite).toEqual(expect.arrayContaining([`${policy.cwd}/.git`, "/tmp/p/.git"]));
    expect(s.sandbox.network).toMatchObject({ httpProxyPort: 4567, socksProxyPort: 4567 });
    expect(s.sandbox.credentials.files).toEqual([{ path: "/cfg/.credentials.json", mode: "deny" }]);
  });
});

describe("a run's git view", () => {
  function repo(): { root: string; wt: string } {
    const root = tmp("huskies-view-");
    git(root, "init", "-q", "-b", "main");
    git(root, "commit", "-q", "--allow-empty", "-m", "base");
    const wt = join(root, ".huskies", "worktrees", "1_story_x");
    git(root, "worktree", "add", "-q", "-b", "feature/story-1_story_x", wt);
    git(root, "branch", "feature/story-2_story_other");
    return { root, wt };
  }

  it("takes back the own branch and its objects, and nothing else the run's git moved", async () => {
    const { root, wt } = repo();
    const base = git(root, "rev-parse", "main");
    const view = openGitView({ cwd: wt, dir: tmp("huskies-v-"), ownBranch: "feature/story-1_story_x", baseBranch: "main" })!;
    const env = { ...process.env, ...GIT_ENV, ...view.env };
    const run = (...args: string[]) => execFileSync("git", args, { cwd: wt, env }).toString().trim();
    writeFileSync(join(wt, "a.txt"), "a\n");
    run("add", "a.txt");
    run("commit", "-qm", "work");
    const head = run("rev-parse", "HEAD");
    run("update-ref", "refs/heads/main", head);
    run("update-ref", "refs/heads/feature/story-2_story_other", head);
    writeFileSync(join(view.dir, "config"), "[core]\n\thooksPath = /tmp/evil\n");
    const r = await closeGitView(view);
    expect(r.branch).toBe(head);
    expect(r.objects).toBeGreaterThanOrEqual(3);
    expect(git(root, "rev-parse", "feature/story-1_story_x")).toBe(head);
    expect(git(root, "rev-parse", "main")).toBe(base);
    expect(git(root, "rev-parse", "feature/story-2_story_other")).toBe(base);
    expect(git(wt, "status", "--porcelain")).toBe("");
    expect(readFileSync(join(root, ".git", "config"), "utf8")).not.toContain("evil");
  }, 30_000);

  it("refuses objects whose content does not match their name, and a branch moved meanwhile", async () => {
    const { root, wt } = repo();
    const view = openGitView({ cwd: wt, dir: tmp("huskies-v-"), ownBranch: "feature/story-1_story_x", baseBranch: "main" })!;
    const body = Buffer.from("blob 5\0hello");
    const name = createHash("sha1").update(Buffer.from("blob 6\0hello!")).digest("hex");
    expect(looseObjectMatches(deflateSync(body), name)).toBe(false);
    expect(looseObjectMatches(deflateSync(body), createHash("sha1").update(body).digest("hex"))).toBe(true);
    execFileSync("mkdir", ["-p", join(view.dir, "objects", name.slice(0, 2))]);
    writeFileSync(join(view.dir, "objects", name.slice(0, 2), name.slice(2)), deflateSync(body));
    const main = git(root, "rev-parse", "main");
    writeFileSync(join(view.dir, "refs", "heads", "feature", "story-1_story_x"), `${main}\n`);
    git(root, "commit", "-q", "--allow-empty", "-m", "moved by someone else");
    git(root, "update-ref", "refs/heads/feature/story-1_story_x", git(root, "rev-parse", "HEAD"));
    const moved = readRef(join(root, ".git"), "refs/heads/feature/story-1_story_x");
    // The view's branch equals its start value: nothing to take; make it differ.
    writeFileSync(join(view.dir, "refs", "heads", "feature", "story-1_story_x"), `${git(root, "rev-parse", "HEAD~1")}\n`);
    const r = await closeGitView(view);
    expect(r.refused.join("\n")).toContain(`object ${name}`);
    expect(existsSync(join(root, ".git", "objects", name.slice(0, 2), name.slice(2)))).toBe(false);
    expect(readRef(join(root, ".git"), "refs/heads/feature/story-1_story_x")).toBe(moved);
  }, 30_000);
});

describe("host files", () => {
  it("are never written or read through a link a run planted", () => {
    const d = tmp("huskies-host-");
    const victim = join(d, "victim");
    writeFileSync(victim, "keep");
    symlinkSync(victim, join(d, "link"));
    expect(() => writeHostFile(join(d, "link"), "clobber")).toThrow();
    expect(readPlainFile(join(d, "link"))).toBeUndefined();
    expect(readFileSync(victim, "utf8")).toBe("keep");
    writeHostFile(join(d, "fresh"), "x", { exclusive: true });
    expect(() => writeHostFile(join(d, "fresh"), "y", { exclusive: true })).toThrow();
  });
});
