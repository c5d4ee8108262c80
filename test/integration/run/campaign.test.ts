import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { listLabs } from '../../../lab/state';
import { caps } from '../../helpers/caps';
import { agentEntry, type Bundle, bundle, root } from '../lab/bundle';

const tmp = mkdtempSync(join(tmpdir(), 'mplab-campaign-it-'));
let b: Bundle;
beforeAll(async () => {
  b = await bundle();
}, 120_000);
afterAll(() => {
  b?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

function start(args: string[]) {
  return spawnCli(b.cli, args, { timeoutMs: 600_000, agent: b.agent ?? '', emulatorFromSource: true });
}

function campaignFile(name: string, body: string): string {
  const f = join(tmp, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\ntopology: ${join(root, 'topologies/two-host.yaml')}\n${body}`);
  return f;
}

const runsIn = (dir: string) =>
  existsSync(join(dir, 'runs')) ? readdirSync(join(dir, 'runs')).filter((f) => f.endsWith('.json')) : [];

describe('campaign --sim', () => {
  it('2×2×2: killed with SIGKILL in the middle, resumed, finishes without redoing finished runs', async () => {
    const f = campaignFile(
      'k2x2x2',
      [
        'run: { from: a, to: b, time: 1s }',
        'matrix:',
        '  knobs.net.mptcp.mptcp_enabled: [1, 0]',
        '  knobs.net.mptcp.mptcp_scheduler: [default, roundrobin]',
        '  links.a:eth1--b:eth1.rate: [10mbit, 50mbit]',
        'repetitions: 1',
        'seed: 5',
        '',
      ].join('\n'),
    );
    const out = join(tmp, 'k-out');
    const first = start(['campaign', f, '-o', out, '--sim']);
    const t0 = Date.now();
    while (runsIn(out).length < 3 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    expect(r1.signal).toBe('SIGKILL');
    const before = new Map(runsIn(out).map((f) => [f, readFileSync(join(out, 'runs', f), 'utf8')]));
    const mtimes = new Map([...before.keys()].map((f) => [f, statSync(join(out, 'runs', f)).mtimeMs]));
    expect(before.size).toBeGreaterThanOrEqual(3);
    expect(before.size).toBeLessThan(8);
    expect(existsSync(join(out, 'results.csv'))).toBe(false);

    // without --resume it refuses to touch the directory
    const refused = await start(['campaign', f, '-o', out, '--sim']).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--resume');

    const second = await start(['campaign', f, '-o', out, '--sim', '--resume', '--json']).done;
    expect(second.code, second.stderr).toBe(0);
    const outcome = JSON.parse(second.stdout) as { ranNow: number; skipped: number; failed: number };
    expect(outcome.skipped).toBe(before.size);
    expect(outcome.ranNow).toBe(8 - before.size);
    expect(outcome.failed).toBe(0);
    // the finished runs were not redone: same bytes, same files
    for (const [f, text] of before) {
      expect(readFileSync(join(out, 'runs', f), 'utf8')).toBe(text);
      expect(statSync(join(out, 'runs', f)).mtimeMs).toBe(mtimes.get(f));
    }
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'run,cell,repetition,seed,knobs.net.mptcp.mptcp_enabled,knobs.net.mptcp.mptcp_scheduler,links.a:eth1--b:eth1.rate,goodput_mbps,bytes,seconds,integrity,subflows,error,send_seconds,drain_seconds,omit_seconds,retrans,reinjected_bytes,ooo_bytes',
    );
    expect(csv).toHaveLength(9);
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(new Set(rows.map((r) => r.slice(4, 7).join('/'))).size).toBe(8);
    for (const r of rows) expect(r[10]).toBe('ok');
    // without MPTCP over the 10 Mbit/s path about 10 Mbit/s; with it, over both paths, more than that
    const g = (enabled: string, rate: string) =>
      rows.filter((r) => r[4] === enabled && r[6] === rate).map((r) => Number(r[7]));
    for (const v of g('0', '10mbit')) expect(v).toBeLessThan(10.5);
    for (const v of g('1', '10mbit')) expect(v).toBeGreaterThan(50);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { cells: unknown[] };
    expect(summary.cells).toHaveLength(8);
    expect(readFileSync(join(out, 'goodput.svg'), 'utf8')).toMatch(/^<svg /);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('| knobs.net.mptcp.mptcp_enabled |');
  }, 120_000);

  it('deterministic: the same campaign twice gives the same results', async () => {
    const f = campaignFile(
      'det',
      'run: { from: a, to: b, bytes: 3mb }\nmatrix:\n  links.a:eth1--b:eth1.loss: [1%]\nrepetitions: 2\nseed: 9\n',
    );
    const a = await start(['campaign', f, '-o', join(tmp, 'det-a'), '--sim']).done;
    const c = await start(['campaign', f, '-o', join(tmp, 'det-b'), '--sim']).done;
    expect(a.code, a.stderr).toBe(0);
    expect(c.code).toBe(0);
    const strip = (dir: string) => readFileSync(join(dir, 'results.csv'), 'utf8');
    expect(strip(join(tmp, 'det-b'))).toBe(strip(join(tmp, 'det-a')));
    const rows = strip(join(tmp, 'det-a')).trim().split('\n').slice(1);
    // two repetitions with their own seeds under random loss: different figures
    expect(rows[0]!.split(',')[7]).not.toBe(rows[1]!.split(',')[7]);
  }, 60_000);

  it('cells the simulator cannot model (stack tcp: kernel TCP in a lab) are refused up front, exit 2', async () => {
    const f = campaignFile('nosim', 'run: { from: a, to: b, time: 1s }\nmatrix:\n  stack: [ts, tcp]\n');
    const out = join(tmp, 'nosim-out');
    const r = await start(['campaign', f, '-o', out, '--sim']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cell stack=tcp: --stack tcp is the kernel's plain TCP/);
    expect(existsSync(join(out, 'runs'))).toBe(false);
  }, 60_000);

  it('a bad campaign file is a usage error naming file:line:col', async () => {
    const f = campaignFile('bad', 'run: { from: a, to: b }\nmatrix:\n  stack: [ts, sctp]\n');
    const r = await start(['campaign', f, '-o', join(tmp, 'bad-out'), '--sim']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:5:15: stack: expected ts, kernel or tcp, got "sctp"`);
  }, 30_000);
});

describe.skipIf(!caps.netns || !existsSync(agentEntry))('campaign in labs', () => {
  it('each run in a fresh lab (up, knobs, run, down): rows and no lab left behind', async () => {
    const f = campaignFile(
      'lab2',
      'run: { from: a, to: b, time: 1s }\nmatrix:\n  stack: [ts, tcp]\nrepetitions: 1\nseed: 3\n',
    );
    const out = join(tmp, 'lab2-out');
    const labsBefore = new Set(listLabs());
    const r = await start(['campaign', f, '-o', out, '--json']).done;
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.split(',')[8]).toBe('ok');
    const ts = JSON.parse(
      readFileSync(
        join(out, 'runs', readdirSync(join(out, 'runs')).find((x) => x.startsWith('ts'))!),
        'utf8',
      ),
    );
    expect(ts.result.sim).toBe(false);
    expect(
      ts.result.subflows.filter((s: { bytes: number }) => s.bytes > 100_000).length,
    ).toBeGreaterThanOrEqual(2);
    expect(listLabs().filter((l) => !labsBefore.has(l) && l.startsWith('cmp'))).toEqual([]);
  }, 90_000);
});
