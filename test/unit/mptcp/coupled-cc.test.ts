import { describe, expect, it } from 'vitest';
import { Balia, baliaAlpha, baliaDecrease, baliaIncrease, createBalia } from '../../../stack/cc/balia';
import { createCc, hasCc } from '../../../stack/cc/index';
import { createLia, gatherPaths, Lia, liaAlpha, liaIncrease } from '../../../stack/cc/lia';
import { createOlia, Olia, oliaAlphas, oliaIncrease } from '../../../stack/cc/olia';
import type { CcGroup, CcSubflowView, CongestionControl } from '../../../stack/cc/types';

const MSS = 1000;

/** A subflow view backed by a live algorithm (what the MPTCP layer gives the CC). */
class View implements CcSubflowView {
  cc!: CongestionControl;
  constructor(
    public srttMs: number,
    public mss = MSS,
    public active = true,
  ) {}
  get cwnd() {
    return this.cc.cwnd;
  }
  get ssthresh() {
    return this.cc.ssthresh;
  }
  bytesInFlight = 0;
  inRecovery = false;
}

function group(views: View[]): CcGroup {
  return { subflows: () => views };
}

/** Puts an algorithm into congestion avoidance at `cwnd` bytes. */
function toAvoidance(cc: CongestionControl, cwnd: number) {
  const c = cc as unknown as { cwnd: number; ssthresh: number };
  c.ssthresh = cwnd;
  c.cwnd = cwnd;
}

function ack(cc: CongestionControl, bytes: number, now = 1000) {
  cc.onAck({ now, ackedBytes: bytes, rttMs: -1, inflight: cc.cwnd, inRecovery: false });
}

describe('coupled congestion control registry', () => {
  it('registers lia, olia, balia', () => {
    for (const n of ['lia', 'olia', 'balia']) {
      expect(hasCc(n)).toBe(true);
      expect(createCc(n, { mss: MSS }).name).toBe(n);
    }
  });
});

describe('LIA (RFC 6356)', () => {
  it('alpha is 1 on one path and 1/2 on two equal paths', () => {
    expect(liaAlpha([{ cwnd: 10_000, rttMs: 50, mss: MSS, self: true }])).toBe(1);
    const two = [
      { cwnd: 10_000, rttMs: 50, mss: MSS, self: true },
      { cwnd: 10_000, rttMs: 50, mss: MSS, self: false },
    ];
    expect(liaAlpha(two)).toBeCloseTo(0.5, 12);
  });

  it('alpha follows the RFC formula on heterogeneous paths', () => {
    const paths = [
      { cwnd: 20_000, rttMs: 20, mss: MSS, self: true },
      { cwnd: 4_000, rttMs: 150, mss: MSS, self: false },
    ];
    const total = 24_000;
    const best = Math.max(20_000 / 400, 4_000 / 22_500);
    const sum = 20_000 / 20 + 4_000 / 150;
    expect(liaAlpha(paths)).toBeCloseTo((total * best) / (sum * sum), 12);
  });

  it('the increase is min(alpha*acked*mss/total, acked*mss/cwnd_i)', () => {
    expect(liaIncrease(0.5, 1000, 1000, 10_000, 20_000)).toBe(25);
    // The cap: never more than a regular TCP on that subflow.
    expect(liaIncrease(10, 1000, 1000, 10_000, 20_000)).toBe(100);
  });

  it('a single-subflow LIA grows exactly like RFC 5681 per-ACK Reno (mss*mss/cwnd)', () => {
    const v = new View(50);
    const lia = createLia({ mss: MSS, self: v, group: group([v]) });
    v.cc = lia;
    toAvoidance(lia, 10_000);
    let expected = 10_000;
    for (let i = 0; i < 10; i++) {
      ack(lia, 1000);
      expected += (1000 * MSS) / expected;
    }
    expect(Math.abs(lia.cwnd - expected)).toBeLessThanOrEqual(1);
    expect(lia.alpha).toBeCloseTo(1, 12);
  });

  it('two equal subflows together grow like one TCP flow (half each)', () => {
    const a = new View(50);
    const b = new View(50);
    const g = group([a, b]);
    const la = createLia({ mss: MSS, self: a, group: g });
    const lb = createLia({ mss: MSS, self: b, group: g });
    a.cc = la;
    b.cc = lb;
    toAvoidance(la, 10_000);
    toAvoidance(lb, 10_000);
    // One window's worth of ACKs on each subflow.
    for (let i = 0; i < 10; i++) {
      ack(la, 1000);
      ack(lb, 1000);
    }
    const gained = la.cwnd + lb.cwnd - 20_000;
    // A single TCP would gain ~1 MSS per RTT in aggregate: here each gains about 1/4 of an MSS
    // per window, ~500 bytes in all (the windows grow slightly during the round).
    expect(gained).toBeGreaterThanOrEqual(480);
    expect(gained).toBeLessThanOrEqual(520);
    expect(la.alpha).toBeCloseTo(0.5, 2);
  });

  it('inactive or unmeasured subflows are left out; halving on loss like Reno', () => {
    const a = new View(50);
    const idle = new View(0);
    const down = new View(40, MSS, false);
    const la = createLia({ mss: MSS, self: a, group: group([a, idle, down]) });
    a.cc = la;
    idle.cc = createLia({ mss: MSS });
    down.cc = createLia({ mss: MSS });
    const paths = gatherPaths(a, group([a, idle, down]), 5000, 50, MSS, []);
    expect(paths).toHaveLength(1);
    toAvoidance(la, 20_000);
    la.onEnterRecovery(1000, 20_000, true);
    expect(la.ssthresh).toBe(10_000);
    expect(la.cwnd).toBe(10_000);
  });

  it('is an instance of Lia', () => {
    expect(createLia({ mss: MSS })).toBeInstanceOf(Lia);
  });
});

describe('OLIA (Khalili et al.)', () => {
  it('alpha moves window from the largest-window paths to the best ones', () => {
    // Path 0 has the largest window; path 1 has the best l^2/rtt.
    const paths = [
      { w: 20, rttMs: 50, l: 10_000 },
      { w: 5, rttMs: 50, l: 50_000 },
    ];
    const al = oliaAlphas(paths);
    expect(al[0]).toBeCloseTo(-1 / (2 * 1), 12);
    expect(al[1]).toBeCloseTo(1 / (2 * 1), 12);
    expect(al[0]! + al[1]!).toBeCloseTo(0, 12);
    // When the best path is also the largest, alpha is 0 everywhere.
    expect(oliaAlphas([{ w: 20, rttMs: 50, l: 90_000 }, paths[1]!])).toEqual([0, 0]);
    expect(oliaAlphas([paths[0]!])).toEqual([0]);
  });

  it('the best paths maximize l / rtt^2 (TCP rate goes as sqrt(l) / rtt), not l^2 / rtt', () => {
    // A: short RTT, fewer bytes between losses; B: long RTT, more. l/rtt^2: A 100, B 9 -> A best.
    // (l^2/rtt would rank B first: 8.0e7 vs 8.1e7.)
    const al = oliaAlphas([
      { w: 5, rttMs: 20, l: 40_000 },
      { w: 20, rttMs: 100, l: 90_000 },
    ]);
    expect(al[0]).toBeCloseTo(0.5, 12);
    expect(al[1]).toBeCloseTo(-0.5, 12);
  });

  it('the increase follows (w_r/rtt_r^2)/(sum w/rtt)^2 + alpha_r/w_r', () => {
    const paths = [
      { w: 20, rttMs: 50, l: 10_000 },
      { w: 5, rttMs: 100, l: 50_000 },
    ];
    const al = oliaAlphas(paths);
    const sum = 20 / 50 + 5 / 100;
    expect(oliaIncrease(paths, 1, al)).toBeCloseTo(5 / 10_000 / (sum * sum) + al[1]! / 5, 12);
    // One path: 1/w per packet, like Reno.
    expect(oliaIncrease([{ w: 10, rttMs: 30, l: 0 }], 0, [0])).toBeCloseTo(1 / 10, 12);
  });

  it('tracks bytes between losses and grows like Reno alone', () => {
    const v = new View(40);
    const o = createOlia({ mss: MSS, self: v, group: group([v]) });
    v.cc = o;
    toAvoidance(o, 10_000);
    let expected = 10_000;
    for (let i = 0; i < 10; i++) {
      ack(o, 1000);
      expected += (1000 * MSS) / expected;
    }
    expect(Math.abs(o.cwnd - expected)).toBeLessThanOrEqual(1);
    expect(o.l2).toBe(10_000);
    o.onEnterRecovery(2000, o.cwnd, true);
    expect(o.l1).toBe(10_000);
    expect(o.l2).toBe(0);
    expect(o).toBeInstanceOf(Olia);
  });

  it('in a group, the small best path grows faster than the big one', () => {
    const a = new View(50);
    const b = new View(50);
    const g = group([a, b]);
    const oa = createOlia({ mss: MSS, self: a, group: g });
    const ob = createOlia({ mss: MSS, self: b, group: g });
    a.cc = oa;
    b.cc = ob;
    toAvoidance(oa, 20_000);
    toAvoidance(ob, 5_000);
    oa.l1 = 10_000;
    ob.l1 = 50_000;
    const a0 = oa.cwnd;
    const b0 = ob.cwnd;
    for (let i = 0; i < 5; i++) {
      ack(oa, 1000);
      ack(ob, 1000);
    }
    expect(oa.lastAlpha).toBeLessThan(0);
    expect(ob.lastAlpha).toBeGreaterThan(0);
    expect(ob.cwnd - b0).toBeGreaterThan(oa.cwnd - a0);
  });
});

describe('BALIA (Peng et al.)', () => {
  it('one path is Reno: +1/w per packet, halve on loss', () => {
    const p = [{ w: 10, rttMs: 30 }];
    expect(baliaAlpha(p, 0)).toBe(1);
    expect(baliaIncrease(p, 0)).toBeCloseTo(1 / 10, 12);
    expect(baliaDecrease(p, 0)).toBeCloseTo(5, 12);
  });

  it('follows the formulas on two paths', () => {
    const p = [
      { w: 20, rttMs: 20 },
      { w: 4, rttMs: 100 },
    ];
    const x0 = 1;
    const x1 = 0.04;
    expect(baliaAlpha(p, 1)).toBeCloseTo(x0 / x1, 9);
    const a1 = x0 / x1;
    const sum = x0 + x1;
    expect(baliaIncrease(p, 1)).toBeCloseTo((x1 / (100 * sum * sum)) * ((1 + a1) / 2) * ((4 + a1) / 5), 12);
    // The slow path's decrease is capped at min(alpha, 1.5): w - w/2*1.5.
    expect(baliaDecrease(p, 1)).toBeCloseTo(4 - 2 * 1.5, 12);
    expect(baliaDecrease(p, 0)).toBeCloseTo(10, 12);
  });

  it('an instance applies the coupled decrease to ssthresh', () => {
    const a = new View(20);
    const b = new View(100);
    const g = group([a, b]);
    const ba = createBalia({ mss: MSS, self: a, group: g });
    const bb = createBalia({ mss: MSS, self: b, group: g });
    a.cc = ba;
    b.cc = bb;
    toAvoidance(ba, 20_000);
    toAvoidance(bb, 4_000);
    bb.onEnterRecovery(1000, 4_000, true);
    expect(bb.ssthresh).toBe(Math.max(1000, 2 * MSS));
    expect(bb.lastAlpha).toBeCloseTo(25, 6);
    ba.onEnterRecovery(1000, 20_000, true);
    // After bb shrank, ba is still the fastest: alpha 1, halving.
    expect(ba.ssthresh).toBe(10_000);
    expect(ba).toBeInstanceOf(Balia);
  });
});
