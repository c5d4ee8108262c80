/**
 * Simple, honest NetCores for exercising the simulator without the TCP engine:
 *
 * - ProbeCore: datagrams. Sends packets when told (once, or as a constant-rate stream driven by
 *   its own deadlines) and records every packet it receives with its arrival time.
 * - WindowCore: a small reliable transport (fixed window, cumulative ACKs, go-back-N on timeout,
 *   optional pacing) with TCP-like 20-byte headers, so bulk transfers can be checked by SHA-256
 *   across loss, reordering and outages, and the event loop can be benchmarked.
 *
 * Both follow the NetCore contract: time only from `now`, output drained with takeOutput().
 * Sequence numbers are plain byte offsets (no wrap): fine for transfers below 4 GiB.
 */
import type { ConnectOptions, ConnInfo, ConnStats, CoreEvent, NetCore, Packet } from '../core/contract';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
export const HEADER_BYTES = 20;

function writeHeader(
  d: Uint8Array,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
): void {
  d[0] = sport >>> 8;
  d[1] = sport & 0xff;
  d[2] = dport >>> 8;
  d[3] = dport & 0xff;
  d[4] = (seq >>> 24) & 0xff;
  d[5] = (seq >>> 16) & 0xff;
  d[6] = (seq >>> 8) & 0xff;
  d[7] = seq & 0xff;
  d[8] = (ack >>> 24) & 0xff;
  d[9] = (ack >>> 16) & 0xff;
  d[10] = (ack >>> 8) & 0xff;
  d[11] = ack & 0xff;
  d[12] = 5 << 4;
  d[13] = flags;
  d[14] = 0xff;
  d[15] = 0xff;
}

function u32(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}

/** Reads a TCP-like header: ports, seq, ack, flags. */
export function readHeader(d: Uint8Array): {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
} {
  return {
    sport: (d[0]! << 8) | d[1]!,
    dport: (d[2]! << 8) | d[3]!,
    seq: u32(d, 4),
    ack: u32(d, 8),
    flags: d[13]!,
  };
}

// ---------------------------------------------------------------------------------------------
// ProbeCore

export interface ProbeReceipt {
  t: number;
  src: string;
  dst: string;
  /** Packet data length (header included). */
  length: number;
  /** The sender's sequence number for this packet (its index in its stream). */
  seq: number;
  sport: number;
}

export interface ProbeStream {
  src: string;
  dst: string;
  /** Packet data length in bytes (≥ 20). */
  length: number;
  intervalMs: number;
  count: number;
  /** First send time (default: now of the call's next advance, i.e. immediately). */
  start?: number;
  /** Source port, identifies the stream at the receiver (default 1000 + stream index). */
  port?: number;
}

interface ProbeFlow {
  src: string;
  dst: string;
  length: number;
  interval: number;
  next: number;
  left: number;
  seq: number;
  port: number;
  /** With recording off: one buffer for every packet of the stream (same header, seq 0). */
  shared: Uint8Array | null;
}

/**
 * What both test cores share: the output and event queues the driver drains, the listening ports
 * and the local addresses.
 */
abstract class QueueingCore {
  protected out: Packet[] = [];
  protected events: CoreEvent[] = [];
  protected listening = new Set<number>();
  protected addrs: string[] = [];

  takeOutput(): Packet[] {
    const o = this.out;
    if (o.length === 0) return o;
    this.out = [];
    return o;
  }

  takeEvents(): CoreEvent[] {
    const e = this.events;
    if (e.length === 0) return e;
    this.events = [];
    return e;
  }

  listen(port: number): void {
    this.listening.add(port);
  }

  unlisten(port: number): void {
    this.listening.delete(port);
  }

  setAddresses(addresses: string[]): void {
    this.addrs = [...addresses];
  }
}

/** Datagram prober: sends what it is told, records what arrives. */
export class ProbeCore extends QueueingCore implements NetCore {
  /** Every packet received (unless recording is off; then only `receivedCount`). */
  readonly received: ProbeReceipt[] = [];
  receivedCount = 0;
  private readonly record: boolean;
  readonly sent: { t: number; src: string; dst: string; length: number; seq: number }[] = [];
  private flows: ProbeFlow[] = [];
  private conns = new Map<
    number,
    { local: string; port: number; remote: string; rport: number; seq: number }
  >();
  private nextConn = 1;
  private deadline = Number.POSITIVE_INFINITY;

  /**
   * `record: false` keeps only counts (for benchmarks), and a stream then sends one shared buffer
   * (every packet the same bytes, seq 0): receivers must not modify packet data.
   */
  constructor(options: { record?: boolean } = {}) {
    super();
    this.record = options.record ?? true;
  }

  /** Queues one packet now (the host sends it on its next pump). */
  send(src: string, dst: string, length: number, seq: number, now: number, port = 999): void {
    const data = new Uint8Array(Math.max(HEADER_BYTES, length));
    writeHeader(data, port, port, seq, 0, PSH | ACK);
    this.out.push({ src, dst, data });
    if (this.record) this.sent.push({ t: now, src, dst, length: data.length, seq });
  }

  /** Queues an arbitrary packet (any encoded segment) to send on the next pump. */
  inject(pkt: Packet): void {
    this.out.push(pkt);
  }

  /** Starts a constant-rate stream of `count` packets driven by this core's own deadlines. */
  stream(s: ProbeStream, now: number): void {
    this.flows.push({
      src: s.src,
      dst: s.dst,
      length: s.length,
      interval: s.intervalMs,
      next: s.start ?? now,
      left: s.count,
      seq: 0,
      port: s.port ?? 1000 + this.flows.length,
      shared: null,
    });
    const f = this.flows[this.flows.length - 1]!;
    if (!this.record) {
      f.shared = new Uint8Array(Math.max(HEADER_BYTES, s.length));
      writeHeader(f.shared, f.port, f.port, 0, 0, PSH | ACK);
    }
    this.advance(now);
  }

  input(packet: Packet, now: number): void {
    this.receivedCount++;
    if (!this.record && this.conns.size === 0) return;
    const d = packet.data;
    const h = d.length >= HEADER_BYTES ? readHeader(d) : { seq: -1, sport: -1 };
    this.received.push({
      t: now,
      src: packet.src,
      dst: packet.dst,
      length: d.length,
      seq: h.seq,
      sport: h.sport,
    });
    // a datagram to a connected port is application data
    for (const [id, c] of this.conns) {
      if (c.rport === h.sport && c.remote === packet.src) {
        this.events.push({ type: 'data', conn: id, data: d.subarray(HEADER_BYTES) });
      }
    }
  }

  advance(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const f of this.flows) {
      while (f.left > 0 && f.next <= now) {
        if (f.shared !== null) {
          this.out.push({ src: f.src, dst: f.dst, data: f.shared });
          f.seq++;
        } else this.send(f.src, f.dst, f.length, f.seq++, f.next, f.port);
        f.left--;
        f.next += f.interval;
      }
      if (f.left > 0 && f.next < next) next = f.next;
    }
    this.deadline = next;
  }

  nextDeadline(): number {
    return this.deadline;
  }

  /** A datagram "connection": writes become single packets to the remote. */
  connect(o: ConnectOptions, _now: number): number {
    const id = this.nextConn++;
    const local = o.localAddress ?? this.addrs[0] ?? '0.0.0.0';
    this.conns.set(id, { local, port: o.localPort ?? 40000 + id, remote: o.host, rport: o.port, seq: 0 });
    this.events.push({ type: 'connected', conn: id });
    return id;
  }

  write(conn: number, data: Uint8Array, now: number): number {
    const c = this.conns.get(conn);
    if (!c) return 0;
    const n = Math.min(data.length, 65_000);
    const pkt = new Uint8Array(HEADER_BYTES + n);
    writeHeader(pkt, c.port, c.rport, c.seq, 0, PSH | ACK);
    pkt.set(data.subarray(0, n), HEADER_BYTES);
    this.out.push({ src: c.local, dst: c.remote, data: pkt });
    this.sent.push({ t: now, src: c.local, dst: c.remote, length: pkt.length, seq: c.seq++ });
    return n;
  }

  end(conn: number, _now: number): void {
    if (this.conns.delete(conn)) this.events.push({ type: 'closed', conn });
  }

  abort(conn: number, now: number): void {
    this.end(conn, now);
  }

  consumed(): void {}

  info(conn: number): ConnInfo | undefined {
    const c = this.conns.get(conn);
    if (!c) return undefined;
    return {
      local: { address: c.local, port: c.port },
      remote: { address: c.remote, port: c.rport },
      mode: 'tcp',
    };
  }

  get addresses(): readonly string[] {
    return this.addrs;
  }

  connStats(): ConnStats[] {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// WindowCore

export interface WindowCoreOptions {
  /** Payload bytes per packet (default 1460). */
  mss?: number;
  /** Bytes in flight at most (default 64 KiB). */
  windowBytes?: number;
  /** Send buffer per connection (default 256 KiB). */
  sendBufferBytes?: number;
  /** Retransmission timeout, ms (default 200; doubles on each expiry up to 8x, resets on progress). */
  rtoMs?: number;
  /** Pace data packets at this rate (Mbit/s, payload + header); default: no pacing. */
  paceMbps?: number;
  /** Acknowledge every n-th in-order data packet (default 1); out-of-order data is acked at once. */
  ackEvery?: number;
}

/** A chain of byte chunks with a read cursor: the send buffer. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private headOff = 0;
  length = 0;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Copies `len` bytes starting `offset` bytes after the front into dst[dstOff…]. */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOff: number): void {
    let i = this.head;
    let off = this.headOff + offset;
    while (off >= this.chunks[i]!.length) {
      off -= this.chunks[i]!.length;
      i++;
    }
    while (len > 0) {
      const c = this.chunks[i]!;
      const n = Math.min(len, c.length - off);
      dst.set(c.subarray(off, off + n), dstOff);
      dstOff += n;
      len -= n;
      off = 0;
      i++;
    }
  }

  /** Drops `n` bytes from the front. */
  drop(n: number): void {
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const left = c.length - this.headOff;
      if (n < left) {
        this.headOff += n;
        return;
      }
      n -= left;
      this.chunks[this.head] = undefined as unknown as Uint8Array;
      this.head++;
      this.headOff = 0;
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

type WState = 'syn-sent' | 'established' | 'closed';

interface WConn {
  id: number;
  local: string;
  lport: number;
  remote: string;
  rport: number;
  key: string;
  state: WState;
  buf: ByteQueue;
  /** Byte offsets: everything below una is acked; nxt is the next byte to send. */
  una: number;
  nxt: number;
  /** Total bytes ever written (una + buffered). */
  written: number;
  finQueued: boolean;
  finSent: boolean;
  finAcked: boolean;
  rcvNxt: number;
  peerFin: boolean;
  unacked: number;
  rtoAt: number;
  rtoMs: number;
  backoff: number;
  nextSendAt: number;
  wantWritable: boolean;
  /** RTT sampling (Karn: one sample at a time, voided by a retransmission). */
  rttSeq: number;
  rttAt: number;
  srtt: number;
  rttvar: number;
  bytesSent: number;
  retransmits: number;
  bytesReceived: number;
  closedEmitted: boolean;
}

/** A reliable, windowed, go-back-N transport: honest enough to carry a bulk transfer. */
export class WindowCore extends QueueingCore implements NetCore {
  readonly mss: number;
  readonly window: number;
  readonly sendBuffer: number;
  readonly rto: number;
  readonly paceBitsPerMs: number;
  readonly ackEvery: number;
  private conns = new Map<number, WConn>();
  private byKey = new Map<string, WConn>();
  private nextId = 1;
  private nextPort = 49152;

  constructor(options: WindowCoreOptions = {}) {
    super();
    this.mss = options.mss ?? 1460;
    this.window = options.windowBytes ?? 65536;
    this.sendBuffer = options.sendBufferBytes ?? 262144;
    this.rto = options.rtoMs ?? 200;
    this.paceBitsPerMs = options.paceMbps ? options.paceMbps * 1000 : Number.POSITIVE_INFINITY;
    this.ackEvery = options.ackEvery ?? 1;
  }

  private newConn(local: string, lport: number, remote: string, rport: number, state: WState): WConn {
    const c: WConn = {
      id: this.nextId++,
      local,
      lport,
      remote,
      rport,
      key: `${remote}|${rport}|${local}|${lport}`,
      state,
      buf: new ByteQueue(),
      una: 0,
      nxt: 0,
      written: 0,
      finQueued: false,
      finSent: false,
      finAcked: false,
      rcvNxt: 0,
      peerFin: false,
      unacked: 0,
      rtoAt: Number.POSITIVE_INFINITY,
      rtoMs: this.rto,
      backoff: 1,
      nextSendAt: 0,
      wantWritable: false,
      rttSeq: -1,
      rttAt: 0,
      srtt: 0,
      rttvar: 0,
      bytesSent: 0,
      retransmits: 0,
      bytesReceived: 0,
      closedEmitted: false,
    };
    this.conns.set(c.id, c);
    this.byKey.set(c.key, c);
    return c;
  }

  private emit(c: WConn, flags: number, seq: number, payloadLen: number): void {
    const data = new Uint8Array(HEADER_BYTES + payloadLen);
    writeHeader(data, c.lport, c.rport, seq, c.rcvNxt, flags);
    if (payloadLen > 0) c.buf.copyOut(seq - c.una, payloadLen, data, HEADER_BYTES);
    this.out.push({ src: c.local, dst: c.remote, data });
  }

  private ack(c: WConn): void {
    c.unacked = 0;
    this.emit(c, ACK, c.nxt, 0);
  }

  // ---- NetCore ----

  input(packet: Packet, now: number): void {
    const d = packet.data;
    if (d.length < HEADER_BYTES) return;
    const h = readHeader(d);
    const key = `${packet.src}|${h.sport}|${packet.dst}|${h.dport}`;
    let c = this.byKey.get(key);
    if (h.flags & SYN) {
      if (h.flags & ACK) {
        if (c && c.state === 'syn-sent') {
          c.state = 'established';
          c.rtoAt = Number.POSITIVE_INFINITY;
          c.backoff = 1;
          this.events.push({ type: 'connected', conn: c.id });
          this.ack(c);
          this.pushData(c, now);
        }
        return;
      }
      if (!c) {
        if (!this.listening.has(h.dport)) {
          this.out.push(this.rst(packet, h));
          return;
        }
        c = this.newConn(packet.dst, h.dport, packet.src, h.sport, 'established');
        this.events.push({ type: 'accepted', conn: c.id, port: h.dport });
      }
      const synack = new Uint8Array(HEADER_BYTES);
      writeHeader(synack, c.lport, c.rport, 0, 0, SYN | ACK);
      this.out.push({ src: c.local, dst: c.remote, data: synack });
      return;
    }
    if (!c || c.state === 'closed') {
      // stateless TIME_WAIT: acknowledge a retransmitted FIN of a connection we already closed
      if (h.flags & FIN && !(h.flags & RST)) {
        const a = new Uint8Array(HEADER_BYTES);
        writeHeader(a, h.dport, h.sport, 0, h.seq + 1 + d.length - HEADER_BYTES, ACK);
        this.out.push({ src: packet.dst, dst: packet.src, data: a });
      }
      return;
    }
    if (h.flags & RST) {
      this.close(c, { code: 'ECONNRESET', message: 'reset by peer' });
      return;
    }
    if (c.state === 'syn-sent') return;
    // acknowledgment
    if (h.flags & ACK) this.onAck(c, h.ack, now);
    // data / FIN
    const len = d.length - HEADER_BYTES;
    if (len > 0 || h.flags & FIN) {
      if (h.seq === c.rcvNxt && !c.peerFin) {
        if (len > 0) {
          c.rcvNxt += len;
          c.bytesReceived += len;
          this.events.push({ type: 'data', conn: c.id, data: d.subarray(HEADER_BYTES) });
        }
        if (h.flags & FIN) {
          c.rcvNxt += 1;
          c.peerFin = true;
          this.events.push({ type: 'end', conn: c.id });
          this.ack(c);
        } else if (++c.unacked >= this.ackEvery || len < this.mss) this.ack(c);
      } else {
        this.ack(c); // duplicate or out of order: tell the sender where we are
      }
    }
    this.maybeClosed(c);
    if ((c.state as WState) !== 'closed') this.pushData(c, now);
  }

  private rst(packet: Packet, h: { sport: number; dport: number; seq: number }): Packet {
    const data = new Uint8Array(HEADER_BYTES);
    writeHeader(data, h.dport, h.sport, 0, h.seq + 1, RST | ACK);
    return { src: packet.dst, dst: packet.src, data };
  }

  private onAck(c: WConn, ack: number, now: number): void {
    const dataEnd = c.written;
    const finSeq = dataEnd; // FIN occupies the sequence number after the data
    let acked = Math.min(ack, dataEnd) - c.una;
    if (acked > 0) {
      if (c.rttSeq >= 0 && ack > c.rttSeq) {
        const r = now - c.rttAt;
        if (c.srtt === 0) {
          c.srtt = r;
          c.rttvar = r / 2;
        } else {
          c.rttvar = 0.75 * c.rttvar + 0.25 * Math.abs(c.srtt - r);
          c.srtt = 0.875 * c.srtt + 0.125 * r;
        }
        c.rttSeq = -1;
      }
      c.buf.drop(acked);
      c.una += acked;
      if (c.nxt < c.una) c.nxt = c.una;
      c.backoff = 1;
      c.rtoAt = c.nxt > c.una || (c.finSent && !c.finAcked) ? now + this.rto : Number.POSITIVE_INFINITY;
      if (c.wantWritable && c.buf.length < this.sendBuffer) {
        c.wantWritable = false;
        this.events.push({ type: 'writable', conn: c.id });
      }
    } else acked = 0;
    if (c.finSent && ack >= finSeq + 1 && !c.finAcked) {
      c.finAcked = true;
      c.rtoAt = Number.POSITIVE_INFINITY;
    }
  }

  /** Sends what the window, the pacer and the buffer allow. */
  private pushData(c: WConn, now: number): void {
    if (c.state !== 'established') return;
    while (c.nxt < c.written && c.nxt - c.una < this.window && now >= c.nextSendAt) {
      const n = Math.min(this.mss, c.written - c.nxt, this.window - (c.nxt - c.una));
      this.emit(c, PSH | ACK, c.nxt, n);
      c.unacked = 0;
      if (c.rttSeq < 0) {
        c.rttSeq = c.nxt + n;
        c.rttAt = now;
      }
      c.nxt += n;
      c.bytesSent += n;
      if (c.rtoAt === Number.POSITIVE_INFINITY) c.rtoAt = now + this.rto * c.backoff;
      if (this.paceBitsPerMs !== Number.POSITIVE_INFINITY) {
        c.nextSendAt = Math.max(now, c.nextSendAt) + ((n + HEADER_BYTES) * 8) / this.paceBitsPerMs;
      }
    }
    if (c.finQueued && !c.finSent && c.nxt === c.written) {
      c.finSent = true;
      this.emit(c, FIN | ACK, c.written, 0);
      if (c.rtoAt === Number.POSITIVE_INFINITY) c.rtoAt = now + this.rto * c.backoff;
    }
  }

  advance(now: number): void {
    for (const c of this.conns.values()) {
      if (c.state === 'closed') continue;
      if (now >= c.rtoAt) {
        c.backoff = Math.min(c.backoff * 2, 8);
        c.rtoAt = now + this.rto * c.backoff;
        if (c.state === 'syn-sent') {
          const syn = new Uint8Array(HEADER_BYTES);
          writeHeader(syn, c.lport, c.rport, 0, 0, SYN);
          this.out.push({ src: c.local, dst: c.remote, data: syn });
          continue;
        }
        // go back N
        c.retransmits++;
        c.rttSeq = -1;
        c.nxt = c.una;
        c.nextSendAt = now;
        if (c.finSent && !c.finAcked) c.finSent = false;
      }
      this.pushData(c, now);
    }
  }

  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const c of this.conns.values()) {
      if (c.state === 'closed') continue;
      if (c.rtoAt < d) d = c.rtoAt;
      if (c.state === 'established' && c.nxt < c.written && c.nxt - c.una < this.window && c.nextSendAt < d) {
        d = c.nextSendAt;
      }
    }
    return d;
  }

  connect(o: ConnectOptions, now: number): number {
    const local = o.localAddress ?? this.addrs[0];
    if (local === undefined) throw new Error('WindowCore.connect: no local address');
    const c = this.newConn(local, o.localPort ?? this.nextPort++, o.host, o.port, 'syn-sent');
    const syn = new Uint8Array(HEADER_BYTES);
    writeHeader(syn, c.lport, c.rport, 0, 0, SYN);
    this.out.push({ src: c.local, dst: c.remote, data: syn });
    c.rtoAt = now + this.rto;
    return c.id;
  }

  write(conn: number, data: Uint8Array, now: number): number {
    const c = this.conns.get(conn);
    if (!c || c.state === 'closed' || c.finQueued) return 0;
    const room = this.sendBuffer - c.buf.length;
    const n = Math.max(0, Math.min(room, data.length));
    if (n > 0) {
      c.buf.push(n === data.length ? data : data.slice(0, n));
      c.written += n;
    }
    if (n < data.length) c.wantWritable = true;
    this.pushData(c, now);
    return n;
  }

  end(conn: number, now: number): void {
    const c = this.conns.get(conn);
    if (!c || c.finQueued) return;
    c.finQueued = true;
    this.pushData(c, now);
    this.maybeClosed(c);
  }

  abort(conn: number, _now: number): void {
    const c = this.conns.get(conn);
    if (!c || c.state === 'closed') return;
    const data = new Uint8Array(HEADER_BYTES);
    writeHeader(data, c.lport, c.rport, c.nxt, c.rcvNxt, RST | ACK);
    this.out.push({ src: c.local, dst: c.remote, data });
    this.close(c);
  }

  consumed(): void {
    // no receive window: the receiver buffers nothing beyond the event it emitted
  }

  private maybeClosed(c: WConn): void {
    if (c.state !== 'closed' && c.finAcked && c.peerFin) this.close(c);
  }

  private close(c: WConn, error?: { code: string; message: string }): void {
    c.state = 'closed';
    c.rtoAt = Number.POSITIVE_INFINITY;
    this.byKey.delete(c.key);
    this.conns.delete(c.id);
    if (!c.closedEmitted) {
      c.closedEmitted = true;
      this.events.push(error ? { type: 'closed', conn: c.id, error } : { type: 'closed', conn: c.id });
    }
  }

  info(conn: number): ConnInfo | undefined {
    const c = this.conns.get(conn);
    if (!c) return undefined;
    return {
      local: { address: c.local, port: c.lport },
      remote: { address: c.remote, port: c.rport },
      mode: 'tcp',
    };
  }

  connStats(): ConnStats[] {
    const out: ConnStats[] = [];
    for (const c of this.conns.values()) {
      out.push({
        conn: c.id,
        mode: 'tcp',
        state: c.state,
        bytesDelivered: c.una,
        bytesReceived: c.bytesReceived,
        subflows: [
          {
            pathIndex: 1,
            local: { address: c.local, port: c.lport },
            remote: { address: c.remote, port: c.rport },
            state: c.state,
            mss: this.mss,
            cwnd: this.window,
            ssthresh: Number.POSITIVE_INFINITY,
            srttMs: c.srtt,
            rttvarMs: c.rttvar,
            bytesInFlight: c.nxt - c.una,
            bytesSent: c.bytesSent,
            bytesAcked: c.una,
            bytesReceived: c.bytesReceived,
            retransmits: c.retransmits,
          },
        ],
      });
    }
    return out;
  }
}
