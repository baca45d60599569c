/**
 * Files Claude Code's sandbox protects by mounting /dev/null over them (or an empty placeholder)
 * inside the working directory: seen from the sandbox they are character devices, and `git add -A`
 * refuses the whole commit ("can only add regular files"). A confined run's git ignores them at the
 * top of its checkout through an excludes file huskies writes outside the checkout (tracked files
 * are never ignored, so a project's own `.mcp.json` still commits). Found in claude 2.1's sandbox.
 */
export const SANDBOX_PLACEHOLDERS = [
  ".gitconfig",
  ".gitmodules",
  ".bashrc",
  ".bash_profile",
  ".zshrc",
  ".zprofile",
  ".profile",
  ".ripgreprc",
  ".mcp.json",
  ".vscode",
  ".idea",
  ".claude",
];
