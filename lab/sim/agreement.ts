/**
 * Lab vs simulator agreement: what the agreement test (test/integration/simlab/agreement.test.ts)
 * measures for one `mplab run` done both ways, and the table docs/simulator.md shows from the test's
 * own JSON artifact (docs/simulator-agreement.json; `npx tsx scripts/sim-agreement.ts --write-docs`
 * renders it, a unit test checks the doc matches).
 *
 * Agreement means: goodput and median RTT (weighted by the data each sample carried) within the
 * range the simulator's seeds span, give or take 10 % (the RTT's upper edge 2 ms higher for the
 * lab's per-packet processing), and the same address pairs carrying data
 * (every pair all seeds use, no pair none uses). Where the seeds' own RTTs spread wider than the
 * tolerance (a deep drop-tail queue that a loss-based sender fills and halves in a sawtooth
 * seconds long: where a 4 s run stops in it sets its median), the RTT band widens by half that
 * spread: the model cannot promise the lab more than it agrees with itself.
 */
import type { RunResult } from '../run/result';

export const GOODPUT_TOLERANCE = 0.1;
export const RTT_TOLERANCE = 0.1;
/**
 * Milliseconds a lab round trip may exceed the simulator's range by, besides the tolerance: the
 * lab's hosts take time per packet (the agents' event loops at both ends; the simulator has no
 * CPU model), ~1 ms per round trip here, which is over 10 % of datacenter-multiport's 10 ms.
 */
export const RTT_SLACK_MS = 2;

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

/** What one side measured; for the simulator, over its seeds. */
export interface RunSide {
  /** The lab's figure; the simulator's median over its seeds. */
  goodputMbps: number;
  medianRttMs: number;
  /** Pairs carrying data; for the simulator, in any of its seeds. */
  pairs: string[];
  integrity: string;
}

export interface SimSide extends RunSide {
  seeds: number;
  /** Lowest and highest over the seeds. */
  goodputRange: [number, number];
  rttRange: [number, number];
  /** Pairs carrying data in every seed. */
  pairsInEvery: string[];
}

export interface AgreementRow {
  /** "two-host", "two-host (1 % loss)", … */
  case: string;
  command: string;
  lab: RunSide;
  sim: SimSide;
  /**
   * How far the lab's figure lies outside the simulator's range over its seeds, relative to the
   * nearer edge (lab / edge - 1): 0 inside it, negative below, positive above.
   */
  goodputOutside: number;
  rttOutside: number;
  /** The RTT tolerance this row is judged by: RTT_TOLERANCE, or half the seeds' spread if wider. */
  rttTolerance: number;
  /** The lab's pairs include those of every seed and lie within those of some seed. */
  pairsMatch: boolean;
  agree: boolean;
  /** 1-minute load average per core right after the lab run (above 1: the lab competed for CPU). */
  labLoadPerCore?: number;
  /**
   * CPU over the lab run itself: the busiest lab process in cores (an agent near 1 is the
   * bottleneck), the machine's busy fraction across cores, and the longest mean wait for a core
   * per wake-up of a lab process.
   */
  labCpu?: { busiestProcess: number; machineBusy: number; waitPerWakeMs?: number };
}

export interface AgreementFile {
  /** ISO time the test wrote it. */
  written: string;
  machine: string;
  rows: AgreementRow[];
}

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** lab / edge - 1 for a figure outside [lo, hi]; 0 inside; NaN when either is not a number. */
export function outside(lab: number, [lo, hi]: [number, number]): number {
  if (!Number.isFinite(lab) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.NaN;
  if (lab < lo) return lo > 0 ? lab / lo - 1 : Number.NaN;
  if (lab > hi) return hi > 0 ? lab / hi - 1 : Number.NaN;
  return 0;
}

/** RTT_TOLERANCE, or half the relative spread of the seeds' RTTs when that is wider. */
export function rttToleranceOf([lo, hi]: [number, number]): number {
  const spread = lo > 0 && Number.isFinite(hi) ? (hi - lo) / lo : 0;
  return Math.max(RTT_TOLERANCE, spread / 2);
}

/**
 * One lab run against the simulator's runs of the same command over several seeds. A run whose
 * outcome hangs on timing (a lossy slow path that blocks the fast ones, the moment slow start
 * first overflows a queue) has no single simulated answer: on three-path, seeds give 41 or
 * 64 Mbit/s and 96 or 56 ms. The simulator's answer is the range its seeds span, and the lab
 * agrees when its figures lie within it, give or take the tolerance.
 */
export function compareRuns(name: string, command: string, lab: RunResult, sims: RunResult[]): AgreementRow {
  if (sims.length === 0) throw new Error('compareRuns needs at least one simulated run');
  const l: RunSide = {
    goodputMbps: lab.goodputMbps,
    medianRttMs: round(medianRttMs(lab), 2),
    pairs: carryingPairs(lab),
    integrity: lab.integrity,
  };
  const goodputs = sims.map((r) => r.goodputMbps);
  const rtts = sims.map(medianRttMs);
  const pairSets = sims.map(carryingPairs);
  const union = [...new Set(pairSets.flat())].sort();
  const every = union.filter((p) => pairSets.every((ps) => ps.includes(p)));
  const s: SimSide = {
    goodputMbps: round(median(goodputs), 3),
    medianRttMs: round(median(rtts), 2),
    pairs: union,
    integrity: sims.find((r) => r.integrity !== 'ok')?.integrity ?? 'ok',
    seeds: sims.length,
    goodputRange: [round(Math.min(...goodputs), 3), round(Math.max(...goodputs), 3)],
    rttRange: [round(Math.min(...rtts), 2), round(Math.max(...rtts), 2)],
    pairsInEvery: every,
  };
  const goodputOutside = outside(l.goodputMbps, s.goodputRange);
  const rttOutside = outside(l.medianRttMs, [s.rttRange[0], s.rttRange[1] + RTT_SLACK_MS]);
  const pairsMatch = every.every((p) => l.pairs.includes(p)) && l.pairs.every((p) => union.includes(p));
  const rttTolerance = rttToleranceOf(s.rttRange);
  const agree =
    l.integrity === 'ok' &&
    s.integrity === 'ok' &&
    Math.abs(goodputOutside) <= GOODPUT_TOLERANCE &&
    Math.abs(rttOutside) <= rttTolerance &&
    pairsMatch;
  return {
    case: name,
    command,
    lab: l,
    sim: s,
    goodputOutside: round(goodputOutside, 4),
    rttOutside: round(rttOutside, 4),
    rttTolerance: round(rttTolerance, 4),
    pairsMatch,
    agree,
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %` : '–');
const off = (x: number) => (x === 0 ? 'inside' : pct(x));
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

export const TABLE_BEGIN =
  '<!-- agreement table: generated from docs/simulator-agreement.json, do not edit -->';
export const TABLE_END = '<!-- end of agreement table -->';

function cpuOf(r: AgreementRow): string {
  if (r.labCpu)
    return `${r.labCpu.busiestProcess.toFixed(2)} core, ${Math.round(r.labCpu.machineBusy * 100)} % busy${r.labCpu.waitPerWakeMs !== undefined ? `, ${r.labCpu.waitPerWakeMs.toFixed(3)} ms wait/wake-up` : ''}`;
  return r.labLoadPerCore !== undefined ? `load ${r.labLoadPerCore.toFixed(2)}/core` : '–';
}

const range = (m: number, [lo, hi]: [number, number]) =>
  lo === hi ? num(m) : `${num(m)} (${num(lo)}–${num(hi)})`;

/** The Markdown table (between its markers) docs/simulator.md carries. */
export function renderAgreement(f: AgreementFile): string {
  const seeds = [...new Set(f.rows.map((r) => r.sim.seeds))].join(' or ');
  const lines = [
    TABLE_BEGIN,
    '',
    `Measured ${f.written} on ${f.machine}; the simulator over ${seeds} seeds (median, and range where the seeds differ).`,
    '',
    '| case | lab Mbit/s | sim Mbit/s | lab outside sim range | lab median RTT ms | sim median RTT ms | lab outside sim range | pairs carrying data (lab = sim?) | CPU in the lab run (busiest process, machine) | agree |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of f.rows) {
    const list = (ps: string[]) => ps.join(', ') || 'none';
    const steady = r.sim.pairsInEvery.length === r.sim.pairs.length;
    const pairs =
      steady && JSON.stringify(r.lab.pairs) === JSON.stringify(r.sim.pairs)
        ? `${list(r.lab.pairs)} (same)`
        : `lab: ${list(r.lab.pairs)}; sim, any seed: ${list(r.sim.pairs)}; every seed: ${list(r.sim.pairsInEvery)} (${r.pairsMatch ? 'consistent' : 'differ'})`;
    lines.push(
      `| ${r.case} | ${num(r.lab.goodputMbps)} | ${range(r.sim.goodputMbps, r.sim.goodputRange)} | ${off(r.goodputOutside)} | ${num(r.lab.medianRttMs)} | ${range(r.sim.medianRttMs, r.sim.rttRange)} | ${off(r.rttOutside)} | ${pairs} | ${cpuOf(r)} | ${r.agree ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('', 'Runs (each once in a netns lab with our agents, and in the simulator once per seed):', '');
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
