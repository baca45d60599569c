import { describe, expect, it } from "vitest";
import { judgeMemory, twice, type SoakSample } from "../../bench/soak-report.js";

const proc = (rssMb: number, fds: number) => ({
  rssMb,
  rawRssMb: rssMb + 5,
  heapMb: 20,
  externalMb: 3,
  fds,
  replicaKb: 100,
  walKb: 1000,
  life: 0,
});
const sample = (t: number, items: number, procs: SoakSample["procs"]): SoakSample => ({ t, items, live: 8, procs });

describe("the soak's memory verdict", () => {
  it("compares each role at the reference minute with the end, allowing 10 % plus what the stored items explain", () => {
    const samples = [
      sample(0, 0, { a: proc(90, 30), b: proc(90, 30) }),
      sample(5, 100, { a: proc(80, 30), b: proc(80, 30) }),
      sample(30, 1100, { a: proc(88, 40), b: proc(98.5, 41) }),
    ];
    // 1 000 items more at 10 KB each explain 9.5 MB.
    const v = judgeMemory(samples, { referenceMin: 5, endMin: 30, heapBytesPerItem: 10_000 })!;
    expect(v.roles.a).toMatchObject({ rssMb: [80, 88], allowanceMb: 9.5, rssOk: true, fdsOk: true });
    expect(v.roles.b).toMatchObject({ rssMb: [80, 98.5], rssOk: false, fdsOk: false });
  });

  it("takes the nearest reading of a role that was restarting at the reference or at the end", () => {
    const samples = [
      sample(5, 0, { a: undefined }),
      sample(5.5, 0, { a: proc(80, 30) }),
      sample(29.5, 0, { a: proc(81, 31) }),
      sample(30, 0, { a: undefined }),
    ];
    const v = judgeMemory(samples, { referenceMin: 5, endMin: 30, heapBytesPerItem: 0 })!;
    expect(v).toMatchObject({ reference: 5, end: 30, roles: { a: { rssMb: [80, 81], fds: [30, 31] } } });
  });

  it("counts a story delivered more than once", () => {
    expect(
      twice(
        new Map([
          ["1_story_a", 1],
          ["2_story_b", 2],
        ]),
      ),
    ).toEqual(["2_story_b"]);
  });
});
