import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EventHandler, EventQueue, type SimEvent, Simulator } from '../../../stack/sim/index';

describe('event queue', () => {
  it('pops in (time, insertion order) order for any insertion sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 300 }), (times) => {
        const q = new EventQueue();
        const fired: number[] = [];
        const h: EventHandler = { handle: (ev: SimEvent) => fired.push(ev.num) };
        times.forEach((t, i) => {
          q.push(t, h, 0, i, null);
        });
        for (let ev = q.pop(); ev; ev = q.pop()) {
          ev.handler!.handle(ev);
          q.release(ev);
        }
        const expected = times
          .map((t, i) => ({ t, i }))
          .sort((a, b) => a.t - b.t || a.i - b.i)
          .map((x) => x.i);
        expect(fired).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('interleaved push/pop keeps order and reuses event objects', () => {
    const q = new EventQueue();
    const seen: SimEvent[] = [];
    const h: EventHandler = { handle: () => {} };
    let last = -1;
    for (let round = 0; round < 1000; round++) {
      q.push(last + 1 + (round % 7), h, 0, round, null);
      q.push(last + 1 + (round % 3), h, 0, round, null);
      const ev = q.pop()!;
      expect(ev.t).toBeGreaterThanOrEqual(last);
      last = ev.t;
      seen.push(ev);
      q.release(ev);
    }
    // pooled: far fewer distinct objects than events
    expect(new Set(seen).size).toBeLessThan(1100);
    expect(q.size).toBe(1000);
  });
});

describe('simulator clock', () => {
  it('fires equal-time events in scheduling order, including ones scheduled while firing', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.at(5, () => {
      log.push('a@5');
      sim.at(5, () => log.push('c@5 (scheduled by a)'));
    });
    sim.at(5, () => log.push('b@5'));
    sim.at(1, () => log.push('x@1'));
    sim.at(5.000001, () => log.push('d@5.000001'));
    sim.runUntil(10);
    expect(log).toEqual(['x@1', 'a@5', 'b@5', 'c@5 (scheduled by a)', 'd@5.000001']);
    expect(sim.now).toBe(10);
  });

  it('runUntil stops at the time and includes events exactly at it', () => {
    const sim = new Simulator();
    const fired: number[] = [];
    for (const t of [1, 2, 3, 4]) sim.at(t, () => fired.push(sim.now));
    sim.runUntil(3);
    expect(fired).toEqual([1, 2, 3]);
    expect(sim.now).toBe(3);
    sim.runFor(0.5);
    expect(sim.now).toBe(3.5);
    expect(fired).toEqual([1, 2, 3]);
  });

  it('rejects scheduling in the past or at NaN', () => {
    const sim = new Simulator();
    sim.runUntil(10);
    expect(() => sim.at(9, () => {})).toThrow(/before now/);
    expect(() => sim.at(Number.NaN, () => {})).toThrow(/before now/);
    expect(() => sim.every(1, () => {}, 5)).toThrow(/before now/);
    expect(() => sim.schedule(Number.NaN, { handle: () => {} }, 0, 0, null)).toThrow(/before now/);
  });

  it('runWhile stops when the predicate turns false, or at the limit', () => {
    const sim = new Simulator();
    let n = 0;
    for (let i = 1; i <= 100; i++) sim.at(i, () => n++);
    expect(sim.runWhile(() => n < 10, 1000)).toBe(true);
    expect(sim.now).toBe(10);
    expect(sim.runWhile(() => true, 50.5)).toBe(false);
    expect(n).toBe(50);
    expect(sim.now).toBe(50.5);
  });

  it('run() ends when only periodic (daemon) events remain', () => {
    const sim = new Simulator();
    const ticks: number[] = [];
    sim.every(10, (t) => ticks.push(t));
    sim.at(35, () => {});
    expect(sim.run()).toBe(true);
    expect(sim.now).toBe(35);
    expect(ticks).toEqual([0, 10, 20, 30]);
    // periodic times do not accumulate float error: k * period from the start
    const s2 = new Simulator();
    const t2: number[] = [];
    s2.every(0.1, (t) => t2.push(t));
    s2.runUntil(100);
    expect(t2[1000]).toBe(100);
    expect(t2[3]).toBe(0.30000000000000004); // 3 * 0.1, computed once, not summed
  });

  it('a stopped periodic no longer fires', () => {
    const sim = new Simulator();
    let n = 0;
    const stop = sim.every(1, () => n++);
    sim.at(4.5, stop);
    sim.runUntil(100);
    expect(n).toBe(5);
  });
});
