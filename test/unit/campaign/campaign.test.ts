import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cells, plan } from '../../../lab/campaign/matrix';
import type { CampaignSpec } from '../../../lab/campaign/runner';
import { reportCampaign, runCampaign } from '../../../lab/campaign/runner';
import { summarize, tQuantile975 } from '../../../lab/campaign/stats';
import type { PlannedRun } from '../../../lab/campaign/matrix';
import type { RunResult } from '../../../lab/run/result';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mplab-campaign-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec: CampaignSpec = {
  name: 'two-by-two',
  axes: [
    { name: 'stack', values: ['ts', 'kernel'] },
    { name: 'knobs.net.mptcp.mptcp_scheduler', values: ['default', 'roundrobin'] },
  ],
  repetitions: 2,
  seed: 7,
  base: { topology: 'two-host.yaml', from: 'a', to: 'b', seconds: 1 },
};

function fakeResult(run: PlannedRun): RunResult {
  // Deterministic from the seed, so a re-run of the same run gives the same figure.
  const goodput = 50 + (run.seed % 1000) / 100;
  return {
    lab: 'c',
    from: 'a',
    to: 'b',
    stack: run.cell.assignments.stack as 'ts',
    sim: true,
    seed: run.seed,
    bytes: goodput * 125_000,
    seconds: 1,
    goodputMbps: goodput,
    integrity: 'ok',
    subflows: [{ pathIndex: 1, local: '10.0.1.1:1', remote: '10.0.1.2:2', bytes: 1 }],
    timeline: [],
    events: [],
  };
}

describe('campaign matrix', () => {
  it('expands the cartesian product in a stable order with stable ids and seeds', () => {
    const c = cells(spec.axes);
    expect(c.map((x) => Object.values(x.assignments).join('/'))).toEqual([
      'ts/default',
      'ts/roundrobin',
      'kernel/default',
      'kernel/roundrobin',
    ]);
    expect(new Set(c.map((x) => x.id)).size).toBe(4);
    const p1 = plan(spec.axes, 2, 7);
    const p2 = plan(spec.axes, 2, 7);
    expect(p1).toEqual(p2);
    expect(p1.length).toBe(8);
    expect(new Set(p1.map((r) => r.seed)).size).toBe(8);
    expect(plan(spec.axes, 2, 8)[0]!.seed).not.toBe(p1[0]!.seed);
  });
});

describe('statistics', () => {
  it('mean, median, CI with Student t', () => {
    const s = summarize([10, 12, 14]);
    expect(s.mean).toBe(12);
    expect(s.median).toBe(12);
    expect(s.stddev).toBeCloseTo(2, 10);
    expect(s.ci95).toBeCloseTo((4.303 * 2) / Math.sqrt(3), 10);
    expect(summarize([5]).ci95).toBeNaN();
    expect(summarize([1, 2, 3, 4]).median).toBe(2.5);
    expect(tQuantile975(100)).toBe(1.96);
  });
});

describe('campaign runner', () => {
  it('a 2x2x2 campaign writes every run, the CSV rows, a summary and a plot', async () => {
    const out = tmp();
    const r = await runCampaign(spec, {
      outDir: join(out, 'c'),
      resume: false,
      runOne: async (run) => fakeResult(run),
    });
    expect(r.ranNow).toBe(8);
    expect(readdirSync(join(out, 'c', 'runs')).length).toBe(8);
    const csv = readFileSync(join(out, 'c', 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe(
      'run,cell,repetition,seed,stack,knobs.net.mptcp.mptcp_scheduler,goodput_mbps,bytes,seconds,integrity,subflows,error,send_seconds,drain_seconds,omit_seconds,retrans,reinjected_bytes,ooo_bytes',
    );
    expect(csv.length).toBe(9);
    expect(r.cells.length).toBe(4);
    for (const c of r.cells) {
      expect(c.goodputMbps.n).toBe(2);
      expect(c.integrityOk).toBe(2);
    }
    expect(readFileSync(join(out, 'c', 'summary.md'), 'utf8')).toContain('| ts | default | 2 |');
    expect(readFileSync(join(out, 'c', 'goodput.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  it('interrupted, then resumed: finishes without redoing finished runs', async () => {
    const out = join(tmp(), 'c');
    const done: string[] = [];
    let calls = 0;
    await expect(
      runCampaign(spec, {
        outDir: out,
        resume: false,
        runOne: async (run) => {
          if (++calls === 4) throw Object.assign(new Error('killed'), { fatal: true });
          done.push(run.id);
          return fakeResult(run);
        },
        shouldStop: () => calls >= 4,
      }),
    ).resolves.toMatchObject({ stopped: true, failed: 1 });
    expect(done.length).toBe(3);

    const second: string[] = [];
    const r = await runCampaign(spec, {
      outDir: out,
      resume: true,
      runOne: async (run) => {
        second.push(run.id);
        return fakeResult(run);
      },
    });
    expect(second.some((id) => done.includes(id))).toBe(false);
    expect(second.length).toBe(5);
    expect(r.skipped).toBe(3);
    expect(r.runs.filter((x) => x.result).length).toBe(8);
  });

  it('refuses to overwrite a campaign without --resume, and refuses to resume a different one', async () => {
    const out = join(tmp(), 'c');
    await runCampaign(spec, { outDir: out, resume: false, runOne: async (run) => fakeResult(run) });
    await expect(
      runCampaign(spec, { outDir: out, resume: false, runOne: async (r) => fakeResult(r) }),
    ).rejects.toThrow(/--resume/);
    await expect(
      runCampaign({ ...spec, seed: 8 }, { outDir: out, resume: true, runOne: async (r) => fakeResult(r) }),
    ).rejects.toThrow(/different/);
  });

  it('flags a cell whose runs vary more than the threshold; keeps every run’s value', async () => {
    const out = join(tmp(), 'c');
    const r = await runCampaign(spec, {
      outDir: out,
      resume: false,
      varianceThreshold: 0.1,
      // the roundrobin cells' two repetitions differ by a factor of two
      runOne: async (run) => {
        const base = fakeResult(run);
        if (run.cell.assignments['knobs.net.mptcp.mptcp_scheduler'] !== 'roundrobin') return base;
        return { ...base, goodputMbps: run.repetition === 1 ? 20 : 40 };
      },
    });
    for (const c of r.cells) {
      expect(c.values).toHaveLength(2);
      expect(c.highVariance).toBe(c.assignments['knobs.net.mptcp.mptcp_scheduler'] === 'roundrobin');
    }
    const rr = r.cells.find((c) => c.assignments['knobs.net.mptcp.mptcp_scheduler'] === 'roundrobin')!;
    expect(rr.values).toEqual([20, 40]);
    expect(rr.cv).toBeCloseTo(Math.SQRT2 / 3, 6);
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(md).toMatch(/\| 0\.471 ⚠ \|/);
    expect(readFileSync(join(out, 'goodput.svg'), 'utf8')).toContain('⚠ cv 0.47');
  });

  it('records the machine: kernel, CPU, load at start and end, commit; per run the load around it', async () => {
    const out = join(tmp(), 'c');
    await runCampaign(spec, { outDir: out, resume: false, runOne: async (run) => fakeResult(run) });
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      machine: {
        machine: { kernel: string; cpu: string; cpus: number; commit?: string };
        loadStart: number[];
        loadEnd: number[];
        ran: number;
      }[];
    };
    expect(summary.machine).toHaveLength(1);
    const s = summary.machine[0]!;
    expect(s.machine.kernel).toMatch(/\d/);
    expect(s.machine.cpus).toBeGreaterThan(0);
    expect(s.machine.cpu.length).toBeGreaterThan(0);
    expect(s.loadStart).toHaveLength(3);
    expect(s.loadEnd).toHaveLength(3);
    expect(s.ran).toBe(8);
    // this checkout is a git work tree: the commit is recorded
    expect(s.machine.commit).toMatch(/^[0-9a-f]{40}$/);
    const run = JSON.parse(readFileSync(join(out, 'runs', readdirSync(join(out, 'runs'))[0]!), 'utf8')) as {
      load: { start: number[]; end: number[] };
    };
    expect(run.load.start).toHaveLength(3);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(
      /## Machine\n\n- session 1: .*Linux .*load .* at start, .* at end/,
    );
  });

  it('campaign report re-renders summary, CSV and charts from a partial campaign', async () => {
    const out = join(tmp(), 'c');
    await runCampaign(spec, { outDir: out, resume: false, runOne: async (run) => fakeResult(run) });
    const runs = readdirSync(join(out, 'runs')).sort();
    for (const f of runs.slice(0, 3)) unlinkSync(join(out, 'runs', f));
    for (const f of ['results.csv', 'summary.md', 'summary.json', 'goodput.svg', 'goodput.png'])
      unlinkSync(join(out, f));
    const r = reportCampaign(out);
    expect(r.planned).toBe(8);
    expect(r.runs).toHaveLength(5);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(6);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('partial: 5 of 8 runs made');
    expect(readFileSync(join(out, 'goodput.svg'), 'utf8')).toMatch(/^<svg /);
    expect(readFileSync(join(out, 'goodput.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(() => reportCampaign(join(out, 'nothing-here'))).toThrow(/no campaign here/);
  });
});
