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
  RTT_TOLERANCE,
  renderAgreement,
  rttToleranceOf,
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

  it('compares goodput, median RTT and the pairs carrying data with the range over seeds', () => {
    const lab = result(
      100,
      [10, 11, 12],
      [
        ['10.0.1.1:1000', '10.0.1.2:5001', 5],
        ['10.0.2.1:1001', '10.0.1.2:5001', 0],
      ],
    );
    expect(carryingPairs(lab)).toEqual(['10.0.1.1 > 10.0.1.2']);
    expect(medianRttMs(lab)).toBe(11);
    // two seeds that disagree with each other: the lab between them agrees
    const seedA = result(95, [12, 12, 13], [['10.0.1.1:2000', '10.0.1.2:5001', 9]]);
    const seedB = result(
      120,
      [9],
      [
        ['10.0.1.1:2000', '10.0.1.2:5001', 9],
        ['10.0.2.1:2001', '10.0.1.2:5001', 3],
      ],
    );
    const row = compareRuns('c', 'mplab run a b', lab, [seedA, seedB]);
    expect(row.sim.goodputRange).toEqual([95, 120]);
    expect(row.sim.rttRange).toEqual([9, 12]);
    expect(row.sim.goodputMbps).toBe(107.5);
    expect(row.goodputOutside).toBe(0);
    expect(row.rttOutside).toBe(0);
    // 10.0.2.1 carried data in one seed only: the lab need not use it
    expect(row.sim.pairsInEvery).toEqual(['10.0.1.1 > 10.0.1.2']);
    expect(row.pairsMatch).toBe(true);
    expect(row.agree).toBe(true);
    // one seed: its figure is the range; 20 % off goodput and a pair the simulator never used
    const off = compareRuns('c', 'x', lab, [result(80, [11], [['10.0.2.1:1', '10.0.1.2:5001', 1]])]);
    expect(off.goodputOutside).toBeCloseTo(100 / 80 - 1);
    expect(off.pairsMatch).toBe(false);
    expect(off.agree).toBe(false);
    const below = compareRuns('c', 'x', lab, [result(120, [11], [['10.0.1.1:1', '10.0.1.2:5001', 1]])]);
    expect(below.goodputOutside).toBeCloseTo(100 / 120 - 1);
    expect(below.agree).toBe(false);
    const table = renderAgreement({ written: 'd', machine: 'm', rows: [row, off] });
    expect(table).toMatch(/\| c \| 100\.00 \| 107\.50 \(95\.00–120\.00\) \| inside \| .*\| yes \|/);
    expect(table).toMatch(/\| c \| 100\.00 \| 80\.00 \| \+25\.0 % .*\(differ\).*\*\*no\*\* \|/);
    expect(() => compareRuns('c', 'x', lab, [])).toThrow(/at least one/);
  });

  it("widens the RTT band by half the seeds' own spread, never below the tolerance", () => {
    expect(rttToleranceOf([10, 10])).toBe(RTT_TOLERANCE);
    expect(rttToleranceOf([10, 11.5])).toBe(RTT_TOLERANCE);
    // three-path: seeds at 56 and 96 ms (a queue sawtooth): a lab run at 42 ms is 25 % below
    expect(rttToleranceOf([56, 96])).toBeCloseTo(40 / 56 / 2);
    const pair: [string, string, number][] = [['10.0.1.1:1', '10.0.1.2:5001', 1]];
    const lab = result(60, [42], pair);
    const row = compareRuns('c', 'x', lab, [result(60, [56], pair), result(60, [96], pair)]);
    expect(row.rttOutside).toBeCloseTo(42 / 56 - 1);
    expect(row.agree).toBe(true);
    // seeds that agree with each other keep the 10 %: the same lab run is then off
    const tight = compareRuns('c', 'x', lab, [result(60, [56], pair), result(60, [57], pair)]);
    expect(tight.rttTolerance).toBe(RTT_TOLERANCE);
    expect(tight.agree).toBe(false);
  });
});
