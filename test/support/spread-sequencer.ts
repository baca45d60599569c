import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The suite's heaviest files, each of which keeps a whole cluster of real processes busy for
 * minutes. Two of them side by side with a third file left a 2-core CI runner so loaded that a
 * plain `huskies serve` did not listen within 60 s; spread through the queue they rarely meet.
 */
export const HEAVY_FILES = [
  "test/bench/bench-quick.test.ts",
  "test/chaos/chaos-run.test.ts",
  "test/chaos/reverted-fixes-caught.test.ts",
  "test/bench/soak-quick.test.ts",
  "test/integration/mixed-releases.test.ts",
  "test/browser/merge-queue.test.ts",
];

/** Vitest's own order (failed first, then slowest first), with the heavy files spaced evenly through it. */
export default class SpreadSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isHeavy = (f: TestSpecification) => HEAVY_FILES.some((h) => f.moduleId.endsWith(h));
    const heavy = sorted.filter(isHeavy);
    const light = sorted.filter((f) => !isHeavy(f));
    return spread(light, heavy);
  }
}

/** `heavy` placed at even intervals among `light`, the first at the start. */
export function spread<T>(light: readonly T[], heavy: readonly T[]): T[] {
  const out: T[] = [];
  const gap = heavy.length ? light.length / heavy.length : 0;
  let next = 0;
  light.forEach((f, i) => {
    while (next < heavy.length && i >= Math.round(next * gap)) out.push(heavy[next++]!);
    out.push(f);
  });
  while (next < heavy.length) out.push(heavy[next++]!);
  return out;
}
