/**
 * Lab vs simulator agreement: what the agreement test (test/integration/simlab/agreement.test.ts)
 * measures for one `mplab run` done both ways, and the table docs/simulator.md shows from the test's
 * own JSON artifact (docs/simulator-agreement.json; `npx tsx scripts/sim-agreement.ts --write-docs`
 * renders it, a unit test checks the doc matches).
 *
 * Agreement means: goodput within 10 %, median RTT (weighted by the data each sample carried) within
 * 10 %, and exactly the same set of address pairs carrying data.
 */
import type { RunResult } from '../run/result';

export const GOODPUT_TOLERANCE = 0.1;
export const RTT_TOLERANCE = 0.1;

/** Address pairs ("10.0.1.1 > 10.0.1.2") of the subflows that carried payload, sorted. */
export function carryingPairs(r: RunResult): string[] {
  const strip = (ep: string) => ep.replace(/^\[?(.*?)\]?:\d+$/, '$1');
  const set = new Set(
    r.subflows.filter((s) => s.bytes > 0).map((s) => `${strip(s.local)} > ${strip(s.remote)}`),
  );
  return [...set].sort();
}

/**
 * The median smoothed RTT (ms) the data saw: every timeline sample of every subflow moving data,
 * weighted by the rate it carried in that interval; NaN if none. Unweighted, the median of a run
 * over a fast and a slow path (WiFi at 20 ms carrying 90 %, 3G at 300 ms) lands anywhere between
 * the two paths' values, since each path gives one sample per interval whatever it carries: the
 * same run measured twice could differ by 50 %.
 */
export function medianRttMs(r: RunResult): number {
  const xs: { rtt: number; w: number }[] = [];
  let total = 0;
  for (const p of r.timeline)
    for (const s of p.subflows)
      if (s.mbps > 0 && s.srttMs !== undefined && s.srttMs > 0) {
        xs.push({ rtt: s.srttMs, w: s.mbps });
        total += s.mbps;
      }
  if (xs.length === 0) return Number.NaN;
  xs.sort((a, b) => a.rtt - b.rtt);
  // the lower weighted median, averaged with the next sample when the weight splits exactly in two
  let acc = 0;
  for (let i = 0; i < xs.length; i++) {
    acc += xs[i]!.w;
    if (acc > total / 2) return xs[i]!.rtt;
    if (acc === total / 2) return (xs[i]!.rtt + xs[i + 1]!.rtt) / 2;
  }
  return xs[xs.length - 1]!.rtt;
}

export interface AgreementRow {
  /** "two-host", "two-host (1 % loss)", … */
  case: string;
  command: string;
  lab: { goodputMbps: number; medianRttMs: number; pairs: string[]; integrity: string };
  sim: { goodputMbps: number; medianRttMs: number; pairs: string[]; integrity: string };
  /** sim / lab - 1 */
  goodputDiff: number;
  rttDiff: number;
  pairsEqual: boolean;
  agree: boolean;
  /** 1-minute load average per core right after the lab run (above 1: the lab competed for CPU). */
  labLoadPerCore?: number;
  /**
   * CPU over the lab run itself: the busiest lab process in cores (an agent near 1 is the
   * bottleneck) and the machine's busy fraction across cores.
   */
  labCpu?: { busiestProcess: number; machineBusy: number };
}

export interface AgreementFile {
  /** ISO time the test wrote it. */
  written: string;
  machine: string;
  rows: AgreementRow[];
}

export function compareRuns(name: string, command: string, lab: RunResult, sim: RunResult): AgreementRow {
  const side = (r: RunResult) => ({
    goodputMbps: r.goodputMbps,
    medianRttMs: Math.round(medianRttMs(r) * 100) / 100,
    pairs: carryingPairs(r),
    integrity: r.integrity,
  });
  const l = side(lab);
  const s = side(sim);
  const goodputDiff = l.goodputMbps > 0 ? s.goodputMbps / l.goodputMbps - 1 : Number.NaN;
  const rttDiff = l.medianRttMs > 0 ? s.medianRttMs / l.medianRttMs - 1 : Number.NaN;
  const pairsEqual = JSON.stringify(l.pairs) === JSON.stringify(s.pairs);
  const agree =
    l.integrity === 'ok' &&
    s.integrity === 'ok' &&
    Math.abs(goodputDiff) <= GOODPUT_TOLERANCE &&
    Math.abs(rttDiff) <= RTT_TOLERANCE &&
    pairsEqual;
  return {
    case: name,
    command,
    lab: l,
    sim: s,
    goodputDiff: Math.round(goodputDiff * 10000) / 10000,
    rttDiff: Math.round(rttDiff * 10000) / 10000,
    pairsEqual,
    agree,
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %` : '–');
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

export const TABLE_BEGIN =
  '<!-- agreement table: generated from docs/simulator-agreement.json, do not edit -->';
export const TABLE_END = '<!-- end of agreement table -->';

/** The Markdown table (between its markers) docs/simulator.md carries. */
function cpuOf(r: AgreementRow): string {
  if (r.labCpu)
    return `${r.labCpu.busiestProcess.toFixed(2)} core, ${Math.round(r.labCpu.machineBusy * 100)} % busy`;
  return r.labLoadPerCore !== undefined ? `load ${r.labLoadPerCore.toFixed(2)}/core` : '–';
}

export function renderAgreement(f: AgreementFile): string {
  const lines = [
    TABLE_BEGIN,
    '',
    `Measured ${f.written} on ${f.machine}.`,
    '',
    '| case | lab Mbit/s | sim Mbit/s | Δ goodput | lab median RTT ms | sim median RTT ms | Δ RTT | pairs carrying data (lab = sim?) | CPU in the lab run (busiest process, machine) | agree |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of f.rows) {
    const pairs = r.pairsEqual
      ? `${r.lab.pairs.join(', ')} (same)`
      : `lab: ${r.lab.pairs.join(', ')}; sim: ${r.sim.pairs.join(', ')}`;
    lines.push(
      `| ${r.case} | ${num(r.lab.goodputMbps)} | ${num(r.sim.goodputMbps)} | ${pct(r.goodputDiff)} | ${num(r.lab.medianRttMs)} | ${num(r.sim.medianRttMs)} | ${pct(r.rttDiff)} | ${pairs} | ${cpuOf(r)} | ${r.agree ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('', 'Runs (each once in a netns lab with our agents, once in the simulator):', '');
  for (const r of f.rows) lines.push(`- ${r.case}: ${r.command}`);
  lines.push('', TABLE_END);
  return lines.join('\n');
}

/** The doc with its table replaced by the rendering of `f` (markers must be present). */
export function withAgreementTable(doc: string, f: AgreementFile): string {
  const a = doc.indexOf(TABLE_BEGIN);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error('docs/simulator.md has no agreement table markers');
  return doc.slice(0, a) + renderAgreement(f) + doc.slice(b + TABLE_END.length);
}
