import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BenchFigure, BenchModule } from '../../../bench/harness';
import {
  BenchUsageError,
  contractBreach,
  DEFAULT_REPETITIONS,
  PARTIAL_FILE,
  parseArgs,
  type Registry,
  RESULTS_FILE,
  type Results,
  runBench,
} from '../../../bench/lib/runner';
import passing from '../../fixtures/bench/passing';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function mod(name: string, run: BenchModule['run'], available: BenchModule['available'] = async () => true) {
  return async () => ({ default: { name, available, run } satisfies BenchModule });
}

const ok: Registry = { passing: async () => ({ default: passing }) };

async function go(registry: Registry, argv: string[]) {
  const outDir = mkdtempSync(join(tmpdir(), 'mplab-bench-test-'));
  dirs.push(outDir);
  const printed: string[] = [];
  const logged: string[] = [];
  const r = await runBench(registry, parseArgs(argv, Object.keys(registry)), {
    outDir,
    repoDir: process.cwd(),
    print: (s) => printed.push(s),
    log: (s) => logged.push(s),
    busySampleMs: 0,
  });
  return { ...r, outDir, out: printed.join('\n'), err: logged.join('') };
}

describe('bench runner', () => {
  it('writes results.json only for a complete run, with every ratio and the machine', async () => {
    const r = await go(ok, []);
    expect(r.code).toBe(0);
    expect(r.file).toBe(join(r.outDir, RESULTS_FILE));
    expect(existsSync(join(r.outDir, PARTIAL_FILE))).toBe(false);
    const j = JSON.parse(readFileSync(r.file, 'utf8')) as Results;
    expect(j.complete).toBe(true);
    expect(j.repetitions).toBe(DEFAULT_REPETITIONS);
    expect(j.machine.cpus).toBeGreaterThan(0);
    expect(j.machine.kernel).toBeTruthy();
    expect(j.load.start).toHaveLength(3);
    expect(j.load.end).toHaveLength(3);
    expect(j.commit.hash).toMatch(/^([0-9a-f]{40}|unknown)$/);
    expect(j.modules).toEqual([expect.objectContaining({ name: 'passing', state: 'ran' })]);
    const rate = j.figures.find((f) => f.figure === 'passing.rate')!;
    expect(rate.ratio).toBeCloseTo(51 / 101, 9);
    expect(rate.baseline?.verdict).toBe('worse');
    const gap = j.figures.find((f) => f.figure === 'passing.gap')!;
    expect(gap.baseline?.ratioText).toBe('0× (baseline 0)');
    expect(gap.moreBaselines?.[0]?.ratio).toBeCloseTo(4, 9);
    // the table prints every ratio, the losses too, and the second baseline on its own row
    expect(r.out).toContain('0.50×');
    expect(r.out).toContain('0× (baseline 0)');
    expect(r.out).toContain('kernel, no reaction: 0.400 s');
    expect(r.out).not.toMatch(/\|\s+–\s+\|/);
  });

  it('sends --quick and --only to results-partial.json and leaves results.json alone', async () => {
    for (const argv of [['--quick'], ['--only', 'passing'], ['--repetitions', '2']]) {
      const r = await go(ok, argv);
      expect(r.code).toBe(0);
      expect(r.file).toBe(join(r.outDir, PARTIAL_FILE));
      expect(existsSync(join(r.outDir, RESULTS_FILE))).toBe(false);
      const j = JSON.parse(readFileSync(r.file, 'utf8')) as Results;
      expect(j.complete).toBe(false);
      expect(j.partial.length).toBeGreaterThan(0);
      expect(r.out).toContain('results.json untouched');
    }
  });

  it('exits 1 when a module throws, keeps the others, and writes only the partial file', async () => {
    const r = await go(
      {
        ...ok,
        failing: mod('failing', async () => {
          throw new Error('planted failure');
        }),
      },
      [],
    );
    expect(r.code).toBe(1);
    expect(r.file).toBe(join(r.outDir, PARTIAL_FILE));
    expect(existsSync(join(r.outDir, RESULTS_FILE))).toBe(false);
    expect(r.results.modules.find((m) => m.name === 'failing')).toMatchObject({
      state: 'failed',
      why: 'planted failure',
    });
    expect(r.results.figures.map((f) => f.figure)).toEqual(['passing.rate', 'passing.gap']);
    expect(r.out).toContain('FAILED: failing');
    expect(r.err).toContain('planted failure');
  });

  it('counts a broken figure, a throwing available() and a misnamed module as failures', async () => {
    const nan = mod('nan', async () => [
      {
        id: 'nan.x',
        title: 'x',
        ours: { label: 'o', unit: 's', values: [Number.NaN] },
        baseline: { label: 'b', unit: 's', values: [1] },
        higherIsBetter: false,
      },
    ]);
    const avail = mod(
      'avail',
      async () => [],
      async () => {
        throw new Error('probe crashed');
      },
    );
    const misnamed = async () => ({ default: { ...passing, name: 'other' } });
    const r = await go({ nan, avail, misnamed }, []);
    expect(r.code).toBe(1);
    expect(r.results.modules.map((m) => [m.name, m.state])).toEqual([
      ['nan', 'failed'],
      ['avail', 'failed'],
      ['misnamed', 'failed'],
    ]);
    expect(r.results.modules[0]!.why).toContain('not a finite number');
  });

  it('treats a module that cannot run here as skipped: exit 0, a partial run', async () => {
    const r = await go(
      {
        ...ok,
        nokvm: mod(
          'nokvm',
          async () => [],
          async () => 'needs /dev/kvm',
        ),
      },
      [],
    );
    expect(r.code).toBe(0);
    expect(r.file).toBe(join(r.outDir, PARTIAL_FILE));
    expect(r.results.partial).toContain('nokvm skipped');
    expect(r.out).toContain('(nokvm: skipped: needs /dev/kvm)');
  });
});

describe('bench contract checks', () => {
  const fig = (over: Partial<BenchFigure>): BenchFigure => ({
    id: 'm.a',
    title: 't',
    ours: { label: 'o', unit: 's', values: [1] },
    baseline: { label: 'b', unit: 's', values: [2] },
    higherIsBetter: false,
    ...over,
  });
  it('accepts a sound figure and names each breach', () => {
    expect(contractBreach([fig({})], 'm')).toBeUndefined();
    expect(contractBreach([], 'm')).toBe('returned no figures');
    expect(contractBreach([fig({ id: 'x.a' })], 'm')).toContain('does not start with "m."');
    expect(contractBreach([fig({}), fig({})], 'm')).toContain('repeated');
    expect(contractBreach([fig({ baseline: { label: 'b', unit: 'ms', values: [2] } })], 'm')).toContain(
      'is in ms',
    );
    expect(contractBreach([fig({ baseline: undefined })], 'm')).toContain('no baseline and no note');
    expect(contractBreach([fig({ baseline: undefined, note: 'nothing compares' })], 'm')).toBeUndefined();
    expect(contractBreach([fig({ ours: { label: 'o', unit: 's', values: [] } })], 'm')).toContain(
      'no values',
    );
  });
});

describe('bench arguments', () => {
  const names = ['lab', 'wire'];
  it('parses the options', () => {
    expect(parseArgs([], names)).toMatchObject({ quick: false, repetitions: 3, writeDocs: false });
    expect(parseArgs(['--quick'], names)).toMatchObject({ quick: true, repetitions: 1 });
    expect(parseArgs(['--only', 'lab,wire.ts'], names).only).toEqual(['lab', 'wire']);
    expect(parseArgs(['--only=wire'], names).only).toEqual(['wire']);
    expect(parseArgs(['--repetitions', '5'], names).repetitions).toBe(5);
    expect(parseArgs(['--write-docs'], names).writeDocs).toBe(true);
  });
  it('rejects what it cannot honour, naming it', () => {
    expect(() => parseArgs(['--only', 'nope'], names)).toThrow(/no module nope \(modules: lab, wire\)/);
    expect(() => parseArgs(['--only'], names)).toThrow(BenchUsageError);
    expect(() => parseArgs(['--repetitions', '0'], names)).toThrow(/integer from 1 to 100/);
    expect(() => parseArgs(['--quick', '--repetitions', '3'], names)).toThrow(/--quick runs one/);
    expect(() => parseArgs(['--write-docs', '--quick'], names)).toThrow(/runs nothing/);
    expect(() => parseArgs(['--fast'], names)).toThrow(/unknown argument "--fast"/);
  });
});
