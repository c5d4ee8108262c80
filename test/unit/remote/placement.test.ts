import { describe, expect, it } from 'vitest';
import { place, vniOf } from '../../../lab/remote/placement';
import { parseTopology } from '../../../lab/topology';
import { TopologyError } from '../../../lab/topology/model';

function chain(n: number, extra = ''): string {
  const nodes = Array.from({ length: n }, (_, i) => `  n${i}: { kind: router }`).join('\n');
  const links = Array.from({ length: n - 1 }, (_, i) => `  - endpoints: [n${i}, n${i + 1}]`).join('\n');
  return `name: chain\n${extra}nodes:\n${nodes}\nlinks:\n${links}\n`;
}

describe('placement', () => {
  it('cuts a chain into contiguous, balanced pieces: one link per boundary crosses', () => {
    const m = parseTopology(chain(20), 'chain.yaml', { hosts: ['local', 'h1', 'h2'] });
    const p = place(m, { hosts: ['h1', 'h2'] });
    expect(p.nodesOf.get('h1')).toHaveLength(10);
    expect(p.nodesOf.get('h2')).toHaveLength(10);
    expect(p.cross).toHaveLength(1);
    const three = place(m, { hosts: ['local', 'h1', 'h2'] });
    expect([...three.nodesOf.values()].map((v) => v.length).sort()).toEqual([6, 7, 7]);
    expect(three.cross).toHaveLength(2);
  });

  it('keeps pinned nodes and places the rest beside their neighbours', () => {
    const src = `name: two\nnodes:\n  a: { host: h1 }\n  r: { kind: router }\n  b: { host: h2 }\nlinks:\n  - endpoints: [a:eth1, r:a]\n  - endpoints: [r:b, b:eth1]\n  - endpoints: [a:eth2, b:eth2]\n`;
    const m = parseTopology(src, 'two.yaml', { hosts: ['local', 'h1', 'h2'] });
    const p = place(m, { hosts: ['h1', 'h2'] });
    expect(p.hostOf.get('a')).toBe('h1');
    expect(p.hostOf.get('b')).toBe('h2');
    expect(p.how.get('a')).toBe('pinned');
    expect(p.how.get('r')).toBe('placed');
    expect(p.cross.map((c) => c.link).sort()).toEqual(
      [`a:eth2--b:eth2`, p.hostOf.get('r') === 'h1' ? 'r:b--b:eth1' : 'a:eth1--r:a'].sort(),
    );
  });

  it('lowers the MTU inside the tunnel by the VXLAN overhead and gives each link its own VNI', () => {
    const src = `name: two\nnodes:\n  a: { host: h1 }\n  b: { host: h2 }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n  - endpoints: [a:eth2, b:eth2]\n    mtu: 1400\n`;
    const m = parseTopology(src, 'two.yaml', { hosts: ['local', 'h1', 'h2'] });
    const p = place(m, { hosts: ['h1', 'h2'], underlayOf: (h) => (h === 'h2' ? 'fd00::2' : '192.0.2.1') });
    expect(p.cross.map((c) => c.mtu)).toEqual([1430, 1400]);
    const v4 = place(m, { hosts: ['h1', 'h2'], underlayMtu: () => 9000 });
    expect(v4.cross.map((c) => c.mtu)).toEqual([1500, 1400]);
    const vnis = p.cross.map((c) => c.vni);
    expect(new Set(vnis).size).toBe(2);
    for (const v of vnis) expect(v).toBeGreaterThan(0);
    expect(vnis[0]).toBe(vniOf('two', m.links[0] as (typeof m.links)[0]));
  });

  it('refuses a pinned host that is not in the inventory, at its position', () => {
    const src = `name: two\nnodes:\n  a: { host: h9 }\n  b: {}\nlinks:\n  - endpoints: [a, b]\n`;
    let err: unknown;
    try {
      parseTopology(src, 'two.yaml', { hosts: ['local', 'h1', 'h2'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TopologyError);
    expect((err as TopologyError).issues[0]).toMatchObject({ line: 3, col: 14 });
    expect((err as TopologyError).issues[0]?.message).toMatch(
      /no host "h9" in the inventory \(hosts: local, h1, h2\)/,
    );
    expect(() => parseTopology(src.replace('h9', 'h1'), 'two.yaml')).toThrow(/no inventory was given/);
    expect(parseTopology(src.replace('h9', 'local'), 'two.yaml').nodes[0]?.host).toBe('local');
  });
});
