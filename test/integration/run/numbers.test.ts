import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { Lab } from '../../../lab/lab';
import type { RunResult } from '../../../lab/run/result';
import { bytesAt } from '../../../lab/run/window';
import { caps } from '../../helpers/caps';
import { agentEntry, ensureDistAgent, bundleForSuite } from '../lab/bundle';
import { labName, labScope } from '../lab/helpers';

const hasAgent = existsSync(agentEntry);
const tmp = mkdtempSync(join(tmpdir(), 'mplab-numbers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** Two 20 Mbit/s paths: the run's goodput can never exceed 40 Mbit/s. */
const RATE = 20;
const topo = join(tmp, 'two-20.yaml');
writeFileSync(
  topo,
  [
    'name: two-20',
    'defaults:',
    '  node: { kind: host, stack: ts }',
    `  link: { rate: ${RATE}mbit, queue: 100 packets }`,
    'nodes:',
    '  a: {}',
    '  b: {}',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [a:eth2, b:eth2]',
    '',
  ].join('\n'),
);
const kernelTopo = join(tmp, 'two-20-kernel.yaml');
writeFileSync(
  kernelTopo,
  [
    'name: two-20k',
    'defaults:',
    '  node: { kind: host, stack: kernel }',
    `  link: { rate: ${RATE}mbit, queue: 100 packets }`,
    'nodes:',
    '  a: {}',
    '  b: {}',
    'links:',
    '  - endpoints: [a:eth1, b:eth1]',
    '  - endpoints: [a:eth2, b:eth2]',
    '',
  ].join('\n'),
);

/** What a 5 s timed run must show, whatever ran it. */
function expectTimedWindow(r: RunResult, paths: number): void {
  expect(r.integrity).toBe('ok');
  expect(r.sendSeconds).toBeGreaterThan(4.8);
  expect(r.sendSeconds).toBeLessThan(5.2);
  expect(r.goodputMbps).toBeGreaterThan(0);
  // the shaped links' rate bounds it (tbf's burst allows a little over for an instant)
  expect(r.goodputMbps).toBeLessThanOrEqual(paths * RATE * 1.05);
  expect(r.drainSeconds).toBeGreaterThanOrEqual(0);
  expect(r.windowBytes).toBeLessThanOrEqual(r.bytes);
  // the figure is what the timeline says arrived within the window
  const from = r.startSeconds ?? 0;
  const to = from + (r.sendSeconds ?? 0);
  const inWindow = bytesAt(r.timeline, to) - bytesAt(r.timeline, from);
  // (start and window are rounded to the µs in the result)
  expect(Math.abs(inWindow - (r.windowBytes ?? 0))).toBeLessThanOrEqual(64);
}

describe.skipIf(!caps.netns || !hasAgent)('run semantics in a lab', () => {
  labScope();
  // the bundle goes after this suite: later labs (the kernel's, whose ends run the agent bundle)
  // use their own
  const bundled = bundleForSuite();
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up(topo, { name: labName('n') });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('--time 5: a window of 5 s ± 0.2 s, goodput within the links’ rate, the drain apart, counters per interval', async () => {
    const r = await lab.run({ from: 'a', to: 'b', timeMs: 5000, stack: 'ts', intervalMs: 100 });
    expectTimedWindow(r, 2);
    // counted from the first interval in which both ends had reported (the sender's first progress
    // may come after the sink's first sample), then in every interval
    const has = (p: (typeof r.timeline)[number]) => p.retrans !== undefined && p.oooBytes !== undefined;
    const first = r.timeline.findIndex(has);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(3);
    expect(r.timeline.slice(first).every(has)).toBe(true);
    expect(r.counters?.retrans).toBe(r.timeline.reduce((n, p) => n + (p.retrans ?? 0), 0));
  }, 60_000);

  it('--omit 1: the first second marked and left out of the figure, the rest as measured', async () => {
    const r = await lab.run({ from: 'a', to: 'b', timeMs: 4000, omitMs: 1000, stack: 'ts', intervalMs: 100 });
    expect(r.integrity).toBe('ok');
    expect(r.omitSeconds).toBe(1);
    const start = r.startSeconds ?? 0;
    const marked = r.timeline.filter((p) => p.omitted);
    expect(marked.length).toBeGreaterThan(0);
    for (const p of marked) expect(p.t).toBeLessThanOrEqual(start + 1 + 0.25);
    for (const p of r.timeline.filter((q) => !q.omitted)) expect(p.t).toBeGreaterThan(start + 1);
    const from = start + 1;
    const to = start + (r.sendSeconds ?? 0);
    const expected = ((bytesAt(r.timeline, to) - bytesAt(r.timeline, from)) * 8) / (to - from) / 1e6;
    expect(r.goodputMbps).toBeCloseTo(expected, 2);
  }, 60_000);

  it('--json-stream: every line parses, intervals arrive while the run goes on, the last line is the result', async () => {
    const b = bundled();
    const run = spawnCli(
      b.cli,
      ['run', 'a', 'b', '--lab', lab.name, '--time', '3', '--interval', '200ms', '--json-stream'],
      { agent: b.agent ?? '' },
    );
    const arrivals: { at: number; line: string }[] = [];
    let buf = '';
    run.child.stdout!.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        arrivals.push({ at: performance.now(), line: buf.slice(0, i) });
        buf = buf.slice(i + 1);
      }
    });
    const code = (await run.done).code;
    const ended = performance.now();
    expect(code).toBe(0);
    const objs = arrivals.map((a) => JSON.parse(a.line) as { event: string; data: Record<string, unknown> });
    const intervals = arrivals.filter((_a, i) => objs[i]!.event === 'interval');
    expect(intervals.length).toBeGreaterThanOrEqual(10);
    // the first interval came out well before the run finished: streamed, not printed at the end
    expect(ended - intervals[0]!.at).toBeGreaterThan(1500);
    const last = objs[objs.length - 1]!;
    expect(last.event).toBe('end');
    expect(last.data.integrity).toBe('ok');
  }, 60_000);

  it('--parallel 2: two connections, each with its own integrity check; the figures add up', async () => {
    const r = await lab.run({ from: 'a', to: 'b', timeMs: 3000, parallel: 2, stack: 'ts', intervalMs: 100 });
    expect(r.integrity).toBe('ok');
    expect(r.parallel).toBe(2);
    expect(r.connections).toHaveLength(2);
    for (const c of r.connections!) {
      expect(c.integrity).toBe('ok');
      expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(c.bytes).toBeGreaterThan(0);
    }
    const ports = r.connections!.map((c) => c.subflows[0]?.remote.split(':')[1]);
    expect(new Set(ports).size).toBe(2);
    expect(r.bytes).toBe(r.connections!.reduce((n, c) => n + c.bytes, 0));
    expect(r.goodputMbps).toBeLessThanOrEqual(2 * RATE * 1.05);
    const last = r.timeline[r.timeline.length - 1]!;
    expect(Math.abs((last.bytes ?? 0) - r.bytes)).toBeLessThanOrEqual(r.bytes * 0.01);
  }, 60_000);

  it('--bidir: both directions at once, each checked', async () => {
    const r = await lab.run({ from: 'a', to: 'b', timeMs: 3000, bidir: true, stack: 'ts', intervalMs: 100 });
    expect(r.integrity).toBe('ok');
    expect(r.bidir).toMatchObject({ from: 'b', to: 'a', integrity: 'ok' });
    expect(r.bidir!.bytes).toBeGreaterThan(0);
    expect(r.connections!.map((c) => c.direction)).toEqual(['forward', 'reverse']);
  }, 60_000);
});

describe.skipIf(!caps.netns || !hasAgent || !caps.kernelMptcp)(
  "the kernel's MPTCP measured the same way",
  () => {
    labScope();
    let lab: Lab;
    beforeAll(async () => {
      // the kernel ends are the agent bundle's --kernel-traffic program
      await ensureDistAgent();
      lab = await Lab.up(kernelTopo, { name: labName('k') });
    }, 120_000);
    afterAll(async () => {
      await lab?.down();
    });

    it('--time 5 --stack kernel: the same window semantics; --parallel 2 with integrity each', async () => {
      const r = await lab.run({ from: 'a', to: 'b', timeMs: 5000, stack: 'kernel', intervalMs: 100 });
      expectTimedWindow(r, 2);
      expect(r.timeline.some((p) => p.retrans !== undefined)).toBe(true);
      const p = await lab.run({
        from: 'a',
        to: 'b',
        timeMs: 2000,
        parallel: 2,
        stack: 'kernel',
        intervalMs: 100,
      });
      expect(p.integrity).toBe('ok');
      expect(p.connections?.map((c) => c.integrity)).toEqual(['ok', 'ok']);
    }, 90_000);
  },
);
