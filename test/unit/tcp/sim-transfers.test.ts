/**
 * Plain TCP (stack/tcp/host.ts) in the deterministic simulator. Every transfer is checked by SHA-256
 * of the bytes (BulkTransfer hashes both ends; `ok` requires equal hashes and full length).
 */
import { describe, expect, it } from 'vitest';
import {
  buildDumbbell,
  buildPair,
  ConnTrace,
  type CoreFactory,
  jainIndex,
  type LinkConfig,
  startBulk,
} from '../../../stack/sim/index';
import { TcpHost, type TcpHostOptions } from '../../../stack/tcp/host';
import type { Tcb } from '../../../stack/tcp/tcb';

function tcpFactory(options: Partial<TcpHostOptions> = {}): CoreFactory {
  return (h) =>
    new TcpHost({
      addresses: h.addresses,
      isnSecret: h.rng.bytes(16),
      random: () => h.rng.nextU32(),
      checksums: false,
      ...options,
    });
}

function tcbOf(host: { core: unknown }, conn: number): Tcb {
  const t = (host.core as TcpHost).tcbOf(conn);
  if (!t) throw new Error('no such connection');
  return t;
}

function transfer(link: LinkConfig, bytes: number, limitMs = 120_000, seed: number | string = 1) {
  const p = buildPair({ factory: tcpFactory(), seed, ...link });
  const x = startBulk(p.sim, { client: p.a, server: p.b, bytes });
  const client = { t: undefined as Tcb | undefined };
  p.sim.at(1, () => {
    client.t = tcbOf(p.a, x.clientConn);
  });
  p.sim.runWhile(() => !x.done, limitMs);
  return { ...p, x, client };
}

describe('plain TCP in the simulator', () => {
  it('10 MB over a clean link arrive intact', () => {
    const { x, client, sim } = transfer({ rateMbps: 100, rttMs: 10, queueMs: 20 }, 10e6);
    expect(x.ok).toBe(true);
    sim.runFor(100); // the last ACKs reach the sender
    expect(x.sentSha).toBe(x.receivedSha);
    expect(x.bytesReceived).toBe(10e6);
    expect(client.t!.stats().bytesAcked).toBe(10e6);
  });

  it('survives 1% and 5% random loss', () => {
    for (const [loss, bytes] of [
      [0.01, 4e6],
      [0.05, 1e6],
    ] as const) {
      const { x, link, client } = transfer({ rateMbps: 20, rttMs: 20, loss }, bytes);
      expect(x.ok, `loss ${loss}`).toBe(true);
      const dropped = link.counters().ab.dropped.random;
      expect(dropped).toBeGreaterThan(0);
      // Every lost data segment was repaired; few retransmissions were spurious.
      expect(client.t!.retransmits).toBeGreaterThanOrEqual(dropped * 0.9);
      expect(client.t!.retransmits).toBeLessThan(dropped * 2 + 20);
    }
  });

  it('survives Gilbert-Elliott burst loss', () => {
    const { x, link } = transfer(
      // Bursts on the data path (mean burst 4 packets).
      { rateMbps: 20, rttMs: 30, ab: { gilbert: { p: 0.003, r: 0.25, lossGood: 0, lossBad: 1 } } },
      4e6,
    );
    expect(x.ok).toBe(true);
    expect(link.counters().ab.dropped.burst).toBeGreaterThan(10);
  });

  it('survives reordering without collapsing', () => {
    const { x, link, client } = transfer(
      { rateMbps: 20, rttMs: 20, reorder: { prob: 0.02, extraDelayMs: 3 } },
      4e6,
    );
    expect(x.ok).toBe(true);
    expect(link.counters().ab.reordered).toBeGreaterThan(20);
    expect(client.t!.rtoCount).toBe(0);
    // Reordering by a few packets is not loss: spurious fast retransmits are undone (Eifel) and the
    // duplicate-ACK threshold adapts, so goodput stays above half the link.
    expect(client.t!.spuriousRecoveries).toBeGreaterThan(0);
    expect(client.t!.dupThresh).toBeGreaterThan(3);
    expect(x.goodputMbps).toBeGreaterThan(10);
  });

  it('a 2 s outage mid-transfer: the RTO backs off, then the transfer recovers and completes', () => {
    const p = buildPair({ factory: tcpFactory(), seed: 3, rateMbps: 20, rttMs: 20 });
    const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 6e6 });
    p.link.schedule([
      { at: 1000, down: true },
      { at: 3000, up: true },
    ]);
    const rtoSeen: number[] = [];
    let t: Tcb | undefined;
    p.sim.every(10, () => {
      t ??= (p.a.core as TcpHost).tcbOf(x.clientConn);
      if (t && (rtoSeen.length === 0 || rtoSeen.at(-1) !== t.rto)) rtoSeen.push(t.rto);
    });
    p.sim.runWhile(() => !x.done, 60_000);
    expect(x.ok).toBe(true);
    const tcb = t!;
    expect(tcb.rtoCount).toBeGreaterThanOrEqual(3);
    // The RTO doubled at least three times in a row during the outage…
    let doublings = 0;
    for (let i = 1; i < rtoSeen.length; i++) if (rtoSeen[i]! === 2 * rtoSeen[i - 1]!) doublings++;
    expect(doublings).toBeGreaterThanOrEqual(3);
    // …and came back down once fresh RTT samples arrived.
    expect(tcb.rto).toBeLessThan(500);
    expect(tcb.backoff).toBe(0);
    // Goodput resumed: the bins after the outage (plus one backed-off RTO) carry data again.
    const { t: bt, mbps } = x.goodputSeries();
    const resumed = bt.findIndex((tt, i) => tt >= 3000 && mbps[i]! > 5);
    expect(resumed).toBeGreaterThan(0);
    expect(bt[resumed]! - 3000).toBeLessThan(2000);
    const during = mbps.filter((_, i) => bt[i]! >= 1100 && bt[i]! < 2900);
    expect(Math.max(...during)).toBe(0);
  });

  it('goodput on a clean 50 Mbit/s, 20 ms RTT link is at least 90% of the link rate', () => {
    const { x, link } = transfer({ rateMbps: 50, rttMs: 20, queueMs: 50 }, 20e6);
    expect(x.ok).toBe(true);
    expect(x.goodputMbps).toBeGreaterThanOrEqual(45);
    expect(link.counters().ab.dropped.random).toBe(0);
  });

  it('two flows on one bottleneck converge to fair shares (Jain ≥ 0.95 over the last half)', () => {
    const d = buildDumbbell({
      factory: tcpFactory(),
      seed: 5,
      left: 2,
      bottleneck: { rateMbps: 20, rttMs: 20, queueMs: 30 },
    });
    const f1 = startBulk(d.sim, { client: d.left[0]!, server: d.right[0]!, bytes: 40e6, port: 5001 });
    const f2 = startBulk(d.sim, {
      client: d.left[1]!,
      server: d.right[1]!,
      bytes: 40e6,
      port: 5002,
      at: 500,
    });
    const end = 16_000;
    d.sim.runUntil(end);
    const half = (x: typeof f1): number => {
      const { t, mbps } = x.goodputSeries();
      let s = 0;
      let n = 0;
      for (let i = 0; i < t.length; i++) {
        if (t[i]! >= end / 2 && t[i]! < end - 100) {
          s += mbps[i]!;
          n++;
        }
      }
      return s / n;
    };
    const g1 = half(f1);
    const g2 = half(f2);
    expect(g1 + g2).toBeGreaterThan(17);
    expect(jainIndex([g1, g2])).toBeGreaterThanOrEqual(0.95);
  });

  it('same seed, same traces: byte-identical', () => {
    const run = () => {
      const p = buildPair({ factory: tcpFactory(), seed: 'det', rateMbps: 10, rttMs: 30, loss: 0.01 });
      const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 1e6 });
      const tr = new ConnTrace(p.sim, { everyMs: 20 });
      p.sim.runWhile(() => !x.done, 60_000);
      expect(x.ok).toBe(true);
      return JSON.stringify(tr.rows);
    };
    expect(run()).toBe(run());
  });
});

/** Loss events in a cwnd trace: indices where cwnd fell by more than 20%. */
function drops(v: number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < v.length; i++) if (v[i]! < v[i - 1]! * 0.8) out.push(i);
  return out;
}

function cwndTrace(cc: string, link: LinkConfig, ms: number, everyMs: number) {
  const p = buildPair({
    factory: tcpFactory({ tcb: { cc }, sndBuf: 8 << 20, rcvBuf: 8 << 20 }),
    seed: 7,
    ...link,
  });
  const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 1e9, verify: false });
  const tr = new ConnTrace(p.sim, { everyMs, hosts: [p.a] });
  p.sim.runUntil(ms);
  expect(x.bytesReceived).toBeGreaterThan(0);
  const s = tr.series('a', x.clientConn, 'cwnd');
  return { t: s.t, v: s.v.map((w) => w / 1448) };
}

describe('cwnd traces have their characteristic shapes', () => {
  it('Reno: halving on loss, linear growth of about one MSS per RTT', () => {
    const { t, v } = cwndTrace('reno', { rateMbps: 10, rttMs: 40, queueBytes: 50_000 }, 40_000, 10);
    const d = drops(v).filter((i) => t[i]! > 5000);
    expect(d.length).toBeGreaterThanOrEqual(3);
    for (const i of d) {
      // Multiplicative decrease by about one half (FlightSize / 2).
      const ratio = v[i]! / v[i - 1]!;
      expect(ratio).toBeGreaterThan(0.4);
      expect(ratio).toBeLessThan(0.62);
    }
    // Between two losses: a straight line. Growth in the first and the second half of the
    // epoch is the same (within 25%), about one segment per RTT (40 ms plus queueing).
    for (let k = 0; k + 1 < d.length; k++) {
      const a = d[k]! + 5;
      const b = d[k + 1]! - 2;
      const m = (a + b) >> 1;
      const r1 = (v[m]! - v[a]!) / (t[m]! - t[a]!);
      const r2 = (v[b]! - v[m]!) / (t[b]! - t[m]!);
      expect(r1).toBeGreaterThan(0);
      expect(Math.abs(r1 - r2) / Math.max(r1, r2)).toBeLessThan(0.25);
      const perRtt = r1 * 40;
      expect(perRtt).toBeGreaterThan(0.3);
      expect(perRtt).toBeLessThan(1.2);
    }
  });

  it('CUBIC: reduction to β = 0.7, concave growth to a plateau at K, then convex probing', () => {
    const { t, v } = cwndTrace('cubic', { rateMbps: 40, rttMs: 100, queueBytes: 200_000 }, 40_000, 100);
    const d = drops(v).filter((i) => t[i]! > 3000);
    expect(d.length).toBeGreaterThanOrEqual(3);
    for (const i of d) {
      const ratio = v[i]! / v[i - 1]!;
      expect(ratio).toBeGreaterThan(0.65);
      expect(ratio).toBeLessThan(0.75);
    }
    let convex = 0;
    let checkedK = 0;
    for (let k = 0; k + 1 < d.length; k++) {
      const a = d[k]! + 2;
      const b = d[k + 1]! - 1;
      const third = Math.floor((b - a) / 3);
      if (third < 3) continue;
      const slope = (i: number, j: number) => (v[j]! - v[i]!) / (t[j]! - t[i]!);
      const s1 = slope(a, a + third);
      const s2 = slope(a + third, a + 2 * third);
      const s3 = slope(a + 2 * third, b);
      // Concave start: growth slows towards the plateau.
      expect(s1).toBeGreaterThan(s2);
      if (s3 > 1.5 * s2) {
        convex++;
        // The flattest point sits at K = cbrt((W_max − W_0) / C) after the reduction, with
        // W_max the plateau height and W_0 the window just after the reduction.
        let iMin = a + 1;
        for (let i = a + 1; i < b - 1; i++) if (slope(i - 1, i + 1) < slope(iMin - 1, iMin + 1)) iMin = i;
        const kSec = Math.cbrt((v[iMin]! - v[d[k]!]!) / 0.4);
        const kSeen = (t[iMin]! - t[d[k]!]!) / 1000;
        expect(Math.abs(kSeen - kSec)).toBeLessThan(0.25 * kSec + 0.5);
        checkedK++;
      }
    }
    expect(convex).toBeGreaterThanOrEqual(1);
    expect(checkedK).toBeGreaterThanOrEqual(1);
  });
});
