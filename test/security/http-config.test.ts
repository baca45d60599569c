import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadProjectConfig } from "../../src/config/project-config.js";
import { MAX_BODY_BYTES } from "../../src/config/defaults.js";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function load(toml: string) {
  const root = mkdtempSync(join(tmpdir(), "huskies-cfg-"));
  dirs.push(root);
  mkdirSync(join(root, ".huskies"));
  writeFileSync(join(root, ".huskies", "project.toml"), toml);
  return () => loadProjectConfig(root);
}

describe("the HTTP config keys", () => {
  it("default to no extra names or origins, 1 MiB bodies and no TLS", () => {
    expect(load("")()).toMatchObject({ public_urls: [], allowed_origins: [], max_body_bytes: MAX_BODY_BYTES });
    expect(load("")().tls).toBeUndefined();
  });

  it("accept URLs, origins and a [tls] table, and name the key and reason for bad values", () => {
    expect(
      load(
        'public_urls = ["https://h.example/huskies"]\nallowed_origins = ["http://localhost:5173"]\n[tls]\ncert = "c.pem"\nkey = "k.pem"\n',
      )(),
    ).toMatchObject({
      public_urls: ["https://h.example/huskies"],
      allowed_origins: ["http://localhost:5173"],
      tls: { cert: "c.pem", key: "k.pem" },
    });
    const cases: Array<[string, RegExp]> = [
      ['public_urls = ["ftp://h.example"]', /key `public_urls.0`: must be an http:\/\/ or https:\/\/ URL/],
      ['public_urls = ["not a url"]', /key `public_urls.0`: must be an http:\/\/ or https:\/\/ URL/],
      ['allowed_origins = ["https://h.example/path"]', /key `allowed_origins.0`: must be an origin/],
      ['allowed_origins = ["*"]', /key `allowed_origins.0`: must be an http/],
      ["max_body_bytes = 10", /key `max_body_bytes`: /],
      ['[tls]\ncert = "c.pem"', /key `tls.key`: /],
      ['[tls]\ncert = "c.pem"\nkey = "k.pem"\nca = "x"', /unknown key `tls.ca`/],
    ];
    for (const [toml, message] of cases) expect(load(toml), toml).toThrow(message);
  });
});
