/**
 * `npm run bench` as a process, with planted modules (MPLAB_BENCH_MODULES) and a scratch results
 * folder (MPLAB_BENCH_OUT), so the committed bench/results.json and docs are never touched: the exit
 * code on a failing module, the partial results file, a complete run, bad arguments, and the doc
 * regenerated from a complete run's results.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/bench');
const out = mkdtempSync(join(tmpdir(), 'mplab-bench-run-'));
const committed = join(ROOT, 'bench/results.json');
const committedMtime = existsSync(committed) ? statSync(committed).mtimeMs : undefined;

afterAll(() => rmSync(out, { recursive: true, force: true }));

function bench(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, MPLAB_BENCH_OUT: out, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const both = { MPLAB_BENCH_MODULES: `${join(FIX, 'passing.ts')},${join(FIX, 'failing.ts')}` };
const passingOnly = { MPLAB_BENCH_MODULES: join(FIX, 'passing.ts') };

describe('npm run bench (the process)', () => {
  it('exits 1 when a module fails, and writes the partial file only', async () => {
    const r = await bench([], both);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: failing');
    expect(r.stderr).toContain('planted failure');
    expect(r.stdout).toContain('passing.rate');
    expect(existsSync(join(out, 'results-partial.json'))).toBe(true);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    const j = JSON.parse(readFileSync(join(out, 'results-partial.json'), 'utf8'));
    expect(j.complete).toBe(false);
    expect(j.partial).toContain('failing failed');
  });

  it('writes a --quick or --only run to the partial file, never to results.json', async () => {
    for (const args of [['--quick'], ['--only', 'passing']]) {
      rmSync(join(out, 'results-partial.json'), { force: true });
      const r = await bench(args, both);
      expect(r.code).toBe(args[0] === '--quick' ? 1 : 0);
      expect(existsSync(join(out, 'results-partial.json'))).toBe(true);
      expect(existsSync(join(out, 'results.json'))).toBe(false);
    }
  });

  it('exits 2 on a bad argument and runs nothing', async () => {
    rmSync(join(out, 'results-partial.json'), { force: true });
    const r = await bench(['--only', 'nosuch'], both);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no module nosuch');
    expect(existsSync(join(out, 'results-partial.json'))).toBe(false);
  });

  it('writes results.json for a complete run and regenerates the doc from it', async () => {
    const r = await bench([], passingOnly);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('complete run');
    const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(j.complete).toBe(true);
    expect(j.machine.cpuModel).toBeTruthy();
    const doc = join(out, 'benchmarks.md');
    copyFileSync(join(ROOT, 'docs/benchmarks.md'), doc);
    const w = await bench(['--write-docs'], { ...passingOnly, MPLAB_BENCH_DOC: doc });
    expect(w.code).toBe(0);
    const text = readFileSync(doc, 'utf8');
    expect(text).toMatch(/\| passing\.rate +\| 51\.00 Mbit\/s \[50\.00–52\.00\] +\| kernel: 101 Mbit\/s/);
    expect(text).toContain('0× (baseline 0)');
    // the hand-written part is kept
    expect(text).toContain('## Reading the table');
  });

  it('leaves the committed bench/results.json alone', () => {
    if (committedMtime !== undefined) expect(statSync(committed).mtimeMs).toBe(committedMtime);
  });
});
