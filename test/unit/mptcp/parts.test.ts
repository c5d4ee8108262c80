import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dsnOf, offsetOf } from '../../../stack/mptcp/dsn';
import { TokenTable } from '../../../stack/mptcp/keys';
import { DataReassembly } from '../../../stack/mptcp/reasm';
import { RxMappings } from '../../../stack/mptcp/rxmap';
import { SharedSendBuffer } from '../../../stack/mptcp/sendbuf';
import { dssChecksum } from '../../../stack/wire/checksum';
import { tokenOf } from '../../../stack/wire/crypto';

describe('DSN arithmetic', () => {
  it('round-trips offsets through 64-bit DSNs, across the 2^64 wrap', () => {
    const idsn = 0xffff_ffff_ffff_fff0n;
    for (const off of [0, 1, 14, 15, 16, 1e6, 2 ** 40]) {
      expect(offsetOf(idsn, dsnOf(idsn, off), true, 0)).toBe(off);
    }
    expect(dsnOf(idsn, 15)).toBe(0n);
  });

  it('infers the upper bits of a 32-bit DSN from the expected offset', () => {
    const idsn = 0x1234_5678_ffff_ff00n;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.integer({ min: -(2 ** 30), max: 2 ** 30 }),
        (off, d) => {
          const near = Math.max(0, off + d);
          const low = dsnOf(idsn, off) & 0xffff_ffffn;
          expect(offsetOf(idsn, low, false, near)).toBe(off);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('token table', () => {
  it('never hands out a token already in use (collision avoidance)', () => {
    // A key generator that repeats itself: every second key collides with the first.
    const keys = [1n, 1n, 1n, 2n, 3n];
    let i = 0;
    const t = new TokenTable<string>(() => keys[i++]!);
    const a = t.allocate('a');
    const b = t.allocate('b');
    expect(a.token).toBe(tokenOf(1n));
    expect(b.token).toBe(tokenOf(2n));
    expect(t.collisions).toBe(2);
    expect(t.get(a.token)).toBe('a');
    t.release(a.token);
    expect(t.has(a.token)).toBe(false);
    expect(t.claim(b.token, 'x')).toBe(false);
  });
});

describe('shared send buffer', () => {
  it('bounds writes, hands out chunks, consumes on data ACK', () => {
    const sb = new SharedSendBuffer(1000);
    expect(sb.write(new Uint8Array(1500).fill(7))).toBe(1000);
    expect(sb.room).toBe(0);
    expect(sb.takeNew(400, Infinity)).toEqual({ start: 0, end: 400 });
    expect(sb.takeNew(400, 600)).toEqual({ start: 400, end: 600 });
    expect(sb.takeNew(400, 600)).toBeUndefined();
    expect(sb.ack(300)).toBe(300);
    expect(sb.room).toBe(300);
    expect(sb.ack(200)).toBe(0);
    // An ACK beyond what was sent is clamped.
    expect(sb.ack(5000)).toBe(300);
    expect(sb.una).toBe(600);
  });

  it('queues stranded data for reinjection, merged, minus what is acked', () => {
    const sb = new SharedSendBuffer(10_000);
    const data = new Uint8Array(5000).map((_, i) => i & 0xff);
    sb.write(data);
    sb.takeNew(5000, Infinity);
    expect(sb.queueReinject(1000, 2000)).toBe(1000);
    expect(sb.queueReinject(1500, 2500)).toBe(500);
    expect(sb.queueReinject(3000, 3500)).toBe(500);
    expect(sb.reinject).toEqual([
      { start: 1000, end: 2500 },
      { start: 3000, end: 3500 },
    ]);
    sb.ack(1200);
    const r = sb.takeReinject(1000)!;
    expect(r).toEqual({ start: 1200, end: 2200 });
    expect(sb.bytes(r.start, 4)).toEqual(data.subarray(1200, 1204));
    expect(sb.takeReinject(1000)).toEqual({ start: 2200, end: 2500 });
    expect(sb.takeReinject(1000)).toEqual({ start: 3000, end: 3500 });
    expect(sb.takeReinject(1000)).toBeUndefined();
  });

  it('places the DATA_FIN after the last byte and refuses writes after it', () => {
    const sb = new SharedSendBuffer(100);
    sb.write(new Uint8Array(10));
    sb.close();
    expect(sb.finOffset).toBe(10);
    expect(sb.write(new Uint8Array(1))).toBe(0);
    sb.takeNew(10, Infinity);
    sb.ack(11);
    expect(sb.finAcked).toBe(true);
    expect(sb.una).toBe(10);
  });
});

describe('data-level reassembly', () => {
  it('delivers any arrival order exactly once, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 400 })), {
          minLength: 1,
          maxLength: 60,
        }),
        (pieces) => {
          const total = 3400;
          const src = new Uint8Array(total).map((_, i) => (i * 31) & 0xff);
          const r = new DataReassembly(1 << 20);
          const out: Uint8Array[] = [];
          // Random pieces, then the whole to fill the gaps.
          for (const [off, len] of pieces)
            r.add(off, src.slice(off, Math.min(total, off + len)), (d) => out.push(d));
          r.add(0, src.slice(0, total), (d) => out.push(d));
          const got = Buffer.concat(out);
          expect(got.length).toBe(total);
          expect(createHash('sha256').update(got).digest('hex')).toBe(
            createHash('sha256').update(src).digest('hex'),
          );
          expect(r.outOfOrderBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the window shrinks with held and unconsumed bytes; beyond it is dropped', () => {
    const r = new DataReassembly(1000);
    const out: Uint8Array[] = [];
    r.add(100, new Uint8Array(200), (d) => out.push(d));
    expect(r.window).toBe(800);
    r.add(0, new Uint8Array(100), (d) => out.push(d));
    expect(r.rcvNxt).toBe(300);
    expect(r.window).toBe(700);
    r.consumed(300);
    expect(r.window).toBe(1000);
    r.add(1200, new Uint8Array(500), (d) => out.push(d));
    expect(r.outOfOrderBytes).toBe(100);
    r.add(0, new Uint8Array(10), () => {});
    expect(r.duplicates).toBe(1);
  });
});

describe('receive-side mappings', () => {
  it('maps subflow bytes to data offsets as they arrive in order', () => {
    const m = new RxMappings(false);
    m.add(1, 5000, 100, 0n, 100);
    m.add(101, 9000, 50, 0n, 50);
    const got: [number, number][] = [];
    expect(m.feed(1, new Uint8Array(60), (o, b) => got.push([o, b.length]))).toBe('ok');
    expect(m.feed(61, new Uint8Array(90), (o, b) => got.push([o, b.length]))).toBe('ok');
    expect(got).toEqual([
      [5000, 60],
      [5060, 40],
      [9000, 50],
    ]);
    expect(m.feed(151, new Uint8Array(1), () => {})).toBe('unmapped');
  });

  it('holds a checksummed mapping until complete and rejects a corrupted one', () => {
    const payload = new Uint8Array(300).map((_, i) => i & 0xff);
    const dsn = 0x0102_0304_0506_0708n;
    const csum = dssChecksum(dsn, 1, 300, payload);
    const good = new RxMappings(true);
    good.add(1, 0, 300, dsn, 300, csum);
    const out: Uint8Array[] = [];
    expect(good.feed(1, payload.subarray(0, 100), (_o, b) => out.push(b))).toBe('ok');
    expect(out).toHaveLength(0);
    expect(good.feed(101, payload.subarray(100), (_o, b) => out.push(b))).toBe('ok');
    expect(Buffer.concat(out)).toEqual(Buffer.from(payload));

    const bad = new RxMappings(true);
    bad.add(1, 0, 300, dsn, 300, csum);
    const corrupted = payload.slice();
    corrupted[150] = corrupted[150]! ^ 0x20;
    const out2: Uint8Array[] = [];
    expect(bad.feed(1, corrupted, (_o, b) => out2.push(b))).toBe('checksum');
    expect(out2).toHaveLength(0);
    expect(bad.failed?.off).toBe(0);
  });

  it('the infinite mapping maps everything that follows', () => {
    const m = new RxMappings(false);
    m.add(1000, 70_000, Number.POSITIVE_INFINITY, 0n, 0);
    const got: number[] = [];
    m.feed(1500, new Uint8Array(10), (o) => got.push(o));
    expect(got).toEqual([70_500]);
  });
});
