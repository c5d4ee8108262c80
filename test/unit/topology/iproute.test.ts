import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology, routingBatches } from '../../../lab/topology';

const topo = (f: string) => join(import.meta.dirname, '../../../topologies', f);

describe('iproute2 batch lines', () => {
  it('three-path host: per-family batches without family options, explicit defaults', async () => {
    const m = await loadTopology(topo('three-path.yaml'));
    const b = routingBatches(m.nodes.find((n) => n.name === 'a')!);
    expect(b[4]).toEqual([
      'route replace 10.10.0.0/24 dev fiber table 101 src 10.10.0.1',
      'route replace unreachable 0.0.0.0/0 table 101',
      'route replace 10.20.0.0/24 dev cable table 102 src 10.20.0.1',
      'route replace unreachable 0.0.0.0/0 table 102',
      'route replace 10.0.1.0/24 dev lte table 103 src 10.0.1.1',
      'route replace unreachable 0.0.0.0/0 table 103',
      'rule add from 10.10.0.1/32 lookup 101 priority 1001',
      'rule add from 10.20.0.1/32 lookup 102 priority 1002',
      'rule add from 10.0.1.1/32 lookup 103 priority 1003',
    ]);
    expect(b[6][0]).toBe('route replace fd10::/64 dev fiber table 101 src fd10::1');
    expect(b[6][1]).toBe('route replace unreachable ::/0 table 101');
    expect(b[6].at(-1)).toBe('rule add from fd00:0:0:2::1/128 lookup 103 priority 1003');
    for (const line of [...b[4], ...b[6]]) expect(line).not.toMatch(/^-/);
  });
  it('routers: gateways and ECMP nexthops', async () => {
    const m = await loadTopology(topo('datacenter-multiport.yaml'));
    expect(routingBatches(m.nodes.find((n) => n.name === 'leaf1')!)[4]).toEqual([
      'route replace 10.0.4.0/24 via 10.0.2.2 dev up1',
      'route replace 10.0.5.0/24 via 10.0.3.2 dev up2',
      'route replace 10.0.6.0/24 nexthop via 10.0.2.2 dev up1 nexthop via 10.0.3.2 dev up2',
    ]);
    const l = await loadTopology(topo('ietf-livecd.yaml'));
    expect(routingBatches(l.nodes.find((n) => n.name === 'server')!)).toEqual({
      4: ['route replace 0.0.0.0/0 via 10.0.5.1 dev eth1'],
      6: [],
    });
  });
});
