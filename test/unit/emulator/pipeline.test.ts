import { describe, expect, it } from 'vitest';
import { Forwarder, type Sink } from '../../../lab/emulator/forwarder';
import { DirPipeline, DROPPED } from '../../../lab/emulator/pipeline';
import { Rng } from '../../../stack/sim/prng';
import type { EmuDirParams } from '../../../lab/emulator/types';

interface F {
  id: number;
  sent: number;
}
interface Delivery {
  dir: number;
  id: number;
  sent: number;
  at: number;
  len: number;
}

/** A virtual-time harness: frames go in at given times, deliveries are recorded with their time. */
function harness(params: EmuDirParams, seed = 1) {
  const out: Delivery[] = [];
  let now = 0;
  const sink: Sink<F> = {
    deliver: (dir, f, len) => out.push({ dir, id: f.id, sent: f.sent, at: now, len }),
    free: () => {},
    copy: (f) => ({ ...f }),
  };
  const fw = new Forwarder<F>(sink, seed);
  const dir = fw.addDir(params, 0);
  let id = 0;
  return {
    fw,
    out,
    pipe: fw.dirs[dir]!,
    /** Sends a frame at virtual time t (advancing time and delivering what is due first). */
    send(t: number, len = 1514): boolean {
      this.advance(t);
      return fw.input(dir, { id: id++, sent: t }, len, t);
    },
    advance(t: number) {
      while (fw.nextDue() <= t) {
        now = fw.nextDue();
        fw.poll(now);
      }
      now = t;
    },
    drain() {
      this.advance(Number.MAX_SAFE_INTEGER / 2);
    },
  };
}

describe('pipeline: pass-through, delay, rate', () => {
  it('delivers frames unchanged and in order with no parameters', () => {
    const h = harness({});
    for (let i = 0; i < 100; i++) h.send(i * 0.01);
    h.drain();
    expect(h.out.map((d) => d.id)).toEqual([...Array(100).keys()]);
    for (const d of h.out) expect(d.at).toBe(d.sent);
    expect(h.pipe.stats.delivered).toBe(100);
    expect(h.pipe.stats.pending).toBe(0);
  });

  it('adds a fixed delay', () => {
    const h = harness({ delayMs: 50 });
    for (let i = 0; i < 20; i++) h.send(i * 3.3);
    h.drain();
    expect(h.out).toHaveLength(20);
    for (const d of h.out) expect(d.at - d.sent).toBeCloseTo(50, 9);
  });

  it('serializes at the rate, counting L3 bytes (frame - 14)', () => {
    // 12 Mbit/s = 1500 bytes/ms: one 1500-byte IP packet per ms.
    const h = harness({ rateMbps: 12, queue: { packets: 1000 } });
    for (let i = 0; i < 10; i++) h.send(0);
    h.drain();
    expect(h.out.map((d) => d.at)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a saturating flow gets exactly the configured rate', () => {
    const h = harness({ rateMbps: 20, queue: { packets: 100 } });
    // Offer 40 Mbit/s for 1 s (1500-byte IP packets every 0.3 ms).
    for (let t = 0; t < 1000; t += 0.3) h.send(t);
    h.advance(1000);
    const bytes = h.out.reduce((s, d) => s + d.len - 14, 0);
    const mbps = (bytes * 8) / 1e6 / 1.0;
    expect(mbps).toBeGreaterThan(19.9);
    expect(mbps).toBeLessThanOrEqual(20.0001);
    expect(h.pipe.stats.drops.queue).toBeGreaterThan(1000);
  });
});

describe('pipeline: drop-tail queue', () => {
  it('drops beyond a packet limit and records the high-water mark', () => {
    const h = harness({ rateMbps: 12, queue: { packets: 5 } });
    const kept = [...Array(10).keys()].map(() => h.send(0));
    expect(kept).toEqual([true, true, true, true, true, false, false, false, false, false]);
    expect(h.pipe.stats.drops.queue).toBe(5);
    expect(h.pipe.stats.queueHighFrames).toBe(5);
    expect(h.pipe.stats.queueHighBytes).toBe(5 * 1500);
    // After 2 ms two have left: room for two more.
    expect(h.send(2)).toBe(true);
    expect(h.send(2)).toBe(true);
    expect(h.send(2)).toBe(false);
  });

  it('drops beyond a byte limit', () => {
    const h = harness({ rateMbps: 12, queue: { bytes: 4000 } });
    const kept = [...Array(4).keys()].map(() => h.send(0));
    expect(kept).toEqual([true, true, false, false]); // 1500 + 1500 ≤ 4000 < 4500
    expect(h.send(0, 1014)).toBe(true); // a 1000-byte packet still fits
  });

  it('converts a time-sized queue to bytes at the rate', () => {
    // 10 ms at 12 Mbit/s = 15000 bytes = 10 full packets.
    const h = harness({ rateMbps: 12, queue: { ms: 10 } });
    let kept = 0;
    for (let i = 0; i < 30; i++) if (h.send(0)) kept++;
    expect(kept).toBe(10);
    h.drain();
    expect(Math.max(...h.out.map((d) => d.at))).toBe(10);
  });
});

describe('pipeline: jitter and reordering', () => {
  it('jitter stays within ±jitter, spreads uniformly, and never reorders', () => {
    const h = harness({ delayMs: 20, jitterMs: 5 }, 7);
    // Sparse probes (every 20 ms) see the raw distribution.
    for (let i = 0; i < 2000; i++) h.send(i * 20);
    h.drain();
    const d = h.out.map((x) => x.at - x.sent);
    expect(Math.min(...d)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...d)).toBeLessThanOrEqual(25);
    expect(Math.min(...d)).toBeLessThan(15.1);
    expect(Math.max(...d)).toBeGreaterThan(24.9);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
    expect(mean).toBeCloseTo(20, 0);
    expect(sd).toBeGreaterThan((5 / Math.sqrt(3)) * 0.93);
    expect(sd).toBeLessThan((5 / Math.sqrt(3)) * 1.07);
    // Dense traffic: delivery order = arrival order.
    const g = harness({ delayMs: 20, jitterMs: 5 }, 7);
    for (let i = 0; i < 5000; i++) g.send(i * 0.1);
    g.drain();
    expect(g.out.map((x) => x.id)).toEqual([...Array(5000).keys()]);
    for (let i = 1; i < g.out.length; i++) expect(g.out[i]!.at).toBeGreaterThanOrEqual(g.out[i - 1]!.at);
  });

  it('reorderPct sends that share of frames without the delay, overtaking others', () => {
    const h = harness({ delayMs: 10, reorderPct: 25 }, 3);
    for (let i = 0; i < 4000; i++) h.send(i * 1);
    h.drain();
    const share = h.pipe.stats.reordered / 4000;
    expect(share).toBeGreaterThan(0.23);
    expect(share).toBeLessThan(0.27);
    let inversions = 0;
    for (let i = 1; i < h.out.length; i++) if (h.out[i]!.id < h.out[i - 1]!.id) inversions++;
    expect(inversions).toBeGreaterThan(500);
    expect(h.out).toHaveLength(4000);
  });
});

describe('pipeline: loss, burst loss, duplication, down', () => {
  function lossPattern(seed: number, params: EmuDirParams, n: number): boolean[] {
    const p = new DirPipeline(new Rng(seed).fork('dir/0'), params);
    const kept: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const k = p.admit(1514, i) !== DROPPED;
      if (k) p.release(1514); // delivered at once: nothing held
      kept.push(k);
    }
    return kept;
  }

  it('2% random loss measures 2% ± 0.2% over 100k frames and repeats exactly for a seed', () => {
    const a = lossPattern(42, { lossPct: 2 }, 100_000);
    const lost = a.filter((k) => !k).length / a.length;
    expect(lost).toBeGreaterThan(0.018);
    expect(lost).toBeLessThan(0.022);
    expect(lossPattern(42, { lossPct: 2 }, 100_000)).toEqual(a);
    expect(lossPattern(43, { lossPct: 2 }, 100_000)).not.toEqual(a);
  });

  it('Gilbert-Elliott: loss share p/(p+r) in bursts of mean length 1/r', () => {
    const p = new DirPipeline(new Rng(9).fork('dir/0'), { burstLoss: { p: 1, r: 10 } });
    const n = 200_000;
    const bursts: number[] = [];
    let run = 0;
    for (let i = 0; i < n; i++) {
      if (p.admit(1514, i) === DROPPED) run++;
      else if (p.release(1514) && run > 0) {
        bursts.push(run);
        run = 0;
      }
    }
    const lossShare = p.stats.drops.burst / n;
    expect(lossShare).toBeGreaterThan((1 / 11) * 0.9);
    expect(lossShare).toBeLessThan((1 / 11) * 1.1);
    const meanBurst = bursts.reduce((a, b) => a + b, 0) / bursts.length;
    expect(meanBurst).toBeGreaterThan(9);
    expect(meanBurst).toBeLessThan(11);
    // Random loss at the same average gives much shorter bursts.
    const q = new DirPipeline(new Rng(9).fork('dir/0'), { lossPct: 100 / 11 });
    let runs = 0;
    let lost = 0;
    let prevLost = false;
    for (let i = 0; i < n; i++) {
      const l = q.admit(1514, i) === DROPPED;
      if (!l) q.release(1514);
      if (l) lost++;
      if (l && !prevLost) runs++;
      prevLost = l;
    }
    expect(lost / runs).toBeLessThan(1.2);
  });

  it('Gilbert-Elliott with partial losses: lossGood in the good state, lossBad in the bad', () => {
    const share = (bl: { p: number; r: number; lossBad: number; lossGood: number }): number => {
      const p = new DirPipeline(new Rng(11).fork('dir/0'), { burstLoss: bl });
      for (let i = 0; i < 100_000; i++) if (p.admit(1514, i) !== DROPPED) p.release(1514);
      return p.stats.drops.burst / 100_000;
    };
    // Never leaves the good state: only lossGood.
    expect(share({ p: 0, r: 50, lossBad: 100, lossGood: 5 })).toBeCloseTo(0.05, 2);
    // Half the time bad (p = r): (lossGood + lossBad) / 2.
    expect(share({ p: 10, r: 10, lossBad: 50, lossGood: 0 })).toBeCloseTo(0.25, 1);
  });

  it('duplicates the asked share of frames; both copies arrive', () => {
    const h = harness({ duplicatePct: 10 }, 5);
    for (let i = 0; i < 10_000; i++) h.send(i);
    h.drain();
    const dup = h.pipe.stats.duplicated;
    expect(dup / 10_000).toBeGreaterThan(0.09);
    expect(dup / 10_000).toBeLessThan(0.11);
    expect(h.out).toHaveLength(10_000 + dup);
    expect(h.pipe.stats.delivered).toBe(10_000 + dup);
  });

  it('down drops arriving frames and frames in flight; up restores', () => {
    const h = harness({ delayMs: 10 });
    h.send(0);
    h.send(1);
    h.pipe.up = false;
    expect(h.send(2)).toBe(false);
    h.drain();
    expect(h.out).toHaveLength(0);
    expect(h.pipe.stats.drops.down).toBe(3);
    h.pipe.up = true;
    h.send(100);
    h.drain();
    expect(h.out.map((d) => d.at)).toEqual([110]);
    expect(h.pipe.stats.pending).toBe(0);
  });

  it('runtime changes apply to later frames, merged into the current parameters', () => {
    const h = harness({ delayMs: 10, rateMbps: 12 });
    h.send(0);
    h.pipe.set({ delayMs: 30 }, 5);
    expect(h.pipe.params).toEqual({ delayMs: 30, rateMbps: 12 });
    h.send(5);
    h.drain();
    expect(h.out.map((d) => d.at)).toEqual([11, 36]);
    h.pipe.set({ lossPct: 0 }, 50, true);
    expect(h.pipe.params).toEqual({ lossPct: 0 });
    expect(() => h.pipe.set({ lossPct: 120 }, 60)).toThrow(/lossPct/);
    expect(h.pipe.params).toEqual({ lossPct: 0 });
  });

  it('frames of several directions leave in due order from one heap', () => {
    const out: string[] = [];
    const fw = new Forwarder<string>({
      deliver: (d, f) => out.push(`${d}:${f}`),
      free: () => {},
      copy: (f) => f,
    });
    const a = fw.addDir({ delayMs: 5 }, 0);
    const b = fw.addDir({ delayMs: 1 }, 0);
    fw.input(a, 'x', 100, 0);
    fw.input(b, 'y', 100, 0);
    fw.input(a, 'z', 100, 0.5);
    expect(fw.nextDue()).toBe(1);
    fw.poll(1);
    expect(out).toEqual(['1:y']);
    fw.poll(10);
    expect(out).toEqual(['1:y', '0:x', '0:z']);
    expect(fw.nextDue()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('pipeline: memory bound', () => {
  it('holds at most MAX_PENDING frames per direction, then drops them as queue drops', async () => {
    const { MAX_PENDING } = await import('../../../lab/emulator/pipeline');
    const p = new DirPipeline(new Rng(1).fork('dir/0'), { delayMs: 1000 });
    let kept = 0;
    for (let i = 0; i < MAX_PENDING + 10; i++) if (p.admit(1514, i * 0.001) !== DROPPED) kept++;
    expect(kept).toBe(MAX_PENDING);
    expect(p.stats.drops.queue).toBe(10);
    p.release(1514);
    expect(p.admit(1514, 1)).not.toBe(DROPPED);
  });
});
