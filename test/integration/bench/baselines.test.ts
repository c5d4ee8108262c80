/**
 * The bench baselines against the real thing:
 * - the lab-build script (bench/lib/labscript.ts) builds the same network as Lab.up (addresses,
 *   routes, rules, links by name, MAC and MTU), its agents answer, and its down removes every
 *   namespace and agent it made;
 * - the mptcpd-like endpoint watcher (bench/lib/pmwatch.ts) deletes the kernel's endpoint when its
 *   link goes, re-adds it when the link is back, and the kernel then carries data on that path again.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labScript } from '../../../bench/lib/labscript';
import { watchEndpoints } from '../../../bench/lib/pmwatch';
import { timeToReach } from '../../../bench/lib/series';
import { Procs, twoHosts } from '../../../bench/lib/topo';
import { bundleAgent, kernelMptcp, kernelTransfer, startRxSampler } from '../../../bench/lib/transfer';
import { Lab } from '../../../lab/lab';
import { AgentClient } from '../../../stack/agent/client';
import { caps } from '../../helpers/caps';
import { tag } from '../../helpers/netns';
import { twoHost } from '../lab/models';

const j = (ns: string, ...args: string[]) =>
  JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]') as Record<
    string,
    unknown
  >[];

/** What a node's network looks like, without the parts that name the lab (namespace ids). */
function network(ns: string) {
  const links = j(ns, 'link', 'show')
    .map((l) => ({ ifname: l.ifname, ifindex: l.ifindex, mtu: l.mtu, address: l.address, flags: l.flags }))
    .sort((a, b) => String(a.ifname).localeCompare(String(b.ifname)));
  const addrs = j(ns, 'addr', 'show')
    .flatMap((l) =>
      ((l.addr_info as Record<string, unknown>[]) ?? []).map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`),
    )
    .sort();
  const routes = j(ns, 'route', 'show', 'table', 'all')
    .map((r) => `${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''} ${r.table ?? 'main'} ${r.prefsrc ?? ''}`)
    .sort();
  const rules = j(ns, 'rule', 'show').map((r) => `${r.priority} ${r.src ?? 'all'} ${r.table}`);
  return { links, addrs, routes, rules };
}

describe.skipIf(!caps.netns)('lab-build baseline script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-labscript-'));
  let agent = '';
  const prev = process.env.MPLAB_AGENT;
  beforeAll(async () => {
    agent = await bundleAgent(dir);
    process.env.MPLAB_AGENT = agent;
  }, 60_000);
  afterAll(() => {
    if (prev === undefined) delete process.env.MPLAB_AGENT;
    else process.env.MPLAB_AGENT = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds what Lab.up builds, with agents that answer, and its down leaves nothing', async () => {
    const t = tag();
    const ours = twoHost(`ls${t}o`);
    const theirs = twoHost(`ls${t}b`);
    const work = join(dir, 'b');
    execFileSync('mkdir', ['-p', work]);
    const s = labScript(theirs, agent, work);
    expect(s.up).not.toContain('python3');
    writeFileSync(join(work, 'up.sh'), s.up);
    writeFileSync(join(work, 'down.sh'), s.down);
    const lab = await Lab.up(ours);
    let downed = false;
    try {
      execFileSync('bash', [join(work, 'up.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
      for (const n of ['a', 'b']) {
        expect(network(`mplab-${theirs.name}-${n}`)).toEqual(network(`mplab-${ours.name}-${n}`));
        const c = await AgentClient.connect(join(work, `${n}.sock`));
        try {
          const v = await c.call('version', undefined, { timeoutMs: 2000 });
          expect(v.addresses.sort()).toEqual(theirs.nodes.find((x) => x.name === n)!.addresses.sort());
        } finally {
          await c.close();
        }
      }
      const pids = execFileSync('cat', [join(work, 'pids')], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map(Number);
      expect(pids).toHaveLength(2);
      execFileSync('bash', [join(work, 'down.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
      downed = true;
      for (const p of pids)
        expect(
          existsSync(`/proc/${p}`) &&
            !/\) Z /.test(execFileSync('cat', [`/proc/${p}/stat`], { encoding: 'utf8' })),
        ).toBe(false);
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      expect(left).not.toContain(`mplab-${theirs.name}-`);
    } finally {
      if (!downed) execFileSync('bash', [join(work, 'down.sh')], { stdio: 'ignore' });
      await lab.down();
    }
  });

  it('refuses a shaped link instead of leaving the shaping out', () => {
    const m = twoHost(`ls${tag()}s`, { params: { rateMbps: 10 } });
    expect(() => labScript(m, undefined, '/tmp/x')).toThrow(/shaped or emulated/);
  });
});

describe.skipIf(!caps.netns || !caps.kernelMptcp || !caps.python3)('mptcpd-like endpoint watcher', () => {
  it('deletes the endpoint with the link, re-adds it with the link, and the path carries data again', async () => {
    const h = await twoHosts(239, [
      { via: 'veth', rateMbps: 20 },
      { via: 'veth', rateMbps: 20 },
    ]);
    const procs = new Procs();
    try {
      kernelMptcp(
        h.nsA,
        h.nsB,
        h.paths.map((p) => p.a),
        h.paths.map((p) => p.ifA),
      );
      const p = h.paths[1]!;
      const endpoints = () =>
        execFileSync('ip', ['-n', h.nsA, 'mptcp', 'endpoint', 'show'], { encoding: 'utf8' });
      expect(endpoints()).toContain(`${p.a} id 2 subflow dev ${p.ifA}`);
      const w = await watchEndpoints(procs, h.nsA, [{ addr: p.a, ifname: p.ifA, id: 2, table: 101 }]);
      const rx = await startRxSampler(procs, h.nsB, [p.ifB], 10);
      let during = '';
      const r = await kernelTransfer(procs, h.nsA, h.nsB, h.paths[0]!.b, {
        seconds: 5,
        port: 5560,
        intervalMs: 10,
        events: [
          { at: 1, name: 'down', run: () => h.setPath(1, false) },
          {
            at: 2,
            name: 'check',
            run: async () => {
              during = endpoints();
            },
          },
          { at: 2.5, name: 'up', run: () => h.setPath(1, true) },
        ],
      });
      const reactions = await w.stop();
      const [p2] = await rx.stop();
      expect(reactions.map((x) => [x.usable, x.error])).toEqual([
        [false, undefined],
        [true, undefined],
      ]);
      expect(during).not.toContain(p.a);
      expect(endpoints()).toContain(`${p.a} id 2 subflow dev ${p.ifA}`);
      // the re-added endpoint gave the running connection a subflow on the path again
      expect(timeToReach(p2!, r.events.up!, r.t0 + 4.8, 0.2)).toBeDefined();
    } finally {
      await procs.killAll();
      await h.close();
    }
  });
});
