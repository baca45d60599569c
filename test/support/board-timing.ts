import type { Page } from "playwright-core";
import * as Y from "yjs";
import { huskiesDir } from "../../src/config/project-root.js";
import type { Stage } from "../../src/pipeline/stages.js";
import { Replica } from "../../src/state/replica.js";
import { SqliteStore } from "../../src/state/sqlite-store.js";

/**
 * The board at the size of a project that has run for a year, and the clocks the browser tests
 * and `npm run bench -- board` read it with. Every figure is taken inside the page, on the
 * page's own clock (`performance.now()`, 0 = navigation start), from the Element Timing API:
 * the board marks each column's first card, the story dialog's heading and new cards, and the
 * browser reports when it painted them. So "visible" means painted, not merely in the DOM.
 */

/** 10 000 stories: 2 000 in backlog, 4 000 done, 4 000 archived (the shape). */
export function boardFillerStage(k: number): Stage {
  return k % 5 === 0 ? "backlog" : k % 2 ? "archived" : "done";
}

const WORDS = ["login", "invoice", "export", "search", "profile", "billing", "upload", "report", "sync", "theme", "audit", "cache"];

/** Write `items` stories straight into the project's replica before its server starts. */
export function writeBoardFiller(root: string, items: number, now = Date.now()): { docBytes: number } {
  const replica = new Replica(new SqliteStore(huskiesDir(root, "replica.db")));
  replica.pipeline.createItems(
    Array.from({ length: items }, (_, k) => ({
      name: `Filler ${k + 1}: ${WORDS[k % WORDS.length]} ${WORDS[(k * 7) % WORDS.length]} for team ${k % 40}`,
      type: k % 9 === 0 ? ("bug" as const) : ("story" as const),
      stage: boardFillerStage(k),
      body: `# Filler ${k + 1}\n\nAs a user I want the ${WORDS[(k * 5) % WORDS.length]} page to remember choice ${k}.\n\n- [x] it works\n- [ ] it is documented\n`,
    })),
    now - 86_400_000,
  );
  const snapshot = Y.encodeStateAsUpdate(replica.doc);
  replica.store.compact(snapshot);
  replica.close();
  return { docBytes: snapshot.byteLength };
}

/** Start recording element-timing entries (from before the page's first paint, when added to a new page). */
export async function recordPaints(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __paints: Array<{ id: string; card?: string; t: number }> };
    w.__paints = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as Array<PerformanceEntry & { identifier: string; renderTime: number; element: Element | null }>)
        w.__paints.push({
          id: e.identifier,
          card: (e.element?.closest(".card") as HTMLElement | null)?.dataset.id,
          t: e.renderTime || e.startTime,
        });
    }).observe({ type: "element", buffered: true });
    // The story's text has no single text element to mark: its insertion is seen, and the frame
    // after it (requestAnimationFrame runs right before that frame is painted) stands for its paint.
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes)
          if (n instanceof Element && (n.matches(".story .markdown") || n.querySelector(".story .markdown")))
            requestAnimationFrame(() => w.__paints.push({ id: "story-body", t: performance.now() }));
    }).observe(document, { childList: true, subtree: true });
    // Board-agnostic marks, for comparing with a build that marks nothing (bench `board-ab`): the
    // frame after a column's first card, a dialog heading or any card enters the DOM.
    const seen = new Set<string>();
    const mark = (id: string, card?: string) => requestAnimationFrame(() => w.__paints.push({ id, card, t: performance.now() }));
    new MutationObserver(() => {
      for (const col of document.querySelectorAll<HTMLElement>("section.column[data-stage]")) {
        const first = col.querySelector<HTMLElement>(".card");
        const key = `dom-first-card-${col.dataset.stage}`;
        if (first && !seen.has(key)) {
          seen.add(key);
          mark(key);
        }
      }
      const h = document.querySelector("[role=dialog] h2");
      if (h && !seen.has(`dialog:${h.textContent}`)) {
        seen.add(`dialog:${h.textContent}`);
        mark("dom-story-open");
      }
      const name = (w as unknown as { __watchName?: string }).__watchName;
      if (name && !seen.has(`card:${name}`))
        for (const c of document.querySelectorAll<HTMLElement>(".card .name"))
          if (c.textContent === name) {
            seen.add(`card:${name}`);
            mark("dom-card", c.closest<HTMLElement>(".card")?.dataset.id);
          }
    }).observe(document, { childList: true, subtree: true });
    // The moment a click is dispatched, on the same clock.
    document.addEventListener("click", (e) => ((window as unknown as { __clickAt: number }).__clickAt = e.timeStamp), true);
  });
}

type Paint = { id: string; card?: string; t: number };
const paints = (page: Page): Promise<Paint[]> => page.evaluate(() => (window as unknown as { __paints: Paint[] }).__paints);

/** Poll the page's recorded paints until `pick` finds one (or the deadline passes). */
async function paintOf(page: Page, pick: (p: Paint[]) => Paint | undefined, what: string, timeoutMs = 30_000): Promise<Paint> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = pick(await paints(page));
    if (found) return found;
    if (Date.now() > end) throw new Error(`no paint of ${what} within ${timeoutMs} ms`);
    await page.waitForTimeout(20);
  }
}

export interface LoadFigures {
  /** Navigation start → first card painted, per column that has cards. */
  firstCardMs: Partial<Record<Stage, number>>;
  /** The slowest of them: "the first card of every non-empty column visible". */
  allColumnsMs: number;
  cardsInDom: number;
}

/** Open the board and time the first card of each of `columns`. */
/**
 * `marks`: "element" reads the board's Element Timing marks (paint times); "dom" reads the frame
 * after the element entered the DOM, which works for any build of the board (bench `board-ab`).
 */
export type Marks = "element" | "dom";

export async function measureLoad(page: Page, url: string, columns: readonly Stage[], marks: Marks = "element"): Promise<LoadFigures> {
  await recordPaints(page);
  await page.goto(url);
  const firstCardMs: Partial<Record<Stage, number>> = {};
  for (const stage of columns) {
    const id = marks === "element" ? `first-card-${stage}` : `dom-first-card-${stage}`;
    const p = await paintOf(page, (ps) => ps.find((x) => x.id === id), `the first ${stage} card`, 120_000);
    firstCardMs[stage] = Math.round(p.t);
  }
  return {
    firstCardMs,
    allColumnsMs: Math.max(...Object.values(firstCardMs)),
    cardsInDom: await page.locator(".card").count(),
  };
}

/**
 * Click a card; from the click to the story dialog painted (`heading`: its name, state and
 * controls) and to its text painted (`body`, rendered in the frame after).
 */
export async function measureOpen(page: Page, id: string, marks: Marks = "element"): Promise<{ heading: number; body: number }> {
  const before = (await paints(page)).length;
  await page.locator(`.card[data-id="${id}"]`).click();
  const open = marks === "element" ? "story-open" : "dom-story-open";
  const heading = await paintOf(page, (ps) => ps.slice(before).find((x) => x.id === open), `the story ${id}`);
  const body =
    marks === "element" ? await paintOf(page, (ps) => ps.slice(before).find((x) => x.id === "story-body"), `the text of ${id}`) : heading;
  const clickAt = await page.evaluate(() => (window as unknown as { __clickAt: number }).__clickAt);
  await page.getByRole("dialog").getByRole("button", { name: "close" }).click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
  return { heading: Math.round(heading.t - clickAt), body: Math.round(body.t - clickAt) };
}

/**
 * File a story through REST from the page (so both ends are on its clock); the time from the REST
 * answer to its card painted at the top of `backlog`.
 */
export async function measureFiled(page: Page, name: string, marks: Marks = "element"): Promise<{ id: string; ms: number }> {
  // New stories go on top of backlog: have its top in view (a click on a card may have scrolled it).
  if (marks === "element") await page.getByTestId("cards-backlog").evaluate((el) => (el.scrollTop = 0));
  const { id, answeredAt } = await page.evaluate(async (storyName) => {
    (window as unknown as { __watchName?: string }).__watchName = storyName;
    const token = sessionStorage.getItem("huskies-token");
    const res = await fetch("/api/stories", {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ name: storyName }),
    });
    const answeredAt = performance.now();
    return { id: ((await res.json()) as { id: string }).id, answeredAt };
  }, name);
  const mark = marks === "element" ? "first-card-backlog" : "dom-card";
  const p = await paintOf(page, (ps) => ps.find((x) => x.id === mark && x.card === id), `the filed story ${id}`);
  return { id, ms: Math.round(Math.max(0, p.t - answeredAt)) };
}

/** Whether the board has its live document (bodies, archived stories): the loading note is gone. */
export async function waitLive(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.getByTestId("connection").filter({ hasText: "live" }).waitFor({ timeout: timeoutMs });
  await page.locator(".loading-doc").waitFor({ state: "detached", timeout: timeoutMs });
}
