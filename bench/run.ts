/**
 * `npm run bench [-- --quick] [-- --only name,name]`: runs every benchmark module in bench/, prints
 * one table (our figure beside a baseline measured in the same run, and their ratio), and writes
 * bench/results.json with the machine, kernel, date and commit.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchModule, Measured } from './harness';
import { median } from './harness';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? new Set((args[onlyIdx + 1] ?? '').split(',')) : undefined;
const repetitions = quick ? 1 : 3;

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function cell(m: Measured | undefined): string {
  if (!m || m.values.length === 0) return '–';
  const med = median(m.values);
  const lo = Math.min(...m.values);
  const hi = Math.max(...m.values);
  const f = (v: number) =>
    Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
  return m.values.length > 1 ? `${f(med)} ${m.unit} [${f(lo)}–${f(hi)}]` : `${f(med)} ${m.unit}`;
}

/** Ratio oriented so that > 1 always means "ours is better". */
export function ratioOf(fig: BenchFigure): number | undefined {
  if (!fig.baseline || fig.baseline.values.length === 0 || fig.ours.values.length === 0) return undefined;
  const o = median(fig.ours.values);
  const b = median(fig.baseline.values);
  if (o === 0 || b === 0) return undefined;
  return fig.higherIsBetter ? o / b : b / o;
}

async function main(): Promise<void> {
  // the machine's load when the run starts and ends: figures that need CPU move with it
  const loadStart = loadavg().map((x) => Number(x.toFixed(2)));
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !['run.ts', 'harness.ts'].includes(f) && !f.endsWith('.d.ts'))
    .sort();
  const figures: (BenchFigure & { module: string; ratio?: number })[] = [];
  const skipped: { module: string; why: string }[] = [];
  for (const file of files) {
    const mod = ((await import(pathToFileURL(join(here, file)).href)) as { default?: BenchModule }).default;
    if (!mod || typeof mod.run !== 'function') continue;
    if (only && !only.has(mod.name) && !only.has(basename(file, '.ts'))) continue;
    const avail = await mod.available();
    if (avail !== true) {
      skipped.push({ module: mod.name, why: avail });
      process.stderr.write(`bench ${mod.name}: skipped (${avail})\n`);
      continue;
    }
    process.stderr.write(
      `bench ${mod.name}: running (${repetitions} repetition${repetitions > 1 ? 's' : ''})…\n`,
    );
    try {
      for (const fig of await mod.run({ quick, repetitions }))
        figures.push({ ...fig, module: mod.name, ratio: ratioOf(fig) });
    } catch (err) {
      skipped.push({ module: mod.name, why: `failed: ${err instanceof Error ? err.message : String(err)}` });
      process.stderr.write(`bench ${mod.name}: FAILED ${err instanceof Error ? err.stack : String(err)}\n`);
    }
  }

  const rows = figures.map((f) => [
    f.id,
    cell(f.ours),
    f.baseline ? `${f.baseline.label}: ${cell(f.baseline)}` : '–',
    f.ratio === undefined ? '–' : `${f.ratio.toFixed(2)}×`,
  ]);
  const head = ['figure', 'ours (median [min–max])', 'baseline, same run', 'ratio (>1 = ours better)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
  for (const s of skipped) console.log(`(${s.module}: ${s.why})`);
  const loadEnd = loadavg().map((x) => Number(x.toFixed(2)));
  console.log(`(load average 1/5/15 min: ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end)`);

  const results = {
    date: new Date().toISOString(),
    commit: commit(),
    machine: {
      hostname: hostname(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGiB: Math.round(totalmem() / 2 ** 30),
      loadavg: { start: loadStart, end: loadEnd },
    },
    kernel: release(),
    node: process.version,
    quick,
    repetitions,
    figures: figures.map((f) => ({
      module: f.module,
      figure: f.id,
      title: f.title,
      ours: { ...f.ours, median: median(f.ours.values) },
      baseline: f.baseline ? { ...f.baseline, median: median(f.baseline.values) } : undefined,
      ratio: f.ratio,
      higherIsBetter: f.higherIsBetter,
      note: f.note,
    })),
    skipped,
  };
  writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
}

await main();
