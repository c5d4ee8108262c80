// Loader behaviour beyond the examples: overrides, events, knobs per stack, interface details,
// families, errors for files that cannot be read.
import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, TopologyError } from '../../../lab/topology';
import type { LabModel } from '../../../lab/topology';

const F = '/tmp/mplab-topology-test.yaml';
const load = (lines: string[], overrides = {}): LabModel => parseTopology(lines.join('\n'), F, overrides);
function fails(lines: string[], overrides = {}): string[] {
  try {
    load(lines, overrides);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).issues.map((i) => `${i.line}:${i.col} ${i.message}`);
  }
  throw new Error('loaded');
}
const TWO = ['name: t', 'nodes:', '  a: {}', '  b: {}', 'links:', '  - endpoints: [a:eth1, b:eth1]'];

describe('overrides', () => {
  it('--name replaces the lab name, namespaces and host-side names follow it', () => {
    const m1 = load(TWO);
    const m2 = load(TWO, { name: 'other' });
    expect(m2.name).toBe('other');
    expect(m2.nodes[0]!.netns).toBe('mplab-other-a');
    expect(m2.hostIfPrefix).not.toBe(m1.hostIfPrefix);
    expect(m2.nodes[0]!.interfaces[0]!.hostName.startsWith(m2.hostIfPrefix)).toBe(true);
    expect(load(TWO.slice(1), { name: 'x' }).name).toBe('x');
  });
  it('--name and --backend are validated', () => {
    expect(fails(TWO, { name: 'bad name' })[0]).toContain('--name "bad name"');
    expect(fails(TWO, { backend: 'dockr' })).toEqual([
      '1:1 --backend "dockr": expected netns, docker or vm; did you mean "docker"?',
    ]);
    expect(load(TWO, { backend: 'docker' }).nodes.map((n) => n.backend)).toEqual(['docker', 'docker']);
  });
  it('an unreadable file is a TopologyError at 1:1', async () => {
    const err = await loadTopology('/nonexistent/x.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopologyError);
    expect((err as TopologyError).format()).toBe(
      '/nonexistent/x.yaml:1:1: cannot read the topology file: no such file',
    );
  });
});

describe('nodes and interfaces', () => {
  it('plans bare endpoints as the lowest free eth<n>, skipping declared names', () => {
    const m = load([
      'name: t',
      'nodes:',
      '  a:',
      '    interfaces:',
      '      eth1: {}',
      '  b: {}',
      'links:',
      '  - endpoints: [a, b]',
      '  - endpoints: [a:eth1, b]',
      '  - endpoints: [a, b:eth1]',
    ]);
    const a = m.nodes.find((n) => n.name === 'a')!;
    expect(a.interfaces.map((i) => i.name)).toEqual(['eth1', 'eth2', 'eth3']);
    expect(m.links.map((l) => l.id)).toEqual(['a:eth2--b:eth2', 'a:eth1--b:eth3', 'a:eth3--b:eth1']);
    expect(m.links.map((l) => `${l.a.iface}-${l.b.iface}`)).toEqual(['eth2-eth2', 'eth1-eth3', 'eth3-eth1']);
  });
  it('keeps user MACs and MTUs, link state and emulator flag', () => {
    const m = load([
      'name: t',
      'nodes:',
      '  a:',
      '    interfaces:',
      '      eth1: { mac: "02:AA:00:00:00:01", mtu: 9000 }',
      '  b:',
      'links:',
      '  - endpoints: [a:eth1, b:eth1]',
      '    mtu: 9000',
      '    up: false',
      '    emulator: true',
    ]);
    const i = m.nodes[0]!.interfaces[0]!;
    expect(i.mac).toBe('02:aa:00:00:00:01');
    expect(i.mtu).toBe(9000);
    expect(m.links[0]).toMatchObject({
      up: false,
      emulator: true,
      mtu: 9000,
      needsNetem: false,
      ab: {},
      ba: {},
    });
  });
  it('routers and switches run no stack and ignore host defaults; tun phy on ts hosts', () => {
    const m = load([
      'name: t',
      'defaults:',
      '  node:',
      '    stack: ts',
      '    phy: tun',
      '    knobs: { net.mptcp.mptcp_ndiffports: 2 }',
      'nodes:',
      '  a: {}',
      '  r: { kind: router }',
      '  k: { stack: kernel, knobs: { net.mptcp.mptcp_enabled: 0, net.mptcp.pm_type: 0 } }',
      'links:',
      '  - endpoints: [a, r]',
      '  - endpoints: [r, k]',
    ]);
    const [a, r, k] = m.nodes;
    expect(a).toMatchObject({ stack: 'ts', phy: 'tun', knobs: { 'net.mptcp.mptcp_ndiffports': 2 } });
    expect(r).toMatchObject({ stack: 'none', knobs: {}, forwarding: true });
    // Default knobs apply to the kernel node too, through the mapped names; its own are kept.
    expect(k!.knobs).toEqual({
      'net.mptcp.mptcp_ndiffports': 2,
      'net.mptcp.mptcp_enabled': 0,
      'net.mptcp.pm_type': 0,
    });
  });
  it('IPv6-only labs plan only fd00: subnets', () => {
    const m = load(['name: t', 'ipv4: false', 'ipv6: true', ...TWO.slice(1)]);
    expect(m.segments[0]).toEqual({ index: 0, links: ['a:eth1--b:eth1'], subnet6: 'fd00:0:0:1::/64' });
    expect(m.nodes.map((n) => n.addresses)).toEqual([['fd00:0:0:1::1'], ['fd00:0:0:1::2']]);
    expect(m.nodes[0]!.sysctls).toEqual({
      'net.ipv6.conf.all.accept_dad': 0,
      'net.ipv6.conf.default.accept_dad': 0,
    });
  });
  it('planned subnets skip those the user wrote', () => {
    const m = load([...TWO, '    subnet: 10.0.2.0/24', '  - endpoints: [a, b]', '  - endpoints: [a, b]']);
    expect(m.segments.map((s) => s.subnet4)).toEqual(['10.0.2.0/24', '10.0.1.0/24', '10.0.3.0/24']);
  });
  it('a single written address fixes the subnet; the other end gets the lowest free host', () => {
    const m = load([
      'name: t',
      'nodes:',
      '  a: { interfaces: { eth1: { addresses: [192.168.7.1/30] } } }',
      '  b: {}',
      'links:',
      '  - endpoints: [a:eth1, b]',
    ]);
    expect(m.nodes.map((n) => n.addresses)).toEqual([['192.168.7.1'], ['192.168.7.2']]);
  });
  it('reports every problem of a file, not just the first', () => {
    const issues = fails([
      'name: t',
      'nodes:',
      '  a: {}',
      'links:',
      '  - endpoints: [a:eth1, x:eth1]',
      '  - endpoints: [a:eth1, y]',
      'events:',
      '  - at: 1s',
      '    link: nowhere',
      '    down: true',
    ]);
    expect(issues).toEqual([
      '5:25 unknown node "x" in endpoint "x:eth1"',
      '6:17 interface "a:eth1" is already an endpoint of another link (line 5); each interface joins one link',
      '6:25 unknown node "y" in endpoint "y"',
      '9:11 unknown link "nowhere"',
    ]);
  });
});

describe('events', () => {
  it('parses every action, resolves links and directions, sorts by time', () => {
    const m = load([
      ...TWO,
      '    id: p1',
      '  - endpoints: [b:eth2, a:eth2]',
      'events:',
      '  - { at: 20s, link: p1, up: true }',
      '  - { at: 10s, link: a:eth1, down: true }',
      '  - { at: 12s, link: a:eth2, set: { rate: 5mbit, delay: 20ms }, dir: out }',
      '  - { at: 12s, link: b:eth2, set: { loss: 1% }, dir: out }',
      '  - { at: 13s, link: p1, set: { queue: 10 packets }, dir: b->a }',
      '  - { at: 0, sysctl: { node: all, key: net.mptcp.mptcp_scheduler, value: roundrobin } }',
      '  - { at: 1.5s, sysctl: { node: a, key: net.mptcp.mptcp_ndiffports, value: "3" } }',
    ]);
    expect(m.events).toEqual([
      {
        at: 0,
        action: 'sysctl',
        target: 'all',
        nodes: ['a', 'b'],
        key: 'net.mptcp.mptcp_scheduler',
        value: 'roundrobin',
      },
      { at: 1500, action: 'sysctl', target: 'a', nodes: ['a'], key: 'net.mptcp.mptcp_ndiffports', value: 3 },
      { at: 10_000, action: 'link-down', link: 'p1', target: 'a:eth1' },
      {
        at: 12_000,
        action: 'link-set',
        link: 'b:eth2--a:eth2',
        target: 'a:eth2',
        dir: 'ba',
        params: { rateMbps: 5, delayMs: 20 },
      },
      {
        at: 12_000,
        action: 'link-set',
        link: 'b:eth2--a:eth2',
        target: 'b:eth2',
        dir: 'ab',
        params: { lossPct: 1 },
      },
      {
        at: 13_000,
        action: 'link-set',
        link: 'p1',
        target: 'p1',
        dir: 'ba',
        params: { queue: { packets: 10 } },
      },
      { at: 20_000, action: 'link-up', link: 'p1', target: 'p1' },
    ]);
  });
  it('refuses events that name no action, a bad knob value, or dir: out on a link id', () => {
    expect(
      fails([
        ...TWO,
        '    id: p1',
        'events:',
        '  - { at: 1s, link: p1 }',
        '  - { at: 2s, sysctl: { node: a, key: net.mptcp.mptcp_scheduler, value: fastest } }',
        '  - { at: 3s, link: p1, set: { rate: 1mbit }, dir: out }',
        '  - { at: 4s, link: p1, down: true, dir: ab }',
      ]),
    ).toEqual([
      '9:5 an event needs one action: "down: true", "up: true", "set: {…}" or "sysctl: {…}"',
      '10:73 invalid value "fastest" for net.mptcp.mptcp_scheduler: expected one of default, roundrobin, redundant',
      '11:52 dir: out needs the link named by an endpoint ("node:iface")',
      '12:37 dir applies only to "set" events',
    ]);
  });
});

describe('order', () => {
  it('keeps nodes in file order, also with integer-like names', () => {
    const m = load([
      'name: t',
      'nodes:',
      '  zed: {}',
      '  "2": {}',
      '  "1": {}',
      'links:',
      '  - endpoints: [zed, "1"]',
    ]);
    expect(m.nodes.map((n) => n.name)).toEqual(['zed', '2', '1']);
  });
  it('names the node when a default knob does not fit its stack', () => {
    const issues = fails([
      'name: t',
      'defaults:',
      '  node:',
      '    knobs: { net.mptcp.mptcp_scheduler: roundrobin }',
      'nodes:',
      '  a: {}',
      '  k: { stack: kernel }',
    ]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^4:14 knob "net.mptcp.mptcp_scheduler" exists only in mplab's stack/);
    expect(issues[0]).toContain('(default knob, for node "k", stack: kernel)');
  });
});

describe('YAML features', () => {
  it('x- keys hold anchors; aliases and merge keys work', () => {
    const m = load([
      'name: t',
      'x-slow: &slow { rate: 2mbit, delay: 75ms }',
      'nodes:',
      '  a: {}',
      '  b: {}',
      'links:',
      '  - endpoints: [a, b]',
      '    <<: *slow',
      '  - endpoints: [a, b]',
      '    <<: *slow',
      '    rate: 1mbit',
    ]);
    expect(m.links.map((l) => l.ab)).toEqual([
      { rateMbps: 2, delayMs: 75 },
      { rateMbps: 1, delayMs: 75 },
    ]);
  });
  it('a bad value reached through an alias is reported at the alias', () => {
    const issues = fails([
      'name: t',
      'x-bad: &bad { rate: 2mbps }',
      'nodes:',
      '  a: {}',
      '  b: {}',
      'links:',
      '  - endpoints: [a, b]',
      '    <<: *bad',
    ]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^7:5 ambiguous rate unit "mbps"/);
  });
  it('tabs and several documents are YAML errors with positions', () => {
    expect(fails(['name: t', 'nodes:', '\ta: {}'])[0]).toMatch(/^3:1 YAML syntax: /);
    expect(fails(['name: t', 'nodes: {a: {}}', '---', 'name: u'])[0]).toMatch(/^3:1 YAML syntax: /);
  });
});

describe('default knobs', () => {
  it('go to nodes with a stack only; a stackless host takes none', () => {
    const m = load([
      'name: t',
      'defaults:',
      '  node:',
      '    knobs: { net.mptcp.mptcp_enabled: 0 }',
      'nodes:',
      '  a: {}',
      '  p: { stack: none }',
      '  r: { kind: router }',
    ]);
    expect(m.nodes.map((n) => n.knobs)).toEqual([{ 'net.mptcp.mptcp_enabled': 0 }, {}, {}]);
  });
});
