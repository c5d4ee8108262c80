/**
 * Mahimahi packet-delivery traces, the one parser and the one cursor of the link model (the
 * simulator's links and the emulator's both use them): one integer millisecond timestamp per line,
 * non-decreasing; each line is one delivery opportunity for up to 1500 bytes (small packets share
 * one, a large one spans several); the schedule repeats with a period equal to the last timestamp
 * (as Mahimahi's link queue does). Blank lines and lines starting with # are skipped.
 *
 * Sans-I/O: reading the file is the caller's (lab/emulator/main.ts, lab/sim/map.ts).
 */

export const TRACE_MTU = 1500;

export interface Trace {
  /** Opportunity times in ms within one period, non-decreasing. */
  times: Float64Array;
  /** Period in ms (the last timestamp), > 0. */
  period: number;
  /** Average rate in bytes per ms. */
  bytesPerMs: number;
  source: string;
}

export class TraceError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    message: string,
  ) {
    super(`${source}:${line}: ${message}`);
    this.name = 'TraceError';
  }
}

/** Parses trace text; throws TraceError naming the line on any bad input. */
export function parseTrace(text: string, source = '<trace>'): Trace {
  const lines = text.split('\n');
  const out: number[] = [];
  let prev = 0;
  let lastLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    if (!/^\d+$/.test(raw)) {
      throw new TraceError(
        source,
        i + 1,
        `expected a non-negative integer millisecond timestamp, got "${raw.slice(0, 40)}"`,
      );
    }
    const t = Number(raw);
    if (!Number.isSafeInteger(t)) throw new TraceError(source, i + 1, `timestamp ${raw} is too large`);
    if (t < prev) throw new TraceError(source, i + 1, `timestamp ${t} is before the previous one (${prev})`);
    prev = t;
    lastLine = i + 1;
    out.push(t);
  }
  if (out.length === 0) throw new TraceError(source, 1, 'trace has no timestamps');
  const period = out[out.length - 1]!;
  if (period <= 0) throw new TraceError(source, lastLine, 'the last timestamp (the period) must be > 0');
  return { times: Float64Array.from(out), period, bytesPerMs: (out.length * TRACE_MTU) / period, source };
}

/**
 * A cursor over a looping trace: the current opportunity (absolute time) and the bytes left in it.
 * Opportunities that pass while nothing waits are lost, as on a real cellular link.
 */
export class TraceCursor {
  private loops = 0;
  private idx = 0;
  /** Bytes still available in the current opportunity. */
  left = TRACE_MTU;

  constructor(
    readonly trace: Trace,
    /** Absolute time (ms) of the trace's zero. */
    readonly start: number,
  ) {}

  /** Absolute time of the current opportunity. */
  time(): number {
    return this.start + this.loops * this.trace.period + this.trace.times[this.idx]!;
  }

  /** Moves to the first opportunity at or after `t` (full) if the current one is before `t`. */
  seek(t: number): void {
    if (this.time() >= t) return;
    const { times, period } = this.trace;
    const rel = t - this.start;
    let loops = Math.floor(rel / period);
    const within = rel - loops * period;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! < within) lo = mid + 1;
      else hi = mid;
    }
    if (lo === times.length) {
      loops++;
      lo = 0;
    }
    this.loops = loops;
    this.idx = lo;
    this.left = TRACE_MTU;
  }

  advance(): void {
    this.idx++;
    if (this.idx === this.trace.times.length) {
      this.idx = 0;
      this.loops++;
    }
    this.left = TRACE_MTU;
  }

  /**
   * Departure time of a packet of `bytes` that may start at `t`: it uses the bytes left in
   * opportunities from the first at or after `t` on (a big packet spans several).
   */
  take(bytes: number, t: number): number {
    this.seek(t);
    let need = bytes;
    while (need > this.left) {
      need -= this.left;
      this.advance();
    }
    this.left -= need;
    const depart = this.time();
    if (this.left === 0) this.advance();
    return depart;
  }
}
