/**
 * `mplab run --sim` and `mplab demo --sim` through the bundled CLI (no root needed): the same JSON
 * shape as a lab run, byte-identical for a seed, plots by extension, and usage errors (exit 2) that
 * name file:line:col.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../lab/run/result';
import { pathMbpsBetween } from '../../../lab/run/timeline';
import { caps } from '../../helpers/caps';
import { type Bundle, bundle, root } from '../lab/bundle';

const tmp = mkdtempSync(join(tmpdir(), 'mplab-runcli-'));
let b: Bundle;
beforeAll(async () => {
  b = await bundle();
}, 120_000);
afterAll(() => {
  b?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

function mplab(args: string[]) {
  const r = spawnSync(process.execPath, [b.cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const livecd = join(root, 'topologies/ietf-livecd.yaml');
const hasRunuser = spawnSync('runuser', ['--help'], { stdio: 'ignore' }).status === 0;

describe('mplab run --sim', () => {
  it('prints the RunResult; the same seed gives the same bytes; --plot writes PNG or SVG', () => {
    const args = [
      'run',
      'server',
      'client',
      '--sim',
      '-t',
      livecd,
      '--time',
      '4',
      '--interval',
      '250ms',
      '--json',
    ];
    const a = mplab([...args, '--seed', '5', '--plot', join(tmp, 'a.png')]);
    expect(a.code, a.stderr).toBe(0);
    const b2 = mplab([...args, '--seed', '5', '--plot', join(tmp, 'b.svg')]);
    expect(b2.stdout).toBe(a.stdout);
    const r = JSON.parse(a.stdout) as RunResult;
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining([
        'goodputMbps',
        'bytes',
        'seconds',
        'integrity',
        'subflows',
        'timeline',
        'events',
      ]),
    );
    expect(r).toMatchObject({
      sim: true,
      seed: 5,
      integrity: 'ok',
      stack: 'ts',
      from: 'server',
      to: 'client',
    });
    // the topology's own events (WiFi down at 10 s) fall after this 4 s run
    expect(r.events).toEqual([]);
    expect(r.subflows).toHaveLength(2);
    expect(readFileSync(join(tmp, 'a.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(join(tmp, 'b.svg'), 'utf8')).toMatch(/^<svg /);
    const c = mplab([...args, '--seed', '6']);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('--events FILE applies a scenario; a bad one is exit 2 with file:line:col', () => {
    const ev = join(tmp, 'ev.yaml');
    writeFileSync(ev, '- at: 1s\n  link: client:3g\n  down: true\n');
    const ok = mplab([
      'run',
      'server',
      'client',
      '--sim',
      '-t',
      livecd,
      '--time',
      '3',
      '--json',
      '--events',
      ev,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const r = JSON.parse(ok.stdout) as RunResult;
    expect(r.events).toEqual([{ t: 1, at: 1, what: 'link client:3g down' }]);
    expect(pathMbpsBetween(r.timeline, 2, 2, 3)).toBe(0);
    writeFileSync(ev, '- at: 1s\n  link: client:4g\n  down: true\n');
    const bad = mplab(['run', 'server', 'client', '--sim', '-t', livecd, '--events', ev]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${ev}:2:9: unknown link "client:4g"`);
    const bytes = mplab(['run', 'server', 'client', '--sim', '-t', livecd, '--bytes', '1mb', '--time', '2']);
    expect(bytes.code).toBe(2);
    expect(mplab(['run', 'server', 'core', '--sim', '-t', livecd]).code).toBe(2);
    expect(mplab(['run', 'server', 'client', '--sim', '-t', livecd, '--plot', 'x.jpg']).code).toBe(2);
  });

  it('--sim refuses what it cannot model: --stack kernel and --stack tcp exit 2 with the reason', () => {
    for (const stack of ['kernel', 'tcp']) {
      const r = mplab(['run', 'server', 'client', '--sim', '-t', livecd, '--time', '1', '--stack', stack]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--sim: --stack (kernel|tcp) .*which the simulator does not have/);
      expect(r.stdout).not.toMatch(/Mbit\/s/); // nothing ran, nothing labelled
    }
  });

  it('exit 1 when integrity fails: every path lost mid-transfer', () => {
    const ev = join(tmp, 'alldown.yaml');
    writeFileSync(ev, '- at: 500ms\n  link: wifi\n  down: true\n- at: 500ms\n  link: 3g\n  down: true\n');
    const r = mplab([
      'run',
      'server',
      'client',
      '--sim',
      '-t',
      livecd,
      '--time',
      '2',
      '--events',
      ev,
      '--json',
    ]);
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout) as RunResult;
    expect(res.integrity).not.toBe('ok');
    expect(r.stderr).toContain(`integrity: ${res.integrity}`);
  });
});

describe('mplab demo --sim', () => {
  it('the whole 30 s scenario in the simulator: knobs, WiFi silent 10–20 s, report with the mapping table, SVG', () => {
    const plot = join(tmp, 'demo.svg');
    const r = mplab(['demo', '--sim', '--plot', plot]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('net.mptcp.mptcp_ndiffports = 1');
    expect(r.stdout).toContain('net.mptcp.mptcp_mss = 0');
    expect(r.stdout).toContain('net.mptcp.mptcp_enabled = 1');
    expect(r.stdout).toContain('10.000 s link client:wifi down');
    expect(r.stdout).toContain('Mapping table');
    expect(r.stdout).toContain('integrity: ok');
    // the demo's figures: the gap when WiFi goes, and WiFi in use again after it returns
    expect(r.stdout).toMatch(/gap when WiFi goes\s+\d+\.\d+ s/);
    expect(r.stdout).toMatch(/WiFi in use again after\s+\d+\.\d+ s/);
    expect(readFileSync(plot, 'utf8')).toContain('link client:wifi up');
    const j = mplab(['demo', '--sim', '--json', '--plot', plot]);
    const out = JSON.parse(j.stdout) as { mode: string; result: RunResult };
    expect(out.mode).toBe('sim');
    expect(pathMbpsBetween(out.result.timeline, 1, 11, 20)).toBe(0);
    expect(pathMbpsBetween(out.result.timeline, 2, 11, 20)).toBeGreaterThan(1.5);
  });

  it.skipIf(!caps.root || !hasRunuser)(
    'without root it says why and runs the scenario in the simulator',
    () => {
      const open = join(tmp, 'nobody');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(tmp, 0o755);
      chmodSync(open, 0o777);
      const plot = join(open, 'demo.svg');
      const r = spawnSync(
        'runuser',
        [
          '-u',
          'nobody',
          '--',
          'env',
          'HOME=/tmp',
          process.execPath,
          '--import',
          'tsx',
          'cli/bin.ts',
          'demo',
          '--duration',
          '3',
          '--json',
          '--plot',
          plot,
        ],
        { cwd: root, encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain('cannot build the lab here: building network namespaces needs root');
      const out = JSON.parse(r.stdout) as { mode: string; fallback: string; result: RunResult };
      expect(out.mode).toBe('sim');
      expect(out.fallback).toMatch(/needs root/);
      expect(out.result.integrity).toBe('ok');
      expect(readFileSync(plot, 'utf8')).toMatch(/^<svg /);
    },
  );
});
