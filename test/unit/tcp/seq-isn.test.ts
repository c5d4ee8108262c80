import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isnFor } from '../../../stack/tcp/isn';
import { ByteRing } from '../../../stack/tcp/ring';
import { seqAdd, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqSub } from '../../../stack/tcp/seq';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const delta = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

describe('sequence arithmetic mod 2^32', () => {
  it('orders across the wrap', () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(0xffffffff);
    expect(seqSub(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqMax(0xfffffff0, 0x10)).toBe(0x10);
  });

  it('agrees with integer arithmetic for any base and offset', () => {
    fc.assert(
      fc.property(u32, delta, (a, d) => {
        const b = seqAdd(a, d);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(0xffffffff);
        expect(seqSub(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqLeq(a, b)).toBe(d >= 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqGeq(a, b)).toBe(d <= 0);
      }),
    );
  });
});

describe('RFC 6528 ISNs', () => {
  const key = new Uint8Array(16).fill(9);
  it('advance with a 4 µs clock for one 4-tuple', () => {
    const i0 = isnFor(key, '10.0.0.1', 1000, '10.0.0.2', 80, 0);
    const i1 = isnFor(key, '10.0.0.1', 1000, '10.0.0.2', 80, 1000);
    expect(seqSub(i1, i0)).toBe(250_000);
  });
  it('differ per 4-tuple and per secret, unpredictably', () => {
    const a = isnFor(key, '10.0.0.1', 1000, '10.0.0.2', 80, 0);
    const b = isnFor(key, '10.0.0.1', 1001, '10.0.0.2', 80, 0);
    const c = isnFor(new Uint8Array(16), '10.0.0.1', 1000, '10.0.0.2', 80, 0);
    expect(new Set([a, b, c]).size).toBe(3);
    // Neighbouring ports do not give neighbouring ISNs.
    expect(Math.abs(seqSub(a, b))).toBeGreaterThan(1_000_000);
  });
});

describe('ByteRing', () => {
  it('behaves as a FIFO through wraps and growth', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }))),
        (ops) => {
          const r = new ByteRing(1024);
          const model: number[] = [];
          let x = 0;
          for (const [push, take] of ops) {
            const data = new Uint8Array(push).map(() => x++ & 0xff);
            r.push(data);
            model.push(...data);
            const n = Math.min(take, model.length);
            expect(Array.from(r.read(0, n))).toEqual(model.slice(0, n));
            expect(Array.from(r.view(0, n))).toEqual(model.slice(0, n));
            r.consume(n);
            model.splice(0, n);
            expect(r.length).toBe(model.length);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});
