import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPair, type LinkConfig, type LinkCounters } from '../../../stack/sim/index';
import { ProbeCore } from '../../../stack/sim/testcores';

const linkArb = fc.record(
  {
    rateMbps: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.double({ min: 0.5, max: 200, noNaN: true })),
    delayMs: fc.double({ min: 0, max: 50, noNaN: true }),
    jitterMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true })),
    jitterDist: fc.constantFrom('uniform' as const, 'normal' as const),
    loss: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.3, noNaN: true })),
    duplicate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.2, noNaN: true })),
    queueBytes: fc.integer({ min: 1500, max: 100_000 }),
    gilbert: fc.option(
      fc.record({
        p: fc.double({ min: 0, max: 0.2, noNaN: true }),
        r: fc.double({ min: 0.05, max: 1, noNaN: true }),
      }),
      { nil: null },
    ),
    reorder: fc.option(
      fc.record({
        prob: fc.double({ min: 0, max: 0.3, noNaN: true }),
        extraDelayMs: fc.double({ min: 0, max: 20, noNaN: true }),
      }),
      { nil: null },
    ),
  },
  { requiredKeys: [] },
);

const scenarioArb = fc.record({
  link: linkArb,
  seed: fc.integer({ min: 0, max: 1000 }),
  count: fc.integer({ min: 1, max: 400 }),
  intervalMs: fc.double({ min: 0.01, max: 5, noNaN: true }),
  length: fc.integer({ min: 20, max: 1500 }),
  outage: fc.option(
    fc.tuple(fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0, max: 300, noNaN: true })),
    {
      nil: null,
    },
  ),
  rateChange: fc.option(
    fc.tuple(fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0.5, max: 200, noNaN: true })),
    {
      nil: null,
    },
  ),
});

type Scenario = {
  link: Partial<LinkConfig>;
  seed: number;
  count: number;
  intervalMs: number;
  length: number;
  outage: [number, number] | null;
  rateChange: [number, number] | null;
};

function play(s: Scenario) {
  const p = buildPair({ factory: () => new ProbeCore(), seed: s.seed, ...(s.link as LinkConfig) });
  if (s.outage) {
    p.link.schedule([
      { at: s.outage[0], down: true },
      { at: s.outage[0] + s.outage[1], up: true },
    ]);
  }
  if (s.rateChange) p.link.schedule([{ at: s.rateChange[0], set: { rateMbps: s.rateChange[1] }, dir: 'ab' }]);
  const pa = p.a.core as ProbeCore;
  pa.stream({ src: p.addrA, dst: p.addrB, length: s.length, intervalMs: s.intervalMs, count: s.count }, 0);
  p.a.pump();
  const quiet = p.sim.run(1e7);
  return { p, quiet, received: (p.b.core as ProbeCore).received, sent: pa.sent };
}

function dropped(c: LinkCounters): number {
  return Object.values(c.dropped).reduce((a, b) => a + b, 0);
}

describe('simulator invariants (property-based)', () => {
  it('conserves packets, keeps FIFO unless reordering, drains the queue, and repeats exactly', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const r1 = play(s as Scenario);
        expect(r1.quiet).toBe(true);
        const c = r1.p.link.ab.counters;
        // every packet offered (and every duplicate) was delivered or dropped for a stated cause
        expect(c.sentPackets).toBe(s.count);
        expect(c.sentPackets + c.duplicated).toBe(c.deliveredPackets + dropped(c));
        expect(r1.received.length).toBe(c.deliveredPackets);
        expect(r1.p.link.ab.backlogBytes).toBe(0);
        expect(c.queueHighWaterBytes).toBeLessThanOrEqual((s.link.queueBytes as number | undefined) ?? 1e12);
        // arrival never before send time + delay - jitter (clamped at 0)
        const minDelay = Math.max(0, ((s.link.delayMs as number) ?? 0) - ((s.link.jitterMs as number) ?? 0));
        for (const x of r1.received) {
          const sentAt = r1.sent[x.seq]!.t;
          expect(x.t).toBeGreaterThanOrEqual(sentAt + minDelay - 1e-9);
        }
        // without reordering, arrival order is send order (duplicates adjacent)
        if (!s.link.reorder || (s.link.reorder as { prob: number }).prob === 0) {
          for (let i = 1; i < r1.received.length; i++) {
            expect(r1.received[i]!.seq).toBeGreaterThanOrEqual(r1.received[i - 1]!.seq);
            expect(r1.received[i]!.t).toBeGreaterThanOrEqual(r1.received[i - 1]!.t);
          }
        }
        const r2 = play(s as Scenario);
        expect(JSON.stringify(r2.received)).toBe(JSON.stringify(r1.received));
        expect(JSON.stringify(r2.p.sim.summary())).toBe(JSON.stringify(r1.p.sim.summary()));
      }),
      { numRuns: 150, seed: 20261129 },
    );
  });
});
