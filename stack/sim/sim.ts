/**
 * The deterministic network simulator: a virtual clock, an event queue, hosts that each run one
 * NetCore, routers that forward by destination address, and links with rate, delay, jitter, a
 * drop-tail queue, seeded loss, burst loss, reordering, duplication, up/down and middleboxes.
 *
 * Same seed, same inputs: the same events in the same order, byte for byte.
 */
import {
  type CoreEvent,
  type NetCore,
  type Packet,
  UNREACHABLE_CODES,
  type UnreachableCode,
} from '../core/contract';
import { formatIp, parseIp } from '../wire/ip';
import { Rng } from './prng';
import { type EventHandler, EventQueue, type SimEvent } from './queue';
import type {
  CoreFactory,
  DropCause,
  HostListener,
  LinkConfig,
  LinkCounters,
  LinkParams,
  Middlebox,
  SimLogEntry,
} from './types';
import { DEFAULT_LINK_PARAMS, DROPPED, LinkPipeline } from '../link/pipeline';
import { PacketTrace } from './trace';
import type { RouteHop, RoutingTable } from './routing';

const canonCache = new Map<string, string | null>();

/**
 * The canonical text of an IP address (IPv6 per RFC 5952: lower case, zeros compressed), or null
 * when the text is not an address. Every address is registered in this form; lookups that miss try
 * it, so a core that writes 'FD00:0:0::1' still reaches 'fd00::1'.
 */
export function canonicalAddress(text: string): string | null {
  let c = canonCache.get(text);
  if (c === undefined) {
    const b = parseIp(text);
    c = b ? formatIp(b) : null;
    if (canonCache.size >= 4096) canonCache.clear();
    canonCache.set(text, c);
  }
  return c;
}

function mustCanonical(text: string): string {
  const c = canonicalAddress(text);
  if (c === null) throw new Error(`sim: not an IP address: ${JSON.stringify(text)}`);
  return c;
}

const K_CALL = 1;
const K_TIMER = 2;
const K_LOOPBACK = 3;
const K_ARRIVE = 5;
const K_UNREACH = 6;

export type { UnreachableCode };

/**
 * A packet on its way through a switch segment carries the L2 neighbour its sender resolved (the
 * gateway, or the destination on the same subnet): the switch delivers it to the port behind which
 * that address lives, as a learning bridge would after ARP. Set only on packets sent into a switch.
 */
export interface HopPacket extends Packet {
  hop?: string;
}

export interface SimOptions {
  /** Seeds every random stream (links, hosts). Default 1. */
  seed?: number | string;
}

/** Runs `fn` when its event fires (scenario events; never used per packet). */
class Callback implements EventHandler {
  constructor(private readonly fn: () => void) {}
  handle(): void {
    this.fn();
  }
}

class Periodic implements EventHandler {
  private k = 0;
  stopped = false;
  constructor(
    private readonly sim: Simulator,
    private readonly start: number,
    private readonly period: number,
    private readonly fn: (now: number) => void,
  ) {}
  handle(): void {
    if (this.stopped) return;
    this.fn(this.sim.now);
    this.k++;
    this.sim.schedule(this.start + this.k * this.period, this, K_CALL, 0, null, true);
  }
}

export type SimNode = Host | Router | Switch;

/** Sees packets on a link direction: 'enq' when handed to the link, 'rx' when delivered. */
export type LinkTap = (t: number, pkt: Packet, point: 'enq' | 'rx', dir: 'ab' | 'ba') => void;

/** What can write a capture (stack/wire/pcap's PcapWriter fits). */
export interface SegmentWriter {
  writeSegment(timeMs: number, src: string, dst: string, seg: Uint8Array): void;
}

export class Simulator {
  /** Virtual time, ms. */
  now = 0;
  readonly seed: string;
  readonly rng: Rng;
  readonly hosts: Host[] = [];
  readonly routers: Router[] = [];
  readonly switches: Switch[] = [];
  readonly links: Link[] = [];
  /** Link state changes and other scenario happenings, in order. */
  readonly log: SimLogEntry[] = [];
  readonly stats = { events: 0, noRoute: 0 };
  /** Set by `tracePackets()`. */
  packetTrace: PacketTrace | null = null;

  private readonly q = new EventQueue();
  private readonly owners = new Map<string, Iface>();
  private readonly names = new Set<string>();
  private readonly linkNames = new Set<string>();
  private topoVersion = 0;

  constructor(options: SimOptions = {}) {
    this.seed = String(options.seed ?? 1);
    this.rng = new Rng(this.seed);
  }

  // ---- time and events ----

  /** Low-level: schedule an event for a handler. */
  schedule(
    t: number,
    handler: EventHandler,
    kind: number,
    num: number,
    pkt: Packet | null,
    daemon = false,
    aux = 0,
  ): void {
    if (!(t >= this.now)) throw new Error(`sim: event at ${t} is before now (${this.now})`);
    this.q.push(t, handler, kind, num, pkt, daemon, aux);
  }

  /** Runs `fn` at absolute virtual time `t` (ms). Times in the past are an error. */
  at(t: number, fn: () => void): void {
    if (!(t >= this.now)) throw new Error(`sim.at(${t}): time is before now (${this.now})`);
    this.q.push(t, new Callback(fn), K_CALL, 0, null);
  }

  /** Runs `fn` after `dt` ms. */
  after(dt: number, fn: () => void): void {
    this.at(this.now + dt, fn);
  }

  /**
   * Calls `fn(now)` every `periodMs` from `start` (default now). Periodic events are daemons: they
   * never keep `run()` alive. Returns a stop function.
   */
  every(periodMs: number, fn: (now: number) => void, start = this.now): () => void {
    if (!(periodMs > 0)) throw new Error('sim.every: period must be > 0');
    if (!(start >= this.now)) throw new Error(`sim.every: start ${start} is before now (${this.now})`);
    const p = new Periodic(this, start, periodMs, fn);
    this.q.push(start, p, K_CALL, 0, null, true);
    return () => {
      p.stopped = true;
    };
  }

  /** Pending events (daemons included). */
  get pending(): number {
    return this.q.size;
  }

  /** Time of the next event; Infinity when none. */
  nextEventTime(): number {
    return this.q.peekTime();
  }

  /** Fires the next event. Returns false when there is none. */
  step(): boolean {
    const ev = this.q.pop();
    if (!ev) return false;
    this.now = ev.t;
    this.stats.events++;
    ev.handler!.handle(ev);
    this.q.release(ev);
    return true;
  }

  /** Fires every event due at or before `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    while (this.q.peekTime() <= t) this.step();
    if (t > this.now) this.now = t;
  }

  /** Runs for `dt` ms of virtual time. */
  runFor(dt: number): void {
    this.runUntil(this.now + dt);
  }

  /**
   * Fires events while `pred()` holds, up to absolute time `limit`. Returns true when `pred`
   * turned false, false when the limit (or the end of all events) came first; the clock then
   * stands at `limit`.
   */
  runWhile(pred: () => boolean, limit: number): boolean {
    while (pred()) {
      if (this.q.peekTime() > limit) {
        if (limit > this.now) this.now = limit;
        return false;
      }
      this.step();
    }
    return true;
  }

  /** Runs until only daemon events remain (or until `limit`). Returns true when quiescent. */
  run(limit = Number.POSITIVE_INFINITY): boolean {
    while (this.q.live > 0) {
      if (this.q.peekTime() > limit) {
        if (limit > this.now && limit < Number.POSITIVE_INFINITY) this.now = limit;
        return false;
      }
      this.step();
    }
    return true;
  }

  // ---- topology ----

  private claimName(name: string, set = this.names): void {
    if (set.has(name))
      throw new Error(`sim: duplicate ${set === this.names ? 'node' : 'link'} name "${name}"`);
    set.add(name);
  }

  /**
   * Adds a host running the core the factory builds. `ifaces` lists each interface's addresses;
   * the core is told every address with setAddresses(…, now).
   */
  addHost(
    name: string,
    factory: CoreFactory,
    ifaces: (string[] | { name?: string; addresses: string[] })[] = [],
  ): Host {
    this.claimName(name);
    const host = new Host(this, name);
    for (const spec of ifaces) {
      if (Array.isArray(spec)) host.addIface(spec, undefined, false);
      else host.addIface(spec.addresses, spec.name, false);
    }
    const core = factory({ name, addresses: host.addresses(), rng: this.rng.fork(`host/${name}`) });
    host.attach(core);
    this.hosts.push(host);
    return host;
  }

  addRouter(name: string): Router {
    this.claimName(name);
    const r = new Router(this, name);
    this.routers.push(r);
    return r;
  }

  /** Adds an L2 switch: it delivers each packet to the port behind which its next hop lives. */
  addSwitch(name: string): Switch {
    this.claimName(name);
    const s = new Switch(this, name);
    this.switches.push(s);
    return s;
  }

  /**
   * Links two interfaces (a router or switch end gets a fresh interface). Direction 'ab' runs from
   * the first end to the second.
   */
  addLink(a: Iface | Router | Switch, b: Iface | Router | Switch, config: LinkConfig = {}): Link {
    const ia = a instanceof Router || a instanceof Switch ? a.addIface() : a;
    const ib = b instanceof Router || b instanceof Switch ? b.addIface() : b;
    if (ia.link || ib.link) throw new Error('sim.addLink: interface already linked');
    const name = config.name ?? `${ia.node.name}-${ib.node.name}`;
    this.claimName(name, this.linkNames);
    const link = new Link(this, name, ia, ib, config);
    this.links.push(link);
    this.topologyChanged();
    return link;
  }

  link(name: string): Link {
    const l = this.links.find((x) => x.name === name);
    if (!l) throw new Error(`sim: no link "${name}"`);
    return l;
  }

  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`sim: no host "${name}"`);
    return h;
  }

  /**
   * `pkt` cannot be delivered (no route in this world): its sender's core is told, in an event of
   * its own at the current time (never from inside the send that found no route).
   */
  refuse(pkt: Packet, code: UnreachableCode): void {
    const node = this.ownerOf(pkt.src)?.node;
    if (node instanceof Host) node.notifyUnreachable(pkt, code);
  }

  /** The interface that owns an address, if any. */
  ownerOf(address: string): Iface | undefined {
    const i = this.owners.get(address);
    if (i !== undefined) return i;
    const c = canonicalAddress(address);
    return c !== null && c !== address ? this.owners.get(c) : undefined;
  }

  /** @internal */
  registerAddress(address: string, iface: Iface): void {
    const cur = this.owners.get(address);
    if (cur && cur !== iface) throw new Error(`sim: address ${address} already on ${cur.node.name}`);
    this.owners.set(address, iface);
    this.topologyChanged();
  }

  /** @internal */
  unregisterAddress(address: string, iface: Iface): void {
    if (this.owners.get(address) === iface) this.owners.delete(address);
    this.topologyChanged();
  }

  /** @internal */
  topologyChanged(): void {
    this.topoVersion++;
  }

  /** @internal */
  get topologyVersion(): number {
    return this.topoVersion;
  }

  /** Starts recording every packet's fate on every link (bounded: the first `limit` records). */
  tracePackets(limit = 100_000): PacketTrace {
    this.packetTrace = new PacketTrace(limit);
    return this.packetTrace;
  }

  /** Everything countable, as plain data (JSON-ready, deterministic order). */
  summary(): {
    now: number;
    events: number;
    noRoute: number;
    hosts: Record<string, Host['counters']>;
    routers: Record<string, Router['counters']>;
    links: Record<string, { ab: LinkCounters; ba: LinkCounters; up: boolean }>;
    log: SimLogEntry[];
  } {
    const hosts: Record<string, Host['counters']> = {};
    for (const h of this.hosts) hosts[h.name] = { ...h.counters };
    const routers: Record<string, Router['counters']> = {};
    for (const r of this.routers) routers[r.name] = { ...r.counters };
    const links: Record<string, { ab: LinkCounters; ba: LinkCounters; up: boolean }> = {};
    for (const l of this.links) {
      links[l.name] = { ab: structuredClone(l.ab.counters), ba: structuredClone(l.ba.counters), up: l.up };
    }
    return {
      now: this.now,
      events: this.stats.events,
      noRoute: this.stats.noRoute,
      hosts,
      routers,
      links,
      log: [...this.log],
    };
  }

  /** @internal */
  record(entry: SimLogEntry): void {
    this.log.push(entry);
  }
}

/** A network interface: addresses and at most one link. */
export class Iface {
  link: Link | null = null;
  /** The link direction leaving through this interface. */
  out: LinkDir | null = null;
  constructor(
    readonly node: SimNode,
    readonly name: string,
    readonly addresses: string[],
  ) {}
}

/** An end host: interfaces with addresses, one NetCore, application listeners. */
export class Host implements EventHandler {
  readonly kind = 'host';
  readonly ifaces: Iface[] = [];
  core!: NetCore;
  /**
   * noRoute: packets the core sent that no interface owns the source of (no routing table) or
   * that the routing table has no usable route for; unreachable: of those, the ones the core was
   * told about at once; notMine: packets that arrived for an address this host does not have.
   */
  readonly counters = { sent: 0, received: 0, noRoute: 0, unreachable: 0, notMine: 0 };
  /** Set with setRouting: the node's rules and tables decide each packet's interface. */
  routing: RoutingTable | null = null;
  private readonly bySrc = new Map<string, Iface>();
  /**
   * ifaceOf's last answer for an owned address and for a foreign one: per packet a host asks
   * about its own source and the peer's destination, over and over. Reset on address changes.
   */
  private lastAddr: string | null = null;
  private lastIface: Iface | undefined = undefined;
  private lastForeign: string | null = null;
  private listeners: HostListener[] = [];
  private timerAt = Number.POSITIVE_INFINITY;
  private timerGen = 0;
  private pumping = false;
  private spinAt = Number.NaN;
  private spins = 0;

  constructor(
    readonly sim: Simulator,
    readonly name: string,
  ) {}

  /** @internal */
  attach(core: NetCore): void {
    this.core = core;
    core.setAddresses(this.addresses(), this.sim.now);
    this.pump();
  }

  /** Adds an interface with addresses; tells the core unless `notify` is false. */
  addIface(addresses: string[], name?: string, notify = true): Iface {
    const canon = addresses.map(mustCanonical);
    const iface = new Iface(this, name ?? `eth${this.ifaces.length}`, canon);
    this.ifaces.push(iface);
    for (const a of canon) {
      this.sim.registerAddress(a, iface);
      this.bySrc.set(a, iface);
    }
    this.forgetLookups();
    if (notify && this.core) this.notifyAddresses();
    return iface;
  }

  private forgetLookups(): void {
    this.lastAddr = null;
    this.lastIface = undefined;
    this.lastForeign = null;
  }

  /** The interface with this name. */
  iface(name: string): Iface {
    const i = this.ifaces.find((x) => x.name === name);
    if (!i) throw new Error(`sim: host ${this.name} has no interface "${name}"`);
    return i;
  }

  /** @internal The interface with this name, if any (per packet: no throw, no allocation). */
  ifaceByName(name: string): Iface | undefined {
    for (let k = 0; k < this.ifaces.length; k++) if (this.ifaces[k]!.name === name) return this.ifaces[k];
    return undefined;
  }

  /** Every address of every interface, in interface order. */
  addresses(): string[] {
    return this.ifaces.flatMap((i) => i.addresses);
  }

  owns(address: string): boolean {
    return this.ifaceOf(address) !== undefined;
  }

  /** The interface owning an address (exact text first, then its canonical form). */
  private ifaceOf(address: string): Iface | undefined {
    if (address === this.lastAddr) return this.lastIface;
    if (address === this.lastForeign) return undefined;
    let i = this.bySrc.get(address);
    if (i === undefined) {
      const c = canonicalAddress(address);
      i = c !== null && c !== address ? this.bySrc.get(c) : undefined;
    }
    if (i === undefined) this.lastForeign = address;
    else {
      this.lastAddr = address;
      this.lastIface = i;
    }
    return i;
  }

  /** Removes an address from its interface (say, WiFi lost) and tells the core. */
  removeAddress(address: string): void {
    address = canonicalAddress(address) ?? address;
    const iface = this.bySrc.get(address);
    if (!iface) return;
    iface.addresses.splice(iface.addresses.indexOf(address), 1);
    this.bySrc.delete(address);
    this.forgetLookups();
    this.sim.unregisterAddress(address, iface);
    this.notifyAddresses();
  }

  /** Adds an address to an interface (say, WiFi back) and tells the core. */
  addAddress(address: string, iface: Iface = this.ifaces[0]!): void {
    if (iface.node !== this) throw new Error('addAddress: interface of another node');
    address = mustCanonical(address);
    if (this.bySrc.has(address)) return;
    iface.addresses.push(address);
    this.bySrc.set(address, iface);
    this.forgetLookups();
    this.sim.registerAddress(address, iface);
    this.notifyAddresses();
  }

  private notifyAddresses(): void {
    const addrs = this.addresses();
    this.sim.record({ t: this.sim.now, event: 'addresses', subject: this.name, detail: addrs.join(' ') });
    this.core.setAddresses(addrs, this.sim.now);
    this.pump();
  }

  /** Receives every CoreEvent of this host's core, in order. Returns an unsubscribe function. */
  on(listener: HostListener): () => void {
    // copy on write: a pump in progress keeps iterating the array it started with
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  // ---- the core API at the simulator's time; each call pumps the core ----

  listen(port: number): void {
    this.core.listen(port);
    this.pump();
  }
  connect(options: import('../core/contract').ConnectOptions): number {
    const id = this.core.connect(options, this.sim.now);
    this.pump();
    return id;
  }
  write(conn: number, data: Uint8Array): number {
    const n = this.core.write(conn, data, this.sim.now);
    this.pump();
    return n;
  }
  end(conn: number): void {
    this.core.end(conn, this.sim.now);
    this.pump();
  }
  abort(conn: number): void {
    this.core.abort(conn, this.sim.now);
    this.pump();
  }
  consumed(conn: number, bytes: number): void {
    this.core.consumed(conn, bytes, this.sim.now);
    this.pump();
  }

  /**
   * Drains the core: sends its output, hands its events to listeners (who may call back into the
   * core), and arms the timer for its next deadline. Call it after driving the core directly.
   */
  pump(): void {
    if (this.pumping) return; // the outer loop drains whatever the nested call produced
    this.pumping = true;
    try {
      const core = this.core;
      for (;;) {
        const out = core.takeOutput();
        for (let i = 0; i < out.length; i++) this.send(out[i]!);
        const evs = core.takeEvents();
        // sending never calls back into the core (links deliver through events); only listeners
        // can make more output, so without events the core is drained
        if (evs.length === 0) break;
        const ls = this.listeners;
        for (let i = 0; i < evs.length; i++) {
          const e = evs[i]!;
          for (let j = 0; j < ls.length; j++) ls[j]!(e, this);
        }
      }
      const d = core.nextDeadline();
      if (d < this.timerAt) {
        const now = this.sim.now;
        this.timerAt = Math.max(d, now);
        this.sim.schedule(this.timerAt, this, K_TIMER, ++this.timerGen, null);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Routes by the node's policy rules and tables (as its kernel would) instead of by the
   * interface owning the source address.
   */
  setRouting(table: RoutingTable | null): void {
    this.routing = table;
  }

  /**
   * The packet cannot be routed: it is dropped, and the core hears it at once (as a socket's send
   * fails with EHOSTUNREACH / ENETUNREACH), through its optional `unreachable` method.
   */
  refuse(pkt: Packet, code: UnreachableCode): void {
    this.counters.noRoute++;
    this.sim.stats.noRoute++;
    this.notifyUnreachable(pkt, code);
  }

  /**
   * @internal The core hears that `pkt` cannot be delivered, in an event of its own at the current
   * time (never from inside the send that found no route), as a failed send or an ICMP error tells
   * a kernel's socket.
   */
  notifyUnreachable(pkt: Packet, code: UnreachableCode): void {
    if (typeof this.core.unreachable !== 'function') return;
    this.counters.unreachable++;
    this.sim.schedule(this.sim.now, this, K_UNREACH, UNREACHABLE_CODES.indexOf(code), pkt);
  }

  private send(pkt: Packet): void {
    this.counters.sent++;
    if (this.routing !== null) {
      this.sendRouted(pkt, this.routing);
      return;
    }
    const iface = this.ifaceOf(pkt.src);
    if (iface === undefined) {
      this.counters.noRoute++;
      this.sim.stats.noRoute++;
      return;
    }
    if (this.ifaceOf(pkt.dst) !== undefined) {
      this.sim.schedule(this.sim.now, this, K_LOOPBACK, 0, pkt);
      return;
    }
    const out = iface.out;
    if (out === null) {
      this.counters.noRoute++;
      this.sim.stats.noRoute++;
      this.sim.refuse(pkt, 'ENETUNREACH');
      return;
    }
    out.enqueue(pkt);
  }

  private sendRouted(pkt: Packet, routing: RoutingTable): void {
    if (this.ifaceOf(pkt.dst) !== undefined) {
      this.sim.schedule(this.sim.now, this, K_LOOPBACK, 0, pkt);
      return;
    }
    const ans = routing.lookup(pkt.src, pkt.dst, pkt.data);
    if ('unreachable' in ans) {
      this.refuse(pkt, ans.unreachable);
      return;
    }
    const out = egress(this, ans, pkt);
    if (out === null) {
      this.counters.noRoute++;
      this.sim.stats.noRoute++;
      return;
    }
    out.enqueue(pkt);
  }

  /** @internal A packet arrives on an interface. */
  receive(pkt: Packet, _iface: Iface | null): void {
    if (this.ifaceOf(pkt.dst) === undefined) {
      this.counters.notMine++;
      return;
    }
    this.counters.received++;
    this.core.input(pkt, this.sim.now);
    this.pump();
  }

  handle(ev: SimEvent): void {
    if (ev.kind === K_TIMER) {
      if (ev.num !== this.timerGen) return; // superseded by an earlier deadline
      this.timerAt = Number.POSITIVE_INFINITY;
      const now = this.sim.now;
      if (now === this.spinAt) {
        if (++this.spins > 10_000) {
          throw new Error(`sim: host ${this.name}: core deadline stuck at ${now} (advance does not move it)`);
        }
      } else {
        this.spinAt = now;
        this.spins = 0;
      }
      this.core.advance(now);
      this.pump();
    } else if (ev.kind === K_LOOPBACK) {
      this.receive(ev.pkt!, null);
    } else if (ev.kind === K_UNREACH) {
      const pkt = ev.pkt!;
      this.core.unreachable?.(pkt.src, pkt.dst, UNREACHABLE_CODES[ev.num]!, this.sim.now);
      this.pump();
    }
  }
}

/**
 * The link direction a routed packet leaves by: the interface the route names, with the next hop
 * written on the packet when a switch is at the other end. Null when the interface has no link.
 */
function egress(node: Host | Router, ans: RouteHop, pkt: Packet): LinkDir | null {
  const iface = node.ifaceByName(ans.dev);
  if (iface === undefined || iface.out === null) return null;
  if (iface.out.to.node instanceof Switch) (pkt as HopPacket).hop = ans.hop;
  return iface.out;
}

/** Forwards by destination address; routes are found by breadth-first search, or set by hand. */
export class Router {
  readonly kind = 'router';
  readonly ifaces: Iface[] = [];
  readonly counters = { forwarded: 0, noRoute: 0 };
  /** Set with setRouting: the node's tables decide (else: breadth-first search, manual routes). */
  routing: RoutingTable | null = null;
  private readonly cache = new Map<string, Iface | null>();
  private readonly manual = new Map<string, Iface>();
  private cacheVersion = -1;

  constructor(
    readonly sim: Simulator,
    readonly name: string,
  ) {}

  /**
   * Adds an interface. Its addresses (optional) make it a next hop other nodes' routes can name
   * across a switch; packets addressed to them end here.
   */
  addIface(name?: string, addresses: string[] = []): Iface {
    const iface = new Iface(this, name ?? `if${this.ifaces.length}`, addresses.map(mustCanonical));
    this.ifaces.push(iface);
    for (const a of iface.addresses) this.sim.registerAddress(a, iface);
    this.sim.topologyChanged();
    return iface;
  }

  /** The interface with this name. */
  iface(name: string): Iface {
    const i = this.ifaces.find((x) => x.name === name);
    if (!i) throw new Error(`sim: router ${this.name} has no interface "${name}"`);
    return i;
  }

  /** @internal */
  ifaceByName(name: string): Iface | undefined {
    for (let k = 0; k < this.ifaces.length; k++) if (this.ifaces[k]!.name === name) return this.ifaces[k];
    return undefined;
  }

  /** Forwards by the node's routing table (as its kernel would) instead of by search. */
  setRouting(table: RoutingTable | null): void {
    this.routing = table;
  }

  /** A static route: packets for `address` leave through `iface`. */
  addRoute(address: string, iface: Iface): void {
    if (iface.node !== this) throw new Error('addRoute: interface of another node');
    this.manual.set(mustCanonical(address), iface);
  }

  /** The interface a packet for `address` leaves through, or null. */
  route(address: string): Iface | null {
    if (this.manual.size > 0) {
      const m = this.manual.get(address) ?? this.manual.get(canonicalAddress(address) ?? address);
      if (m) return m;
    }
    if (this.cacheVersion !== this.sim.topologyVersion) {
      this.cache.clear();
      this.cacheVersion = this.sim.topologyVersion;
    }
    let r = this.cache.get(address);
    if (r === undefined) {
      r = this.search(address);
      this.cache.set(address, r);
    }
    return r;
  }

  private search(address: string): Iface | null {
    const target = this.sim.ownerOf(address);
    if (!target) return null;
    // BFS over routers; each frontier entry remembers the first hop it came through
    const seen = new Set<SimNode>([this]);
    let frontier: [SimNode, Iface][] = [];
    for (const i of this.ifaces) {
      const peer = i.link?.peer(i);
      if (!peer) continue;
      if (peer === target) return i;
      if (!seen.has(peer.node)) {
        seen.add(peer.node);
        frontier.push([peer.node, i]);
      }
    }
    while (frontier.length > 0) {
      const next: [SimNode, Iface][] = [];
      for (const [node, first] of frontier) {
        if (!(node instanceof Router)) continue; // hosts do not forward
        for (const i of node.ifaces) {
          const peer = i.link?.peer(i);
          if (!peer) continue;
          if (peer === target) return first;
          if (!seen.has(peer.node)) {
            seen.add(peer.node);
            next.push([peer.node, first]);
          }
        }
      }
      frontier = next;
    }
    return null;
  }

  /** @internal */
  receive(pkt: Packet, _iface: Iface | null): void {
    if (this.routing !== null) {
      this.forwardRouted(pkt, this.routing);
      return;
    }
    const out = this.route(pkt.dst);
    if (out === null || out.out === null) {
      this.counters.noRoute++;
      this.sim.stats.noRoute++;
      // As a router sends ICMP destination unreachable back (the sender learns of it at once).
      this.sim.refuse(pkt, 'icmp-host-unreachable');
      return;
    }
    this.counters.forwarded++;
    out.out.enqueue(pkt);
  }

  private forwardRouted(pkt: Packet, routing: RoutingTable): void {
    const own = this.sim.ownerOf(pkt.dst);
    if (own !== undefined && own.node === this) return; // for the router itself: nothing listens
    const ans = routing.lookup(pkt.src, pkt.dst, pkt.data);
    const out = 'unreachable' in ans ? null : egress(this, ans, pkt);
    if (out === null) {
      this.counters.noRoute++;
      this.sim.stats.noRoute++;
      // the router's kernel sends ICMP destination unreachable back: the sender learns it at once
      const net = 'unreachable' in ans && ans.unreachable === 'ENETUNREACH';
      this.sim.refuse(pkt, net ? 'icmp-net-unreachable' : 'icmp-host-unreachable');
      return;
    }
    this.counters.forwarded++;
    out.enqueue(pkt);
  }
}

/**
 * An L2 switch (a Linux bridge in a lab): ports only, no addresses. A packet leaves by the port
 * behind which its next hop (`HopPacket.hop`, else its destination) lives, through chains of
 * switches too; never back out of the port it came in by.
 */
export class Switch {
  readonly kind = 'switch';
  readonly ifaces: Iface[] = [];
  readonly counters = { forwarded: 0, unknown: 0 };
  private readonly ports = new Map<string, Iface | null>();
  private portsVersion = -1;

  constructor(
    readonly sim: Simulator,
    readonly name: string,
  ) {}

  addIface(name?: string): Iface {
    const iface = new Iface(this, name ?? `port${this.ifaces.length}`, []);
    this.ifaces.push(iface);
    this.sim.topologyChanged();
    return iface;
  }

  /** The port leading to the interface that owns `address`, or null. */
  portFor(address: string): Iface | null {
    if (this.portsVersion !== this.sim.topologyVersion) {
      this.ports.clear();
      this.portsVersion = this.sim.topologyVersion;
    }
    let p = this.ports.get(address);
    if (p === undefined) {
      const owner = this.sim.ownerOf(address);
      p = null;
      if (owner)
        for (const i of this.ifaces)
          if (this.behind(i, owner, new Set<Switch>([this]))) {
            p = i;
            break;
          }
      this.ports.set(address, p);
    }
    return p;
  }

  /** Whether `owner` is at the far end of `port`, directly or through more switches. */
  private behind(port: Iface, owner: Iface, seen: Set<Switch>): boolean {
    const far = port.link?.peer(port);
    if (!far) return false;
    if (far === owner) return true;
    const n = far.node;
    if (!(n instanceof Switch) || seen.has(n)) return false;
    seen.add(n);
    for (const i of n.ifaces) if (i !== far && n.behind(i, owner, seen)) return true;
    return false;
  }

  /** @internal */
  receive(pkt: Packet, iface: Iface | null): void {
    const out = this.portFor((pkt as HopPacket).hop ?? pkt.dst);
    if (out === null || out === iface || out.out === null) {
      this.counters.unknown++;
      return;
    }
    this.counters.forwarded++;
    out.out.enqueue(pkt);
  }
}

export interface LinkScheduleEntry {
  /** Absolute virtual time, ms. */
  at: number;
  /** New parameters (merged into the current ones). */
  set?: Partial<LinkParams>;
  /** Which direction `set` applies to (default both). */
  dir?: 'ab' | 'ba' | 'both';
  /** Take the link down (true) or bring it up (false... use `up: true`). */
  down?: boolean;
  up?: boolean;
}

/** A bidirectional link between two interfaces; `ab` and `ba` are its two directions. */
export class Link {
  readonly ab: LinkDir;
  readonly ba: LinkDir;
  private isUp = true;

  constructor(
    readonly sim: Simulator,
    readonly name: string,
    readonly a: Iface,
    readonly b: Iface,
    config: LinkConfig,
  ) {
    const { name: _n, ab, ba, rttMs, ...both } = config;
    if (rttMs !== undefined) both.delayMs = rttMs / 2;
    this.ab = new LinkDir(this, 'ab', a, b, { ...DEFAULT_LINK_PARAMS, ...both, ...ab });
    this.ba = new LinkDir(this, 'ba', b, a, { ...DEFAULT_LINK_PARAMS, ...both, ...ba });
    a.link = this;
    b.link = this;
    a.out = this.ab;
    b.out = this.ba;
  }

  /** The interface at the other end. */
  peer(iface: Iface): Iface | null {
    return iface === this.a ? this.b : iface === this.b ? this.a : null;
  }

  get up(): boolean {
    return this.isUp;
  }

  /** Down: queued and in-flight packets are lost, new ones dropped, until up again. */
  setUp(up: boolean): void {
    if (up === this.isUp) return;
    this.isUp = up;
    this.sim.record({ t: this.sim.now, event: up ? 'link-up' : 'link-down', subject: this.name });
    if (!up) {
      this.ab.cut();
      this.ba.cut();
    }
  }

  down(): void {
    this.setUp(false);
  }

  bringUp(): void {
    this.setUp(true);
  }

  /** Changes parameters now, on one direction or both (takes effect for the next packet). */
  set(params: Partial<LinkParams>, dir: 'ab' | 'ba' | 'both' = 'both'): void {
    if (dir !== 'ba') this.ab.set(params);
    if (dir !== 'ab') this.ba.set(params);
    const shown = Object.entries(params)
      .filter(([, v]) => typeof v !== 'function')
      .map(([k, v]) =>
        k === 'deliveryTrace' && v
          ? `${k}=<${(v as { opportunitiesMs: number[] }).opportunitiesMs.length} opportunities>`
          : `${k}=${JSON.stringify(v)}`,
      )
      .join(' ');
    this.sim.record({ t: this.sim.now, event: 'link-set', subject: this.name, detail: `${dir} ${shown}` });
  }

  /** Schedules changes and up/down events at absolute times. */
  schedule(entries: LinkScheduleEntry[]): void {
    for (const e of entries) {
      this.sim.at(e.at, () => {
        if (e.set) this.set(e.set, e.dir ?? 'both');
        if (e.down) this.setUp(false);
        if (e.up) this.setUp(true);
      });
    }
  }

  /** Installs (or with null removes) a middlebox on one direction or both. */
  setMiddlebox(mb: Middlebox | null, dir: 'ab' | 'ba' | 'both' = 'both'): void {
    if (dir !== 'ba') this.ab.params.middlebox = mb;
    if (dir !== 'ab') this.ba.params.middlebox = mb;
  }

  counters(): { ab: LinkCounters; ba: LinkCounters } {
    return { ab: this.ab.counters, ba: this.ba.counters };
  }

  /** Adds a tap on one direction or both; returns a function that removes it. */
  tap(fn: LinkTap, dir: 'ab' | 'ba' | 'both' = 'both'): () => void {
    const dirs = dir === 'both' ? [this.ab, this.ba] : [dir === 'ab' ? this.ab : this.ba];
    for (const d of dirs) d.taps = [...(d.taps ?? []), fn];
    return () => {
      for (const d of dirs) {
        const rest = (d.taps ?? []).filter((x) => x !== fn);
        d.taps = rest.length > 0 ? rest : null;
      }
    };
  }

  /**
   * Captures the link's packets into a pcap writer (e.g. `new MemoryPcap()` or `new PcapFile(path)`
   * from stack/wire/pcap), at delivery ('rx', the default: what the far end saw) or when offered
   * ('enq': what the sender sent, lost packets included). Times are virtual ms.
   */
  capture(
    writer: SegmentWriter,
    options: { dir?: 'ab' | 'ba' | 'both'; point?: 'enq' | 'rx' } = {},
  ): () => void {
    const want = options.point ?? 'rx';
    return this.tap((t, pkt, point) => {
      if (point === want) writer.writeSegment(t, pkt.src, pkt.dst, pkt.data);
    }, options.dir ?? 'both');
  }
}

/**
 * One direction of a link: the link model's pipeline (stack/link/pipeline.ts) decides each packet's
 * fate when it is offered; this driver holds the packet as an arrival event until its due time,
 * runs the middlebox, the taps and the packet trace, and loses what is in flight when the link
 * goes down.
 */
export class LinkDir implements EventHandler {
  /** Set through Link.tap. */
  taps: LinkTap[] | null = null;
  readonly pipe: LinkPipeline;
  private readonly sim: Simulator;
  private epoch = 0;

  constructor(
    readonly link: Link,
    readonly dir: 'ab' | 'ba',
    readonly from: Iface,
    readonly to: Iface,
    params: LinkParams,
  ) {
    this.sim = link.sim;
    this.pipe = new LinkPipeline(this.sim.rng.fork(`link/${link.name}/${dir}`), params, `link ${link.name}`);
  }

  get params(): LinkParams {
    return this.pipe.params;
  }

  get counters(): LinkCounters {
    return this.pipe.counters;
  }

  set(params: Partial<LinkParams>): void {
    this.pipe.set(params);
  }

  /** Current queue occupancy (bytes, including the packet in service). */
  get backlogBytes(): number {
    return this.pipe.backlog(this.sim.now).bytes;
  }

  get backlogPackets(): number {
    return this.pipe.backlog(this.sim.now).packets;
  }

  private wireSize(pkt: Packet): number {
    const p = this.pipe.params;
    const o = p.overheadBytes;
    const e = p.encapBytes;
    return (
      pkt.data.length +
      (o !== undefined ? o : pkt.src.indexOf(':') >= 0 ? 40 : 20) +
      (e !== undefined ? e : 0)
    );
  }

  private trace(pkt: Packet, size: number, what: DropCause | 'enq' | 'rx'): void {
    const tr = this.sim.packetTrace;
    if (tr !== null) tr.add(this.sim.now, this.link.name, this.dir, what, size, pkt);
  }

  /** A packet handed to this direction. */
  enqueue(pkt: Packet): void {
    const size = this.wireSize(pkt);
    const now = this.sim.now;
    if (this.sim.packetTrace !== null) this.trace(pkt, size, 'enq');
    if (this.taps !== null) for (const f of this.taps) f(now, pkt, 'enq', this.dir);
    const pipe = this.pipe;
    if (!this.link.up) {
      pipe.counters.sentPackets++;
      pipe.counters.sentBytes += size;
      pipe.countDrop('down');
      if (this.sim.packetTrace !== null) this.trace(pkt, size, 'down');
      return;
    }
    const due = pipe.admit(size, now);
    if (due === DROPPED) {
      if (this.sim.packetTrace !== null) this.trace(pkt, size, pipe.lastDrop);
      return;
    }
    const dup = pipe.dupDue;
    const mb = pipe.params.middlebox;
    if (mb) {
      const out = mb(pkt, { now, link: this.link.name, dir: this.dir });
      if (out === null) {
        pipe.pending--;
        pipe.countDrop('middlebox');
        if (dup !== DROPPED) pipe.pending--;
        if (this.sim.packetTrace !== null) this.trace(pkt, size, 'middlebox');
        return;
      }
      if (out !== pkt && (pkt as HopPacket).hop !== undefined)
        (out as HopPacket).hop = (pkt as HopPacket).hop;
      pkt = out;
    }
    const wire = mb ? this.wireSize(pkt) : size;
    if (dup !== DROPPED) {
      const copy: HopPacket = { src: pkt.src, dst: pkt.dst, data: pkt.data.slice() };
      const hop = (pkt as HopPacket).hop;
      if (hop !== undefined) copy.hop = hop;
      // the copy follows the original when both are due at once
      if (dup < due) {
        this.sim.schedule(dup, this, K_ARRIVE, this.epoch, copy, false, wire);
        this.sim.schedule(due, this, K_ARRIVE, this.epoch, pkt, false, wire);
        return;
      }
      this.sim.schedule(due, this, K_ARRIVE, this.epoch, pkt, false, wire);
      this.sim.schedule(dup, this, K_ARRIVE, this.epoch, copy, false, wire);
      return;
    }
    this.sim.schedule(due, this, K_ARRIVE, this.epoch, pkt, false, wire);
  }

  /** The link went down: what is queued or in flight is lost (counted when it would arrive). */
  cut(): void {
    this.pipe.cut();
    this.epoch++;
  }

  handle(ev: SimEvent): void {
    const pkt = ev.pkt!;
    const size = ev.aux;
    if (ev.num !== this.epoch) {
      this.pipe.lose();
      if (this.sim.packetTrace !== null) this.trace(pkt, size, 'down');
      return;
    }
    this.pipe.release(size);
    if (this.sim.packetTrace !== null) this.trace(pkt, size, 'rx');
    if (this.taps !== null) for (const f of this.taps) f(this.sim.now, pkt, 'rx', this.dir);
    this.to.node.receive(pkt, this.to);
  }
}

export type { CoreEvent };
