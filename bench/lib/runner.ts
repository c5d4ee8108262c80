/**
 * The benchmark runner behind `npm run bench` (bench/run.ts holds the registry and calls this).
 *
 * - Runs each selected module: `available()` first (a reason string = skipped), then `run()`; a
 *   module that throws, or returns a figure that breaks the contract of bench/harness.ts (no
 *   values, a value that is not finite, units that differ, no baseline and no note saying why),
 *   is failed.
 * - Prints one table: ours and every baseline as median [min–max], the ratio of the medians
 *   oriented so that > 1 means ours is better, and a verdict, for every figure (bench/lib/ratio.ts).
 * - Writes the results with the machine (bench/lib/machine.ts): `results.json` only for a complete
 *   run (every module, default repetitions or more, none skipped or failed); anything else — `--quick`,
 *   `--only`, fewer repetitions, a skipped or failed module — goes to `results-partial.json`, so
 *   a smoke run never replaces the committed results.
 * - Exit code: 0, 1 when any module failed, 2 for bad arguments (nothing is run).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchFigure, BenchModule, Measured } from '../harness';
import { median } from '../harness';
import { type Commit, commitOf, cpuBusy, load, type Machine, machine } from './machine';
import { compare, formatMeasured, type Ratio, type Verdict } from './ratio';

/** Version of the methodology (baselines, ratio rules) a results file was measured under. */
export const METHOD = 2;
export const DEFAULT_REPETITIONS = 3;
export const RESULTS_FILE = 'results.json';
export const PARTIAL_FILE = 'results-partial.json';

/** The registry: module name → loader (lazy, so `--only` loads only what it runs). */
export type Registry = Record<string, () => Promise<{ default: BenchModule }>>;

export class BenchUsageError extends Error {}

export interface RunArgs {
  quick: boolean;
  repetitions: number;
  /** Module names to run; undefined = all. */
  only?: string[];
  /** Regenerate docs/benchmarks.md from results.json instead of running anything. */
  writeDocs: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only NAME,NAME] [--repetitions N] [--write-docs]
  --quick           one repetition, shorter runs (a smoke run: writes bench/${PARTIAL_FILE})
  --only NAMES      run only these modules (writes bench/${PARTIAL_FILE})
  --repetitions N   values per figure (default ${DEFAULT_REPETITIONS}; fewer writes bench/${PARTIAL_FILE})
  --write-docs      regenerate the results section of docs/benchmarks.md from bench/${RESULTS_FILE}
  --list            list the modules`;

export function parseArgs(argv: string[], names: string[]): RunArgs & { list: boolean } {
  const a: RunArgs & { list: boolean } = {
    quick: false,
    repetitions: DEFAULT_REPETITIONS,
    writeDocs: false,
    help: false,
    list: false,
  };
  let reps: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') a.quick = true;
    else if (arg === '--write-docs') a.writeDocs = true;
    else if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--list') a.list = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value();
      const wanted = v
        .split(',')
        .map((s) => s.trim().replace(/\.ts$/, ''))
        .filter(Boolean);
      if (wanted.length === 0) throw new BenchUsageError('--only needs at least one module name');
      const unknown = wanted.filter((w) => !names.includes(w));
      if (unknown.length > 0)
        throw new BenchUsageError(`--only: no module ${unknown.join(', ')} (modules: ${names.join(', ')})`);
      a.only = [...new Set(wanted)];
    } else if (arg === '--repetitions' || arg.startsWith('--repetitions=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100)
        throw new BenchUsageError(`--repetitions: expected an integer from 1 to 100, got "${v}"`);
      reps = n;
    } else throw new BenchUsageError(`unknown argument "${arg}"\n${USAGE}`);
  }
  if (a.quick && reps !== undefined && reps !== 1)
    throw new BenchUsageError('--quick runs one repetition: drop --repetitions or --quick');
  a.repetitions = a.quick ? 1 : (reps ?? DEFAULT_REPETITIONS);
  if (a.writeDocs && (a.quick || a.only || reps !== undefined))
    throw new BenchUsageError('--write-docs runs nothing: it takes no --quick, --only or --repetitions');
  return a;
}

export interface ResultMeasured extends Measured {
  median: number;
}

export interface ResultBaseline extends ResultMeasured {
  /** > 1 = ours better; null when unbounded or undefined (see ratioText). */
  ratio: number | null;
  ratioText: string;
  verdict: Verdict;
  overlap: boolean;
  difference: number | null;
}

export interface ResultFigure {
  module: string;
  figure: string;
  title: string;
  ours: ResultMeasured;
  baseline?: ResultBaseline;
  moreBaselines?: ResultBaseline[];
  /** The primary baseline's ratio (as `baseline.ratio`). */
  ratio: number | null;
  higherIsBetter: boolean;
  note?: string;
}

export interface ModuleRecord {
  name: string;
  state: 'ran' | 'skipped' | 'failed';
  /** Why it was skipped or how it failed. */
  why?: string;
  seconds: number;
  load: { start: number[]; end: number[] };
}

export interface Results {
  method: number;
  date: string;
  commit: Commit;
  /** True only for a run of every module at the default repetitions with none skipped or failed. */
  complete: boolean;
  /** Why the run is partial (empty when complete). */
  partial: string[];
  machine: Machine;
  quick: boolean;
  repetitions: number;
  only?: string[];
  load: { start: number[]; end: number[] };
  /** Share of all CPUs busy over 0.5 s just before and just after the run (other work). */
  cpuBusy: { start: number | null; end: number | null };
  seconds: number;
  modules: ModuleRecord[];
  figures: ResultFigure[];
}

function withMedian(m: Measured): ResultMeasured {
  return { label: m.label, unit: m.unit, values: m.values, median: median(m.values) };
}

function baselineRecord(ours: Measured, b: Measured, higherIsBetter: boolean): ResultBaseline {
  const r: Ratio = compare(ours.values, b.values, higherIsBetter);
  return {
    ...withMedian(b),
    ratio: r.value,
    ratioText: r.text,
    verdict: r.verdict,
    overlap: r.overlap,
    difference: r.difference,
  };
}

/** Checks a module's figures against the harness contract; the first breach, or undefined. */
export function contractBreach(figs: BenchFigure[], module: string): string | undefined {
  if (!Array.isArray(figs) || figs.length === 0) return 'returned no figures';
  const ids = new Set<string>();
  for (const f of figs) {
    if (!f.id || ids.has(f.id)) return `figure id "${f.id}" missing or repeated`;
    ids.add(f.id);
    if (!f.id.startsWith(`${module}.`)) return `figure "${f.id}" does not start with "${module}."`;
    const all = [f.ours, ...(f.baseline ? [f.baseline] : []), ...(f.moreBaselines ?? [])];
    for (const m of all) {
      if (!Array.isArray(m.values) || m.values.length === 0) return `${f.id}: "${m.label}" has no values`;
      const bad = m.values.find((v) => typeof v !== 'number' || !Number.isFinite(v));
      if (bad !== undefined) return `${f.id}: "${m.label}" has a value that is not a finite number (${bad})`;
      if (m.unit !== f.ours.unit) return `${f.id}: "${m.label}" is in ${m.unit}, ours in ${f.ours.unit}`;
    }
    if (!f.baseline && !f.note) return `${f.id}: no baseline and no note saying why`;
  }
  return undefined;
}

export function figureRecord(f: BenchFigure, module: string): ResultFigure {
  const baseline = f.baseline ? baselineRecord(f.ours, f.baseline, f.higherIsBetter) : undefined;
  const more = (f.moreBaselines ?? []).map((b) => baselineRecord(f.ours, b, f.higherIsBetter));
  const rec: ResultFigure = {
    module,
    figure: f.id,
    title: f.title,
    ours: withMedian(f.ours),
    ratio: baseline ? baseline.ratio : null,
    higherIsBetter: f.higherIsBetter,
  };
  if (baseline) rec.baseline = baseline;
  if (more.length > 0) rec.moreBaselines = more;
  if (f.note) rec.note = f.note;
  return rec;
}

/** The table: one row per figure and one more per further baseline. */
export function renderTable(figures: ResultFigure[]): string {
  const rows: string[][] = [];
  for (const f of figures) {
    const o = formatMeasured(f.ours.values, f.ours.unit);
    const bs = [...(f.baseline ? [f.baseline] : []), ...(f.moreBaselines ?? [])];
    if (bs.length === 0) rows.push([f.figure, o, '(none: see note)', '', '']);
    for (const [i, b] of bs.entries())
      rows.push([
        i === 0 ? f.figure : `  ″ (baseline ${i + 1})`,
        i === 0 ? o : '″',
        `${b.label}: ${formatMeasured(b.values, b.unit)}`,
        b.ratioText,
        b.verdict,
      ]);
  }
  const head = [
    'figure',
    'ours (median [min–max])',
    'baseline, same run',
    'ratio (>1 = ours better)',
    'verdict',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export interface RunnerIo {
  /** Where results files go (bench/). */
  outDir: string;
  /** The repository (for the commit). */
  repoDir: string;
  /** The table and the summary (stdout). */
  print: (s: string) => void;
  /** Progress and failures (stderr). */
  log: (s: string) => void;
  /** How long to sample the CPUs' busy share before and after the run (default 500 ms; 0: not). */
  busySampleMs?: number;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs the selected modules; returns the results, the file written and the exit code. */
export async function runBench(
  registry: Registry,
  args: RunArgs,
  io: RunnerIo,
): Promise<{ code: number; results: Results; file: string }> {
  const t0 = performance.now();
  const loadStart = load();
  const busyMs = io.busySampleMs ?? 500;
  const busyStart = busyMs > 0 ? ((await cpuBusy(busyMs)) ?? null) : null;
  const date = new Date().toISOString();
  const names = Object.keys(registry);
  const selected = args.only ? names.filter((n) => args.only!.includes(n)) : names;
  const modules: ModuleRecord[] = [];
  const figures: ResultFigure[] = [];
  for (const name of selected) {
    const m0 = performance.now();
    const mLoad = load();
    const done = (state: ModuleRecord['state'], why?: string) => {
      const rec: ModuleRecord = {
        name,
        state,
        seconds: Number(((performance.now() - m0) / 1000).toFixed(1)),
        load: { start: mLoad, end: load() },
      };
      if (why !== undefined) rec.why = why;
      modules.push(rec);
    };
    let mod: BenchModule | undefined;
    try {
      mod = (await registry[name]!()).default;
      if (!mod || typeof mod.run !== 'function' || typeof mod.available !== 'function')
        throw new Error('its default export is not a BenchModule');
      if (mod.name !== name) throw new Error(`it calls itself "${mod.name}", registered as "${name}"`);
    } catch (e) {
      io.log(`bench ${name}: FAILED to load: ${errText(e)}\n`);
      done('failed', `could not load: ${errText(e)}`);
      continue;
    }
    let avail: true | string;
    try {
      avail = await mod.available();
    } catch (e) {
      io.log(`bench ${name}: FAILED in available(): ${errText(e)}\n`);
      done('failed', `available() threw: ${errText(e)}`);
      continue;
    }
    if (avail !== true) {
      io.log(`bench ${name}: skipped (${avail})\n`);
      done('skipped', avail);
      continue;
    }
    io.log(`bench ${name}: running (${args.repetitions} repetition${args.repetitions > 1 ? 's' : ''})…\n`);
    try {
      const figs = await mod.run({ quick: args.quick, repetitions: args.repetitions });
      const breach = contractBreach(figs, name);
      if (breach) throw new Error(`broke the bench contract: ${breach}`);
      for (const f of figs) figures.push(figureRecord(f, name));
      done('ran');
      io.log(`bench ${name}: done in ${((performance.now() - m0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      io.log(`bench ${name}: FAILED ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      done('failed', errText(e).split('\n')[0]!);
    }
  }

  const partial: string[] = [];
  if (args.quick) partial.push('--quick');
  if (args.only) partial.push(`--only ${args.only.join(',')}`);
  if (args.repetitions < DEFAULT_REPETITIONS) partial.push(`${args.repetitions} repetition(s)`);
  for (const m of modules) if (m.state !== 'ran') partial.push(`${m.name} ${m.state}`);
  const loadEnd = load();
  const busyEnd = busyMs > 0 ? ((await cpuBusy(busyMs)) ?? null) : null;
  const results: Results = {
    method: METHOD,
    date,
    commit: commitOf(io.repoDir),
    complete: partial.length === 0,
    partial,
    machine: machine(),
    quick: args.quick,
    repetitions: args.repetitions,
    load: { start: loadStart, end: loadEnd },
    cpuBusy: { start: busyStart, end: busyEnd },
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    modules,
    figures,
  };
  if (args.only) results.only = args.only;

  io.print(renderTable(figures));
  for (const m of modules) if (m.state !== 'ran') io.print(`(${m.name}: ${m.state}: ${m.why})`);
  const pct = (x: number | null) => (x === null ? '?' : `${Math.round(x * 100)}%`);
  io.print(
    `(load average 1/5/15 min: ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end; CPUs busy before/after: ${pct(busyStart)} / ${pct(busyEnd)})`,
  );
  const file = join(io.outDir, results.complete ? RESULTS_FILE : PARTIAL_FILE);
  mkdirSync(io.outDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  io.print(
    results.complete
      ? `(complete run: wrote ${file})`
      : `(partial run — ${partial.join('; ')}: wrote ${file}; ${RESULTS_FILE} untouched)`,
  );
  const failed = modules.filter((m) => m.state === 'failed');
  if (failed.length > 0) io.print(`FAILED: ${failed.map((m) => m.name).join(', ')}`);
  return { code: failed.length > 0 ? 1 : 0, results, file };
}
