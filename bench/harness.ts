/**
 * The contract every benchmark module in bench/ follows. `npm run bench` (bench/run.ts, driven by
 * bench/lib/runner.ts) runs the registered modules, prints one table and writes the results file.
 *
 * Adding a module:
 * 1. a file bench/<name>.ts whose default export is a `BenchModule` with `name: '<name>'`;
 * 2. one line in the registry of bench/run.ts: `<name>: () => import('./<name>'),`.
 * A unit test (test/unit/bench/registry.test.ts) fails when a module file is not registered.
 *
 * What a module promises:
 * - `available()` says, without building anything, whether it can run here: `true`, or a reason
 *   ("needs root", "iperf3 not installed"). A module that cannot run is listed as skipped, and the
 *   run is then partial (it never replaces bench/results.json).
 * - `run(options)` measures `options.repetitions` values of each figure and of its baseline, in the
 *   same run, on the same machine (interleaved where drift could favour one side). It removes what
 *   it built, also when it fails. Throwing marks the module failed: `npm run bench` exits 1.
 * - Every figure has a baseline: the thing a skilled user would pick instead (the kernel's MPTCP as
 *   shipped, with its default offloads; the best script for the same job). A figure without one must
 *   say why in `note`. A second, labelled baseline (e.g. offloads off) goes in `moreBaselines`.
 * - Values are finite numbers in the figure's unit; ours and every baseline share the unit. The
 *   runner checks this and fails the module otherwise.
 *
 * The runner computes the ratio of the medians, oriented so that > 1 always means ours is better,
 * and prints it for every figure, worse ones included (bench/lib/ratio.ts).
 */

export interface BenchOptions {
  /** One repetition and shorter transfers: a smoke run, never a result. */
  quick: boolean;
  /** How many values of each figure to measure (1 when quick, else ≥ 3). */
  repetitions: number;
}

export interface Measured {
  /** What was measured, e.g. "our stack, 2 subflows" or "kernel MPTCP, default offloads". */
  label: string;
  unit: string;
  /** One value per repetition. */
  values: number[];
}

export interface BenchFigure {
  /** Short identifier, `<module>.<what>`, e.g. "wire.segments_per_second". */
  id: string;
  /** What the figure means, one line. */
  title: string;
  ours: Measured;
  /** Measured in the same run; absent only where no baseline exists (then `note` says why). */
  baseline?: Measured;
  /** Further labelled baselines from the same run (e.g. "veth, offloads off"); each gets a ratio. */
  moreBaselines?: Measured[];
  /** True when a larger value is better (throughput), false when smaller is (latency, seconds). */
  higherIsBetter: boolean;
  /** Conditions worth knowing: MSS, rates, sizes, what each side does. */
  note?: string;
}

export interface BenchModule {
  /** The module's name: its file name without .ts and its key in bench/run.ts's registry. */
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
