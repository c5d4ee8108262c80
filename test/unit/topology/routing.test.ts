// The routing plan, checked by forwarding packets through it: random topologies of routers,
// switches and multi-homed hosts are planned, then a small model of Linux's policy routing (rules,
// then longest-prefix match per table, connected routes from the addresses) carries a packet hop
// by hop. Every destination the link graph can reach from a source address must be reached, by a
// shortest path, out of that address's own interface; nothing else may be reached.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cidr, network, overlaps, parseCidr } from '../../../lab/topology/addr';
import type { Family, LabModel, NodeModel, RouteModel } from '../../../lab/topology';
import { parseTopology } from '../../../lab/topology';

function cidr(s: string): Cidr {
  const r = parseCidr(s, false);
  if (!r.ok) throw new Error(r.message);
  return r.cidr;
}

function contains(prefix: string, family: Family, addr: string): boolean {
  if (prefix === 'default') return true;
  const p = cidr(prefix);
  const a = cidr(addr);
  return p.family === family && a.family === family && overlaps(p, a) && p.prefix <= a.prefix;
}

function prefixLen(dst: string): number {
  return dst === 'default' ? 0 : cidr(dst).prefix;
}

type Step =
  | { kind: 'local' }
  | { kind: 'unreachable' }
  | { kind: 'fwd'; hops: { via?: string; dev: string }[] };

/** One routing decision of `n` for a packet src → dst (src may be undefined: not bound). */
function route(n: NodeModel, family: Family, src: string | undefined, dst: string): Step {
  if (n.addresses.includes(dst)) return { kind: 'local' };
  const tables: (number | undefined)[] = [];
  for (const r of [...n.rules].sort((a, b) => a.priority - b.priority))
    if (r.family === family && src !== undefined && contains(r.from, family, src)) tables.push(r.table);
  tables.push(undefined);
  for (const t of tables) {
    const candidates: RouteModel[] = n.routes.filter((r) => r.family === family && r.table === t);
    if (t === undefined)
      // The kernel adds the connected routes of the main table with the addresses.
      for (const i of n.interfaces)
        for (const a of i.addresses)
          if (a.family === family) candidates.push({ family, dst: a.subnet, dev: i.name });
    const hits = candidates.filter((r) => contains(r.dst, family, dst));
    if (hits.length === 0) continue; // lookup falls through to the next rule
    hits.sort((a, b) => prefixLen(b.dst) - prefixLen(a.dst));
    const best = hits[0]!;
    if (best.type === 'unreachable') return { kind: 'unreachable' };
    if (best.nexthops) return { kind: 'fwd', hops: best.nexthops };
    return { kind: 'fwd', hops: [{ ...(best.via ? { via: best.via } : {}), dev: best.dev! }] };
  }
  return { kind: 'unreachable' };
}

/** Follows every ECMP branch; returns the hop counts of the paths that arrive (or throws). */
function deliver(
  m: LabModel,
  from: string,
  family: Family,
  src: string,
  dst: string,
): { arrived: number[]; dropped: boolean } {
  const arrived: number[] = [];
  let dropped = false;
  const walk = (nodeName: string, hops: number, isOrigin: boolean) => {
    if (hops > 64) throw new Error(`routing loop ${src} → ${dst}`);
    const n = m.nodes.find((x) => x.name === nodeName)!;
    if (!isOrigin && !n.forwarding && !n.addresses.includes(dst))
      throw new Error(`${nodeName} is a host and got a packet for ${dst} to forward`);
    const step = route(n, family, src, dst);
    if (step.kind === 'local') return void arrived.push(hops);
    if (step.kind === 'unreachable') {
      dropped = true;
      return;
    }
    for (const h of step.hops) {
      const iface = n.interfaces.find((i) => i.name === h.dev)!;
      if (isOrigin) {
        // A bound source leaves by its own interface.
        const own = n.interfaces.find((i) => i.addresses.some((a) => a.address === src))!;
        expect(iface.name, `${src} → ${dst} leaves ${n.name} by ${iface.name}`).toBe(own.name);
      }
      const target = h.via ?? dst;
      // The next hop sits on the segment of the output interface.
      const seg = m.links.find((l) => l.id === iface.link)!.segment;
      const next = m.nodes.find((x) =>
        x.interfaces.some(
          (i) =>
            m.links.find((l) => l.id === i.link)!.segment === seg &&
            i.addresses.some((a) => a.address === target),
        ),
      );
      if (!next) throw new Error(`${n.name}: next hop ${target} is not on the segment of ${h.dev}`);
      walk(next.name, hops + 1, false);
    }
  };
  walk(from, 0, true);
  return { arrived, dropped };
}

/** Independent oracle: router hops from the segment of `src` to the segment of `dst`, or undefined. */
function shortest(m: LabModel, family: Family, src: string, dst: string): number | undefined {
  const segOf = (addr: string) => {
    for (const n of m.nodes)
      for (const i of n.interfaces)
        if (i.addresses.some((a) => a.address === addr)) return m.links.find((l) => l.id === i.link)!.segment;
    return undefined;
  };
  const start = segOf(src)!;
  const goal = segOf(dst)!;
  const dist = new Map<number, number>([[start, 0]]);
  const queue = [start];
  while (queue.length) {
    const s = queue.shift()!;
    for (const n of m.nodes) {
      if (!n.forwarding) continue;
      const segs = n.interfaces
        .filter((i) => i.addresses.some((a) => a.family === family))
        .map((i) => m.links.find((l) => l.id === i.link)!.segment);
      if (!segs.includes(s)) continue;
      for (const t of segs)
        if (!dist.has(t)) {
          dist.set(t, dist.get(s)! + 1);
          queue.push(t);
        }
    }
  }
  const d = dist.get(goal);
  return d === undefined ? undefined : d + 1;
}

const topoArb = fc
  .record({
    routers: fc.integer({ min: 0, max: 5 }),
    switches: fc.integer({ min: 0, max: 2 }),
    hosts: fc.integer({ min: 2, max: 4 }),
    ipv6: fc.boolean(),
    seed: fc.array(fc.nat(1000), { minLength: 40, maxLength: 40 }),
  })
  .map(({ routers, switches, hosts, ipv6, seed }) => {
    let k = 0;
    const rnd = (n: number) => seed[k++ % seed.length]! % n;
    const lines = ['name: prop', `ipv6: ${ipv6}`, 'nodes:'];
    const R = Array.from({ length: routers }, (_, i) => `r${i}`);
    const S = Array.from({ length: switches }, (_, i) => `s${i}`);
    const H = Array.from({ length: hosts }, (_, i) => `h${i}`);
    for (const r of R) lines.push(`  ${r}: { kind: router }`);
    for (const s of S) lines.push(`  ${s}: { kind: switch }`);
    for (const h of H) lines.push(`  ${h}: {}`);
    const links: [string, string][] = [];
    // Routers: a random tree plus a few extra edges (cycles, equal-cost paths).
    for (let i = 1; i < R.length; i++) links.push([R[rnd(i)]!, R[i]!]);
    for (let e = 0; e < rnd(3) && R.length > 2; e++) {
      const x = rnd(R.length);
      const y = rnd(R.length);
      if (x !== y) links.push([R[x]!, R[y]!]);
    }
    const infra = [...R, ...S];
    for (const s of S) if (R.length) links.push([s, R[rnd(R.length)]!]);
    // Hosts: 1..3 interfaces, each to a router, a switch, or straight to another host.
    for (const h of H) {
      const n = 1 + rnd(3);
      for (let j = 0; j < n; j++) {
        const choice = rnd(infra.length + 1);
        const peer = choice < infra.length ? infra[choice]! : H[rnd(H.length)]!;
        if (peer !== h) links.push([h, peer]);
      }
    }
    lines.push('links:');
    for (const [a, b] of links) lines.push(`  - endpoints: [${a}, ${b}]`);
    return lines.join('\n');
  });

describe('routing plan', () => {
  it('delivers every reachable pair by a shortest path out of the source interface, and nothing else', () => {
    fc.assert(
      fc.property(topoArb, (yaml) => {
        const m = parseTopology(yaml, '/tmp/prop.yaml');
        expect(parseTopology(yaml, '/tmp/prop.yaml')).toEqual(m); // deterministic
        const hosts = m.nodes.filter((n) => n.kind === 'host');
        for (const family of [4, 6] as const) {
          if (family === 6 && !m.ipv6) continue;
          for (const h of hosts)
            for (const g of hosts) {
              if (g === h) continue;
              const srcs = h.interfaces.flatMap((i) => i.addresses.filter((a) => a.family === family));
              const dsts = g.interfaces.flatMap((i) => i.addresses.filter((a) => a.family === family));
              for (const s of srcs)
                for (const d of dsts) {
                  const want = shortest(m, family, s.address, d.address);
                  const got = deliver(m, h.name, family, s.address, d.address);
                  const what = `${s.address} → ${d.address}\n${yaml}`;
                  if (want === undefined) expect(got.arrived, what).toEqual([]);
                  else {
                    expect(got.dropped, what).toBe(false);
                    expect(got.arrived.length, what).toBeGreaterThan(0);
                    for (const hops of got.arrived) expect(hops, what).toBe(want);
                  }
                }
            }
        }
        // Names and MACs are unique where the kernel needs them to be.
        const ifs = m.nodes.flatMap((n) => n.interfaces);
        expect(new Set(ifs.map((i) => i.hostName)).size).toBe(ifs.length);
        expect(new Set(ifs.map((i) => i.mac)).size).toBe(ifs.length);
        for (const n of m.nodes)
          expect(new Set(n.interfaces.map((i) => i.name)).size).toBe(n.interfaces.length);
        // Each interface's peer names it back.
        for (const n of m.nodes)
          for (const i of n.interfaces) {
            const peer = m.nodes
              .find((x) => x.name === i.peer.node)!
              .interfaces.find((x) => x.name === i.peer.iface)!;
            expect(peer.peer).toEqual({ node: n.name, iface: i.name });
            expect(peer.link).toBe(i.link);
          }
        // Subnets never overlap; addresses are in their subnets.
        const subnets = m.segments.flatMap((s) => [s.subnet4, s.subnet6].filter((x): x is string => !!x));
        for (let i = 0; i < subnets.length; i++)
          for (let j = i + 1; j < subnets.length; j++)
            expect(overlaps(cidr(subnets[i]!), cidr(subnets[j]!))).toBe(false);
        for (const n of m.nodes)
          for (const i of n.interfaces)
            for (const a of i.addresses) {
              const c = cidr(`${a.address}/${a.prefix}`);
              expect(`${network(c)}`).toBe(`${network(cidr(a.subnet))}`);
            }
      }),
      { numRuns: 150 },
    );
  });

  it('plans a switch as one segment: one subnet, a bridge, no addresses on its ports', () => {
    const m = parseTopology(
      [
        'name: sw',
        'nodes:',
        '  a: {}',
        '  b: {}',
        '  c: {}',
        '  s: { kind: switch }',
        'links:',
        '  - endpoints: [a, s]',
        '  - endpoints: [b, s]',
        '  - endpoints: [s, c]',
      ].join('\n'),
      '/tmp/sw.yaml',
    );
    expect(m.segments).toHaveLength(1);
    expect(m.segments[0]!.subnet4).toBe('10.0.1.0/24');
    expect(m.links.every((l) => l.segment === 0)).toBe(true);
    const s = m.nodes.find((n) => n.name === 's')!;
    expect(s.bridge).toBe('br0');
    expect(s.interfaces.map((i) => i.name)).toEqual(['eth1', 'eth2', 'eth3']);
    expect(s.interfaces.every((i) => i.addresses.length === 0)).toBe(true);
    expect(m.nodes.filter((n) => n.kind === 'host').map((n) => n.addresses[0])).toEqual([
      '10.0.1.1',
      '10.0.1.2',
      '10.0.1.3',
    ]);
  });
});
