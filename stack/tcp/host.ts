/**
 * A plain-TCP NetCore (stack/core/contract.ts): demultiplexing by 4-tuple, listeners with a
 * bounded SYN backlog and SYN cookies beyond it (RFC 4987), ephemeral ports, RST for segments to
 * closed ports, connStats(). Applications must report consumed bytes (`consumed`): unconsumed
 * data closes the receive window.
 *
 * Packets carry encoded segments (stack/wire/tcp.ts); `encodePacket`/`decodePacket` are the one
 * place the codec is called.
 */
import { createHmac } from 'node:crypto';
import type {
  ConnectOptions,
  ConnInfo,
  ConnStats,
  CoreEvent,
  NetCore,
  Packet,
  SubflowStats,
} from '../core/contract';
import { decodeSegment, encodeSegment, encodeSegmentWith, verifySegmentChecksum } from '../wire/tcp';
import { isParseError, type TcpSegment } from '../wire/types';
import { isnFor, newIsnSecret } from './isn';
import { RecvBuffer, SendBuffer } from './plain';
import { type CloseError, Tcb, type TcbConfig, type TcbHooks, TcpState } from './tcb';

export interface TcpHostOptions {
  addresses?: string[];
  /** RFC 6528 secret; default 16 bytes from the CSPRNG. Seed it in simulations for determinism. */
  isnSecret?: Uint8Array;
  /** Source of uniform u32 values for ephemeral ports; default the CSPRNG (seed it in simulations). */
  random?: () => number;
  tcb?: Partial<TcbConfig>;
  /** Per-connection send buffer (bytes queued + unacknowledged). Default 1 MiB. */
  sndBuf?: number;
  /** Per-connection receive buffer (delivered but unconsumed + reassembly). Default 1 MiB. */
  rcvBuf?: number;
  /**
   * Half-open connections per listener. Beyond it SYNs are answered with SYN cookies (RFC 4987)
   * when `synCookies` is on (the default), else dropped. Default 256.
   */
  synBacklog?: number;
  synCookies?: boolean;
  /** Compute TCP checksums over the pseudo-header (needed on a TUN phy). Default true. */
  checksums?: boolean;
  /** Drop received segments whose checksum is wrong (counted in badChecksums). Default false. */
  verifyChecksums?: boolean;
  ephemeralLow?: number;
  ephemeralHigh?: number;
}

export interface TcpHostCounters {
  segmentsIn: number;
  segmentsOut: number;
  badSegments: number;
  badChecksums: number;
  resetsSent: number;
  synDropsBacklog: number;
  noListener: number;
  cookiesSent: number;
  cookiesAccepted: number;
  cookiesRejected: number;
}

interface Conn {
  id: number;
  tcb: Tcb;
  snd: SendBuffer;
  rcv: RecvBuffer;
  localAddress: string;
  remoteAddress: string;
  key: number;
  /** Listener port for passive connections, -1 for active ones. */
  listenPort: number;
  announced: boolean;
  wantWritable: boolean;
  closed: boolean;
}

// TCP flag bits (stack/wire/types.ts), local so per-packet code reads plain constants.
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

function portKey(lp: number, rp: number): number {
  return lp * 65536 + rp;
}

/** Encodes a segment for the wire: the single call site of the codec's encoder. */
export function encodePacket(seg: TcpSegment, src: string, dst: string, checksums: boolean): Packet {
  return { src, dst, data: checksums ? encodeSegment(seg, src, dst) : encodeSegment(seg) };
}

/** Bytes per slab that outgoing packets are cut from. */
const SLAB_BYTES = 64 * 1024;

/**
 * Hands out packet buffers cut from 64 KiB slabs: one ArrayBuffer per few dozen packets instead of
 * one per packet (a backing store per packet is what the garbage collector spends most time on).
 * A slab lives while any packet (or payload view) cut from it does.
 */
export class PacketSlab {
  private slab = new ArrayBuffer(0);
  private used = SLAB_BYTES;
  /** The allocator, bound once (no closure per packet). */
  readonly alloc = (length: number): Uint8Array => {
    if (length > SLAB_BYTES >> 2) return new Uint8Array(length);
    if (this.used + length > SLAB_BYTES) {
      this.slab = new ArrayBuffer(SLAB_BYTES);
      this.used = 0;
    }
    const start = this.used;
    // 8-byte aligned starts keep the checksum's 32-bit reads aligned
    this.used = (start + length + 7) & ~7;
    // (a constructor call is cheaper than subarray, which looks up the species constructor)
    return new Uint8Array(this.slab, start, length);
  };
}

/** Encodes a segment into a buffer cut from `slab` (see encodePacket). */
export function encodePacketFrom(
  slab: PacketSlab,
  seg: TcpSegment,
  src: string,
  dst: string,
  checksums: boolean,
): Packet {
  return {
    src,
    dst,
    data: checksums ? encodeSegmentWith(seg, slab.alloc, src, dst) : encodeSegmentWith(seg, slab.alloc),
  };
}

/** Decodes a packet's segment, or null when malformed. */
export function decodePacket(p: Packet): TcpSegment | null {
  const seg = decodeSegment(p.data);
  return isParseError(seg) ? null : seg;
}

/** The RST answering a segment that reached no connection (RFC 9293 §3.10.7.1). */
export function resetFor(seg: TcpSegment): TcpSegment | null {
  if (seg.flags & RST) return null;
  const base = {
    srcPort: seg.dstPort,
    dstPort: seg.srcPort,
    window: 0,
    checksum: 0,
    urgent: 0,
    options: [],
    payload: new Uint8Array(0),
  };
  if (seg.flags & ACK) return { ...base, seq: seg.ack, ack: 0, flags: RST };
  const len = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
  return { ...base, seq: 0, ack: (seg.seq + len) >>> 0, flags: RST | ACK };
}

export class TcpHost implements NetCore {
  private addresses: string[];
  private readonly secret: Uint8Array;
  private readonly random: () => number;
  private readonly opts: Required<Omit<TcpHostOptions, 'addresses' | 'isnSecret' | 'random' | 'tcb'>>;
  private readonly tcbConfig: Partial<TcbConfig>;
  private readonly conns = new Map<number, Conn>();
  /** By (local port << 16 | remote port); a handful of connections per port pair at most. */
  private readonly demux = new Map<number, Conn[]>();
  private readonly listeners = new Map<number, { halfOpen: number }>();
  private nextId = 1;
  private readonly slab = new PacketSlab();
  private out: Packet[] = [];
  private events: CoreEvent[] = [];
  readonly counters: TcpHostCounters = {
    segmentsIn: 0,
    segmentsOut: 0,
    badSegments: 0,
    badChecksums: 0,
    resetsSent: 0,
    synDropsBacklog: 0,
    noListener: 0,
    cookiesSent: 0,
    cookiesAccepted: 0,
    cookiesRejected: 0,
  };
  private readonly hooks: TcbHooks;

  constructor(options: TcpHostOptions = {}) {
    this.addresses = [...(options.addresses ?? [])];
    this.secret = options.isnSecret ?? newIsnSecret();
    this.random = options.random ?? cryptoU32;
    this.tcbConfig = options.tcb ?? {};
    this.opts = {
      sndBuf: options.sndBuf ?? 1 << 20,
      rcvBuf: options.rcvBuf ?? 1 << 20,
      synBacklog: options.synBacklog ?? 256,
      synCookies: options.synCookies ?? true,
      checksums: options.checksums ?? true,
      verifyChecksums: options.verifyChecksums ?? false,
      ephemeralLow: options.ephemeralLow ?? 32768,
      ephemeralHigh: options.ephemeralHigh ?? 60999,
    };
    // One hooks object shared by all TCBs (no closure per connection or segment).
    this.hooks = {
      onEstablished: (tcb) => this.onEstablished(tcb.owner as Conn),
      onPeerFin: (tcb) => this.events.push({ type: 'end', conn: (tcb.owner as Conn).id }),
      onClosed: (tcb, error) => this.onClosed(tcb.owner as Conn, error),
      onAcked: (tcb) => this.onAcked(tcb.owner as Conn),
    };
  }

  // ── NetCore ─────────────────────────────────────────────────────────────────────────────────
  input(packet: Packet, now: number): void {
    this.counters.segmentsIn++;
    if (this.opts.verifyChecksums && !verifySegmentChecksum(packet.data, packet.src, packet.dst)) {
      this.counters.badChecksums++;
      return;
    }
    const seg = decodePacket(packet);
    if (seg === null) {
      this.counters.badSegments++;
      return;
    }
    let c = this.lookup(packet.dst, seg.dstPort, packet.src, seg.srcPort);
    if (c !== undefined && c.tcb.state === TcpState.TIME_WAIT && seg.flags & SYN && !(seg.flags & ACK)) {
      // A new incarnation may take over a TIME_WAIT 4-tuple (RFC 9293 §3.6.1 / RFC 6191).
      this.remove(c);
      c = undefined;
    }
    if (c !== undefined) {
      c.tcb.input(seg, now);
      this.drain(c);
      return;
    }
    const l = this.listeners.get(seg.dstPort);
    if (l !== undefined && (seg.flags & (SYN | ACK | RST)) === SYN && this.isLocal(packet.dst)) {
      if (l.halfOpen >= this.opts.synBacklog) {
        if (this.opts.synCookies) this.sendCookie(seg, packet.dst, packet.src, now);
        else this.counters.synDropsBacklog++;
        return;
      }
      const conn = this.create(packet.dst, seg.dstPort, packet.src, seg.srcPort, seg.dstPort, now);
      l.halfOpen++;
      conn.tcb.acceptSyn(seg, now);
      this.drain(conn);
      return;
    }
    if (
      l !== undefined &&
      (seg.flags & (SYN | ACK | RST)) === ACK &&
      this.opts.synCookies &&
      this.isLocal(packet.dst)
    ) {
      const mss = this.checkCookie(seg, packet.dst, packet.src, now);
      if (mss > 0) {
        this.counters.cookiesAccepted++;
        const conn = this.create(
          packet.dst,
          seg.dstPort,
          packet.src,
          seg.srcPort,
          seg.dstPort,
          now,
          (seg.ack - 1) >>> 0,
        );
        conn.tcb.acceptCookie(seg, mss, now);
        this.drain(conn);
        return;
      }
      this.counters.cookiesRejected++;
    }
    this.counters.noListener++;
    const rst = resetFor(seg);
    if (rst !== null) {
      this.counters.resetsSent++;
      this.emitPacket(rst, packet.dst, packet.src);
    }
  }

  advance(now: number): void {
    for (const c of this.conns.values()) {
      if (c.tcb.nextDeadline() <= now) {
        c.tcb.advance(now);
        this.drain(c);
      }
    }
  }

  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const c of this.conns.values()) {
      const t = c.tcb.nextDeadline();
      if (t < d) d = t;
    }
    return d;
  }

  takeOutput(): Packet[] {
    const o = this.out;
    // Drivers call this after every input: hand back one shared (frozen) empty array when idle.
    if (o.length === 0) return NO_PACKETS as Packet[];
    this.out = [];
    return o;
  }

  takeEvents(): CoreEvent[] {
    const e = this.events;
    if (e.length === 0) return NO_EVENTS as CoreEvent[];
    this.events = [];
    return e;
  }

  listen(port: number): void {
    if (!this.listeners.has(port)) this.listeners.set(port, { halfOpen: 0 });
  }

  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  connect(options: ConnectOptions, now: number): number {
    const local = options.localAddress ?? this.addresses[0];
    if (local === undefined) throw new Error('connect: the host has no address');
    const port = options.localPort ?? this.ephemeralPort(local, options.host, options.port);
    if (this.lookup(local, port, options.host, options.port) !== undefined) {
      throw new Error(`EADDRINUSE: ${local}:${port} -> ${options.host}:${options.port} is taken`);
    }
    const c = this.create(local, port, options.host, options.port, -1, now);
    c.tcb.connect(now);
    this.drain(c);
    return c.id;
  }

  write(conn: number, data: Uint8Array, now: number): number {
    const c = this.conns.get(conn);
    if (c === undefined || c.closed || c.tcb.state > TcpState.CLOSE_WAIT) return 0;
    const n = c.snd.write(c.tcb, data);
    if (n < data.length) c.wantWritable = true;
    if (n > 0) {
      c.tcb.output(now);
      this.drain(c);
    }
    return n;
  }

  end(conn: number, now: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.tcb.close(now);
    this.drain(c);
  }

  abort(conn: number, now: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.tcb.abort(now, undefined, { code: 'EABORTED', message: 'aborted locally' });
    this.drain(c);
  }

  consumed(conn: number, bytes: number, now: number): void {
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.rcv.consume(bytes);
    c.tcb.windowOpened(now);
    this.drain(c);
  }

  info(conn: number): ConnInfo | undefined {
    const c = this.conns.get(conn);
    if (c === undefined) return undefined;
    return {
      local: { address: c.localAddress, port: c.tcb.localPort },
      remote: { address: c.remoteAddress, port: c.tcb.remotePort },
      mode: 'tcp',
    };
  }

  setAddresses(addresses: string[], _now: number): void {
    this.addresses = [...addresses];
  }

  connStats(): ConnStats[] {
    const out: ConnStats[] = [];
    for (const c of this.conns.values()) {
      const t = c.tcb;
      const sf: SubflowStats = {
        pathIndex: 1,
        local: { address: c.localAddress, port: t.localPort },
        remote: { address: c.remoteAddress, port: t.remotePort },
        state: t.stateName,
        mss: t.mss,
        cwnd: t.cwnd,
        ssthresh: t.ssthresh,
        srttMs: t.srtt,
        rttvarMs: t.rttvar,
        bytesInFlight: t.bytesInFlight,
        bytesSent: t.bytesSent,
        bytesAcked: t.bytesAcked,
        bytesReceived: t.bytesReceived,
        retransmits: t.retransmits,
      };
      out.push({
        conn: c.id,
        mode: 'tcp',
        state: t.stateName,
        bytesDelivered: t.bytesAcked,
        bytesReceived: t.bytesReceived,
        subflows: [sf],
      });
    }
    return out;
  }

  /** The TCB of a connection (tests, reports). */
  tcbOf(conn: number): Tcb | undefined {
    return this.conns.get(conn)?.tcb;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  // ── Internals ───────────────────────────────────────────────────────────────────────────────
  private lookup(la: string, lp: number, ra: string, rp: number): Conn | undefined {
    const list = this.demux.get(portKey(lp, rp));
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.localAddress === la && c.remoteAddress === ra) return c;
    }
    return undefined;
  }

  private isLocal(addr: string): boolean {
    return this.addresses.length === 0 || this.addresses.includes(addr);
  }

  private create(
    la: string,
    lp: number,
    ra: string,
    rp: number,
    listenPort: number,
    now: number,
    iss?: number,
  ): Conn {
    const snd = new SendBuffer(this.opts.sndBuf);
    const id = this.nextId++;
    const c = {} as Conn;
    const rcv = new RecvBuffer(this.opts.rcvBuf, (_tcb, data) =>
      this.events.push({ type: 'data', conn: id, data }),
    );
    const tcb = new Tcb({
      localPort: lp,
      remotePort: rp,
      iss: iss ?? isnFor(this.secret, la, lp, ra, rp, now),
      source: snd,
      sink: rcv,
      hooks: this.hooks,
      config: { rcvBuf: this.opts.rcvBuf, ...this.tcbConfig },
    });
    tcb.owner = c;
    c.id = id;
    c.tcb = tcb;
    c.snd = snd;
    c.rcv = rcv;
    c.localAddress = la;
    c.remoteAddress = ra;
    c.key = portKey(lp, rp);
    c.listenPort = listenPort;
    c.announced = false;
    c.wantWritable = false;
    c.closed = false;
    this.conns.set(id, c);
    const list = this.demux.get(c.key);
    if (list) list.push(c);
    else this.demux.set(c.key, [c]);
    return c;
  }

  private ephemeralPort(la: string, ra: string, rp: number): number {
    const lo = this.opts.ephemeralLow;
    const span = this.opts.ephemeralHigh - lo + 1;
    let p = lo + (this.random() % span);
    for (let i = 0; i < span; i++) {
      if (this.lookup(la, p, ra, rp) === undefined && !this.listeners.has(p)) return p;
      p = p + 1 >= lo + span ? lo : p + 1;
    }
    throw new Error('no free ephemeral port');
  }

  // ── SYN cookies (RFC 4987) ──────────────────────────────────────────────────────────────────
  // ISN = t(5 bits: 64 s slot) | mss index (3 bits) | MAC(4-tuple, peer ISN, t)(24 bits).

  private cookieMac(la: string, lp: number, ra: string, rp: number, peerIsn: number, slot: number): number {
    const h = createHmac('sha256', this.secret);
    h.update(`cookie|${la}|${lp}|${ra}|${rp}|${peerIsn}|${slot}`);
    return h.digest().readUIntBE(0, 3);
  }

  private sendCookie(syn: TcpSegment, local: string, remote: string, now: number): void {
    let peerMss = 536;
    for (const o of syn.options) if (o.kind === 'mss') peerMss = o.mss;
    let idx = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
      if (COOKIE_MSS[i]! <= peerMss) {
        idx = i;
        break;
      }
    }
    const slot = Math.floor(now / 64_000) & 31;
    const mac = this.cookieMac(local, syn.dstPort, remote, syn.srcPort, syn.seq, slot);
    const iss = ((slot << 27) | (idx << 24) | mac) >>> 0;
    const mss = this.tcbConfig.mss ?? 1460;
    this.counters.cookiesSent++;
    this.emitPacket(
      {
        srcPort: syn.dstPort,
        dstPort: syn.srcPort,
        seq: iss,
        ack: (syn.seq + 1) >>> 0,
        flags: SYN | ACK,
        window: Math.min(this.opts.rcvBuf, 65535),
        checksum: 0,
        urgent: 0,
        options: [{ kind: 'mss', mss }],
        payload: new Uint8Array(0),
      },
      local,
      remote,
    );
  }

  /** The MSS a valid cookie ACK carries, or 0. */
  private checkCookie(ack: TcpSegment, local: string, remote: string, now: number): number {
    const iss = (ack.ack - 1) >>> 0;
    const slot = iss >>> 27;
    const cur = Math.floor(now / 64_000) & 31;
    if (slot !== cur && slot !== ((cur + 31) & 31)) return 0;
    const peerIsn = (ack.seq - 1) >>> 0;
    if (this.cookieMac(local, ack.dstPort, remote, ack.srcPort, peerIsn, slot) !== (iss & 0xffffff)) return 0;
    return COOKIE_MSS[(iss >>> 24) & 7] ?? 536;
  }

  private emitPacket(seg: TcpSegment, src: string, dst: string): void {
    this.counters.segmentsOut++;
    this.out.push(encodePacketFrom(this.slab, seg, src, dst, this.opts.checksums));
  }

  private drain(c: Conn): void {
    const segs = c.tcb.outbox;
    if (segs.length > 0) {
      for (let i = 0; i < segs.length; i++) this.emitPacket(segs[i]!, c.localAddress, c.remoteAddress);
      segs.length = 0;
    }
    if (c.tcb.state === TcpState.CLOSED) this.remove(c);
  }

  private remove(c: Conn): void {
    const list = this.demux.get(c.key);
    if (list) {
      const i = list.indexOf(c);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.demux.delete(c.key);
    }
    this.conns.delete(c.id);
    if (!c.announced && c.listenPort >= 0) this.releaseHalfOpen(c);
  }

  private releaseHalfOpen(c: Conn): void {
    const l = this.listeners.get(c.listenPort);
    if (l !== undefined && l.halfOpen > 0) l.halfOpen--;
  }

  private onEstablished(c: Conn): void {
    if (c.announced) return;
    c.announced = true;
    if (c.listenPort >= 0) {
      this.releaseHalfOpen(c);
      this.events.push({ type: 'accepted', conn: c.id, port: c.listenPort });
    } else {
      this.events.push({ type: 'connected', conn: c.id });
    }
  }

  private onAcked(c: Conn): void {
    if (c.wantWritable && c.snd.room(c.tcb) >= Math.min(c.snd.limit >> 2, 64 * 1024)) {
      c.wantWritable = false;
      this.events.push({ type: 'writable', conn: c.id });
    }
  }

  private onClosed(c: Conn, error: CloseError | undefined): void {
    if (c.closed) return;
    c.closed = true;
    // A half-open passive connection that never got announced vanishes silently.
    if (!c.announced && c.listenPort >= 0) return;
    this.events.push(error ? { type: 'closed', conn: c.id, error } : { type: 'closed', conn: c.id });
  }
}

const NO_PACKETS: readonly Packet[] = Object.freeze([]);
const NO_EVENTS: readonly CoreEvent[] = Object.freeze([]);

/** MSS values a cookie can carry (3 bits). */
const COOKIE_MSS = [536, 1024, 1200, 1220, 1380, 1440, 1460, 8960];

function cryptoU32(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;
}
