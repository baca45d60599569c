// Preload (`node --import`) that lets the chaos run move one process's wall clock while it runs,
// as a machine whose clock is stepped (NTP, a VM resumed) would see it: Date.now() and new Date()
// are shifted by the offset (ms) written in HUSKIES_CHAOS_CLOCK_FILE, read again every 200 ms.
// The monotonic clock (performance.now) is untouched, as on a real machine. Test-only.
import { readFileSync } from "node:fs";

const file = process.env.HUSKIES_CHAOS_CLOCK_FILE;
let offset = 0;
function reread() {
  try {
    const v = Number(readFileSync(file, "utf8").trim());
    offset = Number.isFinite(v) ? v : 0;
  } catch {
    // No file (yet): the clock is right.
    offset = 0;
  }
}
if (file) {
  reread();
  globalThis.setInterval(reread, 200).unref();
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
