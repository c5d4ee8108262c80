/** Invariants of the pipeline and the forwarder over random parameters and traffic (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Forwarder } from '../../../lab/emulator/forwarder';
import type { EmuDirParams } from '../../../lab/emulator/types';

const params = fc.record(
  {
    rateMbps: fc.oneof(fc.constant(undefined), fc.double({ min: 0.5, max: 200, noNaN: true })),
    delayMs: fc.double({ min: 0, max: 60, noNaN: true }),
    jitterMs: fc.double({ min: 0, max: 20, noNaN: true }),
    lossPct: fc.double({ min: 0, max: 30, noNaN: true }),
    duplicatePct: fc.double({ min: 0, max: 30, noNaN: true }),
    burstLoss: fc.oneof(
      fc.constant(undefined),
      fc.record({
        p: fc.double({ min: 0, max: 20, noNaN: true }),
        r: fc.double({ min: 1, max: 100, noNaN: true }),
      }),
    ),
    queue: fc.oneof(
      fc.constant(undefined),
      fc.record({ packets: fc.integer({ min: 1, max: 200 }) }),
      fc.record({ bytes: fc.integer({ min: 1500, max: 300_000 }) }),
    ),
  },
  { requiredKeys: [] },
);

const traffic = fc.array(
  fc.tuple(fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 60, max: 1514 })),
  {
    minLength: 1,
    maxLength: 300,
  },
);

interface Out {
  id: number;
  at: number;
  sent: number;
  len: number;
}

/** Feeds gaps/lengths as arrivals; returns deliveries and the direction's stats. */
function simulate(p: EmuDirParams, frames: [number, number][], seed: number) {
  const clean = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as EmuDirParams;
  const out: Out[] = [];
  let now = 0;
  const fw = new Forwarder<{ id: number; sent: number }>(
    {
      deliver: (_d, f, len) => out.push({ id: f.id, sent: f.sent, at: now, len }),
      free: () => {},
      copy: (f) => ({ ...f }),
    },
    seed,
  );
  const dir = fw.addDir(clean, 0);
  let t = 0;
  frames.forEach(([gap, len], id) => {
    t += gap;
    while (fw.nextDue() <= t) {
      now = fw.nextDue();
      fw.poll(now);
    }
    now = t;
    fw.input(dir, { id, sent: t }, len, t);
  });
  while (fw.nextDue() < Number.POSITIVE_INFINITY) {
    now = fw.nextDue();
    fw.poll(now);
  }
  return { out, stats: fw.dirs[dir]!.stats, params: clean };
}

describe('pipeline invariants', () => {
  it('conserves frames: frames + duplicated = delivered + drops, nothing left pending', () => {
    fc.assert(
      fc.property(params, traffic, fc.integer(), (p, frames, seed) => {
        const { out, stats } = simulate(p, frames, seed);
        const drops = stats.drops.queue + stats.drops.loss + stats.drops.burst + stats.drops.down;
        expect(stats.frames).toBe(frames.length);
        expect(stats.pending).toBe(0);
        expect(stats.delivered).toBe(out.length);
        expect(stats.frames + stats.duplicated).toBe(stats.delivered + drops);
      }),
      { numRuns: 200 },
    );
  });

  it('never delivers early, and keeps arrival order unless reordering is asked', () => {
    fc.assert(
      fc.property(params, traffic, fc.integer(), (p, frames, seed) => {
        const { out, params: q } = simulate(p, frames, seed);
        const minDelay = Math.max(0, (q.delayMs ?? 0) - (q.jitterMs ?? 0));
        for (const o of out) expect(o.at).toBeGreaterThanOrEqual(o.sent + minDelay - 1e-9);
        for (let i = 1; i < out.length; i++) expect(out[i]!.id).toBeGreaterThanOrEqual(out[i - 1]!.id);
      }),
      { numRuns: 200 },
    );
  });

  it('never exceeds the rate: IP bytes out by time T ≤ rate·T + one packet', () => {
    fc.assert(
      fc.property(params, traffic, fc.integer(), (p, frames, seed) => {
        fc.pre(p.rateMbps !== undefined);
        const { out } = simulate({ ...p, delayMs: 0, jitterMs: 0 }, frames, seed);
        const perMs = p.rateMbps! * 125;
        let bytes = 0;
        for (const o of out) {
          bytes += o.len - 14;
          expect(bytes).toBeLessThanOrEqual(perMs * o.at + 1500 + 1e-6);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is a pure function of seed, parameters and traffic', () => {
    fc.assert(
      fc.property(params, traffic, fc.integer(), (p, frames, seed) => {
        expect(simulate(p, frames, seed)).toEqual(simulate(p, frames, seed));
      }),
      { numRuns: 100 },
    );
  });
});
