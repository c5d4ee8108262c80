/**
 * As root, on topologies/two-host.yaml with fullmesh: the cross joins (10.0.2.1 -> 10.0.1.2 and
 * 10.0.1.1 -> 10.0.2.2) have no route (each address's own table ends in `unreachable`), so the UDP
 * phy's send of their SYN fails with EHOSTUNREACH. The path manager must learn it from that first
 * SYN: exactly one SYN per join (MPJoinSynTx = 3: the direct 10.0.2.1 -> 10.0.2.2 join and the
 * two cross ones), both cross joins counted unreachable, and the transfer unharmed over both paths.
 * Without the phy's report each cross join would retransmit its SYN (three SYNs each, the issue).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import type { UnreachableCode } from '../../../stack/core/contract';
import { ipRunner, RouteCheck, RouteWatch } from '../../../stack/runtime/route-check';
import { caps } from '../../helpers/caps';
import { createNetns, ipBatch, netnsScope } from '../../helpers/netns';
import { agentEntry, type Bundle, bundle, root } from '../lab/bundle';
import { labName, labScope } from '../lab/helpers';

const twoHost = join(root, 'topologies/two-host.yaml');

describe.skipIf(!caps.netns || !existsSync(agentEntry))('unroutable joins on two-host (root)', () => {
  labScope();
  let b: Bundle;
  let lab: Lab;
  beforeAll(async () => {
    b = await bundle();
    process.env.MPLAB_AGENT = b.agent;
    lab = await Lab.up(twoHost, { name: labName('u') });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
    b?.remove();
  });

  it('fullmesh: each cross join sends one SYN, fails at once, and is not retried', async () => {
    const r = await lab.run({ from: 'a', to: 'b', bytes: 20_000_000, stack: 'ts', intervalMs: 200 });
    expect(r.integrity).toBe('ok');
    const carrying = r.subflows.filter((s) => s.bytes > 1_000_000);
    expect(new Set(carrying.map((s) => s.local.split(':')[0]))).toEqual(new Set(['10.0.1.1', '10.0.2.1']));
    const [a] = await lab.report('a');
    const mib = (a!.report.stack as { mib: Record<string, number> }).mib;
    expect(mib.MPJoinSynTx).toBe(3);
    expect(mib.MPJoinUnreachable).toBe(2);
    expect(a!.report.phy.sendErrors).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a route change lets the pair be tried again (the agent follows routes)', async () => {
    const mibOf = async () =>
      (
        (await lab.report('a'))[0]!.report.stack as {
          mib: Record<'MPJoinSynTx' | 'MPJoinUnreachable' | 'MPJoinAccepted', number>;
        }
      ).mib;
    const before = await mibOf();
    // Make 10.0.2.1 <-> 10.0.1.2 routable over the eth1 link: a sends from 10.0.2.1 out of eth1,
    // b answers 10.0.2.1 from 10.0.1.2 out of eth1 (each address's own table, as the plan lays out).
    const tableOf = (node: string, addr: string): string => {
      const out = execFileSync('ip', ['-n', `mplab-${lab.name}-${node}`, 'rule', 'show'], {
        encoding: 'utf8',
      });
      const m = new RegExp(`from ${addr.replace(/\./g, '\\.')} lookup (\\S+)`).exec(out);
      if (!m) throw new Error(`no rule for ${addr} in ${node}: ${out}`);
      return m[1]!;
    };
    execFileSync('ip', [
      '-n',
      `mplab-${lab.name}-a`,
      'route',
      'add',
      '10.0.1.2/32',
      'dev',
      'eth1',
      'table',
      tableOf('a', '10.0.2.1'),
    ]);
    execFileSync('ip', [
      '-n',
      `mplab-${lab.name}-b`,
      'route',
      'add',
      '10.0.2.1/32',
      'dev',
      'eth1',
      'table',
      tableOf('b', '10.0.1.2'),
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    const r = await lab.run({ from: 'a', to: 'b', bytes: 20_000_000, stack: 'ts', intervalMs: 200 });
    expect(r.integrity).toBe('ok');
    const after = await mibOf();
    // Both cross joins tried again (routes changed): one now works, the other fails at once again.
    expect(after.MPJoinSynTx - before.MPJoinSynTx).toBe(3);
    expect(after.MPJoinUnreachable - before.MPJoinUnreachable).toBe(1);
    expect(after.MPJoinAccepted - before.MPJoinAccepted).toBe(2);
  }, 120_000);
});

describe.skipIf(!caps.netns)(
  "the TUN phy's route check and the route watch against the kernel (root)",
  () => {
    netnsScope();
    it('ip route get from an address whose table ends in unreachable: EHOSTUNREACH; a new route: watched', async () => {
      const ns = createNetns('hol-rc');
      ipBatch(ns, [
        'link add d0 type veth peer name d1',
        'link set d1 up',
        'addr add 10.77.1.1/24 dev d0',
        'link set d0 up',
        'route add 10.77.1.0/24 dev d0 table 177',
        'route add unreachable default table 177',
        'rule add from 10.77.1.1/32 lookup 177 priority 1077',
      ]);
      const got: string[] = [];
      const rc = new RouteCheck(ipRunner(ns), (src, dst, code: UnreachableCode) =>
        got.push(`${src}>${dst} ${code}`),
      );
      rc.syn('10.77.1.1', '10.77.2.9');
      rc.syn('10.77.1.1', '10.77.1.9');
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(['10.77.1.1>10.77.2.9 EHOSTUNREACH']);
      let changes = 0;
      const w = new RouteWatch(() => changes++, undefined, ns, 50);
      w.start();
      try {
        await new Promise((r) => setTimeout(r, 300));
        ipBatch(ns, ['route add 10.77.2.0/24 dev d0 table 177']);
        for (let i = 0; i < 50 && changes === 0; i++) await new Promise((r) => setTimeout(r, 100));
        expect(changes).toBe(1);
      } finally {
        w.stop();
      }
      // Stopped: no ip monitor (nor its shell) left behind in the namespace.
      await new Promise((r) => setTimeout(r, 300));
      expect(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim()).toBe('');
    }, 30_000);
  },
);
