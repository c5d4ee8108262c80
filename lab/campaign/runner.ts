/**
 * Runs a campaign: every planned run in a fresh lab, one JSON per run written atomically, so a
 * campaign killed at any point resumes where it stopped without redoing finished runs. Results
 * are then gathered into results.csv, summary.json / summary.md (mean, median, 95% CI per cell)
 * and plots.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors';
import type { RunResult } from '../run/result';
import type { Axis, AxisValue, PlannedRun } from './matrix';
import { plan } from './matrix';
import { svgToPng } from '../plot/png';
import { loadNow, type MachineInfo, machineInfo } from './machine';
import { cellChartSvg } from './plot';
import type { Summary } from './stats';
import { summarize } from './stats';

/** A cell whose goodput's coefficient of variation (stddev / mean) exceeds this is flagged. */
export const DEFAULT_VARIANCE_THRESHOLD = 0.1;

export interface CampaignSpec {
  name: string;
  axes: Axis[];
  repetitions: number;
  seed: number;
  /** Anything else that defines the runs (topology, endpoints, duration): hashed for --resume. */
  base: Record<string, unknown>;
}

export interface RunRecord {
  id: string;
  cell: string;
  repetition: number;
  seed: number;
  assignments: Record<string, AxisValue>;
  startedAt: string;
  wallSeconds: number;
  /** 1/5/15-minute load averages just before and just after the run. */
  load?: { start: [number, number, number]; end: [number, number, number] };
  result?: RunResult;
  error?: string;
}

/** One invocation of the campaign (a campaign resumed twice has three): where and under what load. */
export interface CampaignSession {
  startedAt: string;
  endedAt?: string;
  machine: MachineInfo;
  loadStart: [number, number, number];
  loadEnd?: [number, number, number];
  /** Runs made in this session. */
  ran: number;
}

export interface CampaignProgress {
  done: number;
  total: number;
  skipped: number;
  failed: number;
  current?: PlannedRun;
  /** Seconds left, from the mean wall time of the runs made so far in this invocation. */
  etaSeconds?: number;
}

export interface CampaignOptions {
  outDir: string;
  resume: boolean;
  runOne: (run: PlannedRun) => Promise<RunResult>;
  onProgress?: (p: CampaignProgress) => void;
  versions?: Record<string, string>;
  /** Checked between runs; when it returns true the campaign stops cleanly (resumable). */
  shouldStop?: () => boolean;
  /** Flag cells whose goodput varies more than this (coefficient of variation; default 0.1). */
  varianceThreshold?: number;
}

export interface CampaignOutcome {
  runs: RunRecord[];
  cells: CellSummary[];
  ranNow: number;
  skipped: number;
  failed: number;
  stopped: boolean;
}

export interface CellSummary {
  cell: string;
  assignments: Record<string, AxisValue>;
  goodputMbps: Summary;
  seconds: Summary;
  /** The drain after each run's sending window (not in its goodput). */
  drainSeconds: Summary;
  /** Each successful run's goodput, in repetition order (the raw runs are in runs/*.json). */
  values: number[];
  /** stddev / mean of the goodput (NaN for fewer than two runs). */
  cv: number;
  /** True when cv exceeds the campaign's variance threshold: look at the runs before trusting the mean. */
  highVariance: boolean;
  integrityOk: number;
  failed: number;
  /**
   * Every run of the cell was simulated over a model without random draws (its result carries the
   * simulator's "deterministic:" note): repetitions agree by construction, so no confidence
   * interval is printed for it.
   */
  deterministic?: boolean;
}

export function specHash(spec: CampaignSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

function writeAtomic(path: string, text: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function readRecord(path: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

function prepareDir(spec: CampaignSpec, opts: CampaignOptions): void {
  const manifest = join(opts.outDir, 'campaign.json');
  const hash = specHash(spec);
  if (existsSync(manifest)) {
    const old = JSON.parse(readFileSync(manifest, 'utf8')) as { specHash?: string };
    if (!opts.resume) {
      throw new UsageError(
        `${opts.outDir} already holds a campaign; pass --resume to continue it, or choose another -o`,
      );
    }
    if (old.specHash !== hash) {
      throw new UsageError(
        `${opts.outDir} holds a campaign made from a different file (its matrix, seed or runs changed); resume needs the same campaign`,
      );
    }
  } else if (existsSync(opts.outDir) && readdirSync(opts.outDir).length > 0 && !opts.resume) {
    throw new UsageError(`${opts.outDir} exists and is not empty; choose an empty or new directory`);
  }
  mkdirSync(join(opts.outDir, 'runs'), { recursive: true });
  if (!existsSync(manifest)) {
    writeAtomic(
      manifest,
      `${JSON.stringify({ spec, specHash: hash, versions: opts.versions ?? {}, createdAt: new Date().toISOString() }, null, 2)}\n`,
    );
  }
}

export async function runCampaign(spec: CampaignSpec, opts: CampaignOptions): Promise<CampaignOutcome> {
  prepareDir(spec, opts);
  const session: CampaignSession = {
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    loadStart: loadNow(),
    ran: 0,
  };
  const sessions = readSessions(opts.outDir);
  sessions.push(session);
  writeSessions(opts.outDir, sessions);
  const planned = plan(spec.axes, spec.repetitions, spec.seed);
  const records: RunRecord[] = [];
  let ranNow = 0;
  let skipped = 0;
  let failed = 0;
  let wallSpent = 0;
  let stopped = false;

  for (const [i, run] of planned.entries()) {
    const path = join(opts.outDir, 'runs', `${run.id}.json`);
    const existing = existsSync(path) ? readRecord(path) : undefined;
    if (existing?.result) {
      records.push(existing);
      skipped++;
      continue;
    }
    if (opts.shouldStop?.()) {
      stopped = true;
      break;
    }
    const remaining = planned.length - i;
    opts.onProgress?.({
      done: i,
      total: planned.length,
      skipped,
      failed,
      current: run,
      etaSeconds: ranNow > 0 ? (wallSpent / ranNow) * remaining : undefined,
    });
    const started = Date.now();
    const record: RunRecord = {
      id: run.id,
      cell: run.cell.id,
      repetition: run.repetition,
      seed: run.seed,
      assignments: run.cell.assignments,
      startedAt: new Date(started).toISOString(),
      wallSeconds: 0,
    };
    const loadStart = loadNow();
    try {
      record.result = await opts.runOne(run);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      failed++;
    }
    record.load = { start: loadStart, end: loadNow() };
    record.wallSeconds = (Date.now() - started) / 1000;
    wallSpent += record.wallSeconds;
    ranNow++;
    writeAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
    records.push(record);
  }
  opts.onProgress?.({ done: records.length, total: planned.length, skipped, failed });
  session.endedAt = new Date().toISOString();
  session.loadEnd = loadNow();
  session.ran = ranNow;
  writeSessions(opts.outDir, sessions);

  const threshold = opts.varianceThreshold ?? DEFAULT_VARIANCE_THRESHOLD;
  const cellsOut = summarizeCells(records, threshold);
  writeOutputs(spec, opts.outDir, records, cellsOut, { sessions, threshold, planned: planned.length });
  return { runs: records, cells: cellsOut, ranNow, skipped, failed, stopped };
}

const SESSIONS = 'sessions.json';

function readSessions(dir: string): CampaignSession[] {
  try {
    return (JSON.parse(readFileSync(join(dir, SESSIONS), 'utf8')) as { sessions: CampaignSession[] })
      .sessions;
  } catch {
    return [];
  }
}

function writeSessions(dir: string, sessions: CampaignSession[]): void {
  writeAtomic(join(dir, SESSIONS), `${JSON.stringify({ sessions }, null, 2)}\n`);
}

export function summarizeCells(
  records: readonly RunRecord[],
  threshold = DEFAULT_VARIANCE_THRESHOLD,
): CellSummary[] {
  const byCell = new Map<string, RunRecord[]>();
  for (const r of records) byCell.set(r.cell, [...(byCell.get(r.cell) ?? []), r]);
  return [...byCell.entries()].map(([cell, rs]) => {
    const ok = rs.filter((r) => r.result).sort((a, b) => a.repetition - b.repetition);
    const values = ok.map((r) => r.result!.goodputMbps);
    const goodputMbps = summarize(values);
    const cv = goodputMbps.n > 1 && goodputMbps.mean > 0 ? goodputMbps.stddev / goodputMbps.mean : Number.NaN;
    return {
      cell,
      assignments: rs[0]!.assignments,
      goodputMbps,
      seconds: summarize(ok.map((r) => r.result!.seconds)),
      drainSeconds: summarize(ok.map((r) => r.result!.drainSeconds ?? 0)),
      values,
      cv,
      highVariance: Number.isFinite(cv) && cv > threshold,
      integrityOk: ok.filter((r) => r.result!.integrity === 'ok').length,
      failed: rs.length - ok.length,
      ...(ok.length > 0 &&
      ok.every((r) => r.result!.sim && (r.result!.notes ?? []).some((n) => n.startsWith('deterministic:')))
        ? { deterministic: true }
        : {}),
    };
  });
}

/**
 * `mplab campaign report DIR`: the summary, CSV and charts again from what DIR holds (a finished
 * or a partial campaign: the runs made so far), without running anything.
 */
export function reportCampaign(
  dir: string,
  options: { varianceThreshold?: number } = {},
): { spec: CampaignSpec; runs: RunRecord[]; cells: CellSummary[]; planned: number } {
  const manifest = join(dir, 'campaign.json');
  if (!existsSync(manifest)) throw new UsageError(`${dir}: no campaign here (no campaign.json)`);
  let spec: CampaignSpec;
  try {
    spec = (JSON.parse(readFileSync(manifest, 'utf8')) as { spec: CampaignSpec }).spec;
  } catch (e) {
    throw new UsageError(
      `${manifest}: not a campaign manifest (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const planned = plan(spec.axes, spec.repetitions, spec.seed);
  const runs: RunRecord[] = [];
  for (const run of planned) {
    const path = join(dir, 'runs', `${run.id}.json`);
    const rec = existsSync(path) ? readRecord(path) : undefined;
    if (rec) runs.push(rec);
  }
  const threshold = options.varianceThreshold ?? DEFAULT_VARIANCE_THRESHOLD;
  const cells = summarizeCells(runs, threshold);
  writeOutputs(spec, dir, runs, cells, { sessions: readSessions(dir), threshold, planned: planned.length });
  return { spec, runs, cells, planned: planned.length };
}

function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultsCsv(spec: CampaignSpec, records: readonly RunRecord[]): string {
  const axisNames = spec.axes.map((a) => a.name);
  const header = [
    'run',
    'cell',
    'repetition',
    'seed',
    ...axisNames,
    'goodput_mbps',
    'bytes',
    'seconds',
    'integrity',
    'subflows',
    'error',
    'send_seconds',
    'drain_seconds',
    'omit_seconds',
    'retrans',
    'reinjected_bytes',
    'ooo_bytes',
  ];
  const rows = records.map((r) =>
    [
      r.id,
      r.cell,
      r.repetition,
      r.seed,
      ...axisNames.map((a) => r.assignments[a]),
      r.result?.goodputMbps,
      r.result?.bytes,
      r.result?.seconds,
      r.result?.integrity,
      r.result?.subflows.length,
      r.error,
      r.result?.sendSeconds,
      r.result?.drainSeconds,
      r.result?.omitSeconds,
      r.result?.counters?.retrans,
      r.result?.counters?.reinjectedBytes,
      r.result?.counters?.oooBytes,
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

function f(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

export interface SummaryContext {
  sessions?: readonly CampaignSession[];
  threshold?: number;
  /** Runs the matrix plans (more than the records when the campaign is partial). */
  planned?: number;
}

export function summaryMarkdown(
  spec: CampaignSpec,
  cellsOut: readonly CellSummary[],
  ctx: SummaryContext = {},
): string {
  const axisNames = spec.axes.map((a) => a.name);
  const threshold = ctx.threshold ?? DEFAULT_VARIANCE_THRESHOLD;
  const made = cellsOut.reduce((n, c) => n + c.goodputMbps.n + c.failed, 0);
  const lines = [
    `# Campaign ${spec.name}`,
    '',
    `${cellsOut.length} cells × ${spec.repetitions} repetitions, seed ${spec.seed}${
      ctx.planned !== undefined && made < ctx.planned ? ` — partial: ${made} of ${ctx.planned} runs made` : ''
    }.`,
    '',
    "Goodput in Mbit/s: each run's application bytes that reached the receiver during its sending window, over that window (docs/run.md); the drain after the window is not in it. ± is the half-width of the 95% confidence interval of the mean (Student's t, n − 1 degrees of freedom). cv is stddev / mean; ⚠ marks a cell whose cv exceeds " +
      `${threshold}: its runs disagree, look at them (runs/*.json) before quoting the mean.`,
    '',
    `| ${[...axisNames, 'n', 'mean', '± 95%', 'median', 'min', 'max', 'cv', 'drain s', 'integrity ok', 'failed'].join(' | ')} |`,
    `| ${[...axisNames, 'n', 'mean', '±', 'median', 'min', 'max', 'cv', 'drain', 'ok', 'failed'].map(() => '---').join(' | ')} |`,
  ];
  for (const c of cellsOut) {
    const g = c.goodputMbps;
    const ci = c.deterministic ? 'deterministic' : f(g.ci95);
    lines.push(
      `| ${[...axisNames.map((a) => String(c.assignments[a])), g.n, f(g.mean), ci, f(g.median), f(g.min), f(g.max), `${f(c.cv, 3)}${c.highVariance ? ' ⚠' : ''}`, f(c.drainSeconds.mean), c.integrityOk, c.failed].join(' | ')} |`,
    );
  }
  if (cellsOut.some((c) => c.deterministic))
    lines.push(
      '',
      'deterministic: simulated over links without random draws (no loss, jitter, burst loss, reordering or ' +
        "duplication), so the repetitions differ only in the stacks' own random choices and a confidence " +
        'interval would say nothing. Add loss or jitter to the topology, or run the campaign in a lab, for spread.',
    );
  const sessions = ctx.sessions ?? [];
  if (sessions.length > 0) {
    lines.push('', '## Machine', '');
    for (const [i, s] of sessions.entries()) {
      const m = s.machine;
      lines.push(
        `- session ${i + 1}: ${s.startedAt}${s.endedAt ? ` – ${s.endedAt}` : ' (did not finish)'}, ${s.ran} runs; ${m.hostname}, Linux ${m.kernel}, ${m.cpus} × ${m.cpu}, ${m.memGiB} GiB, Node ${m.node}; mplab ${m.commit ? `${m.commit.slice(0, 12)}${m.dirty ? ' (with uncommitted changes)' : ''}` : '(not from a git checkout)'}; load ${s.loadStart.join(' / ')} at start${s.loadEnd ? `, ${s.loadEnd.join(' / ')} at end` : ''} (1/5/15 min)`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function writeOutputs(
  spec: CampaignSpec,
  dir: string,
  records: RunRecord[],
  cellsOut: CellSummary[],
  ctx: SummaryContext = {},
): void {
  writeAtomic(join(dir, 'results.csv'), resultsCsv(spec, records));
  writeAtomic(
    join(dir, 'summary.json'),
    `${JSON.stringify(
      {
        name: spec.name,
        varianceThreshold: ctx.threshold ?? DEFAULT_VARIANCE_THRESHOLD,
        planned: ctx.planned,
        made: records.length,
        cells: cellsOut,
        machine: ctx.sessions ?? [],
      },
      null,
      2,
    )}\n`,
  );
  writeAtomic(join(dir, 'summary.md'), summaryMarkdown(spec, cellsOut, ctx));
  const svg = cellChartSvg(spec, cellsOut);
  writeAtomic(join(dir, 'goodput.svg'), svg);
  writeAtomic(join(dir, 'goodput.png'), svgToPng(svg, 1.5));
}
