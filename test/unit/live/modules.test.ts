import { describe, expect, it } from 'vitest';
import { canonicalModule, loadOrder, moduleDepends } from '../../../lab/images/live/modules';

describe('kernel module load order', () => {
  it("reads depends= from a module's .modinfo strings", () => {
    const ko = Buffer.concat([
      Buffer.from('\x7fELF....junk'),
      Buffer.from('\0license=GPL\0depends=net_failover,virtio\0retpoline=Y\0name=virtio_net\0'),
    ]);
    expect(moduleDepends(ko)).toEqual(['net_failover', 'virtio']);
    expect(moduleDepends(Buffer.from('\0depends=\0name=tun\0'))).toEqual([]);
    expect(moduleDepends(Buffer.from('\0name=x\0'))).toEqual([]);
  });

  const deps: Record<string, string[]> = {
    virtio_net: ['net_failover', 'virtio', 'virtio_ring'],
    net_failover: ['failover'],
    failover: [],
    virtio: [],
    virtio_ring: [],
    bridge: ['stp', 'llc'],
    stp: ['llc'],
    llc: [],
    'sch-netem': [],
  };
  const known = (n: string) => n in deps || n.replace(/_/g, '-') in deps;
  const depsOf = (n: string) => deps[n] ?? deps[n.replace(/_/g, '-')] ?? [];

  it('puts every dependency before its user, each module once', () => {
    const order = loadOrder(['virtio_net', 'bridge', 'sch_netem'], known, depsOf);
    expect(order).toEqual([
      'failover',
      'net_failover',
      'virtio',
      'virtio_ring',
      'virtio_net',
      'llc',
      'stp',
      'bridge',
      'sch_netem',
    ]);
    for (const [m, ds] of Object.entries(deps))
      for (const d of ds)
        if (order.includes(canonicalModule(m)))
          expect(order.indexOf(d)).toBeLessThan(order.indexOf(canonicalModule(m)));
  });

  it('names a missing module and who needs it', () => {
    expect(() => loadOrder(['nope'], known, depsOf)).toThrow(/module nope is not in this kernel/);
    expect(() =>
      loadOrder(
        ['a'],
        (n) => n === 'a',
        () => ['b'],
      ),
    ).toThrow(/module b \(needed by a\)/);
  });

  it('refuses a cycle', () => {
    expect(() =>
      loadOrder(
        ['a'],
        () => true,
        (n) => (n === 'a' ? ['b'] : ['a']),
      ),
    ).toThrow(/cycle: a → b → a/);
  });
});
