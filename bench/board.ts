import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { Cluster, getJson, NodeProc } from "../test/support/cluster.js";
import { createProject, GIT_ENV } from "../test/support/git-fixture.js";
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
    const server = await cluster
      .spawn("server", ["serve", project.root, "--port", "0", "--no-agent"], { env: { HUSKIES_LOG_LEVEL: "info" } })
      .ready(120_000);
    const snapshot = await getJson<BoardSnapshot>(`${server.http}/api/board`);
    const columns = (["backlog", "current", "qa", "merge", "done"] as const).filter((s) => snapshot.stages[s].total > 0);
    const loads: number[] = [];
    const cards: number[] = [];
    const opens: number[] = [];
    const bodies: number[] = [];
    const filed: number[] = [];
    let liveMs = 0;
    for (let l = 0; l < opts.loads; l++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const load = await measureLoad(page, server.http, columns);
      loads.push(load.allColumnsMs);
      cards.push(load.cardsInDom);
      // Each load on its own: the next starts once this one's replica has synced (the server's
      // work for it, encoding the whole document once, would otherwise land on the next load).
      const t = Date.now();
      await waitLive(page);
      liveMs = Math.max(liveMs, Date.now() - t + load.allColumnsMs);
      if (l === opts.loads - 1) {
        // Cards on screen, in turn down the columns (a click scrolls its card into view, and the
        // window moves with it: each card is picked from what is in the DOM at that moment).
        for (let i = 0; i < opts.opens; i++) {
          const id = await page
            .locator(".card")
            .nth((i * 7) % (await page.locator(".card").count()))
            .getAttribute("data-id");
          const open = await measureOpen(page, id!);
          opens.push(open.heading);
          bodies.push(open.body);
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
      openTextMs: percentiles(bodies),
      filedMs: percentiles(filed),
      navigationToLiveDocumentMs: liveMs,
      loadAverage: loadavg().map((v) => Math.round(v * 10) / 10),
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

/**
 * `npm run bench -- board-ab` with `HUSKIES_BENCH_BOARD_B=DIR`: the same measurements, alternating
 * between this build's board and another build of `dist/` (DIR holds its `src/cli/main.js`, inside
 * this checkout so it finds node_modules), each serving its own copy of the same project. Both are
 * read with the board-agnostic marks (the frame after an element enters the DOM), so an older board
 * that marks nothing is measured the same way. See README "The board at scale" for how B is built.
 */
export async function boardAb(opts: { items: number; rounds: number }): Promise<BenchResult> {
  const otherDist = process.env.HUSKIES_BENCH_BOARD_B;
  if (!otherDist) throw new Error("board-ab needs HUSKIES_BENCH_BOARD_B=<another dist/ inside this checkout>");
  const cluster = new Cluster();
  const projects = [0, 1].map(() =>
    createProject({ projectToml: projectToml({ ...DEFAULT_TIMINGS, auto_promote: false, archive_after_secs: 31_536_000 }) }),
  );
  for (const p of projects) writeBoardFiller(p.root, opts.items);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
  });
  try {
    const a = await cluster
      .spawn("server", ["serve", projects[0]!.root, "--port", "0", "--no-agent"], { env: { HUSKIES_LOG_LEVEL: "info" } })
      .ready(120_000);
    const b = await new NodeProc(
      spawn(process.execPath, [join(otherDist, "src", "cli", "main.js"), "serve", projects[1]!.root, "--port", "0", "--no-agent"], {
        env: { ...process.env, ...GIT_ENV, HUSKIES_LOG_FORMAT: "json", HUSKIES_LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
      "server-b",
    ).ready(120_000);
    cluster.procs.push(b);
    const figures = {
      a: { load: [] as number[], cards: [] as number[], open: [] as number[], filed: [] as number[] },
      b: { load: [] as number[], cards: [] as number[], open: [] as number[], filed: [] as number[] },
    };
    for (let r = 0; r < opts.rounds; r++) {
      for (const [name, server] of [
        ["a", a],
        ["b", b],
      ] as const) {
        const f = figures[name];
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const load = await measureLoad(page, server.http, ["backlog", "done"], "dom");
        f.load.push(load.allColumnsMs);
        f.cards.push(load.cardsInDom);
        await page.getByTestId("connection").filter({ hasText: "live" }).waitFor({ timeout: 120_000 });
        await page.locator(".loading-doc").waitFor({ state: "detached", timeout: 120_000 });
        const id = await page.locator('section.column[data-stage="done"] .card').first().getAttribute("data-id");
        f.open.push((await measureOpen(page, id!, "dom")).heading);
        f.filed.push((await measureFiled(page, `Filed in round ${r}`, "dom")).ms);
        await page.close();
      }
    }
    const sum = (f: (typeof figures)["a"]) => ({
      allColumnsMs: percentiles(f.load),
      maxCardsInDom: Math.max(...f.cards),
      openMs: percentiles(f.open),
      filedMs: percentiles(f.filed),
    });
    return {
      bench: "board-ab",
      params: { ...opts, b: otherDist },
      results: { a: sum(figures.a), b: sum(figures.b), loadAverage: loadavg().map((v) => Math.round(v * 10) / 10) },
      ok: true,
      failures: [],
    };
  } finally {
    await browser.close();
    await cluster.stopAll();
    for (const p of projects) p.cleanup();
  }
}
