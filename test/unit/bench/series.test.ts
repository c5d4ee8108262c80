import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alignClock,
  bytesAt,
  goodputMbps,
  longestGap,
  rateGrid,
  type Sample,
  timeToReach,
} from '../../../bench/lib/series';

/** A receiver taking `mbps` from `from` to `to` (s), sampled every `step` s from 0 to `end`. */
function steadyRate(
  segments: { from: number; to: number; mbps: number }[],
  end: number,
  step = 0.01,
): Sample[] {
  const out: Sample[] = [];
  let bytes = 0;
  let prev = 0;
  for (let i = 0; i * step <= end + 1e-9; i++) {
    const t = i * step;
    for (const s of segments) {
      const a = Math.max(prev, s.from);
      const b = Math.min(t, s.to);
      if (b > a) bytes += ((b - a) * s.mbps * 1e6) / 8;
    }
    out.push({ t, bytes: Math.round(bytes) });
    prev = t;
  }
  return out;
}

describe('bench series maths', () => {
  it('bytesAt interpolates between the samples', () => {
    const s = [
      { t: 1, bytes: 10 },
      { t: 2, bytes: 30 },
      { t: 3, bytes: 60 },
    ];
    expect(bytesAt(s, 0.5)).toBe(0);
    expect(bytesAt(s, 1)).toBe(10);
    expect(bytesAt(s, 1.5)).toBe(20);
    expect(bytesAt(s, 2)).toBe(30);
    expect(bytesAt(s, 99)).toBe(60);
  });

  it('goodput of a steady 50 Mbit/s receiver is 50 Mbit/s', () => {
    const s = steadyRate([{ from: 0, to: 10, mbps: 50 }], 10);
    expect(goodputMbps(s, 2, 8)).toBeCloseTo(50, 1);
    expect(() => goodputMbps(s, 3, 3)).toThrow(/empty/);
  });

  it('finds a 1 s outage as a gap of about 1 s less the window', () => {
    // 50 Mbit/s, nothing from 3 s to 4 s, then 50 Mbit/s again
    const s = steadyRate(
      [
        { from: 0, to: 3, mbps: 50 },
        { from: 4, to: 8, mbps: 50 },
      ],
      8,
    );
    const gap = longestGap(s, 2.5, 7.5, 5);
    // under 5 Mbit/s over 100 ms once < 10% of the window has data: from 3.09 to 4.01
    expect(gap).toBeGreaterThan(0.9);
    expect(gap).toBeLessThan(0.95);
    // no gap where the receiver never stalls
    expect(longestGap(s, 5, 7.5, 5)).toBe(0);
  });

  it('a path running at half rate is no gap at a 10% threshold, but a slow trickle is', () => {
    const half = steadyRate([{ from: 0, to: 5, mbps: 25 }], 5);
    expect(longestGap(half, 0.5, 4.5, 5)).toBe(0);
    const trickle = steadyRate([{ from: 0, to: 5, mbps: 1 }], 5);
    expect(longestGap(trickle, 0.5, 4.5, 5)).toBeCloseTo(4, 1);
  });

  it('timeToReach measures when a returning path carries data again', () => {
    const s = steadyRate([{ from: 2.3, to: 6, mbps: 50 }], 6);
    const r = timeToReach(s, 2, 5.5, 5);
    expect(r).toBeGreaterThan(0.3);
    expect(r).toBeLessThan(0.33);
    expect(timeToReach(steadyRate([], 6), 2, 5.5, 5)).toBeUndefined();
  });

  it('rateGrid covers the interval on its step', () => {
    const g = rateGrid(steadyRate([{ from: 0, to: 2, mbps: 10 }], 2), 0.5, 1.5, { step: 0.1 });
    expect(g).toHaveLength(11);
    for (const p of g) expect(p.mbps).toBeCloseTo(10, 0);
  });

  it('alignClock maps stamps by the least-delayed message', () => {
    const s = alignClock([
      { t: 0.1, arrived: 100.13, bytes: 1 },
      { t: 0.2, arrived: 100.201, bytes: 2 },
      { t: 0.3, arrived: 100.4, bytes: 3 },
    ]);
    expect(s.map((x) => x.t)).toEqual(
      [0.1 + 100.001, 0.2 + 100.001, 0.3 + 100.001].map((x) => expect.closeTo(x, 9)),
    );
    expect(alignClock([])).toEqual([]);
  });

  it('property: a gap never exceeds the interval, and a receiver that never stalls has none', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 6, max: 200, noNaN: true }),
        fc.double({ min: 0.5, max: 3, noNaN: true }),
        fc.double({ min: 0.2, max: 2, noNaN: true }),
        (mbps, stallAt, stallLen) => {
          const end = stallAt + stallLen + 2;
          const s = steadyRate(
            [
              { from: 0, to: stallAt, mbps },
              { from: stallAt + stallLen, to: end, mbps },
            ],
            end,
          );
          const gap = longestGap(s, 0.2, end - 0.2, mbps / 10);
          expect(gap).toBeLessThanOrEqual(end - 0.4 + 0.01);
          // the outage is seen, within the window and a grid step either side
          expect(Math.abs(gap - stallLen)).toBeLessThanOrEqual(0.1 + 0.02);
          const steady = steadyRate([{ from: 0, to: end, mbps }], end);
          expect(longestGap(steady, 0.2, end - 0.2, mbps / 10)).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });
});
