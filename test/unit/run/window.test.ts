/**
 * The measured window of a run (lab/run/window.ts): goodput over the sending window, the drain
 * apart, --omit leaving only its first seconds out; checked on the arithmetic and on simulated
 * runs (the simulator goes through the same window code as the lab drivers).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../lab/errors';
import type { TimelinePoint } from '../../../lab/run/result';
import { resolveEndpoints } from '../../../lab/run/spec';
import { bytesAt, measureWindow } from '../../../lab/run/window';
import { simulateRun } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';
import type { LabModel } from '../../../lab/topology/model';

const dir = mkdtempSync(join(tmpdir(), 'mplab-window-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pt = (t: number, bytes: number): TimelinePoint => ({ t, total: 0, bytes, subflows: [] });

describe('window arithmetic', () => {
  it('interpolates cumulative bytes between samples', () => {
    const tl = [pt(1, 1000), pt(2, 3000)];
    expect(bytesAt(tl, 0)).toBe(0);
    expect(bytesAt(tl, 0.5)).toBe(500);
    expect(bytesAt(tl, 1.5)).toBe(2000);
    expect(bytesAt(tl, 9)).toBe(3000);
  });

  it('a timed run: goodput over [start + omit, last write]; the drain apart; omitted points marked', () => {
    // 1 Mbit/s (125 kB/s) for 4 s from t = 0.5, then 1 s of drain at the same rate
    const tl = [1, 2, 3, 4, 5, 5.5].map((t) => pt(t, Math.round(125_000 * (t - 0.5))));
    tl.unshift(pt(0.5, 0));
    const w = measureWindow(tl, { start: 0.5, lastWrite: 4.5, endOfStream: 5.5, timed: true, omit: 1 });
    expect(w.sendSeconds).toBe(4);
    expect(w.drainSeconds).toBe(1);
    expect(w.omitSeconds).toBe(1);
    expect(w.windowBytes).toBe(375_000);
    expect(w.goodputMbps).toBe(1);
    expect(tl.filter((p) => p.omitted).map((p) => p.t)).toEqual([0.5, 1, 2]);
  });

  it('a byte-count run measures to the last byte at the sink', () => {
    const tl = [pt(1, 100_000), pt(2, 250_000)];
    const w = measureWindow(tl, { start: 0, lastWrite: 1, endOfStream: 2, timed: false });
    expect(w).toEqual({
      goodputMbps: 1,
      startSeconds: 0,
      sendSeconds: 2,
      drainSeconds: 1,
      omitSeconds: 0,
      windowBytes: 250_000,
    });
  });

  it('--omit must leave something to measure', async () => {
    const model = await twoHostModel();
    expect(() =>
      resolveEndpoints(model, { from: 'a', to: 'b', stack: 'ts', timeMs: 2000, omitMs: 2000 }),
    ).toThrow(UsageError);
    expect(() =>
      resolveEndpoints(model, { from: 'a', to: 'b', stack: 'ts', timeMs: 2000, omitMs: 1000 }),
    ).not.toThrow();
  });
});

let cached: LabModel | undefined;
async function twoHostModel(): Promise<LabModel> {
  if (cached) return cached;
  const file = join(dir, 'two-slow.yaml');
  writeFileSync(
    file,
    [
      'name: two-slow',
      'defaults:',
      '  node: { kind: host, stack: ts }',
      '  link: { rate: 10mbit, delay: 10ms, queue: 50 packets }',
      'nodes:',
      '  a: {}',
      '  b: {}',
      'links:',
      '  - endpoints: [a:eth1, b:eth1]',
      '  - endpoints: [a:eth2, b:eth2]',
      '',
    ].join('\n'),
  );
  cached = await loadTopology(file);
  return cached;
}

describe('run semantics in the simulator', () => {
  let model: LabModel;
  beforeAll(async () => {
    model = await twoHostModel();
  });

  it('--time 5: a sending window of 5 s ± 0.2 s, goodput within the links’ rate, the drain apart', () => {
    const r = simulateRun(model, { from: 'a', to: 'b', stack: 'ts', timeMs: 5000 }, { seed: 3 }).result;
    expect(r.integrity).toBe('ok');
    expect(r.sendSeconds).toBeGreaterThan(4.8);
    expect(r.sendSeconds).toBeLessThan(5.2);
    // two 10 Mbit/s links
    expect(r.goodputMbps).toBeGreaterThan(0);
    expect(r.goodputMbps).toBeLessThanOrEqual(20);
    expect(r.drainSeconds).toBeGreaterThanOrEqual(0);
    // the whole transfer is the window, the connect and the drain
    expect(r.seconds).toBeGreaterThanOrEqual((r.sendSeconds ?? 0) + (r.drainSeconds ?? 0) - 0.1);
    // what drained after the window is not in the figure
    expect(r.windowBytes).toBeLessThanOrEqual(r.bytes);
  });

  it('--omit 1 changes the first second only: same timeline, its first second marked, the figure over [1 s, end]', () => {
    const spec = { from: 'a', to: 'b', stack: 'ts' as const, timeMs: 4000 };
    const plain = simulateRun(model, spec, { seed: 5 }).result;
    const omitted = simulateRun(model, { ...spec, omitMs: 1000 }, { seed: 5 }).result;
    expect(omitted.integrity).toBe('ok');
    expect(omitted.timeline.map(({ omitted: _o, ...p }) => p)).toEqual(plain.timeline);
    const marked = omitted.timeline.filter((p) => p.omitted);
    expect(marked.length).toBeGreaterThan(0);
    for (const p of marked) expect(p.t).toBeLessThanOrEqual(1.2);
    for (const p of omitted.timeline.filter((q) => !q.omitted)) expect(p.t).toBeGreaterThan(1);
    expect(omitted.bytes).toBe(plain.bytes);
    expect(omitted.sendSeconds).toBe(plain.sendSeconds);
    expect(omitted.drainSeconds).toBe(plain.drainSeconds);
    // the figure is the plain run's bytes between 1 s after connect and the last write
    // (in the simulator `seconds` counts from 0, so the connect is what precedes the window)
    const start = plain.seconds - (plain.sendSeconds ?? 0) - (plain.drainSeconds ?? 0);
    const from = start + 1;
    const to = start + (plain.sendSeconds ?? 0);
    const expected = ((bytesAt(plain.timeline, to) - bytesAt(plain.timeline, from)) * 8) / (to - from) / 1e6;
    expect(omitted.goodputMbps).toBeCloseTo(expected, 1);
    expect(omitted.goodputMbps).not.toBe(plain.goodputMbps);
  });

  it('per-interval retransmissions add up to the run’s counters', async () => {
    const file = join(dir, 'lossy.yaml');
    writeFileSync(
      file,
      [
        'name: lossy-w',
        'defaults:',
        '  node: { kind: host, stack: ts }',
        '  link: { rate: 10mbit, delay: 5ms, loss: 1% }',
        'nodes:',
        '  a: {}',
        '  b: {}',
        'links:',
        '  - endpoints: [a:eth1, b:eth1]',
        '  - endpoints: [a:eth2, b:eth2]',
        '',
      ].join('\n'),
    );
    const lossy = await loadTopology(file);
    const r = simulateRun(lossy, { from: 'a', to: 'b', stack: 'ts', timeMs: 2000 }, { seed: 2 }).result;
    expect(r.integrity).toBe('ok');
    const sum = r.timeline.reduce((n, p) => n + (p.retrans ?? 0), 0);
    expect(sum).toBeGreaterThan(0);
    expect(r.counters?.retrans).toBe(sum);
    for (const p of r.timeline) expect(p.retrans).toBe(p.subflows.reduce((n, s) => n + (s.retrans ?? 0), 0));
    // two subflows over lossy paths: the data level sees bytes out of order
    expect(r.counters?.oooBytes).toBeGreaterThan(0);
  });
});
