/**
 * Routing in the simulator as a Linux node does it: source-policy rules before the main table,
 * longest prefix, `unreachable` routes refused at once (the core hears EHOSTUNREACH), no route
 * (ENETUNREACH), ECMP by flow, hosts that never forward, and switches as L2 segments that deliver
 * to the port behind the next hop.
 */
import { describe, expect, it } from 'vitest';
import { RoutingTable } from '../../../stack/sim/routing';
import { Simulator } from '../../../stack/sim/sim';
import { ProbeCore } from '../../../stack/sim/testcores';

const seg = (sport: number) => {
  const d = new Uint8Array(20);
  d[0] = sport >> 8;
  d[1] = sport & 0xff;
  d[3] = 80;
  return d;
};

describe('RoutingTable', () => {
  const twoHomed = () =>
    new RoutingTable(
      [
        { dev: 'eth1', subnet: '10.0.1.0/24' },
        { dev: 'eth2', subnet: '10.0.2.0/24' },
      ],
      [
        { family: 4, dst: '10.0.1.0/24', dev: 'eth1', table: 101 },
        { family: 4, dst: 'default', type: 'unreachable', table: 101 },
        { family: 4, dst: '10.0.2.0/24', dev: 'eth2', table: 102 },
        { family: 4, dst: 'default', via: '10.0.2.254', dev: 'eth2', table: 102 },
        { family: 4, dst: '10.9.0.0/16', via: '10.0.1.254', dev: 'eth1' },
      ],
      [
        { from: '10.0.1.1/32', table: 101, priority: 1001 },
        { from: '10.0.2.1/32', table: 102, priority: 1002 },
      ],
    );

  it('applies the source rule first: unreachable default ends the lookup', () => {
    const t = twoHomed();
    expect(t.lookup('10.0.1.1', '10.0.1.2', seg(1))).toEqual({ dev: 'eth1', hop: '10.0.1.2' });
    expect(t.lookup('10.0.1.1', '10.0.2.2', seg(1))).toEqual({ unreachable: 'EHOSTUNREACH' });
    // table 102 has a default route: the gateway is the next hop
    expect(t.lookup('10.0.2.1', '10.0.1.2', seg(1))).toEqual({ dev: 'eth2', hop: '10.0.2.254' });
  });

  it('falls through to the main table for other sources; no route at all is ENETUNREACH', () => {
    const t = twoHomed();
    expect(t.lookup('10.0.3.1', '10.9.4.4', seg(1))).toEqual({ dev: 'eth1', hop: '10.0.1.254' });
    expect(t.lookup('10.0.3.1', '10.0.2.7', seg(1))).toEqual({ dev: 'eth2', hop: '10.0.2.7' });
    expect(t.lookup('10.0.3.1', '192.168.1.1', seg(1))).toEqual({ unreachable: 'ENETUNREACH' });
  });

  it('IPv6 rules and routes are their own family', () => {
    const t = new RoutingTable(
      [{ dev: 'e', subnet: 'fd00::/64' }],
      [{ family: 6, dst: 'default', type: 'unreachable', table: 101 }],
      [{ from: 'fd00::1/128', table: 101, priority: 1001 }],
    );
    expect(t.lookup('fd00::1', 'fd00::2', seg(1))).toEqual({ unreachable: 'EHOSTUNREACH' });
    expect(t.lookup('fd00::9', 'fd00::2', seg(1))).toEqual({ dev: 'e', hop: 'fd00::2' });
  });

  it('ECMP: one next hop per flow, both used over many flows', () => {
    const t = new RoutingTable(
      [],
      [
        {
          family: 4,
          dst: '10.6.0.0/24',
          nexthops: [
            { via: '10.2.0.2', dev: 'up1' },
            { via: '10.3.0.2', dev: 'up2' },
          ],
        },
      ],
      [],
    );
    const used = new Set<string>();
    for (let p = 1000; p < 1040; p++) {
      const a = t.lookup('10.1.0.1', '10.6.0.2', seg(p));
      expect(t.lookup('10.1.0.1', '10.6.0.2', seg(p))).toEqual(a);
      used.add(JSON.stringify(a));
    }
    expect(used.size).toBe(2);
  });
});

class UnreachCore extends ProbeCore {
  readonly refused: string[] = [];
  unreachable(src: string, dst: string, code: string, now: number): void {
    this.refused.push(`${src}>${dst} ${code} @${now}`);
  }
}

describe('routed hosts, routers and switches in the simulator', () => {
  it('a refused packet is dropped and the core hears why at once', () => {
    const sim = new Simulator();
    const a = sim.addHost('a', () => new UnreachCore(), [{ name: 'eth1', addresses: ['10.0.1.1'] }]);
    const b = sim.addHost('b', () => new ProbeCore(), [{ name: 'eth1', addresses: ['10.0.1.2'] }]);
    sim.addLink(a.iface('eth1'), b.iface('eth1'), { delayMs: 5 });
    a.setRouting(
      new RoutingTable(
        [{ dev: 'eth1', subnet: '10.0.1.0/24' }],
        [
          { family: 4, dst: '10.0.1.0/24', dev: 'eth1', table: 101 },
          { family: 4, dst: 'default', type: 'unreachable', table: 101 },
        ],
        [{ from: '10.0.1.1/32', table: 101, priority: 1001 }],
      ),
    );
    const core = a.core as UnreachCore;
    sim.at(1, () => {
      core.send('10.0.1.1', '10.0.1.2', 100, 0, sim.now);
      core.send('10.0.1.1', '10.0.9.9', 100, 1, sim.now);
      a.pump();
    });
    sim.run();
    expect((b.core as ProbeCore).receivedCount).toBe(1);
    expect(core.refused).toEqual(['10.0.1.1>10.0.9.9 EHOSTUNREACH @1']);
    expect(a.counters.noRoute).toBe(1);
    expect(a.counters.unreachable).toBe(1);
  });

  it('a switch delivers to the port behind the next hop (a router), which forwards by its table', () => {
    const sim = new Simulator();
    const h1 = sim.addHost('h1', () => new ProbeCore(), [{ name: 'eth1', addresses: ['10.0.1.1'] }]);
    const h2 = sim.addHost('h2', () => new ProbeCore(), [{ name: 'eth1', addresses: ['10.0.1.2'] }]);
    const far = sim.addHost('far', () => new ProbeCore(), [{ name: 'eth1', addresses: ['10.0.2.2'] }]);
    const sw = sim.addSwitch('sw');
    const r = sim.addRouter('r');
    r.addIface('lan', ['10.0.1.254']);
    r.addIface('wan', ['10.0.2.1']);
    sim.addLink(h1.iface('eth1'), sw);
    sim.addLink(h2.iface('eth1'), sw);
    sim.addLink(r.iface('lan'), sw);
    sim.addLink(r.iface('wan'), far.iface('eth1'));
    const lan = [{ dev: 'eth1', subnet: '10.0.1.0/24' }];
    const viaR = [{ family: 4 as const, dst: 'default', via: '10.0.1.254', dev: 'eth1' }];
    h1.setRouting(new RoutingTable(lan, viaR, []));
    h2.setRouting(new RoutingTable(lan, viaR, []));
    far.setRouting(
      new RoutingTable(
        [{ dev: 'eth1', subnet: '10.0.2.0/24' }],
        [{ family: 4, dst: 'default', via: '10.0.2.1', dev: 'eth1' }],
        [],
      ),
    );
    r.setRouting(
      new RoutingTable(
        [
          { dev: 'lan', subnet: '10.0.1.0/24' },
          { dev: 'wan', subnet: '10.0.2.0/24' },
        ],
        [],
        [],
      ),
    );
    const c1 = h1.core as ProbeCore;
    sim.at(0, () => {
      c1.send('10.0.1.1', '10.0.1.2', 60, 0, 0); // same segment: straight to h2
      c1.send('10.0.1.1', '10.0.2.2', 60, 1, 0); // off-link: to the router's port, then routed
      h1.pump();
    });
    sim.run();
    expect((h2.core as ProbeCore).received.map((x) => x.seq)).toEqual([0]);
    expect((far.core as ProbeCore).received.map((x) => x.seq)).toEqual([1]);
    expect(sw.counters.forwarded).toBe(2);
    expect(r.counters.forwarded).toBe(1);
  });

  it('hosts never forward: a packet for another address is dropped as not mine', () => {
    const sim = new Simulator();
    const a = sim.addHost('a', () => new ProbeCore(), [{ name: 'e', addresses: ['10.0.1.1'] }]);
    const m = sim.addHost('m', () => new ProbeCore(), [
      { name: 'e1', addresses: ['10.0.1.2'] },
      { name: 'e2', addresses: ['10.0.2.1'] },
    ]);
    const z = sim.addHost('z', () => new ProbeCore(), [{ name: 'e', addresses: ['10.0.2.2'] }]);
    sim.addLink(a.iface('e'), m.iface('e1'));
    sim.addLink(m.iface('e2'), z.iface('e'));
    a.setRouting(
      new RoutingTable(
        [{ dev: 'e', subnet: '10.0.1.0/24' }],
        [{ family: 4, dst: 'default', via: '10.0.1.2', dev: 'e' }],
        [],
      ),
    );
    sim.at(0, () => {
      (a.core as ProbeCore).send('10.0.1.1', '10.0.2.2', 60, 0, 0);
      a.pump();
    });
    sim.run();
    expect(m.counters.notMine).toBe(1);
    expect((z.core as ProbeCore).receivedCount).toBe(0);
  });
});
