/**
 * The demo's figures (gap when WiFi goes, time to use WiFi again, seconds of stall, per-second
 * goodput) from hand-made timelines, the comparison table's layout, the kernel variant of the
 * demo's topology, and the demo in the simulator as it happened (the client connects).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { figuresTable, perSecondLines } from '../../../cli/commands/demo';
import { kernelVariant, runDemo } from '../../../lab/run/demo';
import { demoFigures, perSecondGoodput, wifiPaths } from '../../../lab/run/demo-figures';
import { demoSvg } from '../../../lab/run/demo-plot';
import type { RunResult, TimelinePoint } from '../../../lab/run/result';
import { loadTopology } from '../../../lab/topology/index';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A run with 0.5 s points: total and per-path Mbit/s given per point. */
function run(points: [number, number, Record<number, number>][]): RunResult {
  const timeline: TimelinePoint[] = points.map(([t, total, paths]) => ({
    t,
    total,
    subflows: Object.entries(paths).map(([pi, mbps]) => ({ pathIndex: Number(pi), mbps })),
  }));
  return {
    lab: 'x',
    from: 'client',
    to: 'server',
    stack: 'ts',
    sim: true,
    bytes: 1,
    seconds: 4,
    goodputMbps: 9.5,
    integrity: 'ok',
    subflows: [
      { pathIndex: 1, local: '10.0.5.2:5001', remote: '10.0.1.1:4000', bytes: 1 },
      { pathIndex: 2, local: '10.0.5.2:5001', remote: '10.0.2.1:4001', bytes: 1 },
      { pathIndex: 3, local: '10.0.5.2:5001', remote: '10.0.1.1:4002', bytes: 1 },
    ],
    timeline,
    events: [],
  };
}

const opts = { wifiAddress: '10.0.1.1', downAt: 1, upAt: 2.5, duration: 4, stallMbps: 0.2, wifiMbps: 2 };

describe('demo figures', () => {
  const r = run([
    [0.5, 20, { 1: 18, 2: 2 }],
    [1.0, 20, { 1: 18, 2: 2 }],
    [1.5, 0, { 2: 0 }], // WiFi gone: the application stalls half a second …
    [2.0, 2, { 2: 2 }], // … then 3G alone
    [2.5, 2, { 2: 2 }],
    [3.0, 0.1, { 2: 0.1, 3: 0.5 }], // WiFi back but not yet used
    [3.5, 20, { 2: 2, 3: 18 }], // WiFi in use: 1 s after it came back
    [4.0, 20, { 2: 2, 3: 18 }],
  ]);

  it("WiFi's subflows by the client's address, whatever their path index", () => {
    expect([...wifiPaths(r, '10.0.1.1')].sort()).toEqual([1, 3]);
  });

  it('gap, time to use WiFi again, stalled seconds, per second', () => {
    const f = demoFigures(r, opts);
    expect(f.goodputMbps).toBe(9.5);
    expect(f.gapSeconds).toBe(0.5);
    expect(f.wifiBackSeconds).toBe(1);
    expect(f.stallSeconds).toBe(1);
    expect(f.perSecond).toEqual([20, 1, 1.05, 20]);
  });

  it('no stall after WiFi goes is a gap of 0; WiFi never used again is undefined', () => {
    const s = run([
      [1, 20, { 1: 20 }],
      [2, 2, { 2: 2 }],
      [3, 2, { 2: 2 }],
      [4, 2, { 2: 2 }],
    ]);
    const f = demoFigures(s, opts);
    expect(f.gapSeconds).toBe(0);
    expect(f.wifiBackSeconds).toBeUndefined();
    expect(f.stallSeconds).toBe(0);
  });

  it('per-second goodput spreads an interval over the seconds it covers', () => {
    expect(
      perSecondGoodput(
        [
          { t: 1.5, total: 10, subflows: [] },
          { t: 2, total: 0, subflows: [] },
        ],
        2,
      ),
    ).toEqual([10, 5]);
  });

  it('the table has one column per stack; per-second lines ten to a row', () => {
    const f = demoFigures(r, opts);
    const t = figuresTable([
      { label: 'our stack', f },
      { label: "kernel's MPTCP", f: { ...f, wifiBackSeconds: undefined } },
    ]);
    expect(t[0]).toMatch(/our stack\s+kernel's MPTCP$/);
    expect(t[1]).toMatch(/^ {2}goodput\s+9\.50 Mbit\/s\s+9\.50 Mbit\/s$/);
    expect(t[3]).toMatch(/WiFi in use again after\s+1\.00 s\s+never$/);
    const lines = perSecondLines([{ label: 'our stack', f }]);
    expect(lines[0]).toBe('  s  0– 3');
    expect(lines[1]).toBe('    our stack       20.0   1.0   1.1  20.0');
  });

  it('two runs make one plot with a panel each', () => {
    const svg = demoSvg([
      { title: 'ours', result: r },
      { title: 'kernel', result: r },
    ]);
    const one = demoSvg([{ title: 'ours', result: r }]);
    const h = (x: string) => Number(/^<svg[^>]*\sheight="(\d+)"/.exec(x)?.[1]);
    // two panels, each the height of the run's own plot
    expect(h(svg)).toBe(2 * h(one));
    expect(svg.match(/<svg /g)).toHaveLength(3);
    expect(svg).toContain('>ours<');
    expect(svg).toContain('>kernel<');
  });
});

describe('the demo', () => {
  it("the kernel variant: client and server on the kernel's MPTCP, no knobs of ours", async () => {
    const m = await loadTopology(join(root, 'topologies/ietf-livecd.yaml'), { name: 'livecd-k' });
    const k = kernelVariant(m);
    expect(k.name).toBe('livecd-k');
    expect(k.nodes.find((x) => x.name === 'client')!.netns).toBe('mplab-livecd-k-client');
    for (const n of ['client', 'server']) {
      const node = k.nodes.find((x) => x.name === n)!;
      expect(node.stack).toBe('kernel');
      expect(node.knobs).toEqual({});
    }
    // the original is untouched
    expect(m.nodes.find((x) => x.name === 'client')!.stack).toBe('ts');
  });

  it('--compare kernel in the simulator is refused (exit 2) before anything runs', async () => {
    await expect(runDemo('ietf-livecd', { sim: true, compare: 'kernel' })).rejects.toThrow(
      /--compare kernel needs a lab/,
    );
  });

  it('in the simulator the client opens the connection and the server sends', async () => {
    const out = await runDemo('ietf-livecd', {
      sim: true,
      durationMs: 6000,
      downAtMs: 2000,
      upAtMs: 4000,
      intervalMs: 200,
    });
    expect(out.result.integrity).toBe('ok');
    expect(out.result.reverse).toBe(true);
    expect(out.result.ends?.find((e) => e.opened)?.node).toBe('client');
    expect(out.result.ends?.find((e) => e.role === 'sender')?.node).toBe('server');
    const client = out.reports.find((x) => x.startsWith('== client'))!;
    expect(client).toMatch(/conn \d+\s+mptcp\s+client/);
    expect(out.figures.perSecond).toHaveLength(6);
    expect(out.figures.wifiBackSeconds).toBeDefined();
  });
});
