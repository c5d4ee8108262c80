/**
 * Pure analysis of receiver-side byte counters sampled over time (the bench modules' shared maths).
 *
 * A series is a list of samples (t in seconds on one clock, cumulative bytes), in time order, taken
 * on a regular clock (every 10 ms or 100 ms); between samples the counter is linear. Rates are evaluated on a regular grid over a
 * trailing window (by default 100 ms): g(t) = (B(t) − B(t − window)) · 8 / window, in bit/s.
 */

export interface Sample {
  /** Seconds (one clock for a whole measurement: CLOCK_MONOTONIC). */
  t: number;
  /** Cumulative bytes. */
  bytes: number;
}

/**
 * B(t): the counter at t, linear between the samples around t (both sources sample on a regular
 * clock, through stalls too, so a straight line between neighbours is what arrived); 0 before the
 * first sample, the last value after the last.
 */
export function bytesAt(series: readonly Sample[], t: number): number {
  let lo = 0;
  let hi = series.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (series[mid]!.t <= t) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best < 0) return 0;
  const a = series[best]!;
  const b = series[best + 1];
  if (!b || b.t <= a.t) return a.bytes;
  return a.bytes + ((b.bytes - a.bytes) * (t - a.t)) / (b.t - a.t);
}

/** Mean goodput in Mbit/s over [from, to]. */
export function goodputMbps(series: readonly Sample[], from: number, to: number): number {
  if (!(to > from)) throw new Error(`goodput window is empty: [${from}, ${to}]`);
  return ((bytesAt(series, to) - bytesAt(series, from)) * 8) / (to - from) / 1e6;
}

export interface GridOptions {
  /** Trailing window of the rate, seconds (default 0.1). */
  window?: number;
  /** Grid step, seconds (default 0.01). */
  step?: number;
}

/** The trailing-window rate g(t) in Mbit/s at grid points t = from, from + step, … ≤ to. */
export function rateGrid(
  series: readonly Sample[],
  from: number,
  to: number,
  opts: GridOptions = {},
): { t: number; mbps: number }[] {
  const window = opts.window ?? 0.1;
  const step = opts.step ?? 0.01;
  const out: { t: number; mbps: number }[] = [];
  const n = Math.floor((to - from) / step + 1e-9);
  for (let i = 0; i <= n; i++) {
    const t = from + i * step;
    out.push({ t, mbps: ((bytesAt(series, t) - bytesAt(series, t - window)) * 8) / window / 1e6 });
  }
  return out;
}

/**
 * The longest time in [from, to] during which the trailing-window rate stays under `thresholdMbps`:
 * the longest run of consecutive grid points below it, times the grid step (0 when none is below).
 */
export function longestGap(
  series: readonly Sample[],
  from: number,
  to: number,
  thresholdMbps: number,
  opts: GridOptions = {},
): number {
  const step = opts.step ?? 0.01;
  let best = 0;
  let run = 0;
  for (const p of rateGrid(series, from, to, opts)) {
    if (p.mbps < thresholdMbps) {
      run++;
      if (run > best) best = run;
    } else run = 0;
  }
  return best * step;
}

/**
 * Seconds from `from` until the trailing-window rate first reaches `thresholdMbps` (searched up to
 * `to`); undefined when it never does.
 */
export function timeToReach(
  series: readonly Sample[],
  from: number,
  to: number,
  thresholdMbps: number,
  opts: GridOptions = {},
): number | undefined {
  for (const p of rateGrid(series, from, to, opts)) if (p.mbps >= thresholdMbps) return p.t - from;
  return undefined;
}

/**
 * Maps samples stamped on another process's clock onto ours, given the local time each arrived:
 * the offset is the smallest (arrival − stamp), i.e. the least-delayed message, so a late delivery
 * never moves a sample later than it happened.
 */
export function alignClock(stamped: readonly { t: number; arrived: number; bytes: number }[]): Sample[] {
  if (stamped.length === 0) return [];
  let offset = Number.POSITIVE_INFINITY;
  for (const s of stamped) offset = Math.min(offset, s.arrived - s.t);
  return stamped.map((s) => ({ t: s.t + offset, bytes: s.bytes }));
}
