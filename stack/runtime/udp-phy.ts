/**
 * The UDP phy: one dgram socket per local address, bound on UDP port 8684 (configurable). A datagram
 * carries exactly one encoded TCP segment; Packet.src/dst are the UDP 4-tuple's addresses.
 *
 * Addresses come from the host's interfaces (os.networkInterfaces(), which lists only interfaces
 * that are up and running; loopback excluded unless asked) or from an explicit list, and are
 * followed: every `pollMs` the phy re-reads the interfaces; an address that went away has its socket
 * closed, a new one gets a socket, and `onAddresses` fires so the owner calls `core.setAddresses`.
 *
 * Garbage (too short to be a TCP header, bad data offset, from a non-8684-style source we cannot
 * parse) is dropped and counted before it reaches the core.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Packet, UnreachableCode } from '../core/contract';
import type { PhySink } from './driver';
import { isOpeningSyn, RouteWatch } from './route-check';

export const DEFAULT_UDP_PORT = 8684;

export interface UdpPhyOptions {
  /** UDP port to bind on each address and to send to. Default 8684. */
  port?: number;
  /** Explicit addresses. When given, only these are used (each while present on the host). */
  addresses?: string[];
  /** Include loopback addresses when learning from the interfaces. Default false. */
  includeLoopback?: boolean;
  /** Include IPv6 link-local addresses (fe80::/10) when learning. Default false. */
  includeLinkLocal?: boolean;
  /** Interface poll period in ms; 0 disables following. Default 200. */
  pollMs?: number;
  /** Socket buffer sizes (bytes). Default 4 MiB each (the kernel caps to rmem_max/wmem_max). */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface UdpPhyCounters {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  garbageDropped: number;
  sendErrors: number;
  /** Packets whose source address has no socket (address gone): dropped. */
  noSocket: number;
  /** SYNs whose send failed for want of a route (reported through onUnreachable). */
  unreachable: number;
}

/** Cheap structural check: could this be a TCP segment? (The core does the full decode.) */
export function plausibleTcpSegment(data: Uint8Array): boolean {
  if (data.length < 20) return false;
  const off = (data[12]! >> 4) * 4;
  if (off < 20 || off > data.length) return false;
  // Ports 0 are invalid on the wire.
  if ((data[0]! === 0 && data[1]! === 0) || (data[2]! === 0 && data[3]! === 0)) return false;
  return true;
}

function isLoopback(a: string): boolean {
  return a === '::1' || a.startsWith('127.');
}

/** Local addresses from the host's interfaces (up and running only, as libuv reports them). */
export function hostAddresses(
  opts: { includeLoopback?: boolean; includeLinkLocal?: boolean } = {},
): string[] {
  const out: string[] = [];
  const ifs = networkInterfaces();
  for (const name of Object.keys(ifs)) {
    for (const a of ifs[name] ?? []) {
      if (a.internal && !opts.includeLoopback) continue;
      if (a.family === 'IPv6' && a.scopeid !== 0 && !opts.includeLinkLocal) continue;
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80') && !opts.includeLinkLocal)
        continue;
      if (!out.includes(a.address)) out.push(a.address);
    }
  }
  return out;
}

/** Interface MTU of a local address (from /sys/class/net), or undefined when unknown. */
export function mtuOf(address: string): number | undefined {
  const ifs = networkInterfaces();
  let name: string | undefined;
  for (const n of Object.keys(ifs)) {
    for (const a of ifs[n] ?? []) {
      if (
        a.address === address ||
        (isLoopback(address) && a.internal && a.family === 'IPv4' && isIPv4(address))
      ) {
        name = n;
      }
    }
    if (name) break;
  }
  if (!name) return undefined;
  try {
    const v = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** IP + UDP header bytes in front of each carried TCP segment. */
export function udpOverhead(address: string): number {
  return isIPv6(address) ? 48 : 28;
}

/** Largest TCP segment (header + options + payload) one unfragmented datagram can carry. */
export function maxSegmentFor(address: string, fallbackMtu = 1500): number {
  const mtu = mtuOf(address) ?? fallbackMtu;
  return Math.min(mtu, 65535) - udpOverhead(address);
}

type LookupCb = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
function lookupLiteral4(address: string, _o: unknown, cb: LookupCb): void {
  cb(null, address, 4);
}
function lookupLiteral6(address: string, _o: unknown, cb: LookupCb): void {
  cb(null, address, 6);
}

export class UdpPhy implements PhySink {
  readonly port: number;
  readonly counters: UdpPhyCounters = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    garbageDropped: 0,
    sendErrors: 0,
    noSocket: 0,
    unreachable: 0,
  };
  /** Receives every plausible datagram as a Packet. */
  onPacket: ((p: Packet) => void) | undefined;
  /** Fired after the set of bound addresses changed (not on the initial start). */
  onAddresses: ((addresses: string[]) => void) | undefined;
  /** Errors worth logging (bind failures, send errors): never thrown. */
  onLog: ((msg: string) => void) | undefined;
  /**
   * A SYN's send failed with EHOSTUNREACH or ENETUNREACH (the kernel has no route from its source
   * to its destination, e.g. a per-address table's `unreachable` default): the core should know.
   */
  onUnreachable: ((src: string, dst: string, code: UnreachableCode) => void) | undefined;
  /** The host's routes or rules changed (followed with `ip monitor` while following addresses). */
  onRoutes: (() => void) | undefined;

  private readonly sockets = new Map<string, Socket>();
  private readonly pending = new Set<string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private routeWatch: RouteWatch | undefined;
  private closed = false;
  private warnedBufferCap = false;

  constructor(private readonly options: UdpPhyOptions = {}) {
    this.port = options.port ?? DEFAULT_UDP_PORT;
  }

  /** Binds a socket on every current address; resolves with the bound addresses. */
  async start(): Promise<string[]> {
    const want = this.wanted();
    await Promise.all(want.map((a) => this.bind(a)));
    const pollMs = this.options.pollMs ?? 200;
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => void this.poll(), pollMs);
      this.pollTimer.unref();
      this.routeWatch = new RouteWatch(
        () => this.onRoutes?.(),
        (m) => this.onLog?.(m),
      );
      this.routeWatch.start();
    }
    return this.addresses();
  }

  /** Currently bound addresses, in a stable order (the order first wanted). */
  addresses(): string[] {
    return [...this.sockets.keys()];
  }

  send(packets: Packet[]): void {
    const port = this.port;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      const s = this.sockets.get(p.src);
      if (!s) {
        this.counters.noSocket++;
        continue;
      }
      this.counters.datagramsOut++;
      this.counters.bytesOut += p.data.length;
      // Only opening SYNs get a callback (one closure per SYN, none per data segment): a failed
      // send is how the kernel says there is no route, and the core should not retransmit it.
      if (isOpeningSyn(p.data)) s.send(p.data, port, p.dst, (err) => this.sent(p.src, p.dst, err));
      else s.send(p.data, port, p.dst);
    }
  }

  private sent(src: string, dst: string, err: Error | null): void {
    if (!err) return;
    const code = (err as NodeJS.ErrnoException).code;
    this.counters.sendErrors++;
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
      this.counters.unreachable++;
      this.onUnreachable?.(src, dst, code);
    } else this.onLog?.(`send ${src} -> ${dst}: ${err.message}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.routeWatch?.stop();
    const all = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(all.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  /** Re-reads the interfaces now; resolves true when the address set changed. */
  async poll(): Promise<boolean> {
    if (this.closed) return false;
    const want = this.wanted();
    let changed = false;
    for (const [a, s] of this.sockets) {
      if (!want.includes(a)) {
        this.sockets.delete(a);
        s.close();
        changed = true;
        this.onLog?.(`address ${a} went away`);
      }
    }
    const added = want.filter((a) => !this.sockets.has(a) && !this.pending.has(a));
    if (added.length > 0) {
      const ok = await Promise.all(added.map((a) => this.bind(a)));
      if (ok.some(Boolean)) changed = true;
    }
    if (changed && !this.closed) this.onAddresses?.(this.addresses());
    return changed;
  }

  private wanted(): string[] {
    const explicit = this.options.addresses;
    const present = hostAddresses({
      includeLoopback: true,
      includeLinkLocal: this.options.includeLinkLocal ?? false,
    });
    if (explicit && explicit.length > 0) {
      // An explicit address is used while present; loopback-range addresses (127/8) are always
      // bindable while lo is up, even though only 127.0.0.1 is listed.
      const loUp = present.some(isLoopback);
      return explicit.filter((a) => present.includes(a) || (loUp && isLoopback(a)));
    }
    return present.filter((a) => this.options.includeLoopback || !isLoopback(a));
  }

  /**
   * The kernel silently caps SO_RCVBUF at net.core.rmem_max (208 KiB on a stock kernel): a slow
   * agent then loses datagrams in the socket, which looks like path loss. Say so once.
   */
  private warnIfBufferCapped(s: Socket, address: string): void {
    if (this.warnedBufferCap) return;
    const wanted = this.options.recvBufferSize ?? 4 << 20;
    let got: number;
    try {
      got = s.getRecvBufferSize(); // Linux reports twice the value it granted
    } catch {
      return;
    }
    if (got >= wanted) return;
    this.warnedBufferCap = true;
    this.onLog?.(
      `UDP receive buffer on ${address} capped at ${got >> 1} bytes (asked ${wanted}) by net.core.rmem_max: ` +
        `datagrams are dropped when the agent falls behind; raise it with sysctl -w net.core.rmem_max=${wanted * 2}`,
    );
  }

  private bind(address: string): Promise<boolean> {
    const type = isIPv6(address) ? 'udp6' : isIPv4(address) ? 'udp4' : undefined;
    if (!type) {
      this.onLog?.(`not an IP address: ${address}`);
      return Promise.resolve(false);
    }
    this.pending.add(address);
    return new Promise((resolve) => {
      const s = createSocket({
        type,
        // Destinations are always IP literals: answer the lookup synchronously, which spares
        // dgram a dns.lookup round (a nextTick and closures) on every send.
        lookup: type === 'udp6' ? lookupLiteral6 : lookupLiteral4,
        ipv6Only: type === 'udp6',
        recvBufferSize: this.options.recvBufferSize ?? 4 << 20,
        sendBufferSize: this.options.sendBufferSize ?? 4 << 20,
      });
      const counters = this.counters;
      const onBindError = (e: Error) => {
        this.pending.delete(address);
        this.onLog?.(`bind ${address}:${this.port}: ${e.message}`);
        s.close();
        resolve(false);
      };
      s.once('error', onBindError);
      s.bind({ address, port: this.port, exclusive: true }, () => {
        s.off('error', onBindError);
        this.pending.delete(address);
        if (this.closed) {
          s.close();
          resolve(false);
          return;
        }
        this.warnIfBufferCapped(s, address);
        s.on('error', (e) => {
          counters.sendErrors++;
          this.onLog?.(`socket ${address}: ${e.message}`);
        });
        s.on('message', (msg, rinfo) => {
          counters.datagramsIn++;
          counters.bytesIn += msg.length;
          if (!plausibleTcpSegment(msg)) {
            counters.garbageDropped++;
            return;
          }
          this.onPacket?.({ src: rinfo.address, dst: address, data: msg });
        });
        this.sockets.set(address, s);
        resolve(true);
      });
    });
  }
}
