/**
 * One link model, driven both ways. A seeded packet trace (sizes, arrival times) goes through:
 *
 * - the simulator's link (virtual time, stack/sim), and
 * - the emulator's pipeline and scheduler (lab/emulator/forwarder.ts), once polled exactly at each
 *   due time (a virtual clock) and once by a real-time driver (timers, performance.now(), releases
 *   late as a loaded machine makes them),
 *
 * with the same parameters (rate, drop-tail queue, delay, random loss, Gilbert-Elliott; then also
 * jitter, duplication and netem reordering) and the same seed: every run drops the same packets for
 * the same causes and delivers the rest in the same order at the same due times (the real-time run
 * later, never in another order). Both drivers run stack/link/pipeline.ts; what this proves is that
 * the drivers add nothing of their own (no draw, no reordering, no lost or extra packet).
 */
import { describe, expect, it } from 'vitest';
import { Forwarder, type Sink } from '../../../lab/emulator/forwarder';
import type { EmuDirParams } from '../../../lab/emulator/types';
import { buildPair } from '../../../stack/sim/builders';
import { Rng } from '../../../stack/sim/prng';
import { ProbeCore } from '../../../stack/sim/testcores';

const ETH = 14;
const IP = 20;

interface Pkt {
  seq: number;
  t: number;
  /** Data length handed to the simulator (its wire size adds the 20-byte IP header). */
  len: number;
}

/** A trace offering ~1.3× the link's rate, so the queue fills and drops. */
function trace(seed: number, n: number, rateMbps: number): Pkt[] {
  const rng = new Rng(`trace/${seed}`);
  const out: Pkt[] = [];
  let t = 1;
  for (let i = 0; i < n; i++) {
    const len = 40 + rng.int(1460);
    out.push({ seq: i, t, len });
    t += ((len + IP) / (rateMbps * 125)) * (rng.next() * 1.5) + 1e-4 * rng.next();
  }
  return out;
}

interface Outcome {
  delivered: number[];
  due: number[];
  drops: { queue: number; loss: number; burst: number };
  duplicated?: number;
  reordered?: number;
}

const SEED = 7;
const LINK = 'link';
const RATE = 10;
const DELAY = 5;
const QUEUE = 30_000;
const LOSS = 2;
const GE = { p: 1, r: 30, lossBad: 100, lossGood: 0 };
/** The second model adds jitter, duplication and netem reordering (percent, as a topology writes). */
let EXTRA = { jitterMs: 0, duplicatePct: 0, reorderPct: 0 };

function viaSimulator(pkts: Pkt[]): Outcome {
  const p = buildPair({
    factory: () => new ProbeCore(),
    rateMbps: RATE,
    delayMs: DELAY,
    queueBytes: QUEUE,
    loss: LOSS / 100,
    gilbert: { p: GE.p / 100, r: GE.r / 100, lossBad: 1, lossGood: 0 },
    jitterMs: EXTRA.jitterMs,
    duplicate: EXTRA.duplicatePct / 100,
    reorder: EXTRA.reorderPct > 0 ? { prob: EXTRA.reorderPct / 100 } : null,
    seed: SEED,
  });
  expect(p.link.name).toBe(LINK);
  const a = p.a.core as ProbeCore;
  for (const k of pkts)
    p.sim.at(k.t, () => {
      a.send(p.addrA, p.addrB, k.len, k.seq, p.sim.now);
      p.a.pump();
    });
  p.sim.run();
  const got = (p.b.core as ProbeCore).received;
  const d = p.link.ab.counters.dropped;
  return {
    delivered: got.map((r) => r.seq),
    due: got.map((r) => r.t),
    drops: { queue: d.queue, loss: d.random, burst: d.burst },
    duplicated: p.link.ab.counters.duplicated,
    reordered: p.link.ab.counters.reordered,
  };
}

const params = (): EmuDirParams => ({
  rateMbps: RATE,
  delayMs: DELAY,
  queue: { bytes: QUEUE },
  lossPct: LOSS,
  burstLoss: GE,
  ...(EXTRA.jitterMs ? { jitterMs: EXTRA.jitterMs } : {}),
  ...(EXTRA.duplicatePct ? { duplicatePct: EXTRA.duplicatePct } : {}),
  ...(EXTRA.reorderPct ? { reorderPct: EXTRA.reorderPct } : {}),
});

function forwarder(out: Outcome): Forwarder<{ seq: number }> {
  const sink: Sink<{ seq: number }> = {
    deliver(_dir, frame, _len, due) {
      out.delivered.push(frame.seq);
      out.due.push(due);
    },
    free() {},
    copy(frame) {
      return { ...frame };
    },
  };
  const fw = new Forwarder(sink, SEED);
  fw.addDir(params(), 0, `link/${LINK}/ab`);
  return fw;
}

function drops(fw: Forwarder<unknown>): Outcome['drops'] {
  const d = fw.dirs[0]!.stats.drops;
  return { queue: d.queue, loss: d.loss, burst: d.burst };
}

function extras(fw: Forwarder<unknown>): Pick<Outcome, 'duplicated' | 'reordered'> {
  const s = fw.dirs[0]!.stats;
  return { duplicated: s.duplicated, reordered: s.reordered };
}

/** The emulator's scheduler polled exactly at each due time: a virtual clock. */
function viaEmulatorVirtual(pkts: Pkt[]): Outcome {
  const out: Outcome = { delivered: [], due: [], drops: { queue: 0, loss: 0, burst: 0 } };
  const fw = forwarder(out);
  for (const k of pkts) {
    while (fw.nextDue() <= k.t) fw.poll(fw.nextDue());
    fw.input(0, { seq: k.seq }, k.len + IP + ETH, k.t);
  }
  while (fw.nextDue() < Number.POSITIVE_INFINITY) fw.poll(fw.nextDue());
  out.drops = drops(fw);
  return { ...out, ...extras(fw) };
}

/**
 * The same trace replayed in real time: each packet handed over when the wall clock reaches its
 * time (stamped with its arrival time, as the data plane stamps what it reads), the scheduler
 * polled from a timer with the wall clock, so releases come late by whatever the machine adds.
 */
async function viaEmulatorRealtime(pkts: Pkt[]): Promise<Outcome & { lateMaxMs: number }> {
  const out: Outcome = { delivered: [], due: [], drops: { queue: 0, loss: 0, burst: 0 } };
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const fw = forwarder(out);
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (i < pkts.length && pkts[i]!.t <= t) {
        const k = pkts[i++]!;
        fw.poll(Math.min(t, k.t)); // what was due before this packet arrived
        fw.input(0, { seq: k.seq }, k.len + IP + ETH, k.t);
      }
      fw.poll(t);
      if (i === pkts.length && fw.nextDue() === Number.POSITIVE_INFINITY) return resolve();
      const next = Math.min(i < pkts.length ? pkts[i]!.t : Number.POSITIVE_INFINITY, fw.nextDue());
      setTimeout(tick, Math.max(0, next - now()));
    };
    tick();
  });
  out.drops = drops(fw);
  return { ...out, ...extras(fw), lateMaxMs: fw.lateMaxMs };
}

describe('the link model, driven by a virtual and by a real clock', () => {
  const models = [
    { name: 'rate, queue, delay, loss, burst loss', extra: { jitterMs: 0, duplicatePct: 0, reorderPct: 0 } },
    { name: '+ jitter, duplication, reordering', extra: { jitterMs: 2, duplicatePct: 3, reorderPct: 5 } },
  ];
  for (const m of models)
    for (const seed of [1, 2, 3]) {
      it(`${m.name}, trace ${seed}: same drops, same order, same due times`, async () => {
        EXTRA = m.extra;
        const pkts = trace(seed, 400, RATE);
        const sim = viaSimulator(pkts);
        const emu = viaEmulatorVirtual(pkts);
        // the trace exercises every stage
        expect(sim.drops.queue).toBeGreaterThan(0);
        expect(sim.drops.loss).toBeGreaterThan(0);
        expect(sim.drops.burst).toBeGreaterThan(0);
        if (m.extra.duplicatePct) expect(sim.duplicated).toBeGreaterThan(0);
        if (m.extra.reorderPct) expect(sim.reordered).toBeGreaterThan(0);
        expect(emu.drops).toEqual(sim.drops);
        expect([emu.duplicated, emu.reordered]).toEqual([sim.duplicated, sim.reordered]);
        expect(emu.delivered).toEqual(sim.delivered);
        emu.due.forEach((d, k) => {
          expect(Math.abs(d - sim.due[k]!)).toBeLessThan(1e-6);
        });
        const real = await viaEmulatorRealtime(pkts);
        expect(real.drops).toEqual(sim.drops);
        expect(real.delivered).toEqual(sim.delivered);
        real.due.forEach((d, k) => {
          expect(Math.abs(d - sim.due[k]!)).toBeLessThan(1e-6);
        });
      }, 30_000);
    }
});
