import { describe, expect, it } from 'vitest';
import { Forwarder } from '../../../lab/emulator/forwarder';
import { parseTrace, TraceCursor, TraceError } from '../../../lab/emulator/trace';

describe('trace parsing', () => {
  it('parses Mahimahi timestamps', () => {
    const t = parseTrace('0\n0\n5\n10\n\n', 'x.trace');
    expect([...t.times]).toEqual([0, 0, 5, 10]);
    expect(t.period).toBe(10);
    expect(t.bytesPerMs).toBe(600);
  });

  it.each([
    ['1\n2\nabc\n', 3, /non-negative integer/],
    ['1\n-2\n', 2, /non-negative integer/],
    ['1\n2.5\n', 2, /non-negative integer/],
    ['5\n3\n', 2, /before the previous one/],
    ['\n\n', 1, /no timestamps/],
    ['0\n0\n', 2, /must be > 0/],
  ])('rejects %j at line %i', (text, line, msg) => {
    try {
      parseTrace(text, 'bad.trace');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TraceError);
      expect((e as TraceError).line).toBe(line);
      expect((e as Error).message).toMatch(new RegExp(`^bad\\.trace:${line}: `));
      expect((e as Error).message).toMatch(msg);
    }
  });
});

describe('trace replay arithmetic', () => {
  it('loops with the last timestamp as period (Mahimahi semantics)', () => {
    const c = new TraceCursor(parseTrace('0\n5\n10\n'), 100);
    const times: number[] = [];
    for (let i = 0; i < 7; i++) times.push(c.take(1500, 0));
    // loop 0: 100, 105, 110; loop 1: 110 (0 + period), 115, 120; loop 2: 120
    expect(times).toEqual([100, 105, 110, 110, 115, 120, 120]);
  });

  it('packs small packets into one opportunity and spans big ones over several', () => {
    const c = new TraceCursor(parseTrace('1\n2\n3\n4\n'), 0);
    expect([c.take(500, 0), c.take(500, 0), c.take(500, 0), c.take(500, 0)]).toEqual([1, 1, 1, 2]);
    // 1000 left in opportunity 2: a 2000-byte packet needs 2's rest and 1000 of 3.
    expect(c.take(2000, 0)).toBe(3);
    expect(c.left).toBe(500);
  });

  it('opportunities that pass while idle are lost', () => {
    const c = new TraceCursor(parseTrace('0\n5\n10\n'), 0);
    expect(c.take(1500, 3)).toBe(5);
    expect(c.take(100, 37)).toBe(40); // 37 → loop 3 (30..40): next opportunity at 35? no: 30+5=35 < 37 → 40
    expect(c.take(1400, 40)).toBe(40);
    expect(c.take(1, 40)).toBe(40); // loop 4 starts at 40 too
  });

  it('a saturated trace link delivers exactly the opportunities × 1500 bytes', () => {
    // 4 opportunities per 10 ms (0, 0, 5, 10) → 600 bytes/ms = 4.8 Mbit/s.
    const trace = parseTrace('0\n0\n5\n10\n');
    let delivered = 0;
    const fw = new Forwarder<number>(
      { deliver: (_d, _f, len) => (delivered += len - 14), free: () => {}, copy: (f) => f },
      1,
      () => trace,
    );
    const dir = fw.addDir({ trace: 'mem', queue: { packets: 50 } }, 0);
    for (let t = 0; t <= 1000; t += 0.5) {
      fw.poll(t);
      // Two per step: the queue never runs dry, so no opportunity is lost.
      fw.input(dir, 0, 1514, t);
      fw.input(dir, 0, 1514, t);
    }
    fw.poll(1000);
    // Count the opportunities with time ≤ 1000:
    let opps = 0;
    for (let k = 0; k <= 100; k++) for (const x of [0, 0, 5, 10]) if (10 * k + x <= 1000) opps++;
    expect(delivered).toBe(opps * 1500);
  });
});
