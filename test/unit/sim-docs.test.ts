/**
 * docs/simulator.md carries the agreement table rendered from the agreement test's own artifact
 * (docs/simulator-agreement.json), not a hand-edited one; and the rendering says what it compares.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type AgreementFile,
  carryingPairs,
  compareRuns,
  medianRttMs,
  renderAgreement,
  TABLE_BEGIN,
  TABLE_END,
  withAgreementTable,
} from '../../lab/sim/agreement';
import type { RunResult } from '../../lab/run/result';

const root = fileURLToPath(new URL('../../', import.meta.url));

function result(goodput: number, rtts: number[], pairs: [string, string, number][]): RunResult {
  return {
    lab: 'x',
    from: 'a',
    to: 'b',
    stack: 'ts',
    sim: false,
    bytes: 1,
    seconds: 1,
    goodputMbps: goodput,
    integrity: 'ok',
    subflows: pairs.map(([l, r, bytes], i) => ({ pathIndex: i + 1, local: l, remote: r, bytes })),
    timeline: rtts.map((srttMs, i) => ({ t: i, total: 1, subflows: [{ pathIndex: 1, mbps: 1, srttMs }] })),
    events: [],
  };
}

describe('the agreement table', () => {
  it('docs/simulator.md holds exactly the rendering of docs/simulator-agreement.json', () => {
    const f = JSON.parse(readFileSync(`${root}docs/simulator-agreement.json`, 'utf8')) as AgreementFile;
    const doc = readFileSync(`${root}docs/simulator.md`, 'utf8');
    expect(doc).toContain(TABLE_BEGIN);
    expect(doc).toContain(TABLE_END);
    expect(withAgreementTable(doc, f)).toBe(doc);
    expect(f.rows.length).toBeGreaterThanOrEqual(6);
  });

  it('takes the median RTT the data saw: samples weighted by the rate they carried', () => {
    // WiFi at ~20 ms carrying 18 Mbit/s and 3G at ~300 ms carrying 2 Mbit/s, one sample each per
    // interval: unweighted, the median would sit between the two paths
    const r = result(20, [], []);
    r.timeline = [0, 1, 2].map((t) => ({
      t,
      total: 20,
      subflows: [
        { pathIndex: 1, mbps: 18, srttMs: 20 + t },
        { pathIndex: 2, mbps: 2, srttMs: 300 + t },
      ],
    }));
    expect(medianRttMs(r)).toBe(21);
    // equal weights split exactly in two: the mean of the middle pair, as an ordinary median
    r.timeline = [
      {
        t: 0,
        total: 2,
        subflows: [
          { pathIndex: 1, mbps: 1, srttMs: 10 },
          { pathIndex: 2, mbps: 1, srttMs: 30 },
        ],
      },
    ];
    expect(medianRttMs(r)).toBe(20);
    r.timeline = [];
    expect(medianRttMs(r)).toBeNaN();
  });

  it('compares goodput, median RTT and the pairs carrying data', () => {
    const lab = result(
      100,
      [10, 11, 12],
      [
        ['10.0.1.1:1000', '10.0.1.2:5001', 5],
        ['10.0.2.1:1001', '10.0.1.2:5001', 0],
      ],
    );
    const sim = result(95, [12, 12, 13], [['10.0.1.1:2000', '10.0.1.2:5001', 9]]);
    expect(carryingPairs(lab)).toEqual(['10.0.1.1 > 10.0.1.2']);
    expect(medianRttMs(lab)).toBe(11);
    const row = compareRuns('c', 'mplab run a b', lab, sim);
    expect(row.goodputDiff).toBeCloseTo(-0.05);
    expect(row.rttDiff).toBeCloseTo(12 / 11 - 1, 3);
    expect(row.pairsEqual).toBe(true);
    expect(row.agree).toBe(true);
    const off = compareRuns('c', 'x', lab, result(80, [11], [['10.0.2.1:1', '10.0.1.2:5001', 1]]));
    expect(off.agree).toBe(false);
    expect(renderAgreement({ written: 'd', machine: 'm', rows: [row, off] })).toMatch(
      /\| c \| 100\.00 \| 80\.00 \| -20\.0 % .*\*\*no\*\* \|/,
    );
  });
});
