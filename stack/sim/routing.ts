/**
 * A node's IP routing as the Linux kernel applies it: policy rules (`ip rule`, by source prefix,
 * lowest priority first), routing tables (longest prefix match; unicast, ECMP next hops, or
 * `unreachable`), and the main table's connected routes derived from the node's own addresses.
 *
 * The simulator asks `lookup(src, dst, ports)` per packet a host sends and per packet a router
 * forwards. Answers without ECMP are cached per (src, dst), so a steady flow costs two map lookups.
 *
 * What it decides, as the kernel does (net/ipv4/fib_rules.c, fib_trie.c):
 * - rules are tried by ascending priority; a rule whose table has no matching route lets the next
 *   rule try (the main table, priority 32766, comes after every user rule below it);
 * - a matching `unreachable` route ends the lookup at once: the sender learns EHOSTUNREACH;
 * - no route anywhere: ENETUNREACH;
 * - ECMP: the next hop is picked by a hash of the 5-tuple (net.ipv4.fib_multipath_hash_policy=1),
 *   so all packets of one subflow take one path. The hash is ours, not the kernel's jhash: which
 *   subflow lands on which path can differ from a lab, the spread over paths does not.
 */
import { parseIp } from '../wire/ip';

export interface RouteSpec {
  family: 4 | 6;
  /** "default" or a CIDR prefix. */
  dst: string;
  /** Main table when absent. */
  table?: number;
  type?: 'unreachable';
  via?: string;
  /** Output interface name; absent only for unreachable routes and ECMP routes. */
  dev?: string;
  nexthops?: { via: string; dev: string }[];
}

export interface RuleSpec {
  /** Source prefix, e.g. "10.0.1.1/32". */
  from: string;
  table: number;
  priority: number;
}

/** Where a packet goes: out of `dev` to the L2 neighbour `hop` (the gateway, or dst itself). */
export interface RouteHop {
  dev: string;
  hop: string;
}

export type RouteAnswer = RouteHop | { unreachable: 'EHOSTUNREACH' | 'ENETUNREACH' };

export const MAIN_TABLE = 254;
const MAIN_PRIORITY = 32766;

interface Prefix {
  bytes: Uint8Array;
  len: number;
}

function parsePrefix(text: string, family: 4 | 6): Prefix {
  if (text === 'default') return { bytes: new Uint8Array(family === 4 ? 4 : 16), len: 0 };
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (!bytes) throw new Error(`routing: not an address or prefix: ${JSON.stringify(text)}`);
  const len = slash < 0 ? bytes.length * 8 : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > bytes.length * 8)
    throw new Error(`routing: bad prefix length in ${JSON.stringify(text)}`);
  return { bytes, len };
}

function familyOf(text: string): 4 | 6 {
  return text.includes(':') ? 6 : 4;
}

function matches(p: Prefix, a: Uint8Array): boolean {
  if (p.bytes.length !== a.length) return false;
  let bits = p.len;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.bytes[i]! & mask) !== (a[i]! & mask)) return false;
  }
  return true;
}

interface Route {
  prefix: Prefix;
  unreachable: boolean;
  hops: RouteHop[];
  /** via absent: the destination itself is the neighbour. */
  onLink: boolean;
}

interface Rule {
  prefix: Prefix;
  table: number;
  priority: number;
}

/** The answer before the hop is resolved against a destination. */
type Found = Route | null;

export class RoutingTable {
  private readonly tables = new Map<number, Route[]>();
  private readonly rules: Rule[] = [];
  private readonly cache = new Map<string, Map<string, RouteAnswer | Route>>();

  /**
   * `connected`: each interface's subnets (CIDR), as the kernel adds them to the main table when an
   * address is configured. `routes` and `rules`: the node's plan.
   */
  constructor(connected: { dev: string; subnet: string }[], routes: RouteSpec[], rules: RuleSpec[]) {
    for (const c of connected) this.add({ family: familyOf(c.subnet), dst: c.subnet, dev: c.dev });
    for (const r of routes) this.add(r);
    for (const r of rules)
      this.rules.push({
        prefix: parsePrefix(r.from, familyOf(r.from)),
        table: r.table,
        priority: r.priority,
      });
    this.rules.push({
      prefix: { bytes: new Uint8Array(4), len: 0 },
      table: MAIN_TABLE,
      priority: MAIN_PRIORITY,
    });
    this.rules.push({
      prefix: { bytes: new Uint8Array(16), len: 0 },
      table: MAIN_TABLE,
      priority: MAIN_PRIORITY,
    });
    this.rules.sort((a, b) => a.priority - b.priority);
    // longest prefix first, so the first match wins
    for (const t of this.tables.values()) t.sort((a, b) => b.prefix.len - a.prefix.len);
  }

  private add(r: RouteSpec): void {
    const route: Route = {
      prefix: parsePrefix(r.dst, r.family),
      unreachable: r.type === 'unreachable',
      hops: [],
      onLink: false,
    };
    if (r.nexthops && r.nexthops.length > 0) route.hops = r.nexthops.map((h) => ({ dev: h.dev, hop: h.via }));
    else if (r.dev !== undefined) {
      route.hops = [{ dev: r.dev, hop: r.via ?? '' }];
      route.onLink = r.via === undefined;
    } else if (!route.unreachable) throw new Error(`routing: route to ${r.dst} has no device`);
    const table = r.table ?? MAIN_TABLE;
    let list = this.tables.get(table);
    if (!list) {
      list = [];
      this.tables.set(table, list);
    }
    list.push(route);
  }

  /** Drops cached answers (after the node's addresses or routes change). */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * Where a packet from `src` to `dst` leaves; `data` (the TCP segment) picks among ECMP next hops
   * by its ports.
   */
  lookup(src: string, dst: string, data: Uint8Array): RouteAnswer {
    let bySrc = this.cache.get(src);
    if (bySrc === undefined) {
      bySrc = new Map();
      this.cache.set(src, bySrc);
    }
    let hit = bySrc.get(dst);
    if (hit === undefined) {
      hit = this.resolve(src, dst);
      bySrc.set(dst, hit);
    }
    if ('prefix' in hit) return hit.hops[flowHash(src, dst, data) % hit.hops.length]!;
    return hit;
  }

  private resolve(src: string, dst: string): RouteAnswer | Route {
    const s = parseIp(src);
    const d = parseIp(dst);
    if (!s || !d) return { unreachable: 'ENETUNREACH' };
    for (const rule of this.rules) {
      if (rule.prefix.bytes.length !== s.length || !matches(rule.prefix, s)) continue;
      const found = this.find(rule.table, d);
      if (found === null) continue;
      if (found.unreachable) return { unreachable: 'EHOSTUNREACH' };
      if (found.hops.length > 1) return found;
      const h = found.hops[0]!;
      return { dev: h.dev, hop: found.onLink ? dst : h.hop };
    }
    return { unreachable: 'ENETUNREACH' };
  }

  private find(table: number, d: Uint8Array): Found {
    const list = this.tables.get(table);
    if (!list) return null;
    for (const r of list) if (matches(r.prefix, d)) return r;
    return null;
  }
}

/** A flow hash from the packet's addresses and the TCP ports in its first four bytes. */
export function flowHash(src: string, dst: string, data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src.charCodeAt(i), 0x01000193);
  for (let i = 0; i < dst.length; i++) h = Math.imul(h ^ dst.charCodeAt(i), 0x01000193);
  for (let i = 0; i < 4 && i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
