import { readFileSync } from "node:fs";

/** The package version, read once from package.json (two levels above the compiled file). */
export const VERSION: string = (() => {
  for (const rel of ["../../package.json", "../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      /* try the next location */
    }
  }
  return "0.0.0";
})();

/**
 * The sync protocol this release speaks, carried as `protocol` in the challenge, answer and
 * welcome frames (docs/architecture.md §1, README "Versions"). It changes only when a change to
 * the wire or to what nodes may write means an older node cannot work with this one; additive
 * fields never bump it. A frame without the field comes from a release before versioning: 1.
 */
export const PROTOCOL = 3;

/**
 * The oldest protocol this release still works with (see `src/pipeline/compatibility.ts`).
 * Protocol 3 (issue 27) signs the handshake over the TLS channel, sends a join token only after
 * the listener proved its key, and signs item writes; an older node would send its token to
 * whoever claims the pinned id and write items nobody acts on, so it is refused with 4005.
 */
export const MIN_PROTOCOL = 3;
