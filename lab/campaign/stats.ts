/** Summary statistics for campaign cells: mean, median, and a 95% confidence interval. */

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal's 1.96.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (df < 1) return Number.NaN;
  return df <= T975.length ? T975[df - 1]! : 1.96;
}

export interface Summary {
  n: number;
  mean: number;
  median: number;
  min: number;
  max: number;
  stddev: number;
  /** Half-width of the 95% confidence interval of the mean (Student's t); NaN for n < 2. */
  ci95: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: NaN, median: NaN, min: NaN, max: NaN, stddev: NaN, ci95: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const mid = n >> 1;
  const median = n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : NaN;
  const stddev = Math.sqrt(variance);
  const ci95 = n > 1 ? (tQuantile975(n - 1) * stddev) / Math.sqrt(n) : NaN;
  return { n, mean, median, min: sorted[0]!, max: sorted[n - 1]!, stddev, ci95 };
}
