/** The pieces of a run: the timeline builder, `ss` parsing, integrity verdicts, plots by extension. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPlotPath, writePlot } from '../../../lab/run/plot';
import type { RunResult } from '../../../lab/run/result';
import { pathMbpsBetween, TimelineBuilder } from '../../../lab/run/timeline';
import { integrityOf } from '../../../lab/run/util';

const dir = mkdtempSync(join(tmpdir(), 'mplab-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TimelineBuilder', () => {
  it('matches sink and sender figures by 4-tuple: throughput from the sink, cwnd/RTT and numbering from the sender', () => {
    const tl = new TimelineBuilder();
    const send = (b1: number, b2: number) => [
      { pathIndex: 1, local: '10.0.1.1:4000', remote: '10.0.1.2:5001', bytes: b1, cwnd: 14600, srttMs: 20 },
      { pathIndex: 2, local: '10.0.2.1:4001', remote: '10.0.2.2:5001', bytes: b2, cwnd: 2920, srttMs: 150 },
    ];
    // the sink numbers its subflows its own way (here reversed): the sender's numbers win
    const sink = (b1: number, b2: number) => [
      { pathIndex: 2, local: '10.0.1.2:5001', remote: '10.0.1.1:4000', bytes: b1 },
      { pathIndex: 1, local: '10.0.2.2:5001', remote: '10.0.2.1:4001', bytes: b2 },
    ];
    tl.sample(1, 1_250_000, sink(1_000_000, 250_000), send(1_100_000, 260_000));
    const p = tl.sample(2, 2_500_000, sink(2_000_000, 500_000), send(2_200_000, 520_000));
    expect(p).toEqual({
      t: 2,
      total: 10,
      bytes: 2_500_000,
      subflows: [
        { pathIndex: 1, mbps: 8, cwnd: 14600, srttMs: 20 },
        { pathIndex: 2, mbps: 2, cwnd: 2920, srttMs: 150 },
      ],
    });
    expect(tl.subflows()).toEqual([
      { pathIndex: 1, local: '10.0.1.1:4000', remote: '10.0.1.2:5001', bytes: 2_000_000 },
      { pathIndex: 2, local: '10.0.2.1:4001', remote: '10.0.2.2:5001', bytes: 500_000 },
    ]);
    expect(pathMbpsBetween(tl.points, 1, 0, 2)).toBe(8);
  });

  it('a subflow that disappears keeps its bytes and shows zero; without sink figures the sender bytes count', () => {
    const tl = new TimelineBuilder();
    tl.sample(0.5, 0, [], [{ pathIndex: 1, local: 'a:1', remote: 'b:2', bytes: 125_000 }]);
    const p = tl.sample(1, 0, [], []);
    expect(p.subflows).toEqual([{ pathIndex: 1, mbps: 0 }]);
    expect(tl.subflows()[0]!.bytes).toBe(125_000);
    expect(tl.points[0]!.subflows[0]!.mbps).toBe(2);
  });
});

describe('integrityOf', () => {
  const ok = { bytes: 10, sha256: 'ab' };
  it('ok only when bytes and hashes match and neither end failed', () => {
    expect(integrityOf(ok, ok)).toBe('ok');
    expect(integrityOf(ok, { bytes: 9, sha256: 'ab' })).toBe('short transfer: 9 of 10 bytes arrived');
    expect(integrityOf(ok, { bytes: 10, sha256: 'cd' })).toMatch(/^SHA-256 mismatch/);
    expect(integrityOf(ok, { ...ok, error: { code: 'ECONNRESET', message: 'reset' } })).toBe(
      'receiver: ECONNRESET: reset',
    );
    expect(integrityOf(undefined, ok)).toMatch(/sender/);
  });
});

describe('plots', () => {
  const r: RunResult = {
    lab: 'x',
    from: 'a',
    to: 'b',
    stack: 'ts',
    sim: true,
    bytes: 1,
    seconds: 2,
    goodputMbps: 1,
    integrity: 'ok',
    subflows: [{ pathIndex: 1, local: '10.0.1.1:1', remote: '10.0.1.2:2', bytes: 1 }],
    timeline: [
      { t: 1, total: 5, subflows: [{ pathIndex: 1, mbps: 5 }] },
      { t: 2, total: 0, subflows: [{ pathIndex: 1, mbps: 0 }] },
    ],
    events: [{ t: 1.5, at: 1.5, what: 'link a:eth1 down' }],
  };
  it('by extension: SVG text or PNG bytes; anything else is a usage error', () => {
    writePlot(r, join(dir, 'p.svg'));
    const svg = readFileSync(join(dir, 'p.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('link a:eth1 down');
    writePlot(r, join(dir, 'p.png'));
    expect(readFileSync(join(dir, 'p.png')).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(() => checkPlotPath('p.pdf')).toThrow(/\.svg or \.png/);
  });
});
