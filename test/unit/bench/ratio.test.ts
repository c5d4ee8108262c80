import { describe, expect, it } from 'vitest';
import { compare, formatMeasured, formatRatio } from '../../../bench/lib/ratio';

describe('bench ratio orientation', () => {
  it('is ours/baseline for rates: > 1 when ours is higher', () => {
    const r = compare([200], [100], true);
    expect(r.value).toBe(2);
    expect(r.text).toBe('2.00×');
    expect(r.verdict).toBe('better');
    expect(r.difference).toBe(100);
  });

  it('is baseline/ours for times: > 1 when ours is lower', () => {
    const r = compare([0.5], [2], false);
    expect(r.value).toBe(4);
    expect(r.verdict).toBe('better');
  });

  it('prints the ratio of a loss instead of a dash, in both orientations', () => {
    const rate = compare([457], [2462], true);
    expect(rate.value).toBeCloseTo(457 / 2462, 6);
    expect(rate.text).toBe('0.19×');
    expect(rate.verdict).toBe('worse');
    const time = compare([0.2], [0.02], false);
    expect(time.value).toBeCloseTo(0.1, 9);
    expect(time.text).toBe('0.10×');
    expect(time.verdict).toBe('worse');
  });

  it('keeps a tiny ratio readable (never 0.00× for a loss)', () => {
    const r = compare([1], [4242], true);
    expect(r.text).toBe(formatRatio(1 / 4242));
    expect(r.text).not.toBe('0.00×');
    expect(r.text).toBe('0.00024×');
  });

  it('says which side is 0 when a median is 0', () => {
    // a gap ours has and the baseline does not: a loss, printed as such
    expect(compare([0.1, 0.05, 0.2], [0, 0, 0], false)).toMatchObject({
      value: 0,
      text: '0× (baseline 0)',
      verdict: 'worse',
    });
    // a gap the baseline has and ours does not: unbounded, a win
    expect(compare([0], [0.3], false)).toMatchObject({ value: null, text: '∞ (ours 0)', verdict: 'better' });
    // a rate of 0 on our side
    expect(compare([0], [10], true)).toMatchObject({ value: 0, text: '0× (ours 0)', verdict: 'worse' });
    expect(compare([0, 0], [0, 0], false)).toMatchObject({
      value: 1,
      text: '1.00× (both 0)',
      verdict: 'equal',
    });
  });

  it('uses the medians, and calls overlapping ranges "within spread"', () => {
    const r = compare([10, 11, 30], [9, 12, 13], true);
    expect(r.value).toBeCloseTo(11 / 12, 9);
    expect(r.overlap).toBe(true);
    expect(r.verdict).toBe('within spread');
    const apart = compare([20, 21, 22], [9, 12, 13], true);
    expect(apart.overlap).toBe(false);
    expect(apart.verdict).toBe('better');
    // one value each (a quick run): no spread to speak of, the verdict follows the ratio
    expect(compare([11], [12], true).verdict).toBe('worse');
  });

  it('refuses what has no ratio', () => {
    expect(compare([], [1], true).verdict).toBe('n/a');
    expect(compare([-1], [1], true).verdict).toBe('n/a');
  });

  it('formats ratios and values by size', () => {
    expect(formatRatio(17.47)).toBe('17.5×');
    expect(formatRatio(123.4)).toBe('123×');
    expect(formatRatio(Number.POSITIVE_INFINITY)).toBe('∞');
    expect(formatMeasured([93.26, 93.2, 93.27], 'Mbit/s')).toBe('93.26 Mbit/s [93.20–93.27]');
    expect(formatMeasured([0.0935], 'ms')).toBe('0.0935 ms');
    expect(formatMeasured([0], 's')).toBe('0 s');
    expect(formatMeasured([], 's')).toBe('–');
  });
});
