import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/spawn-cli';
import { formatReport } from '../../../lab/report';
import { Lab } from '../../../lab/lab';
import type { RunResult } from '../../../lab/run/result';
import { caps } from '../../helpers/caps';
import { type Bundle, root, bundleForSuite } from '../lab/bundle';
import { labName, labScope, leftovers, NOTHING } from '../lab/helpers';

const twoHost = join(root, 'topologies/two-host.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'mplab-revit-'));

function cli(b: Bundle, args: string[], timeoutMs = 60_000) {
  return spawnCli(b.cli, args, { timeoutMs, agent: b.agent ?? '' });
}

/** Subflows that carried at least `min` bytes, by the sender's local address. */
const carrying = (r: RunResult, min: number) => r.subflows.filter((s) => s.bytes >= min);

const bundled = bundleForSuite();
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!caps.netns)('run --reverse in a lab', () => {
  labScope();
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up(twoHost, { name: labName('r') });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('our stack: a connects, b sends over both paths; a reports its connection as the client', async () => {
    let clientReport = '';
    const out = await (await import('../../../lab/run/index')).runTraffic(
      lab,
      { from: 'a', to: 'b', timeMs: 3000, stack: 'ts', reverse: true, intervalMs: 200 },
      { reportAt: 0.5 },
    );
    const r = out.result;
    expect(r.integrity).toBe('ok');
    expect(r.reverse).toBe(true);
    expect(r.ends).toEqual([
      { node: 'a', role: 'receiver', opened: true, stack: 'ts' },
      { node: 'b', role: 'sender', opened: false, stack: 'ts' },
    ]);
    // the sender's side names the subflows: b's two addresses, each carrying data
    expect(new Set(carrying(r, 500_000).map((s) => s.local.split(':')[0]))).toEqual(
      new Set(['10.0.1.2', '10.0.2.2']),
    );
    const a = out.reports.find((x) => x.node === 'a');
    expect(a).toBeDefined();
    clientReport = formatReport('a', a!.report);
    expect(clientReport).toMatch(/conn \d+\s+mptcp\s+client/);
    const bRep = formatReport('b', out.reports.find((x) => x.node === 'b')!.report);
    expect(bRep).toMatch(/conn \d+\s+mptcp\s+server/);
  }, 60_000);

  it.skipIf(!caps.kernelMptcp)(
    '--stack kernel and --stack tcp reversed through the namespaces',
    async () => {
      const k = await lab.run({
        from: 'a',
        to: 'b',
        bytes: 8_000_000,
        stack: 'kernel',
        reverse: true,
        intervalMs: 100,
      });
      expect(k.integrity).toBe('ok');
      expect(k.bytes).toBe(8_000_000);
      expect(k.ends?.map((e) => `${e.node}:${e.role}:${e.stack}`)).toEqual([
        'a:receiver:kernel',
        'b:sender:kernel',
      ]);
      // the sender (b) accepted: its subflows have the port it listens on as their local port
      expect(k.subflows[0]!.local).toMatch(/^10\.0\.1\.2:\d+$/);
      expect(k.subflows[0]!.bytes).toBeGreaterThan(1_000_000);
      const t = await lab.run({ from: 'a', to: 'b', timeMs: 1500, stack: 'tcp', reverse: true });
      expect(t.integrity).toBe('ok');
      expect(t.subflows).toHaveLength(1);
      expect(t.subflows[0]!.local.startsWith('10.0.1.2:')).toBe(true);
    },
    60_000,
  );

  it('the CLI: --reverse in the summary, --json has reverse and ends', async () => {
    const r = await cli(bundled(), [
      'run',
      'a',
      'b',
      '--lab',
      lab.name,
      '--reverse',
      '--bytes',
      '2mb',
      '--json',
    ]).done;
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as RunResult;
    expect(res.reverse).toBe(true);
    expect(res.integrity).toBe('ok');
    expect(res.bytes).toBe(2_000_000);
    const s = await cli(bundled(), ['run', 'a', 'b', '--lab', lab.name, '--reverse', '--bytes', '1mb']).done;
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('b → a');
    expect(s.stdout).toContain('a opened the connection and received (our stack)');
  }, 60_000);
});

describe.skipIf(!caps.netns)('a run notices a dead agent', () => {
  labScope();

  it('kill -9 of the receiving agent mid-run: exit 1 naming it, promptly', async () => {
    const name = labName('k');
    const lab = await Lab.up(twoHost, { name });
    try {
      const { pid } = lab.agentProcess('b');
      expect(pid).toBeGreaterThan(0);
      const run = cli(
        bundled(),
        ['run', 'a', 'b', '--lab', name, '--time', '20s', '--interval', '100ms'],
        60_000,
      );
      // wait until data flows (the live view prints a timeline line), then kill the recorded pid
      for (let i = 0; i < 200 && !/t=\d/.test(run.out()); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      const killedAt = performance.now();
      process.kill(pid!, 'SIGKILL');
      const r = await run.done;
      const took = (r.at - killedAt) / 1000;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr + r.stdout).toMatch(/agent of node 'b' died/);
      // the dead socket is noticed at once (about 0.1 s here when idle); the bound is a sanity
      // bound that a loaded two-core box cannot miss, not the figure
      console.log(`agent death to CLI exit: ${took.toFixed(2)} s`);
      expect(took).toBeLessThan(10);
      // the surviving agent holds no traffic job
      const c = await lab.agent('a');
      try {
        const st = await c.call('traffic.status');
        expect(st.jobs.filter((j) => !['done', 'failed', 'stopped'].includes(j.state))).toEqual([]);
      } finally {
        await c.close();
      }
    } finally {
      await lab.down();
    }
    expect(leftovers(name)).toEqual(NOTHING);
  }, 120_000);
});

describe.skipIf(!caps.netns)('a run notices a hung agent', () => {
  labScope();

  it('SIGSTOP of the sending agent mid-run: the heartbeat fails it, exit 1 naming it', async () => {
    const name = labName('h');
    const lab = await Lab.up(twoHost, { name });
    const { pid } = lab.agentProcess('a');
    let stopped = false;
    try {
      const run = cli(
        bundled(),
        ['run', 'a', 'b', '--lab', name, '--time', '20s', '--interval', '100ms'],
        60_000,
      );
      for (let i = 0; i < 200 && !/t=\d/.test(run.out()); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      const at = performance.now();
      process.kill(pid!, 'SIGSTOP');
      stopped = true;
      const r = await run.done;
      process.kill(pid!, 'SIGCONT');
      stopped = false;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr + r.stdout).toMatch(/agent of node 'a' stopped answering \(no reply to a heartbeat/);
      // noticed after the 1.5 s heartbeat deadline; a sanity bound for the whole exit on a loaded box
      expect((r.at - at) / 1000).toBeLessThan(10);
    } finally {
      if (stopped) process.kill(pid!, 'SIGCONT');
      await lab.down();
    }
    expect(leftovers(name)).toEqual(NOTHING);
  }, 120_000);
});

describe.skipIf(!caps.netns || !caps.tun || !caps.kernelMptcp)(
  'mixed stacks: our node (phy: tun) and a kernel MPTCP node',
  () => {
    labScope();
    let lab: Lab;
    beforeAll(async () => {
      const name = labName('m');
      const file = join(tmp, 'mixed.yaml');
      writeFileSync(
        file,
        [
          `name: ${name}`,
          'defaults:',
          '  link:',
          '    rate: 20mbit',
          'nodes:',
          '  a:',
          '    phy: tun',
          '  b:',
          '    stack: kernel',
          'links:',
          '  - endpoints: [a:eth1, b:eth1]',
          '  - endpoints: [a:eth2, b:eth2]',
          '',
        ].join('\n'),
      );
      lab = await Lab.up(file, { name });
    }, 120_000);
    afterAll(async () => {
      await lab?.down();
    });

    const check = (r: RunResult, sender: string, receiver: string, subflows = 2) => {
      expect(r.integrity).toBe('ok');
      expect(r.bytes).toBeGreaterThan(1_000_000);
      const ends = Object.fromEntries((r.ends ?? []).map((e) => [e.node, e]));
      expect(ends.a?.stack).toBe('ts');
      expect(ends.b?.stack).toBe('kernel');
      expect(ends[sender]?.role).toBe('sender');
      expect(ends[receiver]?.role).toBe('receiver');
      const mixed = r.notes?.find((n) => n.startsWith('mixed stacks:')) ?? '';
      expect(mixed).toContain("'a' ran our stack (its agent)");
      expect(mixed).toContain("'b' ran the kernel's MPTCP");
      // >= 2 subflows carrying data, on different address pairs
      const busy = carrying(r, 300_000);
      expect(new Set(busy.map((s) => s.local.split(':')[0])).size).toBeGreaterThanOrEqual(subflows);
    };

    it('a (ours) sends to b (kernel)', async () => {
      check(await lab.run({ from: 'a', to: 'b', timeMs: 3000, stack: 'ts', intervalMs: 100 }), 'a', 'b');
    }, 60_000);

    it('b (kernel) sends to a (ours)', async () => {
      check(await lab.run({ from: 'b', to: 'a', timeMs: 3000, stack: 'ts', intervalMs: 100 }), 'b', 'a');
    }, 60_000);

    it('a connects, b (kernel) sends back (--reverse)', async () => {
      check(
        await lab.run({ from: 'a', to: 'b', timeMs: 3000, stack: 'ts', reverse: true, intervalMs: 100 }),
        'b',
        'a',
      );
    }, 60_000);
  },
);
