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
import { cellChartSvg } from './plot';
import type { Summary } from './stats';
import { summarize } from './stats';

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
  result?: RunResult;
  error?: string;
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
  integrityOk: number;
  failed: number;
}

export function specHash(spec: CampaignSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

function writeAtomic(path: string, text: string): void {
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
    try {
      record.result = await opts.runOne(run);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      failed++;
    }
    record.wallSeconds = (Date.now() - started) / 1000;
    wallSpent += record.wallSeconds;
    ranNow++;
    writeAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
    records.push(record);
  }
  opts.onProgress?.({ done: records.length, total: planned.length, skipped, failed });

  const cellsOut = summarizeCells(records);
  writeOutputs(spec, opts.outDir, records, cellsOut);
  return { runs: records, cells: cellsOut, ranNow, skipped, failed, stopped };
}

export function summarizeCells(records: readonly RunRecord[]): CellSummary[] {
  const byCell = new Map<string, RunRecord[]>();
  for (const r of records) byCell.set(r.cell, [...(byCell.get(r.cell) ?? []), r]);
  return [...byCell.entries()].map(([cell, rs]) => {
    const ok = rs.filter((r) => r.result);
    return {
      cell,
      assignments: rs[0]!.assignments,
      goodputMbps: summarize(ok.map((r) => r.result!.goodputMbps)),
      seconds: summarize(ok.map((r) => r.result!.seconds)),
      integrityOk: ok.filter((r) => r.result!.integrity === 'ok').length,
      failed: rs.length - ok.length,
    };
  });
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
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

function f(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

export function summaryMarkdown(spec: CampaignSpec, cellsOut: readonly CellSummary[]): string {
  const axisNames = spec.axes.map((a) => a.name);
  const lines = [
    `# Campaign ${spec.name}`,
    '',
    `${cellsOut.length} cells × ${spec.repetitions} repetitions, seed ${spec.seed}. Goodput in Mbit/s; ±: 95% confidence interval of the mean (Student's t).`,
    '',
    `| ${[...axisNames, 'n', 'mean', '± 95%', 'median', 'min', 'max', 'integrity ok', 'failed'].join(' | ')} |`,
    `| ${[...axisNames, 'n', 'mean', '±', 'median', 'min', 'max', 'ok', 'failed'].map(() => '---').join(' | ')} |`,
  ];
  for (const c of cellsOut) {
    const g = c.goodputMbps;
    lines.push(
      `| ${[...axisNames.map((a) => String(c.assignments[a])), g.n, f(g.mean), f(g.ci95), f(g.median), f(g.min), f(g.max), c.integrityOk, c.failed].join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function writeOutputs(spec: CampaignSpec, dir: string, records: RunRecord[], cellsOut: CellSummary[]): void {
  writeAtomic(join(dir, 'results.csv'), resultsCsv(spec, records));
  writeAtomic(
    join(dir, 'summary.json'),
    `${JSON.stringify({ name: spec.name, cells: cellsOut }, null, 2)}\n`,
  );
  writeAtomic(join(dir, 'summary.md'), summaryMarkdown(spec, cellsOut));
  writeAtomic(join(dir, 'goodput.svg'), cellChartSvg(spec, cellsOut));
}
