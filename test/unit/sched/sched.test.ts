import { describe, expect, it } from 'vitest';
import { createScheduler, hasRoom, type SchedSubflow } from '../../../stack/sched';

function sf(id: number, srttMs: number, o: Partial<SchedSubflow> = {}): SchedSubflow {
  return { id, srttMs, cwnd: 14600, bytesInFlight: 0, mss: 1460, backup: false, usable: true, ...o };
}

describe('schedulers', () => {
  it('default picks the lowest RTT among subflows with cwnd room', () => {
    const s = createScheduler('default');
    const a = sf(1, 20);
    const b = sf(2, 150);
    expect(s.pick([b, a])?.id).toBe(1);
    const aFull = sf(1, 20, { bytesInFlight: 14600 });
    expect(s.pick([aFull, b])?.id).toBe(2);
    expect(s.pick([aFull, sf(2, 150, { bytesInFlight: 14000 })])).toBeUndefined();
    // Unknown RTT sorts after measured ones; ties go to the lower path index.
    expect(s.pick([sf(3, 0), sf(2, 50)])?.id).toBe(2);
    expect(s.pick([sf(3, 10), sf(2, 10)])?.id).toBe(2);
    expect(s.pick([sf(1, 5, { usable: false }), b])?.id).toBe(2);
  });

  it('default uses backup subflows only when no regular subflow is usable', () => {
    const s = createScheduler('default');
    const regularFull = sf(1, 100, { bytesInFlight: 14600 });
    const backup = sf(2, 10, { backup: true });
    // The regular one is usable but full: wait for it, do not spill onto the backup.
    expect(s.pick([regularFull, backup])).toBeUndefined();
    expect(s.pick([sf(1, 100), backup])?.id).toBe(1);
    expect(s.pick([sf(1, 100, { usable: false }), backup])?.id).toBe(2);
    expect(s.pick([sf(1, 100, { usable: false }), backup, sf(3, 5, { backup: true })])?.id).toBe(3);
  });

  it('roundrobin takes subflows in turn, skipping those without room', () => {
    const s = createScheduler('roundrobin');
    const subs = [sf(1, 10), sf(2, 100), sf(3, 50)];
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      const p = s.pick(subs)!;
      order.push(p.id);
      s.sent(p.id);
    }
    expect(order).toEqual([1, 2, 3, 1, 2, 3]);
    const noRoom2 = [sf(1, 10), sf(2, 100, { bytesInFlight: 14600 }), sf(3, 50)];
    s.sent(1);
    expect(s.pick(noRoom2)?.id).toBe(3);
    // pick alone does not advance the turn.
    expect(s.pick(subs)?.id).toBe(2);
    expect(s.pick(subs)?.id).toBe(2);
  });

  it('redundant is flagged and picks the fastest for single-path data', () => {
    const s = createScheduler('redundant');
    expect(s.redundant).toBe(true);
    expect(s.pick([sf(1, 80), sf(2, 30)])?.id).toBe(2);
    expect(createScheduler('default').redundant).toBe(false);
  });

  it('room means at least one segment (or the whole cwnd when it is smaller)', () => {
    expect(hasRoom(sf(1, 1, { cwnd: 2920, bytesInFlight: 1460 }))).toBe(true);
    expect(hasRoom(sf(1, 1, { cwnd: 2920, bytesInFlight: 1461 }))).toBe(false);
    expect(hasRoom(sf(1, 1, { cwnd: 1000, bytesInFlight: 0 }))).toBe(true);
  });

  it('refuses an unknown name', () => {
    expect(() => createScheduler('fastest')).toThrow(/default, roundrobin, redundant/);
  });
});

describe('default scheduler waits for the fast path near the end (ECF rule)', () => {
  it('skips a slow subflow when the fast one drains the queue sooner', () => {
    const s = createScheduler('default');
    const fastFull = sf(1, 20, { cwnd: 100_000, bytesInFlight: 100_000 });
    const slow = sf(2, 200);
    // 10 kB left: the fast path needs (1 + 0.1) * 20 ms = 22 ms < 200 ms: wait.
    expect(s.pick([fastFull, slow], 10_000)).toBeUndefined();
    // 2 MB left: (1 + 20) * 20 = 420 ms >= 200 ms: use the slow path too.
    expect(s.pick([fastFull, slow], 2_000_000)?.id).toBe(2);
    // Without the queue length, the plain rule applies.
    expect(s.pick([fastFull, slow])?.id).toBe(2);
    // The fast path with room is always taken.
    expect(s.pick([sf(1, 20), slow], 10)?.id).toBe(1);
  });
});
