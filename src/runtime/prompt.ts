import type { Role } from "../pipeline/roles.js";
import { formatReview, type Review } from "../pipeline/review.js";

/** Replace `{{key}}` placeholders; unknown keys are left as they are so typos are visible. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => (key in vars ? vars[key]! : whole));
}

const DEFAULT_PROMPTS: Record<Role, string> = {
  coder: `You are a coding agent working on story {{story_id}}.

Your working directory is a git worktree at {{worktree_path}} on its own feature branch,
created from {{base_branch}}. Rules:
- Change files only inside this worktree. Never cd out of it, never touch other checkouts.
- Commit your work on the current branch with git (git add, git commit). Do not push, do not
  switch branches, do not rewrite history.
- Meet every acceptance criterion below; the project's gates run after you finish.

{{story_markdown}}`,
  qa: `You are a QA agent verifying story {{story_id}} in the worktree {{worktree_path}}
(feature branch, base {{base_branch}}). Check each acceptance criterion against the code.
Do not change files. End your answer with a line "QA: PASS" if every criterion is met, otherwise
"QA: FAIL" followed by the findings.

{{story_markdown}}`,
  mergemaster: `You are the mergemaster resolving a failed squash-merge of story {{story_id}} into
{{base_branch}} in the merge workspace {{worktree_path}}. Resolve the conflicts (or gate failures)
keeping both sides' intent, remove every conflict marker, stage the result with git add, and do not
commit or push: huskies commits and runs the gates after you.

{{story_markdown}}`,
};

export function buildPrompt(
  role: Role,
  template: string | undefined,
  vars: { story_id: string; worktree_path: string; base_branch: string; story_markdown: string },
  feedback?: string,
  review?: Review,
): string {
  let prompt = renderTemplate(template ?? DEFAULT_PROMPTS[role], vars);
  if (review)
    prompt += `\n\n## A reviewer sent your work back\n\nThe branch already holds your earlier work. Address every comment below, then commit.\n\n${formatReview(review)}\n`;
  if (feedback) prompt += `\n\n## The previous attempt failed\n\nFix this and try again:\n\n\`\`\`\n${feedback.slice(-8000)}\n\`\`\`\n`;
  return prompt;
}

/** The prompt that resumes a session after a person answered the question it asked (`ask_human`). */
export function answerPrompt(q: { text: string; answer?: string }): string {
  return `A person answered the question you asked.\n\nYour question: ${q.text}\n\nTheir answer: ${q.answer ?? ""}\n\nContinue the work with this answer: finish it, meet every acceptance criterion and commit it.`;
}

/** For a fresh session (another node, or the old session is gone): the question and its answer as context. */
export function answeredQuestionNote(q: { text: string; answer?: string }): string {
  return `An earlier session on this story asked a person: ${q.text}\nThe answer: ${q.answer ?? ""}`;
}

/** What a resumed session is told when a person sent its work back by the line: it remembers the rest. */
export function reviewContinuePrompt(review: Review): string {
  return `A reviewer looked at the changes you committed and sent the story back. Address every comment below in this worktree, then commit your changes with git.\n\n${formatReview(review)}\n`;
}
