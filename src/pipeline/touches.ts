/**
 * What a story touches (issue 29.2): the paths its pushed branch changed and the globs it declared
 * (`touches = ["src/api/**"]`). Two stories overlap when some path or glob of one can name a file
 * the other names. Pure, and free of runtime imports, so the board bundles it as it is.
 *
 * Globs: `**` any number of path segments, `*` anything inside one segment, `?` one character;
 * everything else is literal. No braces or classes: a story declares an area, not a pattern.
 */

/** Globs a story may declare, and their limits (the document is hostile: see document-reader.ts). */
export const MAX_TOUCHES = 50;
export const MAX_TOUCH_LENGTH = 200;

/** Why a declared glob is refused, or undefined when it is fine. */
export function touchProblem(glob: string): string | undefined {
  if (glob.length === 0) return "must not be empty";
  if (glob.length > MAX_TOUCH_LENGTH) return `must be at most ${MAX_TOUCH_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(glob)) return "must not contain control characters";
  if (glob.startsWith("/")) return "must be relative to the repository root (no leading /)";
  if (glob.split("/").some((seg) => seg === ".." || seg === ".")) return "must not contain . or .. segments";
  if (glob.includes("\\")) return "must use / between segments";
  return undefined;
}

export function isTouchGlob(v: unknown): v is string {
  return typeof v === "string" && touchProblem(v) === undefined;
}

/** A story's known footprint: exact paths (from its branch) and declared globs. */
export interface FileSpec {
  paths: readonly string[];
  globs: readonly string[];
}

export const EMPTY_SPEC: FileSpec = { paths: [], globs: [] };

export function specIsEmpty(s: FileSpec): boolean {
  return s.paths.length === 0 && s.globs.length === 0;
}

const compiled = new Map<string, RegExp>();

/** The glob as an anchored regular expression (cached: the same few globs are asked about often). */
export function globRegExp(glob: string): RegExp {
  let re = compiled.get(glob);
  if (re) return re;
  let src = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches zero or more whole segments; a trailing `**` matches the rest.
      const slash = glob[i + 2] === "/";
      src += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") src += "[^/]*";
    else if (c === "?") src += "[^/]";
    else src += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  re = new RegExp(`^${src}$`);
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(glob, re);
  return re;
}

/** The part of a glob before its first wildcard. */
function literalPrefix(glob: string): string {
  const i = glob.search(/[*?]/);
  return i < 0 ? glob : glob.slice(0, i);
}

/**
 * Whether two globs can name a common file. Exact for literal globs; for wildcards it compares
 * the literal prefixes (one a prefix of the other), which can say "overlap" where none is
 * possible (`src/*.ts` and `src/*.md`): the cost of a false overlap is a story waiting a little,
 * of a missed one a conflict round.
 */
function globsMeet(a: string, b: string): boolean {
  const pa = literalPrefix(a);
  const pb = literalPrefix(b);
  if (pa === a) return globRegExp(b).test(a);
  if (pb === b) return globRegExp(a).test(b);
  return pa.startsWith(pb) || pb.startsWith(pa);
}

/**
 * The first place two footprints meet, as a path or glob a person can read, or undefined. Paths
 * against paths are compared exactly (a set), so two stories that changed hundreds of files cost
 * one pass over the smaller list.
 */
export function specsOverlap(a: FileSpec, b: FileSpec): string | undefined {
  if (a.paths.length && b.paths.length) {
    const [small, big] = a.paths.length <= b.paths.length ? [a.paths, b.paths] : [b.paths, a.paths];
    const set = new Set(big);
    for (const p of small) if (set.has(p)) return p;
  }
  for (const g of a.globs) {
    for (const p of b.paths) if (globRegExp(g).test(p)) return p;
    for (const h of b.globs) if (globsMeet(g, h)) return literalPrefix(g).length >= literalPrefix(h).length ? g : h;
  }
  for (const g of b.globs) for (const p of a.paths) if (globRegExp(g).test(p)) return p;
  return undefined;
}
