import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from "node:fs";

/**
 * Files huskies writes for a run (prompt, exclude list) and reads back from what a run left (its
 * git view). A confined process may have planted a symlink wherever it could write, so these
 * never follow one: a planted link makes the write or read fail instead of reaching its target
 * (the symlink clobber of issue 26).
 */

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** Write `data` to `path`, never through a symlink; `exclusive` also refuses an existing file. */
export function writeHostFile(path: string, data: string | Uint8Array, opts: { exclusive?: boolean; mode?: number } = {}): void {
  const fd = openSync(path, WRITE_FLAGS | (opts.exclusive ? constants.O_EXCL : 0), opts.mode ?? 0o600);
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

/** The content of a regular file, or undefined when it is missing, a link, a device or bigger than `max`. */
export function readPlainFile(path: string, max = 64 * 1024 * 1024): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return undefined;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
