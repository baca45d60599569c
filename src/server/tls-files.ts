import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import { UserError } from "../errors.js";

/** A certificate chain and its private key, PEM, as read from disk. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Where they came from, for messages. */
  certFile: string;
  keyFile: string;
}

/** Where TLS files were named: flags (`--tls-cert`) or a config file's `[tls]` table. */
export type TlsSource = { kind: "flags" } | { kind: "config"; file: string };

function where(source: TlsSource, which: "cert" | "key"): string {
  return source.kind === "flags" ? `--tls-${which}` : `invalid config ${source.file}: key \`tls.${which}\``;
}

/**
 * Read a cert and key (paths relative to `base`) and check they form a usable pair, so a wrong
 * file is one clear line at start rather than a failed handshake for every client later.
 */
export function loadTls(files: { cert: string; key: string }, base: string, source: TlsSource): TlsMaterial {
  const read = (which: "cert" | "key"): { path: string; data: Buffer } => {
    const path = resolve(base, files[which]);
    try {
      return { path, data: readFileSync(path) };
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new UserError(`${where(source, which)}: cannot read ${path}: ${reason}`);
    }
  };
  const cert = read("cert");
  const key = read("key");
  try {
    createSecureContext({ cert: cert.data, key: key.data });
  } catch (err) {
    throw new UserError(
      `${where(source, "cert")}: ${cert.path} and ${key.path} are not a usable certificate and key: ${(err as Error).message}`,
    );
  }
  return { cert: cert.data, key: key.data, certFile: cert.path, keyFile: key.path };
}

/**
 * The TLS material for a command: both flags, or the project's `[tls]` table, or none. Giving
 * only one of the two flags is a mistake, not a silent fallback to plain http.
 */
export function resolveTls(
  flags: { tlsCert?: string; tlsKey?: string },
  cwd: string,
  config?: { tls?: { cert: string; key: string }; root: string; file: string },
): TlsMaterial | undefined {
  if (flags.tlsCert || flags.tlsKey) {
    if (!flags.tlsCert || !flags.tlsKey) throw new UserError("--tls-cert and --tls-key go together: give both");
    return loadTls({ cert: flags.tlsCert, key: flags.tlsKey }, cwd, { kind: "flags" });
  }
  if (config?.tls) return loadTls(config.tls, config.root, { kind: "config", file: config.file });
  return undefined;
}
