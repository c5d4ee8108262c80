/**
 * An unroutable subflow fails at once. Two hosts with two disjoint networks (client:eth0 - r1 -
 * server:eth0, client:eth1 - r2 - server:eth1, r1 and r2 not joined): fullmesh plans the two
 * cross joins, which no router can carry. The routers refuse them (the simulator's ICMP-like
 * unreachable), the client's core is told, the join fails without a SYN retransmission, and the
 * path manager does not try the pair again until the client's addresses change.
 */
import { describe, expect, it } from 'vitest';
import { PathManager } from '../../../stack/pm/index';
import { Simulator } from '../../../stack/sim/index';
import { hostOf, mptcpFactory } from '../mptcp/helpers';

function world(opts: { unreachableHook: boolean }) {
  const sim = new Simulator({ seed: 7 });
  const base = mptcpFactory({ 'net.mptcp.mptcp_path_manager': 'fullmesh' });
  const factory = opts.unreachableHook
    ? base
    : (info: Parameters<typeof base>[0]) => {
        // The same core without the optional method: what the hook changes.
        const core = base(info);
        Object.defineProperty(core, 'unreachable', { value: undefined });
        return core;
      };
  const client = sim.addHost('client', factory, [['10.1.0.1'], ['10.2.0.1']]);
  const server = sim.addHost('server', factory, [['10.1.0.2'], ['10.2.0.2']]);
  const r1 = sim.addRouter('r1');
  const r2 = sim.addRouter('r2');
  sim.addLink(client.ifaces[0]!, r1, { name: 'c0', rateMbps: 50, delayMs: 5 });
  sim.addLink(r1, server.ifaces[0]!, { rateMbps: 50, delayMs: 5 });
  sim.addLink(client.ifaces[1]!, r2, { name: 'c1', rateMbps: 50, delayMs: 5 });
  sim.addLink(r2, server.ifaces[1]!, { rateMbps: 50, delayMs: 5 });
  // Every SYN the client sends, by address pair.
  const syns = new Map<string, number>();
  const trace = sim.tracePackets(1_000_000);
  server.listen(80);
  const conn = client.connect({ host: '10.1.0.2', port: 80 });
  let connected = false;
  client.on((e) => {
    if (e.type === 'connected' && e.conn === conn) connected = true;
  });
  const countSyns = () => {
    syns.clear();
    for (const r of trace.records) {
      // SYNs leaving the client: handed to one of its access links, towards the router.
      if (r.event !== 'enq' || !r.link.startsWith('c') || r.dir !== 'ab') continue;
      if ((r.flags & 0x12) !== 0x02) continue;
      const k = `${r.src}>${r.dst}`;
      syns.set(k, (syns.get(k) ?? 0) + 1);
    }
    return syns;
  };
  return { sim, client, server, countSyns, connected: () => connected };
}

describe('an unroutable join', () => {
  it('fails at once: one SYN per cross pair, rows unreachable, no retry until the addresses change', () => {
    const w = world({ unreachableHook: true });
    w.sim.runUntil(8000);
    expect(w.connected()).toBe(true);
    const syns = w.countSyns();
    expect(syns.get('10.2.0.1>10.1.0.2')).toBe(1);
    expect(syns.get('10.1.0.1>10.2.0.2')).toBe(1);
    expect(syns.get('10.2.0.1>10.2.0.2')).toBe(1);
    const rep = hostOf(w.client.core).report();
    expect(rep.mib.MPJoinUnreachable).toBe(2);
    const states = Object.fromEntries(
      rep.mappingTable.map((r) => [`${r.endpoint.srcAddr}>${r.endpoint.dstAddr}`, r.state]),
    );
    expect(states['10.2.0.1>10.1.0.2']).toBe('unreachable');
    expect(states['10.1.0.1>10.2.0.2']).toBe('unreachable');
    expect(states['10.2.0.1>10.2.0.2']).toBe('established');
    // The failed joins' subflows say why.
    const closed = rep.connections[0]!.subflows.filter((s) => s.closeReason?.startsWith('unreachable'));
    expect(closed).toHaveLength(2);
    // A new address on the client: the unroutable pairs are tried again (once each, failing again).
    w.client.addAddress('10.1.0.9', w.client.ifaces[0]!);
    w.sim.runUntil(12_000);
    const again = w.countSyns();
    expect(again.get('10.2.0.1>10.1.0.2')).toBe(2);
    expect(again.get('10.1.0.1>10.2.0.2')).toBe(2);
    expect(hostOf(w.client.core).report().mib.MPJoinUnreachable).toBeGreaterThanOrEqual(4);
  });

  it('without the unreachable hook the same joins retransmit their SYNs (what the hook prevents)', () => {
    const w = world({ unreachableHook: false });
    w.sim.runUntil(8000);
    const syns = w.countSyns();
    expect(syns.get('10.2.0.1>10.1.0.2')).toBeGreaterThanOrEqual(3);
  });

  it('a connection whose first SYN has no route fails at once with EHOSTUNREACH', () => {
    const sim = new Simulator({ seed: 3 });
    const f = mptcpFactory();
    const a = sim.addHost('a', f, [['10.1.0.1']]);
    sim.addHost('b', f, [['10.9.0.2']]);
    const r = sim.addRouter('r');
    sim.addLink(a.ifaces[0]!, r, { rateMbps: 10, delayMs: 5 });
    let err: string | undefined;
    let at = -1;
    const id = a.connect({ host: '10.9.0.2', port: 80 });
    a.on((e) => {
      if (e.type === 'closed' && e.conn === id) {
        err = e.error?.code;
        at = sim.now;
      }
    });
    sim.runUntil(5000);
    expect(err).toBe('EHOSTUNREACH');
    expect(at).toBeLessThan(20);
    expect(hostOf(a.core).report().mib.SubflowUnreachable).toBe(1);
  });
});

describe('PathManager.markUnreachable', () => {
  it('stops rows on the pair, keeps them stopped through pathDown, and forgets on routesChanged', () => {
    const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['10.1.0.1', '10.2.0.1']);
    pm.addConnection(1, { srcAddr: '10.1.0.1', dstAddr: '10.1.0.2', srcPort: 1000, dstPort: 80 }, true);
    pm.addRemoteAddress(1, { id: 1, address: '10.2.0.2' });
    const cross = () =>
      pm.rows(1).find((r) => r.endpoint.srcAddr === '10.2.0.1' && r.endpoint.dstAddr === '10.1.0.2')!;
    expect(cross().state).toBe('pending');
    pm.built(1, cross().pathIndex, 4000);
    pm.markUnreachable('10.2.0.1', '10.1.0.2');
    pm.pathDown(1, cross().pathIndex, 100);
    expect(cross().state).toBe('unreachable');
    expect(pm.nextToBuild(1, 1e9).some((r) => r === cross())).toBe(false);
    expect(pm.nextRetry(1)).toBe(Number.POSITIVE_INFINITY);
    // The same pair on a new connection starts unreachable too.
    pm.addConnection(2, { srcAddr: '10.1.0.1', dstAddr: '10.1.0.2', srcPort: 1001, dstPort: 80 }, true);
    pm.addRemoteAddress(2, { id: 1, address: '10.2.0.2' });
    const cross2 = pm
      .rows(2)
      .find((r) => r.endpoint.srcAddr === '10.2.0.1' && r.endpoint.dstAddr === '10.1.0.2')!;
    expect(cross2.state).toBe('unreachable');
    // The same address set again is no change; routes changing is.
    pm.setLocalAddresses(['10.2.0.1', '10.1.0.1']);
    expect(cross().state).toBe('unreachable');
    pm.routesChanged();
    expect(cross().state).toBe('pending');
    expect(cross2.state).toBe('pending');
    // The peer announcing the remote address again also lets pairs towards it be tried again.
    pm.markUnreachable('10.1.0.1', '10.2.0.2');
    const toB2 = pm
      .rows(1)
      .find((r) => r.endpoint.srcAddr === '10.1.0.1' && r.endpoint.dstAddr === '10.2.0.2')!;
    expect(toB2.state).toBe('unreachable');
    pm.addRemoteAddress(1, { id: 1, address: '10.2.0.2' });
    expect(toB2.state).toBe('pending');
    expect(pm.isUnreachable('10.1.0.1', '10.2.0.2')).toBe(false);
  });
});
