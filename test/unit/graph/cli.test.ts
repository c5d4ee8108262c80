/** `mplab graph` and `mplab list` as a user calls them: formats, files, errors (exit 2), lab states. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli';

const root = join(import.meta.dirname, '../../..');
let dir = '';
let savedRunDir: string | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mplab-graph-'));
  savedRunDir = process.env.MPLAB_RUN_DIR;
  process.env.MPLAB_RUN_DIR = join(dir, 'run');
});
afterEach(() => {
  if (savedRunDir === undefined) delete process.env.MPLAB_RUN_DIR;
  else process.env.MPLAB_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

describe('mplab graph', () => {
  it('writes the format the output file names', async () => {
    for (const ext of ['dot', 'mmd', 'svg', 'png', 'json']) {
      const out = join(dir, `t.${ext}`);
      const r = await runCli(['graph', join(root, 'topologies/two-host.yaml'), '-o', out]);
      expect(r.code, r.err).toBe(0);
      const head = readFileSync(out).subarray(0, 16).toString('latin1');
      expect(head).toMatch(
        { dot: /^graph /, mmd: /^flowchart LR/, svg: /^<svg /, png: /PNG/, json: /^\{/ }[ext]!,
      );
    }
  });

  it('prints DOT on stdout by default', async () => {
    const r = await runCli(['graph', join(root, 'topologies/ietf-livecd.yaml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^graph "ietf-livecd" \{/);
  });

  it('refuses an unknown format, an unknown extension and PNG on a terminal (exit 2)', async () => {
    const topo = join(root, 'topologies/two-host.yaml');
    expect((await runCli(['graph', topo, '--format', 'gif'])).code).toBe(2);
    expect((await runCli(['graph', topo, '-o', join(dir, 'x.gif')])).code).toBe(2);
    expect((await runCli(['graph', topo, '--format', 'png'])).code).toBe(2);
  });

  it('a bad topology file is exit 2 with its position', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nnodes:\n  a: { kind: spaceship }\n');
    const r = await runCli(['graph', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml:3:\d+/);
  });
});

describe('mplab list', () => {
  function plantState(name: string, phase: string, creator: number, pids: number[]): void {
    mkdirSync(join(dir, 'run', name), { recursive: true });
    writeFileSync(
      join(dir, 'run', name, 'state.json'),
      JSON.stringify({
        version: 1,
        lab: name,
        backend: 'netns',
        file: '/x/two-host.yaml',
        createdAt: '2026-12-03T09:00:00.000Z',
        phase,
        creator,
        namespaces: [],
        veths: [],
        processes: pids.map((pid) => ({ pid, kind: 'agent', node: 'a' })),
        files: [],
        links: [],
      }),
    );
  }

  it('says when there is no lab', async () => {
    const r = await runCli(['list']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('no lab on this machine');
  });

  it('tells up, degraded and stale labs apart', async () => {
    // a pid that cannot exist (above pid_max) stands for a process that died
    const dead = 2 ** 22 + 7;
    plantState('l1', 'up', process.pid, [process.pid]);
    plantState('l2', 'up', process.pid, [process.pid, dead]);
    plantState('l3', 'creating', dead, []);
    const r = await runCli(['list', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { name: string; state: string }[];
    expect(rows.map((x) => [x.name, x.state])).toEqual([
      ['l1', 'up'],
      ['l2', 'degraded'],
      ['l3', 'stale'],
    ]);
    const text = await runCli(['list']);
    expect(text.out).toMatch(/^LAB\s+STATE/);
    expect(text.out).toContain('l3: left half-built');
  });
});
