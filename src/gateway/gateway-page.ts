import { GATEWAY_PAGE_POLL_MS } from "../config/defaults.js";

/**
 * The gateway page (`GET /`): every project the gateway fronts, with its stage counts, blocked
 * and running stories and its nodes. A static page and a small script that polls
 * `/gateway/overview` every second (passing `?token=` on when the page was opened with one, as
 * the board does); no framework. The page itself holds no data, so it is served without the
 * token; the data route is guarded. Text from projects is only ever set as `textContent`.
 */
export const GATEWAY_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>huskies gateway</title>
<style>
  :root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #667085; --line: #e3e6ea; --ok: #1a7f37; --bad: #c0362c; --warn: #9a6700; }
  @media (prefers-color-scheme: dark) { :root { --bg: #111418; --card: #1a1f26; --fg: #e6e9ef; --muted: #98a2b3; --line: #2a313b; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
  header h1 { font-size: 18px; margin: 0; }
  #status { color: var(--muted); font-size: 12px; }
  #status.stale { color: var(--bad); }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  @media (max-width: 520px) { main { grid-template-columns: 1fr; padding: 10px; } header { padding: 12px; } }
  .project { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; min-width: 0; }
  .project h2 { font-size: 16px; margin: 0 0 4px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
  .project h2 a { color: inherit; }
  .unreachable { color: var(--bad); font-size: 12px; overflow-wrap: anywhere; }
  .stages { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0; }
  .stage { border: 1px solid var(--line); border-radius: 999px; padding: 2px 10px; font-size: 12px; }
  .stage b { font-variant-numeric: tabular-nums; }
  h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 12px 0 4px; }
  ul { margin: 0; padding-left: 18px; }
  li { overflow-wrap: anywhere; }
  .none { color: var(--muted); font-size: 12px; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; }
  th:nth-child(1) { width: 30%; } th:nth-child(2) { width: 22%; } th:nth-child(3) { width: 20%; }
  th, td { text-align: left; padding: 4px 6px; border-top: 1px solid var(--line); overflow-wrap: anywhere; vertical-align: top; }
  th { color: var(--muted); font-weight: 500; font-size: 12px; }
  .alive { color: var(--ok); } .dead { color: var(--bad); } .paused { color: var(--warn); }
  #error { margin: 16px 20px; color: var(--bad); }
</style>
</head>
<body>
<header><h1>huskies gateway</h1><span id="status">loading…</span></header>
<div id="error" hidden></div>
<main id="projects"></main>
<script src="/gateway/page.js"></script>
</body>
</html>
`;

/** The page's script: fetch, render with DOM methods (never innerHTML), repeat. */
export const GATEWAY_PAGE_JS = `"use strict";
(() => {
  const POLL_MS = ${GATEWAY_PAGE_POLL_MS};
  const token = new URLSearchParams(location.search).get("token");
  const dataUrl = "/gateway/overview" + (token ? "?token=" + encodeURIComponent(token) : "");
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  };
  const age = (s) => (s === null ? "never" : s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago");
  const list = (items, render, empty) => (items.length ? el("ul", {}, ...items.map((i) => el("li", {}, render(i)))) : el("div", { class: "none" }, empty));
  function project(p) {
    const boardUrl = /^https?:\\/\\//.test(p.url) ? p.url.replace(/\\/+$/, "") + "/" : null;
    const card = el("section", { class: "project", "data-project": p.name },
      el("h2", {}, boardUrl ? el("a", { href: boardUrl, target: "_blank", rel: "noopener noreferrer" }, p.name) : p.name),
      p.reachable ? null : el("div", { class: "unreachable" }, "unreachable: " + (p.error || "no answer")),
      el("div", { class: "stages" }, ...Object.entries(p.stages).map(([s, n]) => el("span", { class: "stage", "data-stage": s }, s + " ", el("b", {}, n)))),
      el("h3", {}, "Blocked"),
      list(p.blocked, (b) => b.name + " (" + b.id + "): " + b.reason, "nothing blocked"),
      el("h3", {}, "Running"),
      list(p.running, (r) => r.name + " — " + r.stage + " on " + r.label, "nothing running"),
      el("h3", {}, "Nodes"),
    );
    const rows = p.agents.map((a) => el("tr", { "data-node": a.nodeId },
      el("td", {}, a.label, el("div", { class: "none" }, a.role)),
      el("td", { class: a.alive ? "alive" : "dead" }, (a.alive ? "alive, " : "gone, ") + age(a.heartbeatAgeSecs)),
      el("td", { class: a.paused ? "paused" : "" }, a.paused ? "paused: " + a.paused.reason : "—"),
      el("td", {}, a.stories.length ? a.stories.map((st) => st.name).join(", ") : "—")));
    card.append(p.agents.length
      ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "node"), el("th", {}, "heartbeat"), el("th", {}, "paused"), el("th", {}, "story"))), el("tbody", {}, ...rows))
      : el("div", { class: "none" }, "no nodes yet"));
    return card;
  }
  const status = document.getElementById("status");
  const error = document.getElementById("error");
  const main = document.getElementById("projects");
  async function tick() {
    try {
      const res = await fetch(dataUrl, { cache: "no-store" });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(res.status === 401 ? "this gateway needs its admin token: open the page with ?token=…" : body.error || "HTTP " + res.status);
      error.hidden = true;
      main.replaceChildren(...body.projects.map(project));
      if (!body.projects.length) main.append(el("div", { class: "none" }, "no projects configured (gateway --config projects.toml)"));
      status.className = "";
      status.textContent = body.projects.length + " project(s) · updated " + new Date(body.at).toLocaleTimeString();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      status.className = "stale";
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }
  tick();
})();
`;
