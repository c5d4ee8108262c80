/**
 * The measured window of a run, the way iperf3 measures: goodput is the application bytes that
 * reached the sink during the sending window, divided by the window; what the send buffer still
 * held when the sender stopped writing drains afterwards and is reported apart (`drainSeconds`);
 * `--omit T` leaves the first T seconds (slow start) out of the figure (iperf3 `-O`).
 *
 * All times are seconds on the timeline's clock (0 = when the run asked the sender to start):
 * - `start`: the sender's connection is established (its first write);
 * - `lastWrite`: the application's last write (a timed run: start + --time);
 * - `endOfStream`: the sink saw the end of the stream (the last byte arrived).
 * A timed run's window is [start + omit, lastWrite]. A byte-count run has no sending deadline: its
 * window is [start + omit, endOfStream] (the whole transfer is what it measures), and its drain
 * (endOfStream - lastWrite) lies inside the window; it is still reported.
 *
 * Bytes at an instant between two samples are interpolated linearly from the timeline's
 * cumulative `bytes` (a sample every --interval).
 */
import { UsageError } from '../errors';
import type { RunResult, TimelinePoint } from './result';

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export interface WindowTimes {
  start: number;
  lastWrite: number;
  endOfStream: number;
  /** True for --time runs (the window ends at the last write). */
  timed: boolean;
  /** Seconds left out at the start (--omit); default 0. */
  omit?: number;
}

export type WindowFigures = Required<
  Pick<
    RunResult,
    'goodputMbps' | 'startSeconds' | 'sendSeconds' | 'drainSeconds' | 'omitSeconds' | 'windowBytes'
  >
>;

/** Cumulative sink bytes at time `t`, interpolated between the timeline's samples (0 at time 0). */
export function bytesAt(points: readonly TimelinePoint[], t: number): number {
  let t0 = 0;
  let b0 = 0;
  for (const p of points) {
    const b = p.bytes ?? b0;
    if (p.t >= t) {
      if (p.t <= t0) return b;
      return b0 + ((b - b0) * (t - t0)) / (p.t - t0);
    }
    t0 = p.t;
    b0 = b;
  }
  return b0;
}

/** Checks --omit against the run's length before anything starts. */
export function checkOmit(omitMs: number | undefined, timeMs: number | undefined): void {
  if (omitMs === undefined) return;
  if (!(omitMs >= 0)) throw new UsageError('run: --omit must be ≥ 0');
  if (timeMs !== undefined && omitMs >= timeMs)
    throw new UsageError(
      `run: --omit ${omitMs / 1000}s leaves nothing of a ${timeMs / 1000}s run to measure (omit less than --time)`,
    );
}

/** The window's figures; marks the timeline's points in the omitted span (`omitted: true`). */
export function measureWindow(points: TimelinePoint[], w: WindowTimes): WindowFigures {
  const omit = w.omit ?? 0;
  const from = w.start + omit;
  const to = Math.max(from, w.timed ? Math.min(w.lastWrite, w.endOfStream) : w.endOfStream);
  let prev = 0;
  for (const p of points) {
    if (omit > 0 && prev < from - 1e-9) p.omitted = true;
    prev = p.t;
  }
  const windowBytes = Math.max(0, Math.round(bytesAt(points, to) - bytesAt(points, from)));
  const span = to - from;
  return {
    goodputMbps: span > 0 ? round((windowBytes * 8) / span / 1e6, 3) : 0,
    startSeconds: round(w.start, 6),
    sendSeconds: round((w.timed ? w.lastWrite : w.endOfStream) - w.start, 6),
    drainSeconds: round(Math.max(0, w.endOfStream - w.lastWrite), 6),
    omitSeconds: omit,
    windowBytes,
  };
}

/** Run totals of the timeline's per-interval counters (only those the run measured). */
export function counterTotals(points: readonly TimelinePoint[]): NonNullable<RunResult['counters']> {
  const c: NonNullable<RunResult['counters']> = {};
  for (const p of points) {
    if (p.retrans !== undefined) c.retrans = (c.retrans ?? 0) + p.retrans;
    if (p.reinjectedBytes !== undefined) c.reinjectedBytes = (c.reinjectedBytes ?? 0) + p.reinjectedBytes;
    if (p.oooBytes !== undefined) c.oooBytes = (c.oooBytes ?? 0) + p.oooBytes;
  }
  return c;
}
