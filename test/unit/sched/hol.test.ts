/** The anti-head-of-line rules of the default scheduler, each alone (pure functions and `pick`). */
import { describe, expect, it } from 'vitest';
import { blestSkipsSlow, fastBytesDuringSlowRtt } from '../../../stack/sched/blest';
import { type HoleSubflow, holeNeedsRepair, lateAfterMs } from '../../../stack/sched/hole';
import { createScheduler, type SchedContext, type SchedSubflow } from '../../../stack/sched/index';
import { oppPenalizes, oppPenaltyDue, oppPick, oppTrigger } from '../../../stack/sched/opportunistic';
import { overSlowQueueCap, PathRate, SLOW_QUEUE_GAIN, slowQueueCap } from '../../../stack/sched/slow-queue';

function sf(id: number, srttMs: number, o: Partial<SchedSubflow> = {}): SchedSubflow {
  return { id, srttMs, cwnd: 14600, bytesInFlight: 0, mss: 1460, backup: false, usable: true, ...o };
}
function ctx(o: Partial<SchedContext['policy']> = {}, windowBytes = Number.POSITIVE_INFINITY): SchedContext {
  return { queued: 1e9, windowBytes, policy: { slowQueue: true, blest: true, ...o }, heldBy: 'none' };
}

describe('PathRate', () => {
  it('measures delivered bytes per round and keeps the lowest RTT', () => {
    const r = new PathRate();
    r.onAcked(1460, 0, 150);
    expect(r.rate).toBe(0);
    // 2 Mbit/s = 250 bytes/ms: 37.5 kB per 150 ms round.
    for (let t = 15; t <= 300; t += 15) r.onAcked(3750, t, 150 + t / 10);
    expect(r.rate).toBeCloseTo(250, 0);
    expect(r.minRttMs).toBe(150);
  });
});

describe('slow-path queue cap', () => {
  it('allows about GAIN x BDP plus headroom, never under four segments, nothing while unmeasured', () => {
    const s = { mss: 1000, bytesInFlight: 0, minRttMs: 150, deliveryRate: 250 };
    expect(slowQueueCap(s)).toBeCloseTo(SLOW_QUEUE_GAIN * 37_500 + 2000);
    expect(slowQueueCap({ ...s, deliveryRate: 1 })).toBe(4000);
    expect(slowQueueCap({ ...s, deliveryRate: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(overSlowQueueCap({ ...s, bytesInFlight: 48_000 })).toBe(true);
    expect(overSlowQueueCap({ ...s, bytesInFlight: 40_000 })).toBe(false);
  });

  it('pick: a slower subflow over its cap is skipped; the fastest and a lone subflow never are', () => {
    const s = createScheduler('default');
    const fastFull = sf(1, 40, { minRttMs: 20, deliveryRate: 2500, bytesInFlight: 14600 });
    const slowOver = sf(2, 200, { minRttMs: 150, deliveryRate: 250, cwnd: 100_000, bytesInFlight: 60_000 });
    const c = ctx();
    expect(s.pick([fastFull, slowOver], 1e9, c)).toBeUndefined();
    expect(c.heldBy).toBe('slow-queue');
    expect(s.pick([fastFull, slowOver], 1e9, ctx({ slowQueue: false }))?.id).toBe(2);
    // Alone (WiFi gone): plain TCP, no cap.
    expect(s.pick([slowOver], 1e9, ctx())?.id).toBe(2);
  });
});

describe('BLEST', () => {
  it('estimates what the fast subflow sends during one slow RTT', () => {
    const fast = { srttMs: 20, cwnd: 20_000, mss: 1000, bytesInFlight: 20_000 };
    const slow = { srttMs: 200, cwnd: 40_000, mss: 1000, bytesInFlight: 10_000 };
    // n = 10: (20000 + 1000 * 9 / 2) * 10
    expect(fastBytesDuringSlowRtt(fast, slow)).toBe(245_000);
    expect(blestSkipsSlow(fast, slow, 200_000)).toBe(true);
    expect(blestSkipsSlow(fast, slow, 300_000)).toBe(false);
    expect(blestSkipsSlow(fast, slow, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('pick: waits for the fast subflow when the slow one would block it by the window', () => {
    const s = createScheduler('default');
    const fastFull = sf(1, 20, { cwnd: 20_000, bytesInFlight: 20_000 });
    const slow = sf(2, 200, { cwnd: 40_000, bytesInFlight: 10_000 });
    const c = ctx({ slowQueue: false }, 200_000);
    expect(s.pick([fastFull, slow], 1e9, c)).toBeUndefined();
    expect(c.heldBy).toBe('blest');
    expect(s.pick([fastFull, slow], 1e9, ctx({ slowQueue: false, blest: false }, 200_000))?.id).toBe(2);
    expect(s.pick([fastFull, slow], 1e9, ctx({ slowQueue: false }, 400_000))?.id).toBe(2);
  });
});

describe('opportunistic retransmission', () => {
  const b = { una: 0, nxt: 100, end: 200, sendLimit: 100, finOffset: -1, room: 10 };
  it('triggers by level: window blocked (1+), tail (1+), send buffer full (3)', () => {
    expect(oppTrigger(0, b)).toBeUndefined();
    expect(oppTrigger(1, b)).toBe('window');
    expect(oppTrigger(2, { ...b, nxt: 200, end: 200, sendLimit: 1000, finOffset: 200 })).toBe('tail');
    const sndbuf = { ...b, nxt: 200, end: 200, sendLimit: 1000, room: 0 };
    expect(oppTrigger(2, sndbuf)).toBeUndefined();
    expect(oppTrigger(3, sndbuf)).toBe('sndbuf');
    expect(oppPenalizes(1, 'window')).toBe(false);
    expect(oppPenalizes(2, 'window')).toBe(true);
    expect(oppPenalizes(3, 'tail')).toBe(false);
    expect(oppPenaltyDue(0, 100, 150)).toBe(false);
    expect(oppPenaltyDue(0, 150, 150)).toBe(true);
  });

  it('picks the oldest data when a much slower subflow holds it', () => {
    const fast = { srttMs: 20, closed: false, tx: [{ start: 60, end: 100 }] };
    const slow = { srttMs: 200, closed: false, tx: [{ start: 0, end: 60 }] };
    expect(oppPick(fast, [fast, slow], 0, 100, 1000)).toEqual({ range: { start: 0, end: 60 }, holder: slow });
    expect(oppPick(fast, [fast, slow], 10, 100, 20)?.range).toEqual({ start: 10, end: 30 });
    // Not much slower: no.
    expect(oppPick(fast, [fast, { ...slow, srttMs: 30 }], 0, 100, 1000)).toBeUndefined();
    // Everything already sent again.
    expect(oppPick(fast, [fast, slow], 100, 100, 1000)).toBeUndefined();
  });
});

describe('hole repair', () => {
  const hs = (srttMs: number, tx: HoleSubflow['tx'], o: Partial<HoleSubflow> = {}): HoleSubflow => ({
    srttMs,
    usable: true,
    tx,
    repairedTo: 0,
    ...o,
  });
  it('repairs a late left edge on a much slower subflow, once, and only then', () => {
    const fast = hs(50, [{ start: 2000, end: 9000, at: 0 }]);
    const slow = hs(200, [{ start: 1000, end: 2000, at: 0 }]);
    // late after the slow one-way (100) and the fast RTT (50): 150 ms, before the slow RTT (200)
    expect(lateAfterMs(200, 50)).toBe(150);
    expect(holeNeedsRepair(slow, [fast, slow], 1000, 149)).toBe(false);
    expect(holeNeedsRepair(slow, [fast, slow], 1000, 150)).toBe(true);
    // already repaired up to past the left edge
    expect(holeNeedsRepair({ ...slow, repairedTo: 2000 }, [fast, slow], 1000, 300)).toBe(false);
    // not holding the left edge (it is on the fast subflow)
    expect(holeNeedsRepair(slow, [fast, slow], 2500, 300)).toBe(false);
    // the fast subflow never repairs onto the slow one, nor between peers of similar RTT
    expect(holeNeedsRepair(hs(50, [{ start: 1000, end: 2000, at: 0 }]), [hs(50, []), slow], 1000, 300)).toBe(
      false,
    );
    expect(holeNeedsRepair(hs(90, slow.tx), [fast], 1000, 300)).toBe(false);
    // no usable other subflow
    expect(holeNeedsRepair(slow, [{ ...fast, usable: false }, slow], 1000, 300)).toBe(false);
  });
});
