/**
 * Placement: which host each node of a lab runs on, and what that makes of the links. Pure.
 *
 * Nodes pinned with `host:` stay there. The others are placed greedily in breadth-first order of
 * the link graph: each goes to the host holding most of its already placed neighbours among the
 * hosts with room left, room being an even share of the total weight (a node weighs 1, plus its
 * declared VM memory in GiB), ties to the least loaded host. On chains and trees this cuts the
 * graph into contiguous pieces, so few links cross hosts. The ends of a link that needs the
 * userspace emulator (delay or loss where the kernel has no sch_netem) go to one host together:
 * the emulator bridges two namespaces of one machine.
 *
 * A link whose ends land on different hosts becomes a VXLAN tunnel: one VNI per link (derived from
 * the lab name and the link's index, so every host computes the same), the inner MTU lowered by
 * the encapsulation overhead (50 bytes over IPv4, 70 over IPv6) below the underlay's MTU.
 */
import { isIPv6 } from 'node:net';
import { UsageError } from '../errors';
import type { LabModel, LinkModel, NodeModel } from '../topology/model';
import { LOCAL_HOST } from './inventory';

/** Outer Ethernet + IP + UDP + VXLAN headers a VXLAN frame adds. */
export const VXLAN_OVERHEAD_V4 = 50;
export const VXLAN_OVERHEAD_V6 = 70;

export interface CrossLink {
  link: string;
  vni: number;
  a: { node: string; iface: string; host: string };
  b: { node: string; iface: string; host: string };
  /** The link's MTU inside the tunnel (what both node interfaces get). */
  mtu: number;
  /** The MTU the topology asked for (or the default). */
  declaredMtu: number;
}

export interface Placement {
  /** Node name -> host name (`local` for this machine). */
  hostOf: Map<string, string>;
  /** Host name -> its nodes, in file order; only hosts with nodes. */
  nodesOf: Map<string, string[]>;
  cross: CrossLink[];
  /** How each node came to its host. */
  how: Map<string, 'pinned' | 'placed'>;
}

export interface PlaceOptions {
  /** Hosts unpinned nodes may go to, in inventory order (`local` first when allowed). */
  hosts: string[];
  /** Every host a node may be pinned to (defaults to `hosts` plus local). */
  known?: string[];
  /** Underlay (outer) address of each host, for the overhead (IPv4 or IPv6). */
  underlayOf?: (host: string) => string | undefined;
  /** Underlay MTU between two hosts (default 1500: what is assumed before the probe at `up`). */
  underlayMtu?: (a: string, b: string) => number;
}

/** A node's placement weight: 1, plus its VM memory in GiB when it declares one. */
export function weightOf(n: NodeModel): number {
  const mem = (n as NodeModel & { vm?: { memory?: number } }).vm?.memory;
  return 1 + (typeof mem === 'number' && mem > 0 ? mem / 1024 : 0);
}

/** 24-bit FNV-1a of the lab name: the base of its VNIs. */
function labHash(lab: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < lab.length; i++) {
    h ^= lab.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h ^ (h >>> 24)) & 0xffffff;
}

/** The VNI of a link of a lab: nonzero, 24 bits, the same on every host. */
export function vniOf(lab: string, link: LinkModel): number {
  const v = (labHash(lab) + link.index) % 0xffffff;
  return v === 0 ? 0xffffff : v;
}

export function place(model: LabModel, opts: PlaceOptions): Placement {
  const known = new Set(opts.known ?? [...opts.hosts, LOCAL_HOST]);
  const hostOf = new Map<string, string>();
  const how = new Map<string, 'pinned' | 'placed'>();
  const load = new Map<string, number>(opts.hosts.map((h) => [h, 0]));
  for (const n of model.nodes) {
    if (n.host === undefined) continue;
    if (!known.has(n.host)) throw new UsageError(`node '${n.name}': no host '${n.host}' in the inventory`);
    hostOf.set(n.name, n.host);
    how.set(n.name, 'pinned');
    load.set(n.host, (load.get(n.host) ?? 0) + weightOf(n));
  }
  const free = model.nodes.filter((n) => !hostOf.has(n.name));
  if (free.length > 0 && opts.hosts.length === 0)
    throw new UsageError(
      `nodes ${free.map((n) => n.name).join(', ')} are not pinned and no host may take them (placeOnLocal: false and no other host)`,
    );
  const total = model.nodes.reduce((s, n) => s + weightOf(n), 0);
  // Room per host: an even share, rounded up so n nodes over k hosts fill them ceil(n/k) at a time.
  const share = Math.ceil(total / Math.max(1, opts.hosts.length) - 1e-9);
  const neighbours = new Map<string, string[]>(model.nodes.map((n) => [n.name, []]));
  for (const l of model.links) {
    neighbours.get(l.a.node)?.push(l.b.node);
    neighbours.get(l.b.node)?.push(l.a.node);
  }
  // Breadth-first from each not yet visited node (pinned ones first: they anchor their neighbours).
  const order: NodeModel[] = [];
  const seen = new Set<string>();
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  const starts = [...model.nodes.filter((n) => hostOf.has(n.name)), ...model.nodes];
  for (const s of starts) {
    if (seen.has(s.name)) continue;
    const queue = [s.name];
    seen.add(s.name);
    while (queue.length > 0) {
      const cur = queue.shift() as string;
      order.push(byName.get(cur) as NodeModel);
      for (const nb of neighbours.get(cur) ?? [])
        if (!seen.has(nb)) {
          seen.add(nb);
          queue.push(nb);
        }
    }
  }
  // Links the userspace emulator carries (delay, loss... without sch_netem) cannot span hosts:
  // their ends form groups that are placed as one. A group with a pinned member follows it.
  const group = new Map<string, string>(model.nodes.map((n) => [n.name, n.name]));
  const find = (x: string): string => {
    let r = x;
    while (group.get(r) !== r) r = group.get(r) as string;
    group.set(x, r);
    return r;
  };
  for (const l of model.links) if (l.needsNetem || l.emulator) group.set(find(l.a.node), find(l.b.node));
  const members = new Map<string, NodeModel[]>();
  for (const n of model.nodes) members.set(find(n.name), [...(members.get(find(n.name)) ?? []), n]);
  for (const n of order) {
    if (hostOf.has(n.name)) continue;
    const mates = (members.get(find(n.name)) ?? [n]).filter((m) => !hostOf.has(m.name));
    const anchor = (members.get(find(n.name)) ?? []).find((m) => hostOf.has(m.name));
    const w = mates.reduce((sum, m) => sum + weightOf(m), 0);
    const pick = (roomOnly: boolean): string | undefined => {
      let best: string | undefined;
      let bestScore = -1;
      let bestLoad = Number.POSITIVE_INFINITY;
      for (const h of opts.hosts) {
        const l = load.get(h) ?? 0;
        if (roomOnly && l + w > share + 1e-9 && l > 0) continue;
        let score = 0;
        for (const m of mates)
          score += (neighbours.get(m.name) ?? []).filter((nb) => hostOf.get(nb) === h).length;
        if (score > bestScore || (score === bestScore && l < bestLoad)) {
          best = h;
          bestScore = score;
          bestLoad = l;
        }
      }
      return best;
    };
    // Every host full (heavy VM nodes): the one with most neighbours, then the least loaded.
    const best = anchor ? (hostOf.get(anchor.name) as string) : ((pick(true) ?? pick(false)) as string);
    for (const m of mates) {
      hostOf.set(m.name, best);
      how.set(m.name, 'placed');
    }
    load.set(best, (load.get(best) ?? 0) + w);
  }
  const nodesOf = new Map<string, string[]>();
  for (const n of model.nodes) {
    const h = hostOf.get(n.name) as string;
    nodesOf.set(h, [...(nodesOf.get(h) ?? []), n.name]);
  }
  const cross: CrossLink[] = [];
  for (const l of model.links) {
    const ha = hostOf.get(l.a.node) as string;
    const hb = hostOf.get(l.b.node) as string;
    if (ha === hb) continue;
    const v6 = [ha, hb].some((h) => isIPv6(opts.underlayOf?.(h) ?? ''));
    const underMtu = opts.underlayMtu?.(ha, hb) ?? 1500;
    const inner = underMtu - (v6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
    cross.push({
      link: l.id,
      vni: vniOf(model.name, l),
      a: { node: l.a.node, iface: l.a.iface, host: ha },
      b: { node: l.b.node, iface: l.b.iface, host: hb },
      mtu: Math.min(l.mtu, inner),
      declaredMtu: l.mtu,
    });
  }
  return { hostOf, nodesOf, cross, how };
}
