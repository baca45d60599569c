/** Percentiles (nearest rank) of a sample, rounded to 0.1. */
export function percentiles(values: number[]): { p50: number; p90: number; p99: number; max: number; mean: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN);
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    p50: r(at(50)),
    p90: r(at(90)),
    p99: r(at(99)),
    max: r(s.at(-1) ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
    n: s.length,
  };
}

export interface BenchResult {
  bench: string;
  params: Record<string, unknown>;
  results: Record<string, unknown>;
  /** Correctness conditions the benchmark checks (zero duplicates, zero losses, identical replicas). */
  ok: boolean;
  failures: string[];
}
