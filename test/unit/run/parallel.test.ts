/** Merging parallel connections' timelines (lab/run/parallel.ts): sums on one clock. */
import { describe, expect, it } from 'vitest';
import { checkParallel, mergeTimelines } from '../../../lab/run/parallel';
import type { TimelinePoint } from '../../../lab/run/result';

/** A connection at a constant rate (Mbit/s) sampled every 0.1 s for `n` samples. */
function leg(mbps: number, n: number, pathIndex = 1): TimelinePoint[] {
  const per = (mbps * 1e6 * 0.1) / 8;
  return Array.from({ length: n }, (_, i) => ({
    t: Math.round((i + 1) * 100) / 1000,
    total: mbps,
    bytes: per * (i + 1),
    retrans: 1,
    subflows: [{ pathIndex, mbps, cwnd: 1000, srttMs: 5 }],
  }));
}

describe('mergeTimelines', () => {
  it('sums connections on the first one’s sample times, shifted onto its clock', () => {
    const merged = mergeTimelines([
      { points: leg(10, 20), shift: 0 },
      { points: leg(30, 20, 2), shift: 0.05 },
    ]);
    // the grid goes on until the later connection ends
    expect(merged[merged.length - 1]!.t).toBeCloseTo(2.05, 6);
    // in the middle, both run: 40 Mbit/s in all, each path its own
    const mid = merged[10]!;
    expect(mid.total).toBeCloseTo(40, 1);
    expect(mid.subflows).toEqual([
      { pathIndex: 1, mbps: expect.closeTo(10, 1) },
      { pathIndex: 2, mbps: expect.closeTo(30, 1) },
    ]);
    // cumulative bytes add up at the end; counters are kept (interpolated)
    expect(merged[merged.length - 1]!.bytes).toBe(Math.round((10e6 * 2) / 8 + (30e6 * 2) / 8));
    expect(merged.reduce((n, p) => n + (p.retrans ?? 0), 0)).toBe(40);
  });

  it('one connection: its own timeline', () => {
    const one = leg(5, 3);
    expect(mergeTimelines([{ points: one, shift: 0 }])).toEqual(one);
  });

  it('--parallel must be a whole number in range', () => {
    expect(() => checkParallel({ parallel: 0 })).toThrow(/--parallel/);
    expect(() => checkParallel({ parallel: 1.5 })).toThrow(/--parallel/);
    expect(() => checkParallel({ parallel: 33 })).toThrow(/--parallel/);
    expect(() => checkParallel({ parallel: 4 })).not.toThrow();
  });
});
