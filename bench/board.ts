import { chromium } from "playwright-core";
import { Cluster, getJson } from "../test/support/cluster.js";
import { createProject } from "../test/support/git-fixture.js";
import { projectToml } from "../test/support/coders.js";
import { measureFiled, measureLoad, measureOpen, waitLive, writeBoardFiller } from "../test/support/board-timing.js";
import type { BoardSnapshot } from "../src/server/board-snapshot.js";
import { percentiles, type BenchResult } from "./stats.js";
import { DEFAULT_TIMINGS } from "./bench-cluster.js";

/** The targets (ms, cards). */
const TARGET = { allColumnsMs: 1000, cardsInDom: 500, openMs: 100, filedMs: 100 };

/**
 * The board with a big project (issue 30): a server holding `items` stories (2 000 backlog,
 * 4 000 done, 4 000 archived at 10 000), Debian's Chromium opening the board `loads` times.
 * Per load: navigation start → first card of every non-empty column painted, cards in the DOM;
 * then, with the live document loaded, `opens` stories opened by a click and `files` stories
 * filed through REST (answer → card painted). All on the page's clock (test/support/board-timing).
 */
export async function board(opts: { items: number; loads: number; opens: number; files: number }): Promise<BenchResult> {
  const project = createProject({ projectToml: projectToml({ ...DEFAULT_TIMINGS, auto_promote: false, archive_after_secs: 31_536_000 }) });
  const { docBytes } = writeBoardFiller(project.root, opts.items);
  const cluster = new Cluster();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
  });
  const failures: string[] = [];
  try {
    const server = await cluster.server(project.root, ["--no-agent"], { HUSKIES_LOG_LEVEL: "info" });
    const snapshot = await getJson<BoardSnapshot>(`${server.http}/api/board`);
    const columns = (["backlog", "current", "qa", "merge", "done"] as const).filter((s) => snapshot.stages[s].total > 0);
    const loads: number[] = [];
    const cards: number[] = [];
    const opens: number[] = [];
    const filed: number[] = [];
    let liveMs = 0;
    for (let l = 0; l < opts.loads; l++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const load = await measureLoad(page, server.http, columns);
      loads.push(load.allColumnsMs);
      cards.push(load.cardsInDom);
      if (l === opts.loads - 1) {
        const t = Date.now();
        await waitLive(page);
        liveMs = Date.now() - t + load.allColumnsMs;
        // Cards on screen, in turn down the columns (a click scrolls its card into view, and the
        // window moves with it: each card is picked from what is in the DOM at that moment).
        for (let i = 0; i < opts.opens; i++) {
          const id = await page
            .locator(".card")
            .nth((i * 7) % (await page.locator(".card").count()))
            .getAttribute("data-id");
          opens.push(await measureOpen(page, id!));
        }
        for (let i = 0; i < opts.files; i++) filed.push((await measureFiled(page, `Filed by the benchmark ${i}`)).ms);
        cards.push(await page.locator(".card").count());
      }
      await page.close();
    }
    const results = {
      docBytes,
      snapshotCards: Object.values(snapshot.stages).reduce((n, s) => n + s.cards.length, 0),
      allColumnsMs: percentiles(loads),
      maxCardsInDom: Math.max(...cards),
      openMs: percentiles(opens),
      filedMs: percentiles(filed),
      navigationToLiveDocumentMs: liveMs,
      targets: TARGET,
    };
    if (Math.max(...cards) > TARGET.cardsInDom) failures.push(`${Math.max(...cards)} cards in the DOM`);
    return { bench: "board", params: opts, results, ok: failures.length === 0, failures };
  } finally {
    await browser.close();
    await cluster.stopAll();
    project.cleanup();
  }
}
