/**
 * The shape every benchmark module in bench/ follows. `npm run bench` (bench/run.ts) runs each
 * module, prints one table, and writes bench/results.json. A figure is never judged alone: each
 * comes with a baseline measured in the same run, and the table shows their ratio.
 */

export interface BenchOptions {
  /** One repetition instead of the default (≥ 3). */
  quick: boolean;
  repetitions: number;
}

export interface Measured {
  /** What was measured, e.g. "our stack, 2 subflows" or "kernel MPTCP". */
  label: string;
  unit: string;
  /** One value per repetition. */
  values: number[];
}

export interface BenchFigure {
  /** Short identifier, e.g. "wire.segments_per_second". */
  id: string;
  /** What the figure means, one line. */
  title: string;
  ours: Measured;
  /** Measured in the same run; absent only where no baseline exists (then say why in note). */
  baseline?: Measured;
  /** True when a larger value is better (throughput), false when smaller is (latency, seconds). */
  higherIsBetter: boolean;
  /** Conditions worth knowing: MSS, rates, sizes. */
  note?: string;
}

export interface BenchModule {
  name: string;
  /** Whether the module can run here (root, tools); a reason string when it cannot. */
  available(): Promise<true | string>;
  run(options: BenchOptions): Promise<BenchFigure[]>;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Repeats an async measurement `n` times, sequentially. */
export async function repeat(n: number, fn: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}
