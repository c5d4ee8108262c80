/**
 * Issue 5's simulator tests: every transfer is checked by SHA-256 of the bytes (BulkTransfer.ok).
 * Figures are printed (console.log) so the closing note can quote them.
 */
import { describe, expect, it } from 'vitest';
import {
  type BulkTransfer,
  buildDumbbell,
  buildPair,
  buildTwoPath,
  startBulk,
} from '../../../stack/sim/index';
import { hostOf, mptcpFactory } from './helpers';

function figure(name: string, value: number | string, unit = ''): void {
  console.log(
    `[figure] ${name}: ${typeof value === 'number' ? value.toFixed(2) : value}${unit ? ` ${unit}` : ''}`,
  );
}

/** Goodput (Mbit/s) over bins whose start is in [from, to) ms after the transfer's start. */
function goodputBetween(t: BulkTransfer, from: number, to: number): number {
  const s = t.goodputSeries();
  let bytes = 0;
  let ms = 0;
  for (let i = 0; i < s.t.length; i++) {
    const rel = s.t[i]! - t.startAt;
    if (rel < from || rel >= to) continue;
    bytes += (s.mbps[i]! * t.binMs * 1000) / 8;
    ms += t.binMs;
  }
  return ms === 0 ? 0 : (bytes * 8) / (ms * 1000);
}

describe('MPTCP in the simulator', () => {
  it('two 50 Mbit/s paths give >= 90% of 100 Mbit/s', () => {
    const { sim, client, server } = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 50, delayMs: 10 },
        { rateMbps: 50, delayMs: 10 },
      ],
    });
    const t = startBulk(sim, { client, server, bytes: 40_000_000, binMs: 250 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const steady = goodputBetween(t, 1000, t.durationMs - t.binMs);
    figure('two 50 Mbit/s paths, goodput after 1 s', steady, 'Mbit/s');
    figure('two 50 Mbit/s paths, goodput whole transfer (with slow start)', t.goodputMbps, 'Mbit/s');
    expect(steady).toBeGreaterThanOrEqual(90);
    const subs = hostOf(client.core).connStats()[0]!.subflows;
    expect(subs).toHaveLength(2);
    for (const s of subs) expect(s.bytesAcked).toBeGreaterThan(15_000_000);
  });

  it('heterogeneous paths (20 Mbit/s 20 ms + 2 Mbit/s 150 ms) do at least as well as the best path alone', () => {
    const bytes = 20_000_000;
    const two = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 20, delayMs: 10 },
        { rateMbps: 2, delayMs: 75 },
      ],
    });
    const t = startBulk(two.sim, { client: two.client, server: two.server, bytes });
    two.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    // Baseline in the same run: the best path alone (plain TCP on the same stack and link).
    const one = buildPair({
      factory: mptcpFactory({ 'net.mptcp.mptcp_enabled': 0 }),
      rateMbps: 20,
      rttMs: 20,
    });
    const b = startBulk(one.sim, { client: one.a, server: one.b, bytes });
    one.sim.runWhile(() => !b.done, 60_000);
    expect(b.ok).toBe(true);
    figure('heterogeneous MPTCP goodput', t.goodputMbps, 'Mbit/s');
    figure('best single path (plain TCP) goodput', b.goodputMbps, 'Mbit/s');
    figure('ratio MPTCP / best path', t.goodputMbps / b.goodputMbps);
    expect(t.goodputMbps).toBeGreaterThanOrEqual(b.goodputMbps);
    const subs = hostOf(two.client.core).connStats()[0]!.subflows;
    expect(subs.every((s) => s.bytesAcked > 0)).toBe(true);
  });

  it('a path failing mid-transfer loses nothing; the survivor recovers within 1 s; the path is used again', () => {
    const { sim, client, server, paths } = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 20, delayMs: 10 },
        { rateMbps: 10, delayMs: 30 },
      ],
    });
    const t = startBulk(sim, { client, server, bytes: 20_000_000, binMs: 100 });
    const downAt = 2000;
    const upAt = 5000;
    paths[0]!.schedule([
      { at: downAt, down: true },
      { at: upAt, up: true },
    ]);
    let deliveredAtUp = 0;
    sim.at(upAt, () => {
      deliveredAtUp = paths[0]!.ab.counters.deliveredBytes;
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    // The gap: from the failure to the first 100 ms bin where the survivor (10 Mbit/s) runs at
    // >= 80% of its rate.
    const s = t.goodputSeries();
    let recoveredAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < s.t.length; i++) {
      if (s.t[i]! >= downAt && s.mbps[i]! >= 8) {
        recoveredAt = s.t[i]! + t.binMs;
        break;
      }
    }
    const gap = recoveredAt - downAt;
    figure('path failure: gap until the survivor carries >= 80% of its rate', gap, 'ms');
    const low = Math.min(...s.mbps.filter((_, i) => s.t[i]! >= downAt && s.t[i]! < downAt + 1000));
    figure('path failure: lowest 100 ms goodput in the first second', low, 'Mbit/s');
    expect(gap).toBeLessThanOrEqual(1000);
    // The returning path carries data again.
    const after = paths[0]!.ab.counters.deliveredBytes - deliveredAtUp;
    figure('bytes on the returning path after it came back', after, 'B');
    if (after === 0) console.log(hostOf(client.core).reportText(), deliveredAtUp, sim.now);
    expect(after).toBeGreaterThan(2_000_000);
    const mib = hostOf(client.core).report().mib;
    expect(mib.Reinjections).toBeGreaterThan(0);
    figure('reinjected bytes', mib.ReinjectedBytes ?? 0, 'B');
  });

  it('LIA through one shared bottleneck takes <= 1.2x a TCP flow; on disjoint bottlenecks it takes both', () => {
    const d = buildDumbbell({
      factory: mptcpFactory({ 'net.ipv4.tcp_congestion_control': 'reno' }),
      left: [2, 1],
      // 2 ms of jitter: without it, a deterministic drop-tail queue locks flows into phase
      // effects (Floyd & Jacobson 1992) that favour whichever window grows smoothly.
      bottleneck: { rateMbps: 20, delayMs: 10, queueMs: 50, jitterMs: 2 },
    });
    const bytes = 1_000_000_000;
    const mp = startBulk(d.sim, { client: d.left[0]!, server: d.right[0]!, bytes, port: 5001, binMs: 1000 });
    // The regular TCP flow (Reno, the flow RFC 6356 compares with): mptcp_enabled = 0 on its client.
    hostOf(d.left[1]!.core).sysctl.set('net.mptcp.mptcp_enabled', 0);
    const tcp = startBulk(d.sim, { client: d.left[1]!, server: d.right[1]!, bytes, port: 5002, binMs: 1000 });
    // 50 s of competition after a 10 s warm-up: shorter windows swing with the sawtooth phases.
    d.sim.runUntil(60_000);
    const mpConn = hostOf(d.left[0]!.core).connStats()[0]!;
    expect(mpConn.mode).toBe('mptcp');
    expect(mpConn.subflows).toHaveLength(2);
    expect(hostOf(d.left[1]!.core).connStats()[0]!.mode).toBe('tcp');
    const mpRate = goodputBetween(mp, 10_000, 60_000);
    const tcpRate = goodputBetween(tcp, 10_000, 60_000);
    figure('shared bottleneck: MPTCP (LIA, 2 subflows)', mpRate, 'Mbit/s');
    figure('shared bottleneck: TCP (Reno)', tcpRate, 'Mbit/s');
    figure('shared bottleneck: ratio MPTCP / TCP', mpRate / tcpRate);
    expect(mpRate).toBeLessThanOrEqual(1.2 * tcpRate);
    expect(mpRate + tcpRate).toBeGreaterThan(17);
    expect(mp.error).toBeUndefined();
    expect(tcp.error).toBeUndefined();

    // Disjoint bottlenecks: both are used.
    const two = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 20, delayMs: 10 },
        { rateMbps: 20, delayMs: 10 },
      ],
    });
    const t = startBulk(two.sim, { client: two.client, server: two.server, bytes: 20_000_000, binMs: 500 });
    two.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const rate = goodputBetween(t, 1000, t.durationMs - t.binMs);
    figure('disjoint bottlenecks (2 x 20 Mbit/s): MPTCP goodput', rate, 'Mbit/s');
    expect(rate).toBeGreaterThan(1.7 * 20 * 0.947);
  });

  it('ndiffports = 4 over one address pair opens 4 subflows with distinct ports, in the mapping table', () => {
    const { sim, a, b, addrA, addrB } = buildPair({
      factory: mptcpFactory({
        'net.mptcp.mptcp_path_manager': 'ndiffports',
        'net.mptcp.mptcp_ndiffports': 4,
      }),
      rateMbps: 20,
      rttMs: 20,
    });
    const t = startBulk(sim, { client: a, server: b, bytes: 4_000_000 });
    let table: ReturnType<ReturnType<typeof hostOf>['report']>['mappingTable'] = [];
    let text = '';
    sim.at(1000, () => {
      table = hostOf(a.core).report().mappingTable;
      text = hostOf(a.core).reportText();
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    console.log(text);
    expect(table).toHaveLength(4);
    expect(table.map((r) => r.pathIndex)).toEqual([1, 2, 3, 4]);
    for (const r of table) {
      expect(r.endpoint.srcAddr).toBe(addrA);
      expect(r.endpoint.dstAddr).toBe(addrB);
      expect(r.endpoint.dstPort).toBe(5001);
      expect(r.state).toBe('established');
    }
    expect(new Set(table.map((r) => r.endpoint.srcPort)).size).toBe(4);
    expect(text).toMatch(/token\s+\| path index \| endpoint_id/);
    for (const r of table)
      expect(text).toContain(`| ${r.pathIndex}          | <${addrA}, ${addrB}, ${r.endpoint.srcPort}, 5001>`);
    const subs = hostOf(a.core).connStats()[0]!.subflows;
    expect(subs.filter((s) => s.bytesAcked > 100_000)).toHaveLength(4);
    // The server sees 4 subflows too.
    expect(hostOf(b.core).connStats()[0]!.subflows).toHaveLength(4);
  });

  it('mptcp_enabled = 0 on either side gives a working plain TCP connection', () => {
    for (const [client, server] of [
      [0, 1],
      [1, 0],
      [0, 0],
    ] as const) {
      const { sim, a, b } = buildPair({
        factory: mptcpFactory({ 'net.mptcp.mptcp_enabled': client }),
        factoryB: mptcpFactory({ 'net.mptcp.mptcp_enabled': server }),
        rateMbps: 10,
        rttMs: 20,
      });
      const t = startBulk(sim, { client: a, server: b, bytes: 2_000_000 });
      let mode = '';
      sim.at(500, () => {
        mode = a.core.info(t.clientConn)?.mode ?? '';
      });
      sim.runWhile(() => !t.done, 60_000);
      expect(t.ok).toBe(true);
      expect(mode).toBe('tcp');
      if (server === 0 && client === 1) expect(hostOf(b.core).report().mib.MPCapableDisabled).toBe(1);
      if (client === 1) expect(hostOf(a.core).report().mib.MPCapableFallbackSYNACK).toBe(1);
    }
  });

  it('MPTCP options stripped on the path: fallback to TCP, data intact', async () => {
    const { stripOptions } = await import('../../../stack/sim/index');
    for (const flags of [2, 0]) {
      const { sim, a, b, link } = buildPair({ factory: mptcpFactory(), rateMbps: 10, rttMs: 20 });
      link.ab.set({ middlebox: stripOptions([30], { flags }) });
      const t = startBulk(sim, { client: a, server: b, bytes: 1_000_000 });
      sim.runWhile(() => !t.done, 60_000);
      expect(t.ok).toBe(true);
      expect(hostOf(a.core).connStats()[0]?.mode ?? 'tcp').toBe('tcp');
    }
    // Stripped only on the SYN/ACK: the server learns it from the third ACK.
    const { sim, a, b, link } = buildPair({ factory: mptcpFactory(), rateMbps: 10, rttMs: 20 });
    link.ba.set({ middlebox: stripOptions([30], { flags: 0x12 }) });
    const t = startBulk(sim, { client: a, server: b, bytes: 1_000_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(hostOf(b.core).report().mib.MPCapableFallbackACK).toBe(1);
  });
});
