import { describe, expect, it } from 'vitest';
import {
  buildDumbbell,
  buildMultiPath,
  buildPair,
  ConnTrace,
  jainIndex,
  type LinkConfig,
  startBulk,
} from '../../../stack/sim/index';
import { HEADER_BYTES, WindowCore, type WindowCoreOptions } from '../../../stack/sim/testcores';

const MB = 1_000_000;

function pairTransfer(
  link: LinkConfig,
  bytes: number,
  core: WindowCoreOptions = {},
  seed: number | string = 1,
) {
  const p = buildPair({ factory: () => new WindowCore({ windowBytes: 64 * 1024, ...core }), seed, ...link });
  const x = startBulk(p.sim, { client: p.a, server: p.b, bytes });
  const finished = p.sim.runWhile(() => !x.done, 600_000);
  return { ...p, x, finished };
}

describe('bulk transfers over the WindowCore test transport', () => {
  it('a clean 10 Mbit/s, 20 ms link: every byte, SHA-256 equal, near link rate', () => {
    const { x, finished, link, sim } = pairTransfer({ rateMbps: 10, rttMs: 20, queueBytes: 100_000 }, 2 * MB);
    expect(finished).toBe(true);
    expect(x.ok).toBe(true);
    expect(x.receivedSha).toMatch(/^[0-9a-f]{64}$/);
    expect(x.bytesReceived).toBe(2 * MB);
    // 1460 payload in 1500 wire bytes; the window (64 KiB) exceeds the BDP (25 kB): link-bound
    expect(x.goodputMbps).toBeGreaterThan(0.95 * 10 * (1460 / 1500));
    expect(x.goodputMbps).toBeLessThanOrEqual(10 * (1460 / 1500));
    expect(link.ab.counters.dropped.queue).toBe(0);
    // the connection closes both ways and nothing is left to do
    expect(sim.run()).toBe(true);
    expect(x.clientClosedAt).toBeGreaterThan(x.finishedAt);
    expect(x.serverClosedAt).toBeGreaterThan(x.finishedAt);
  });

  it('goodput bins add up to the bytes and show the rate', () => {
    const { x } = pairTransfer({ rateMbps: 10, rttMs: 20, queueBytes: 100_000 }, 2 * MB);
    expect(x.bins.reduce((a, b) => a + b, 0)).toBe(2 * MB);
    const g = x.goodputSeries();
    expect(g.t[1]! - g.t[0]!).toBe(100);
    expect(x.goodputBetween(500, 1500)).toBeCloseTo(10 * (1460 / 1500), 1);
    expect(x.goodputBetween(50_000, 60_000)).toBe(0);
    const mid = g.mbps.slice(2, -2);
    for (const m of mid) expect(m).toBeCloseTo(10 * (1460 / 1500), 0);
  });

  it.each([
    ['1% random loss', { loss: 0.01 }],
    ['5% random loss', { loss: 0.05 }],
    ['burst loss', { gilbert: { p: 0.005, r: 0.3 } }],
    ['reordering', { reorder: { prob: 0.05, extraDelayMs: 4 } }],
    ['duplication and jitter', { duplicate: 0.02, jitterMs: 3 }],
  ] as [string, LinkConfig][])('%s: every byte arrives intact', (_name, impair) => {
    const { x, finished, link } = pairTransfer(
      { rateMbps: 20, rttMs: 10, queueBytes: 200_000, ...impair },
      MB,
    );
    expect(finished).toBe(true);
    expect(x.ok).toBe(true);
    const c = link.ab.counters;
    const impaired = c.dropped.random + c.dropped.burst + c.reordered + c.duplicated;
    expect(impaired).toBeGreaterThan(0);
  });

  it('a 2 s outage mid-transfer: the transfer stalls, then completes intact', () => {
    const link: LinkConfig = { rateMbps: 10, rttMs: 20, queueBytes: 100_000 };
    const clean = pairTransfer(link, 2 * MB);
    const p = buildPair({ factory: () => new WindowCore(), seed: 1, ...link });
    p.link.schedule([
      { at: 500, down: true },
      { at: 2500, up: true },
    ]);
    const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 2 * MB });
    expect(p.sim.runWhile(() => !x.done, 60_000)).toBe(true);
    expect(x.ok).toBe(true);
    expect(p.link.ab.counters.dropped.down).toBeGreaterThan(0);
    expect(x.durationMs).toBeGreaterThan(clean.x.durationMs + 2000);
    // nothing arrives during the outage (bins 6..24 hold only what was in flight before 500)
    const g = x.goodputSeries();
    for (let i = 6; i < 25; i++) expect(g.mbps[i]).toBe(0);
  });

  it('a middlebox that rewrites payload is caught by the SHA-256 check', () => {
    const p = buildPair({ factory: () => new WindowCore(), rateMbps: 10, delayMs: 5 });
    let hit = false;
    p.link.setMiddlebox((pkt) => {
      if (!hit && pkt.data.length > HEADER_BYTES + 100) {
        hit = true;
        const data = pkt.data.slice();
        data[HEADER_BYTES + 50]! ^= 0xff;
        return { ...pkt, data };
      }
      return pkt;
    }, 'ab');
    const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 200_000 });
    p.sim.runWhile(() => !x.done, 60_000);
    expect(hit).toBe(true);
    expect(x.bytesReceived).toBe(200_000);
    expect(x.receivedSha).not.toBe(x.sentSha);
    expect(x.ok).toBe(false);
  });

  it('two paths: transfers bound to each local address use their own path', () => {
    const mp = buildMultiPath({
      factory: () => new WindowCore(),
      paths: [
        { rateMbps: 10, delayMs: 10, name: 'wifi' },
        { rateMbps: 2, delayMs: 50, queueBytes: 100_000, name: '3g' },
      ],
      server: 'single',
    });
    const x1 = startBulk(mp.sim, {
      client: mp.client,
      server: mp.server,
      bytes: 500_000,
      localAddress: mp.clientAddrs[0],
      port: 1,
    });
    const x2 = startBulk(mp.sim, {
      client: mp.client,
      server: mp.server,
      bytes: 500_000,
      localAddress: mp.clientAddrs[1],
      port: 2,
    });
    mp.sim.runWhile(() => !(x1.done && x2.done), 60_000);
    expect(x1.ok && x2.ok).toBe(true);
    expect(x1.goodputMbps).toBeGreaterThan(8);
    expect(x2.goodputMbps).toBeLessThan(2);
    expect(x2.goodputMbps).toBeGreaterThan(1.5);
    expect(mp.paths[0]!.ab.counters.deliveredBytes).toBeGreaterThan(500_000);
    expect(mp.paths[1]!.ab.counters.deliveredBytes).toBeGreaterThan(500_000);
    expect(mp.paths[0]!.ab.counters.deliveredBytes).toBeLessThan(600_000);
    expect(mp.serverLink!.ab.counters.deliveredBytes).toBe(
      mp.paths[0]!.ab.counters.deliveredBytes + mp.paths[1]!.ab.counters.deliveredBytes,
    );
  });

  it('two flows on one bottleneck share it', () => {
    const d = buildDumbbell({
      factory: () => new WindowCore({ windowBytes: 32 * 1024 }),
      left: 2,
      bottleneck: { rateMbps: 10, delayMs: 10, queueBytes: 150_000 },
    });
    const xs = d.left.map((h, i) =>
      startBulk(d.sim, { client: h, server: d.right[i]!, bytes: 1 * MB, port: 100 + i }),
    );
    d.sim.runWhile(() => !xs.every((x) => x.done), 60_000);
    expect(xs.every((x) => x.ok)).toBe(true);
    // equal windows and RTTs: equal shares of 10 Mbit/s while both run
    expect(jainIndex(xs.map((x) => x.goodputMbps))).toBeGreaterThan(0.99);
    const sum = xs.reduce((a, x) => a + x.goodputMbps, 0);
    expect(sum).toBeGreaterThan(0.9 * 10 * (1460 / 1500));
    expect(d.bottleneck.ab.counters.queueHighWaterBytes).toBeGreaterThan(0);
  });
});

describe('determinism', () => {
  /** An impaired dumbbell with traces; returns every serialized output. */
  function scenario(seed: string) {
    const d = buildDumbbell({
      factory: () => new WindowCore({ windowBytes: 48 * 1024, rtoMs: 100 }),
      left: [2, 1],
      seed,
      bottleneck: {
        rateMbps: 20,
        delayMs: 8,
        jitterMs: 1,
        queueMs: 10,
        loss: 0.01,
        reorder: { prob: 0.02, extraDelayMs: 2 },
        gilbert: { p: 0.002, r: 0.4 },
      },
      access: { rateMbps: 100, delayMs: 1 },
    });
    d.bottleneck.schedule([
      { at: 300, set: { rateMbps: 5 } },
      { at: 600, down: true },
      { at: 700, up: true },
    ]);
    const ptrace = d.sim.tracePackets(20_000);
    const trace = new ConnTrace(d.sim, { everyMs: 10 });
    const xs = [
      startBulk(d.sim, {
        client: d.left[0]!,
        server: d.right[0]!,
        bytes: 300_000,
        port: 1,
        localAddress: '10.1.0.1',
      }),
      startBulk(d.sim, {
        client: d.left[0]!,
        server: d.right[0]!,
        bytes: 300_000,
        port: 2,
        localAddress: '10.1.0.2',
        at: 50,
      }),
      startBulk(d.sim, { client: d.left[1]!, server: d.right[1]!, bytes: 300_000, port: 3, at: 100 }),
    ];
    d.sim.runWhile(() => !xs.every((x) => x.done), 60_000);
    d.sim.run();
    return {
      ok: xs.every((x) => x.ok),
      csv: trace.toCSV(),
      json: JSON.stringify(trace),
      packets: ptrace.toCSV(),
      results: JSON.stringify({
        xs: xs.map((x) => [x.finishedAt, x.receivedSha, x.bins]),
        links: d.sim.links.map((l) => [l.name, l.counters()]),
        log: d.sim.log,
        events: d.sim.stats.events,
        now: d.sim.now,
      }),
    };
  }

  it('the same seed and inputs give byte-identical traces and results', () => {
    const r1 = scenario('det');
    const r2 = scenario('det');
    expect(r1.ok).toBe(true);
    expect(r1.csv.length).toBeGreaterThan(10_000);
    expect(r1.packets.split('\n').length).toBeGreaterThan(5000);
    expect(r2.csv).toBe(r1.csv);
    expect(r2.json).toBe(r1.json);
    expect(r2.packets).toBe(r1.packets);
    expect(r2.results).toBe(r1.results);
    // a different seed changes the run
    const r3 = scenario('other');
    expect(r3.ok).toBe(true);
    expect(r3.packets).not.toBe(r1.packets);
    expect(r3.csv).not.toBe(r1.csv);
  });
});
