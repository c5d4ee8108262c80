/**
 * The TUN phy: whole IPv4/IPv6 packets in and out of the stack through a TUN device, so the stack
 * speaks real TCP/MPTCP on the wire and the Linux kernel's MPTCP can be its peer.
 *
 * How the stack owns its addresses while the node's kernel keeps ARP/NDP, routing and shaping:
 * the addresses stay on the node's interfaces (the lab's address plan is unchanged, the kernel
 * answers ARP/NDP and ping for them), and policy routing steers every TCP packet for them into the
 * TUN device instead of the kernel's own TCP:
 *
 *   ip rule add pref 10 to A ipproto tcp lookup 8684     (one per stack address, both families)
 *   ip route add default dev mptun0 table 8684
 *   ip rule add pref 20 lookup local; ip rule del pref 0  (the local table after our rules)
 *
 * The kernel then forwards those packets into the TUN device (forwarding on; rp_filter off) and
 * never hands them to its own TCP, so it never answers them with a RST. Packets the stack writes
 * (source A) are forwarded out of the right interface by the ordinary routes (accept_local lets a
 * local source address in through the TUN device). See docs/phy.md.
 *
 * Per packet: reads are drained in batches (tun-device.ts); the IP header is parsed in place (no
 * copy; TCP payload is a view), addresses become strings through a small cache. Writes build the IP
 * header in one scratch buffer, copy the segment behind it and write once.
 */
import { execFile, execFileSync } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import type { Packet, UnreachableCode } from '../core/contract';
import { formatIPv4, formatIPv6, ipBytes } from '../wire/ip';
import { fold, sum16 } from '../wire/checksum';
import type { PhySink } from './driver';
import { ipRunner, isOpeningSyn, RouteCheck, RouteWatch } from './route-check';
import { TunDevice } from './tun-device';
import { hostAddresses, mtuOf, plausibleTcpSegment } from './udp-phy';

const execFileAsync = promisify(execFile);

export const TUN_TABLE = 8684;
/** Rule priority of the steering rules; the local table moves to LOCAL_PREF, after them. */
export const STEER_PREF = 10;
export const LOCAL_PREF = 20;
export const DEFAULT_TUN_NAME = 'mptun0';

export interface TunPhyOptions {
  /** TUN interface name (≤ 15 bytes). Default mptun0. */
  name?: string;
  /** Network namespace the device and the steering live in (name or path); default: this one. */
  netns?: string;
  /**
   * The stack's addresses. When absent they are learned from the interfaces (up, running, not
   * loopback, not link-local, not the TUN device) and followed every `pollMs`.
   */
  addresses?: string[];
  /** Interface poll period when following (ms); 0 disables. Default 200. */
  pollMs?: number;
  /** Install the policy routing and sysctls (default true; false when the caller does it). */
  steer?: boolean;
  /** Routing table of the steering. Default 8684. */
  table?: number;
  /** TUN MTU. Default 1500. */
  mtu?: number;
  /** Packets per drained batch. */
  batch?: number;
}

/** The UDP phy's counters (a "datagram" is one IP packet here), and what only the TUN phy drops. */
export interface TunPhyCounters {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Not TCP (ICMPv6, MLD, router solicitations the kernel sends to the device), or not IP. */
  notTcp: number;
  /** IPv4 fragments (the stack sends DF and sizes segments to the MTU; fragments are dropped). */
  fragments: number;
  garbageDropped: number;
  sendErrors: number;
  /** Packets from the stack whose source is not one of its addresses: dropped. */
  noSocket: number;
  /** SYN address pairs the kernel has no route for (reported through onUnreachable). */
  unreachable: number;
}

/** The ip(8) batch lines (per family) and sysctls that steer TCP for `addresses` into `dev`. */
export function steeringConfig(
  dev: string,
  addresses: string[],
  table = TUN_TABLE,
): { v4: string[]; v6: string[]; sysctls: string[] } {
  const v4 = [`route replace default dev ${dev} table ${table}`];
  const v6 = [`route replace default dev ${dev} table ${table}`];
  for (const a of addresses) {
    if (isIPv4(a)) v4.push(steerRule('add', a, table));
    else if (isIPv6(a)) v6.push(steerRule('add', a, table));
  }
  const sysctls = [
    'net.ipv4.ip_forward=1',
    'net.ipv6.conf.all.forwarding=1',
    'net.ipv4.conf.all.rp_filter=0',
    `net.ipv4.conf.${dev}.rp_filter=0`,
    `net.ipv4.conf.${dev}.accept_local=1`,
    // No redirects: the node is not a router for anyone, it only hands packets to the stack.
    'net.ipv4.conf.all.send_redirects=0',
  ];
  return { v4, v6, sysctls };
}

export function steerRule(verb: 'add' | 'del', address: string, table = TUN_TABLE): string {
  const plen = isIPv6(address) ? 128 : 32;
  return `rule ${verb} pref ${STEER_PREF} to ${address}/${plen} ipproto tcp lookup ${table}`;
}

/** Lines that move the local table after the steering rules (idempotent: checks what is there). */
export function localRuleLines(existing: string): string[] {
  const hasMoved = new RegExp(`^${LOCAL_PREF}:\\s+from all lookup local`, 'm').test(existing);
  const hasZero = /^0:\s+from all lookup local/m.test(existing);
  const out: string[] = [];
  if (!hasMoved) out.push(`rule add pref ${LOCAL_PREF} lookup local`);
  if (hasZero) out.push('rule del pref 0 lookup local');
  return out;
}

/**
 * Lines that put the local table back first, when no steering rule of `table` is left (so no
 * other stack in this namespace still needs it moved). Also undoes what a stack that died left.
 */
export function restoreLocalLines(existing: string, table = TUN_TABLE): string[] {
  if (new RegExp(`ipproto tcp lookup ${table}\\b`).test(existing)) return [];
  const moved = new RegExp(`^${LOCAL_PREF}:\\s+from all lookup local`, 'm').test(existing);
  if (!moved) return [];
  const hasZero = /^0:\s+from all lookup local/m.test(existing);
  return [...(hasZero ? [] : ['rule add pref 0 lookup local']), `rule del pref ${LOCAL_PREF} lookup local`];
}

const PROTO_TCP = 6;

/** Parses one IP packet read from the device into a Packet; a string says why it was dropped. */
export class IpParser {
  private readonly v4 = new Map<number, string>();
  private lastV6Bytes = new Uint8Array(32);
  private lastV6Src = '';
  private lastV6Dst = '';

  parse(b: Uint8Array): Packet | 'short' | 'not-tcp' | 'fragment' | 'bad' {
    if (b.length < 1) return 'short';
    const v = b[0]! >> 4;
    if (v === 4) {
      if (b.length < 20) return 'short';
      const hl = (b[0]! & 0xf) * 4;
      const total = (b[2]! << 8) | b[3]!;
      if (hl < 20 || total < hl || total > b.length) return 'bad';
      if (b[9] !== PROTO_TCP) return 'not-tcp';
      if ((b[6]! & 0x20) !== 0 || ((b[6]! & 0x1f) | b[7]!) !== 0) return 'fragment';
      const data = b.subarray(hl, total);
      if (!plausibleTcpSegment(data)) return 'bad';
      return { src: this.name4(b, 12), dst: this.name4(b, 16), data };
    }
    if (v === 6) {
      if (b.length < 40) return 'short';
      const plen = (b[4]! << 8) | b[5]!;
      if (40 + plen > b.length) return 'bad';
      // Extension headers in front of TCP: the kernel does not add any to forwarded TCP.
      if (b[6] !== PROTO_TCP) return b[6] === 44 ? 'fragment' : 'not-tcp';
      const data = b.subarray(40, 40 + plen);
      if (!plausibleTcpSegment(data)) return 'bad';
      this.names6(b);
      return { src: this.lastV6Src, dst: this.lastV6Dst, data };
    }
    return 'bad';
  }

  private name4(b: Uint8Array, off: number): string {
    const k = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
    let s = this.v4.get(k);
    if (s === undefined) {
      s = formatIPv4(b, off);
      if (this.v4.size >= 1024) this.v4.clear();
      this.v4.set(k, s);
    }
    return s;
  }

  /** Formats src and dst, reusing the previous strings when both are unchanged (one peer). */
  private names6(b: Uint8Array): void {
    const last = this.lastV6Bytes;
    let same = this.lastV6Src !== '';
    for (let i = 0; same && i < 32; i++) if (last[i] !== b[8 + i]) same = false;
    if (same) return;
    last.set(b.subarray(8, 40));
    this.lastV6Src = formatIPv6(b, 8);
    this.lastV6Dst = formatIPv6(b, 24);
  }
}

/** Writes an IP header for `p` at the start of `buf` and the segment behind it; returns the length. */
export function encapsulate(buf: Uint8Array, p: Packet, id: number, ttl = 64): number {
  const s = ipBytes(p.src);
  const d = ipBytes(p.dst);
  const n = p.data.length;
  if (s.length === 4 && d.length === 4) {
    const total = 20 + n;
    buf[0] = 0x45;
    buf[1] = 0;
    buf[2] = total >> 8;
    buf[3] = total & 0xff;
    buf[4] = (id >> 8) & 0xff;
    buf[5] = id & 0xff;
    buf[6] = 0x40; // DF
    buf[7] = 0;
    buf[8] = ttl;
    buf[9] = PROTO_TCP;
    buf[10] = 0;
    buf[11] = 0;
    buf.set(s, 12);
    buf.set(d, 16);
    const ck = ~fold(sum16(buf, 0, 20)) & 0xffff;
    buf[10] = ck >> 8;
    buf[11] = ck & 0xff;
    buf.set(p.data, 20);
    return total;
  }
  if (s.length !== 16 || d.length !== 16) return -1;
  buf[0] = 0x60;
  buf[1] = 0;
  buf[2] = 0;
  buf[3] = 0;
  buf[4] = n >> 8;
  buf[5] = n & 0xff;
  buf[6] = PROTO_TCP;
  buf[7] = ttl;
  buf.set(s, 8);
  buf.set(d, 24);
  buf.set(p.data, 40);
  return 40 + n;
}

/** Largest TCP MSS (payload per segment) over the TUN phy for an address family and MTU. */
export function tunMss(mtu: number, family: 4 | 6): number {
  return mtu - (family === 6 ? 60 : 40);
}

/** Largest TCP segment (header + options + payload) in one unfragmented packet from `address`. */
export function tunMaxSegmentFor(address: string, fallbackMtu = 1500): number {
  return Math.min(mtuOf(address) ?? fallbackMtu, 65535) - (isIPv6(address) ? 40 : 20);
}

function ipCmd(netns: string | undefined, family: '-4' | '-6', lines: string[], tolerant = false): void {
  if (lines.length === 0) return;
  const args = [...(netns ? ['-n', netns] : []), family, ...(tolerant ? ['-force'] : []), '-batch', '-'];
  try {
    execFileSync('ip', args, { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    if (!tolerant) throw e;
  }
}

function ipOut(netns: string | undefined, args: string[]): string {
  return execFileSync('ip', [...(netns ? ['-n', netns] : []), ...args], { encoding: 'utf8' });
}

function sysctlCmd(netns: string | undefined, assignments: string[]): void {
  const argv = ['sysctl', '-q', '-w', ...assignments];
  if (netns) execFileSync('ip', ['netns', 'exec', netns, ...argv], { stdio: 'ignore' });
  else execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
}

interface IpJsonAddr {
  ifname: string;
  flags?: string[];
  operstate?: string;
  addr_info?: { local: string; family: string; scope: string; tentative?: boolean }[];
}

/** Addresses of a namespace's interfaces that are up with carrier (as `ip -j addr` shows them). */
export function addressesFromIpJson(json: string, exclude: string): string[] {
  const out: string[] = [];
  for (const i of JSON.parse(json) as IpJsonAddr[]) {
    if (i.ifname === exclude || i.ifname === 'lo') continue;
    if (!i.flags?.includes('UP') || !i.flags.includes('LOWER_UP')) continue;
    for (const a of i.addr_info ?? []) {
      if (a.scope !== 'global' || a.tentative) continue;
      if (!out.includes(a.local)) out.push(a.local);
    }
  }
  return out;
}

export class TunPhy implements PhySink {
  readonly counters: TunPhyCounters = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    notTcp: 0,
    fragments: 0,
    garbageDropped: 0,
    sendErrors: 0,
    noSocket: 0,
    unreachable: 0,
  };
  onPacket: ((p: Packet) => void) | undefined;
  onAddresses: ((addresses: string[]) => void) | undefined;
  onLog: ((msg: string) => void) | undefined;
  /** The kernel has no route for a SYN's address pair (`ip route get` said so; see route-check.ts). */
  onUnreachable: ((src: string, dst: string, code: UnreachableCode) => void) | undefined;
  /** The node's routes or rules changed (`ip monitor`, while following addresses). */
  onRoutes: (() => void) | undefined;
  /** The device (after start). */
  device: TunDevice | undefined;
  /** Kept for the shape the runtime expects of a phy (the UDP port); 0: no port, real IP. */
  readonly port = 0;

  private readonly parser = new IpParser();
  private readonly scratch = new Uint8Array(65535 + 60);
  private readonly name: string;
  private readonly table: number;
  private addrs: string[] = [];
  private steered = new Set<string>();
  private ipId = 1;
  private readonly routes: RouteCheck;
  private routeWatch: RouteWatch | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly options: TunPhyOptions = {}) {
    this.name = options.name ?? DEFAULT_TUN_NAME;
    this.table = options.table ?? TUN_TABLE;
    this.routes = new RouteCheck(ipRunner(options.netns), (src, dst, code) => {
      this.counters.unreachable++;
      this.onUnreachable?.(src, dst, code);
    });
  }

  /** Creates the device, brings it up, steers the addresses; resolves with the addresses. */
  async start(): Promise<string[]> {
    const o = this.options;
    const dev = new TunDevice({ name: this.name, netns: o.netns, batch: o.batch });
    this.device = dev;
    dev.onError = (e) => this.onLog?.(e.message);
    dev.onPackets = (pkts) => this.received(pkts);
    try {
      ipCmd(o.netns, '-4', [`link set ${dev.name} mtu ${o.mtu ?? 1500} up`]);
      this.addrs = o.addresses ? [...o.addresses] : await this.learn();
      if (o.steer !== false) {
        const cfg = steeringConfig(dev.name, [], this.table);
        sysctlCmd(o.netns, cfg.sysctls);
        const lines = localRuleLines(ipOut(o.netns, ['-4', 'rule', 'show']));
        const lines6 = localRuleLines(ipOut(o.netns, ['-6', 'rule', 'show']));
        ipCmd(o.netns, '-4', [...cfg.v4, ...lines]);
        ipCmd(o.netns, '-6', [...cfg.v6, ...lines6]);
        this.steer(this.addrs);
      }
    } catch (e) {
      // Half set up: take down what exists (the device, with its routes; our rules) and report.
      this.closed = true;
      try {
        if (o.steer !== false) this.steer([]);
      } catch {
        // best effort
      }
      await dev.close();
      throw e;
    }
    dev.start();
    const pollMs = o.pollMs ?? 200;
    if (!o.addresses && pollMs > 0) {
      this.pollTimer = setInterval(() => void this.poll(), pollMs);
      this.pollTimer.unref();
    }
    if (pollMs > 0) {
      // Our own steering rules show up too: a spurious re-check, harmless.
      this.routeWatch = new RouteWatch(
        () => {
          this.routes.forget();
          this.onRoutes?.();
        },
        (m) => this.onLog?.(m),
        o.netns,
      );
      this.routeWatch.start();
    }
    return this.addresses();
  }

  addresses(): string[] {
    return [...this.addrs];
  }

  /** Replaces the stack's addresses (re-steers); fires onAddresses when they changed. */
  setAddresses(addresses: string[]): void {
    const changed = addresses.length !== this.addrs.length || addresses.some((a) => !this.addrs.includes(a));
    this.addrs = [...addresses];
    if (changed) this.routes.forget();
    if (this.options.steer !== false) this.steer(this.addrs);
    if (changed) this.onAddresses?.(this.addresses());
  }

  /** Re-reads the interfaces now (when following); resolves true when the set changed. */
  async poll(): Promise<boolean> {
    if (this.closed || this.polling || this.options.addresses) return false;
    this.polling = true;
    try {
      const now = await this.learn();
      if (this.closed) return false;
      const changed = now.length !== this.addrs.length || now.some((a) => !this.addrs.includes(a));
      if (changed) this.setAddresses(now);
      return changed;
    } catch (e) {
      this.onLog?.(`address poll: ${(e as Error).message}`);
      return false;
    } finally {
      this.polling = false;
    }
  }

  send(packets: Packet[]): void {
    const dev = this.device;
    if (!dev) return;
    const buf = this.scratch;
    const c = this.counters;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (isOpeningSyn(p.data)) this.routes.syn(p.src, p.dst);
      const len = encapsulate(buf, p, this.ipId, 64);
      this.ipId = (this.ipId + 1) & 0xffff;
      if (len < 0) {
        c.sendErrors++;
        continue;
      }
      if (dev.write(buf, len)) {
        c.datagramsOut++;
        c.bytesOut += p.data.length;
      } else c.sendErrors++;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.routeWatch?.stop();
    const o = this.options;
    if (o.steer !== false) {
      try {
        this.steer([]);
        // Back as it was: the local table first again, unless another stack here still steers.
        ipCmd(o.netns, '-4', restoreLocalLines(ipOut(o.netns, ['-4', 'rule', 'show']), this.table));
        ipCmd(o.netns, '-6', restoreLocalLines(ipOut(o.netns, ['-6', 'rule', 'show']), this.table));
      } catch (e) {
        this.onLog?.(`unsteer: ${(e as Error).message}`);
      }
    }
    await this.device?.close();
  }

  private received(pkts: Uint8Array[]): void {
    const c = this.counters;
    const on = this.onPacket;
    for (let i = 0; i < pkts.length; i++) {
      const b = pkts[i]!;
      const r = this.parser.parse(b);
      if (typeof r === 'string') {
        if (r === 'not-tcp') c.notTcp++;
        else if (r === 'fragment') c.fragments++;
        else c.garbageDropped++;
        continue;
      }
      c.datagramsIn++;
      c.bytesIn += r.data.length;
      on?.(r);
    }
  }

  private steer(addresses: string[]): void {
    const o = this.options;
    const want = new Set(addresses);
    const v4: string[] = [];
    const v6: string[] = [];
    for (const a of this.steered)
      if (!want.has(a)) (isIPv6(a) ? v6 : v4).push(steerRule('del', a, this.table));
    // Deleting a rule someone already removed is not an error.
    ipCmd(o.netns, '-4', v4, true);
    ipCmd(o.netns, '-6', v6, true);
    const add4: string[] = [];
    const add6: string[] = [];
    for (const a of want)
      if (!this.steered.has(a))
        (isIPv6(a) ? add6 : isIPv4(a) ? add4 : []).push(steerRule('add', a, this.table));
    // A rule left by a stack that died without closing would make `rule add` fail (File exists):
    // delete any such one first, quietly.
    ipCmd(
      o.netns,
      '-4',
      add4.map((l) => l.replace('rule add', 'rule del')),
      true,
    );
    ipCmd(
      o.netns,
      '-6',
      add6.map((l) => l.replace('rule add', 'rule del')),
      true,
    );
    ipCmd(o.netns, '-4', add4);
    ipCmd(o.netns, '-6', add6);
    this.steered = want;
  }

  private async learn(): Promise<string[]> {
    const o = this.options;
    if (!o.netns) {
      // os.networkInterfaces() lists only running interfaces; the TUN device has no address.
      return hostAddresses();
    }
    const { stdout } = await execFileAsync('ip', ['-n', o.netns, '-j', 'addr', 'show']);
    return addressesFromIpJson(stdout, this.device?.name ?? this.name);
  }
}
