// Preload (`node --import`) that runs one process on a wrong wall clock, as a machine whose clock
// is off would: Date.now() and new Date() are shifted by HUSKIES_TEST_CLOCK_OFFSET_MS; the
// monotonic clock (performance.now) is untouched, as it is on a real machine.
const offset = Number(process.env.HUSKIES_TEST_CLOCK_OFFSET_MS ?? 0);
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
