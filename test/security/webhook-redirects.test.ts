import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Notifier, slackText } from "../../src/rendezvous/notifier.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A real HTTP server on 127.0.0.1 recording what reaches it. */
async function serve(handler: (path: string, body: string) => [number, Record<string, string>]): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      hits.push(`${req.method} ${req.url} ${body}`);
      const [status, headers] = handler(req.url ?? "", body);
      res.writeHead(status, headers).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

describe("webhooks are hostile-proof", () => {
  it("a 307 to a loopback admin URL is not followed, and the log holds no webhook path", async () => {
    const admin = await serve(() => [200, {}]);
    const hook = await serve(() => [307, { location: `${admin.url}/api/nodes/admit` }]);
    const logged: string[] = [];
    const log = {
      debug: (o: object, m: string) => logged.push(JSON.stringify(o) + m),
      warn: (o: object, m: string) => logged.push(JSON.stringify(o) + m),
    };
    const secretPath = "/services/T000/B000/very-secret-token";
    const n = new Notifier(() => [{ url: `${hook.url}${secretPath}`, events: ["done"], format: "json" }], { initialBackoffMs: 10, log });
    n.notify({ event: "done", story: "1_story_x", at: 1 });
    await n.idle();
    n.close();
    expect(hook.hits).toHaveLength(1);
    expect(admin.hits).toEqual([]);
    const text = logged.join("\n");
    expect(text).toContain("redirect (not followed)");
    expect(text).toContain(hook.url);
    expect(text).not.toContain("very-secret-token");
    expect(text).not.toContain("/services/");
  });

  it("Slack markup in a story's text is shown as text, not as a mention or link", () => {
    const text = slackText(
      { event: "blocked", story: "1_story_x", reason: "<!channel> see <https://evil.example|the fix> & more", at: 1 },
      "p<roj>",
    );
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<https://");
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).toContain("&amp; more");
    expect(text).toContain("[p&lt;roj&gt;]");
  });
});
