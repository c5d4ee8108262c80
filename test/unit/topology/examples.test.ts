// The example topologies in topologies/ load and plan as documented.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabModel, NodeModel } from '../../../lab/topology';
import { loadTopology, parseTopology } from '../../../lab/topology';

const topoDir = join(import.meta.dirname, '../../../topologies');
const examples = readdirSync(topoDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function node(m: LabModel, name: string): NodeModel {
  const n = m.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

function addrs(n: NodeModel): Record<string, string[]> {
  return Object.fromEntries(
    n.interfaces.map((i) => [i.name, i.addresses.map((a) => `${a.address}/${a.prefix}`)]),
  );
}

describe('example topologies', () => {
  it('includes the four documented examples', () => {
    expect(examples).toEqual(
      expect.arrayContaining([
        'two-host.yaml',
        'ietf-livecd.yaml',
        'datacenter-multiport.yaml',
        'three-path.yaml',
      ]),
    );
  });

  it.each(examples)('%s loads, points editors at the schema, and plans deterministically', async (f) => {
    const file = join(topoDir, f);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../docs/topology.schema.json');
    const m1 = await loadTopology(file);
    const m2 = parseTopology(text, file);
    expect(m2).toEqual(m1);
    expect(JSON.stringify(m2)).toBe(JSON.stringify(m1));
    // Names fit the kernel's limits.
    for (const n of m1.nodes) {
      expect(n.netns).toBe(`mplab-${m1.name}-${n.name}`);
      for (const i of n.interfaces) {
        expect(i.name.length).toBeLessThanOrEqual(15);
        expect(i.hostName.length).toBeLessThanOrEqual(15);
        expect(i.hostName.startsWith(m1.hostIfPrefix)).toBe(true);
        expect(i.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
      }
    }
    // Every address is unique; every host-side name is unique.
    const all = m1.nodes.flatMap((n) => n.addresses);
    expect(new Set(all).size).toBe(all.length);
    const hostNames = m1.nodes.flatMap((n) => n.interfaces.map((i) => i.hostName));
    expect(new Set(hostNames).size).toBe(hostNames.length);
  });

  it('two-host: two disjoint /24s, one table and one source rule per interface', async () => {
    const m = await loadTopology(join(topoDir, 'two-host.yaml'));
    expect(m.name).toBe('two-host');
    expect(m.links.map((l) => l.id)).toEqual(['a:eth1--b:eth1', 'a:eth2--b:eth2']);
    expect(m.segments.map((s) => s.subnet4)).toEqual(['10.0.1.0/24', '10.0.2.0/24']);
    const a = node(m, 'a');
    const b = node(m, 'b');
    expect(addrs(a)).toEqual({ eth1: ['10.0.1.1/24'], eth2: ['10.0.2.1/24'] });
    expect(addrs(b)).toEqual({ eth1: ['10.0.1.2/24'], eth2: ['10.0.2.2/24'] });
    expect(a.kind).toBe('host');
    expect(a.stack).toBe('ts');
    expect(a.forwarding).toBe(false);
    expect(a.rules).toEqual([
      { family: 4, from: '10.0.1.1/32', table: 101, priority: 1001 },
      { family: 4, from: '10.0.2.1/32', table: 102, priority: 1002 },
    ]);
    expect(a.routes).toEqual([
      { family: 4, dst: '10.0.1.0/24', dev: 'eth1', table: 101, src: '10.0.1.1' },
      { family: 4, dst: 'default', type: 'unreachable', table: 101 },
      { family: 4, dst: '10.0.2.0/24', dev: 'eth2', table: 102, src: '10.0.2.1' },
      { family: 4, dst: 'default', type: 'unreachable', table: 102 },
    ]);
    expect(a.interfaces.map((i) => i.table)).toEqual([101, 102]);
    expect(b.rules.map((r) => r.from)).toEqual(['10.0.1.2/32', '10.0.2.2/32']);
    for (const l of m.links) {
      expect(l.ab).toEqual({ rateMbps: 100, queue: { packets: 100 } });
      expect(l.ba).toEqual(l.ab);
      expect(l.up).toBe(true);
      expect(l.mtu).toBe(1500);
      expect(l.needsNetem).toBe(false);
    }
    expect(m.events).toEqual([]);
  });

  it('ietf-livecd: wifi and 3g paths through two access routers to a single-homed server', async () => {
    const m = await loadTopology(join(topoDir, 'ietf-livecd.yaml'));
    const client = node(m, 'client');
    expect(addrs(client)).toEqual({ wifi: ['10.0.1.1/24'], '3g': ['10.0.2.1/24'] });
    expect(client.rules).toEqual([
      { family: 4, from: '10.0.1.1/32', table: 101, priority: 1001 },
      { family: 4, from: '10.0.2.1/32', table: 102, priority: 1002 },
    ]);
    // Each source address leaves through its own access router.
    expect(client.routes.filter((r) => r.table === 101)).toEqual([
      { family: 4, dst: '10.0.1.0/24', dev: 'wifi', table: 101, src: '10.0.1.1' },
      { family: 4, dst: 'default', via: '10.0.1.2', dev: 'wifi', table: 101 },
    ]);
    expect(client.routes.filter((r) => r.table === 102)).toEqual([
      { family: 4, dst: '10.0.2.0/24', dev: '3g', table: 102, src: '10.0.2.1' },
      { family: 4, dst: 'default', via: '10.0.2.2', dev: '3g', table: 102 },
    ]);
    // Main table: default through wifi (the first interface); the 3g router's uplink is closer via 3g.
    expect(client.routes.filter((r) => r.table === undefined)).toEqual([
      { family: 4, dst: '10.0.4.0/24', via: '10.0.2.2', dev: '3g' },
      { family: 4, dst: 'default', via: '10.0.1.2', dev: 'wifi' },
    ]);
    const server = node(m, 'server');
    expect(addrs(server)).toEqual({ eth1: ['10.0.5.2/24'] });
    expect(server.rules).toEqual([]);
    expect(server.routes).toEqual([{ family: 4, dst: 'default', via: '10.0.5.1', dev: 'eth1' }]);
    const core = node(m, 'core');
    expect(core.forwarding).toBe(true);
    expect(core.stack).toBe('none');
    expect(core.sysctls['net.ipv4.ip_forward']).toBe(1);
    expect(core.routes).toEqual([
      { family: 4, dst: '10.0.1.0/24', via: '10.0.3.1', dev: 'wifi' },
      { family: 4, dst: '10.0.2.0/24', via: '10.0.4.1', dev: '3g' },
    ]);
    const wifiAp = node(m, 'wifi-ap');
    expect(wifiAp.routes.map((r) => `${r.dst} via ${r.via} dev ${r.dev}`)).toEqual([
      '10.0.2.0/24 via 10.0.3.2 dev uplink',
      '10.0.4.0/24 via 10.0.3.2 dev uplink',
      '10.0.5.0/24 via 10.0.3.2 dev uplink',
    ]);
    const wifi = m.links.find((l) => l.id === 'wifi')!;
    expect(wifi.ab).toEqual({ rateMbps: 20, delayMs: 10, queue: { packets: 100 } });
    expect(wifi.ba).toEqual(wifi.ab);
    expect(wifi.needsNetem).toBe(true);
    const g3 = m.links.find((l) => l.id === '3g')!;
    expect(g3.ab).toEqual({ rateMbps: 2, delayMs: 75, queue: { packets: 50 } });
    expect(m.links.find((l) => l.id === 'core:srv--server:eth1')!.ab).toEqual({ rateMbps: 1000 });
    expect(client.knobs).toEqual({ 'net.mptcp.mptcp_path_manager': 'fullmesh' });
    expect(core.knobs).toEqual({});
    expect(m.events).toEqual([
      { at: 10_000, action: 'link-down', link: 'wifi', target: 'client:wifi' },
      { at: 20_000, action: 'link-up', link: 'wifi', target: 'client:wifi' },
    ]);
  });

  it('datacenter-multiport: one address per host, ECMP over both spines with an L4 hash', async () => {
    const m = await loadTopology(join(topoDir, 'datacenter-multiport.yaml'));
    for (const h of ['h1', 'h2']) {
      const n = node(m, h);
      expect(n.addresses).toHaveLength(1);
      expect(n.rules).toEqual([]);
      expect(n.knobs).toEqual({
        'net.mptcp.mptcp_path_manager': 'ndiffports',
        'net.mptcp.mptcp_ndiffports': 4,
      });
    }
    const h2Subnet = node(m, 'h2').interfaces[0]!.addresses[0]!.subnet;
    const leaf1 = node(m, 'leaf1');
    const toH2 = leaf1.routes.find((r) => r.dst === h2Subnet)!;
    expect(toH2.nexthops).toEqual([
      { via: '10.0.2.2', dev: 'up1' },
      { via: '10.0.3.2', dev: 'up2' },
    ]);
    expect(toH2.via).toBeUndefined();
    expect(leaf1.sysctls['net.ipv4.fib_multipath_hash_policy']).toBe(1);
    const h1Subnet = node(m, 'h1').interfaces[0]!.addresses[0]!.subnet;
    expect(node(m, 'leaf2').routes.find((r) => r.dst === h1Subnet)!.nexthops).toHaveLength(2);
    expect(node(m, 'spine1').sysctls['net.ipv4.fib_multipath_hash_policy']).toBeUndefined();
  });

  it('three-path: dual stack, written addresses kept, planned ones avoid them', async () => {
    const m = await loadTopology(join(topoDir, 'three-path.yaml'));
    expect(m.ipv6).toBe(true);
    const a = node(m, 'a');
    expect(addrs(a)).toEqual({
      fiber: ['10.10.0.1/24', 'fd10::1/64'],
      cable: ['10.20.0.1/24', 'fd00:0:0:1::1/64'],
      lte: ['10.0.1.1/24', 'fd00:0:0:2::1/64'],
    });
    expect(a.interfaces[0]!.addresses.map((x) => x.planned)).toEqual([false, false]);
    expect(a.interfaces[1]!.addresses.map((x) => x.planned)).toEqual([true, true]);
    expect(a.rules.filter((r) => r.family === 6).map((r) => r.from)).toEqual([
      'fd10::1/128',
      'fd00:0:0:1::1/128',
      'fd00:0:0:2::1/128',
    ]);
    expect(a.sysctls['net.ipv6.conf.all.accept_dad']).toBe(0);
    const lte = m.links[2]!;
    expect(lte.ab).toEqual({ rateMbps: 5, delayMs: 40, jitterMs: 5, lossPct: 0.5, queue: { ms: 200 } });
    expect(lte.ba).toEqual({ rateMbps: 10, delayMs: 40, jitterMs: 5, lossPct: 0.5, queue: { ms: 200 } });
    expect(m.links[1]!.ab.queue).toEqual({ bytes: 64_000 });
  });
});
