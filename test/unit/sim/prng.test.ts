import { describe, expect, it } from 'vitest';
import { Rng } from '../../../stack/sim/index';

describe('Rng (sfc32)', () => {
  it('is repeatable for a seed and differs across seeds and forks', () => {
    const a = new Rng(42);
    const b = new Rng('42');
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
    const f1 = new Rng(42).fork('link/x/ab');
    const f2 = new Rng(42).fork('link/x/ab');
    const f3 = new Rng(42).fork('link/x/ba');
    const y = f1.nextU32();
    expect(f2.nextU32()).toBe(y);
    expect(f3.nextU32()).not.toBe(y);
  });

  it('is uniform enough: mean, variance and byte histogram', () => {
    const r = new Rng(7);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      s += x;
      s2 += x * x;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    const mean = s / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
    const hist = new Array<number>(256).fill(0);
    const bytes = r.bytes(256 * 1000);
    for (const b of bytes) hist[b]!++;
    // chi-square with 255 degrees of freedom: 99.9% quantile ≈ 330
    const chi = hist.reduce((acc, o) => acc + (o - 1000) ** 2 / 1000, 0);
    expect(chi).toBeLessThan(330);
  });

  it('normal() has mean 0 and sd 1', () => {
    const r = new Rng(3);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(s2 / n) - 1)).toBeLessThan(0.02);
  });

  it('fill handles lengths that are not multiples of 4', () => {
    const a = new Rng(9).bytes(7);
    const b = new Rng(9).bytes(7);
    expect(a).toEqual(b);
    expect(a.length).toBe(7);
  });
});

describe('Rng.fill byte order', () => {
  it('gives the same bytes through the word path and the byte path', () => {
    const aligned = new Rng(5).bytes(1003);
    const buf = new Uint8Array(1004);
    const unaligned = new Rng(5).fill(buf.subarray(1)); // byteOffset 1: byte-by-byte path
    expect(unaligned).toEqual(aligned);
    const x = new Rng(5).nextU32();
    expect([...aligned.subarray(0, 4)]).toEqual([x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24]);
  });
});
