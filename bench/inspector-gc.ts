import WebSocket from "ws";

/** What a node started with `--inspect=127.0.0.1:0` prints on stderr first. */
const LISTENING = /^Debugger listening on (ws:\/\/\S+)$/;

/** The inspector URL a node printed, if it did. */
export function inspectorUrl(lines: Array<{ msg?: unknown }>): string | undefined {
  for (const l of lines) {
    const m = LISTENING.exec(String(l.msg ?? ""));
    if (m) return m[1];
  }
  return undefined;
}

/**
 * A full garbage collection in another Node process, through its inspector
 * (`HeapProfiler.collectGarbage`, what DevTools' "collect garbage" button does: V8 collects
 * everything it can and gives free pages back). A reading taken right after it is what the
 * process keeps, not where its collector happens to be in its cycle.
 */
export function collectGarbage(url: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer from the inspector at ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      ws.close();
      if (err) reject(err);
      else resolve();
    };
    ws.on("open", () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" })));
    ws.on("message", (data) => {
      const reply = JSON.parse(String(data)) as { id?: number; error?: { message: string } };
      if (reply.id === 1) done(reply.error ? new Error(reply.error.message) : undefined);
    });
    ws.on("error", (err) => done(err));
  });
}
