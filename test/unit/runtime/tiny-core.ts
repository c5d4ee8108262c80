/**
 * A tiny but honest NetCore for testing the runtime without the real TCP/MPTCP cores: a TCP-like
 * protocol in real 20-byte TCP headers (ports, seq, ack, flags, window) with a 3-way handshake,
 * in-order delivery (no retransmission: meant for loopback), flow control from `consumed`, a
 * bounded send buffer with 'writable', FIN, RST (ECONNREFUSED / ECONNRESET), a connect timeout and
 * an idle timeout when data stays unacknowledged (ETIMEDOUT). Sans-I/O like the real cores.
 */
import type {
  ConnectOptions,
  ConnInfo,
  ConnStats,
  CoreEvent,
  NetCore,
  Packet,
} from '../../../stack/core/contract';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
const MSS = 1400;
/** Window field unit (bytes), so 16 bits cover 4 MiB. */
const WUNIT = 64;

interface Conn {
  id: number;
  la: string;
  lp: number;
  ra: string;
  rp: number;
  state: 'syn-sent' | 'syn-rcvd' | 'established' | 'closed';
  sndNxt: number;
  sndUna: number;
  rcvNxt: number;
  sendBuf: Uint8Array[];
  sendBufBytes: number;
  /** Bytes of sendBuf already sent (from the front). */
  sentOffset: number;
  peerWnd: number;
  unconsumed: number;
  advWnd: number;
  needAck: boolean;
  wantWritable: boolean;
  finQueued: boolean;
  finSent: boolean;
  finRcvd: boolean;
  lastProgress: number;
  connectDeadline: number;
  bytesSent: number;
  bytesReceived: number;
  bytesDelivered: number;
}

export interface TinyCoreOptions {
  sendBuffer?: number;
  recvBuffer?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export class TinyCore implements NetCore {
  private addresses: string[] = [];
  private readonly listeners = new Set<number>();
  private readonly conns = new Map<number, Conn>();
  private readonly byTuple = new Map<string, Conn>();
  private out: Packet[] = [];
  private events: CoreEvent[] = [];
  private nextId = 1;
  private nextPort = 40000;
  private readonly sendBuffer: number;
  private readonly recvBuffer: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  rstSent = 0;

  constructor(opts: TinyCoreOptions = {}) {
    this.sendBuffer = opts.sendBuffer ?? 256 * 1024;
    this.recvBuffer = opts.recvBuffer ?? 512 * 1024;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 3000;
  }

  setAddresses(addresses: string[]): void {
    this.addresses = [...addresses];
  }

  listen(port: number): void {
    this.listeners.add(port);
  }
  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  connect(o: ConnectOptions, now: number): number {
    const la = o.localAddress ?? this.addresses[0] ?? '0.0.0.0';
    const c = this.newConn(la, o.localPort ?? this.nextPort++, o.host, o.port, 'syn-sent', now);
    c.connectDeadline = now + this.connectTimeoutMs;
    this.emit(c, SYN, 0);
    return c.id;
  }

  write(id: number, data: Uint8Array, now: number): number {
    const c = this.conns.get(id);
    if (!c || c.state === 'closed' || c.finQueued) return 0;
    const n = Math.min(data.length, this.sendBuffer - c.sendBufBytes);
    if (n < data.length) c.wantWritable = true;
    if (n <= 0) return 0;
    c.sendBuf.push(data.slice(0, n));
    c.sendBufBytes += n;
    if (c.state === 'established') this.pump(c, now);
    return n;
  }

  end(id: number, now: number): void {
    const c = this.conns.get(id);
    if (!c || c.finQueued) return;
    c.finQueued = true;
    if (c.state === 'established') this.pump(c, now);
  }

  abort(id: number): void {
    const c = this.conns.get(id);
    if (!c || c.state === 'closed') return;
    this.emit(c, RST | ACK, 0);
    this.close(c);
  }

  consumed(id: number, bytes: number, now: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    c.unconsumed = Math.max(0, c.unconsumed - bytes);
    // Window update when it reopened noticeably since last advertised.
    if (this.rcvWnd(c) - c.advWnd >= this.recvBuffer / 4) c.needAck = true;
    void now;
  }

  info(id: number): ConnInfo | undefined {
    const c = this.conns.get(id);
    if (!c) return undefined;
    return { local: { address: c.la, port: c.lp }, remote: { address: c.ra, port: c.rp }, mode: 'tcp' };
  }

  input(p: Packet, now: number): void {
    const d = p.data;
    if (d.length < 20) return;
    const sp = (d[0]! << 8) | d[1]!;
    const dp = (d[2]! << 8) | d[3]!;
    const seq = ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0;
    const ack = ((d[8]! << 24) | (d[9]! << 16) | (d[10]! << 8) | d[11]!) >>> 0;
    const off = (d[12]! >> 4) * 4;
    const flags = d[13]!;
    const wnd = ((d[14]! << 8) | d[15]!) * WUNIT;
    if (off < 20 || off > d.length) return;
    const payload = d.subarray(off);
    const c = this.byTuple.get(`${p.dst}|${dp}|${p.src}|${sp}`);
    if (!c) {
      if (flags & RST) return;
      if (flags & SYN && !(flags & ACK) && this.listeners.has(dp)) {
        const n = this.newConn(p.dst, dp, p.src, sp, 'syn-rcvd', now);
        n.rcvNxt = (seq + 1) >>> 0;
        n.peerWnd = wnd;
        this.emit(n, SYN | ACK, 0);
        return;
      }
      this.rstSent++;
      this.out.push({ src: p.dst, dst: p.src, data: header(dp, sp, 0, (seq + 1) >>> 0, RST | ACK, 0) });
      return;
    }
    if (flags & RST) {
      this.fail(c, c.state === 'syn-sent' ? 'ECONNREFUSED' : 'ECONNRESET', 'connection reset by peer');
      return;
    }
    if (c.state === 'syn-sent') {
      if (flags & SYN && flags & ACK) {
        c.rcvNxt = (seq + 1) >>> 0;
        c.sndUna = c.sndNxt = ack;
        c.peerWnd = wnd;
        c.state = 'established';
        c.lastProgress = now;
        this.events.push({ type: 'connected', conn: c.id });
        c.needAck = true;
        this.pump(c, now);
      }
      return;
    }
    if (c.state === 'syn-rcvd' && flags & ACK) {
      c.state = 'established';
      c.lastProgress = now;
      this.events.push({ type: 'accepted', conn: c.id, port: c.lp });
    }
    if (c.state !== 'established') return;
    if (flags & ACK) {
      const acked = (ack - c.sndUna) >>> 0;
      if (acked > 0 && acked <= (c.sndNxt - c.sndUna) >>> 0) {
        c.sndUna = ack;
        c.lastProgress = now;
        this.dropAcked(c, acked);
      }
      c.peerWnd = wnd;
    }
    if (payload.length > 0) {
      if (seq === c.rcvNxt) {
        c.rcvNxt = (c.rcvNxt + payload.length) >>> 0;
        c.unconsumed += payload.length;
        c.bytesReceived += payload.length;
        this.events.push({ type: 'data', conn: c.id, data: payload });
      }
      c.needAck = true;
    }
    if (flags & FIN && (seq + payload.length) >>> 0 === c.rcvNxt && !c.finRcvd) {
      c.finRcvd = true;
      c.rcvNxt = (c.rcvNxt + 1) >>> 0;
      c.needAck = true;
      this.events.push({ type: 'end', conn: c.id });
    }
    this.pump(c, now);
    this.maybeDone(c);
  }

  advance(now: number): void {
    for (const c of this.conns.values()) {
      if (c.state === 'syn-sent' && now >= c.connectDeadline) {
        this.fail(c, 'ETIMEDOUT', 'connect timed out');
      } else if (
        c.state === 'established' &&
        c.sndNxt !== c.sndUna &&
        now - c.lastProgress >= this.idleTimeoutMs
      ) {
        this.fail(c, 'ETIMEDOUT', 'peer stopped acknowledging');
      }
    }
  }

  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const c of this.conns.values()) {
      if (c.state === 'syn-sent') d = Math.min(d, c.connectDeadline);
      else if (c.state === 'established' && c.sndNxt !== c.sndUna)
        d = Math.min(d, c.lastProgress + this.idleTimeoutMs);
    }
    return d;
  }

  takeOutput(): Packet[] {
    for (const c of this.conns.values()) {
      if (c.needAck && c.state === 'established') this.emit(c, ACK, 0);
    }
    const o = this.out;
    this.out = [];
    return o;
  }

  takeEvents(): CoreEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  connStats(): ConnStats[] {
    return [...this.conns.values()].map((c) => ({
      conn: c.id,
      mode: 'tcp' as const,
      state: c.state,
      bytesDelivered: c.bytesDelivered,
      bytesReceived: c.bytesReceived,
      subflows: [
        {
          pathIndex: 1,
          local: { address: c.la, port: c.lp },
          remote: { address: c.ra, port: c.rp },
          state: c.state,
          mss: MSS,
          cwnd: c.peerWnd,
          ssthresh: 0,
          srttMs: 0,
          rttvarMs: 0,
          bytesInFlight: (c.sndNxt - c.sndUna) >>> 0,
          bytesSent: c.bytesSent,
          bytesAcked: c.bytesDelivered,
          bytesReceived: c.bytesReceived,
          retransmits: 0,
        },
      ],
    }));
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private newConn(la: string, lp: number, ra: string, rp: number, state: Conn['state'], now: number): Conn {
    const isn = (this.nextId * 7919) >>> 0;
    const c: Conn = {
      id: this.nextId++,
      la,
      lp,
      ra,
      rp,
      state,
      sndNxt: isn,
      sndUna: isn,
      rcvNxt: 0,
      sendBuf: [],
      sendBufBytes: 0,
      sentOffset: 0,
      peerWnd: 65535,
      unconsumed: 0,
      advWnd: 0,
      needAck: false,
      wantWritable: false,
      finQueued: false,
      finSent: false,
      finRcvd: false,
      lastProgress: now,
      connectDeadline: Number.POSITIVE_INFINITY,
      bytesSent: 0,
      bytesReceived: 0,
      bytesDelivered: 0,
    };
    this.conns.set(c.id, c);
    this.byTuple.set(`${la}|${lp}|${ra}|${rp}`, c);
    return c;
  }

  private rcvWnd(c: Conn): number {
    return Math.max(0, this.recvBuffer - c.unconsumed);
  }

  /** Emits a segment with `flags` and up to `len` bytes of unsent data. SYN/FIN consume one. */
  private emit(c: Conn, flags: number, len: number): void {
    const wnd = Math.min(0xffff, Math.floor(this.rcvWnd(c) / WUNIT));
    c.advWnd = wnd * WUNIT;
    const h = header(c.lp, c.rp, c.sndNxt, c.rcvNxt, flags, wnd);
    let data = h;
    if (len > 0) {
      data = new Uint8Array(20 + len);
      data.set(h);
      let off = c.sentOffset;
      let w = 20;
      for (const chunk of c.sendBuf) {
        if (off >= chunk.length) {
          off -= chunk.length;
          continue;
        }
        const take = Math.min(chunk.length - off, len - (w - 20));
        data.set(chunk.subarray(off, off + take), w);
        w += take;
        off = 0;
        if (w - 20 >= len) break;
      }
      c.sentOffset += len;
      c.bytesSent += len;
    }
    c.sndNxt = (c.sndNxt + len + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    c.needAck = false;
    this.out.push({ src: c.la, dst: c.ra, data });
  }

  private pump(c: Conn, now: number): void {
    if (c.state !== 'established') return;
    void now;
    for (;;) {
      const inFlight = (c.sndNxt - c.sndUna) >>> 0;
      const unsent = c.sendBufBytes - c.sentOffset;
      const room = c.peerWnd - inFlight;
      if (unsent <= 0 || room <= 0) break;
      this.emit(c, ACK, Math.min(MSS, unsent, room));
    }
    if (c.finQueued && !c.finSent && c.sentOffset === c.sendBufBytes) {
      c.finSent = true;
      this.emit(c, FIN | ACK, 0);
    }
  }

  private dropAcked(c: Conn, acked: number): void {
    let dataAcked = Math.min(acked, c.sentOffset);
    c.bytesDelivered += dataAcked;
    c.sentOffset -= dataAcked;
    c.sendBufBytes -= dataAcked;
    while (dataAcked > 0) {
      const first = c.sendBuf[0]!;
      if (first.length <= dataAcked) {
        c.sendBuf.shift();
        dataAcked -= first.length;
      } else {
        c.sendBuf[0] = first.subarray(dataAcked);
        dataAcked = 0;
      }
    }
    if (c.wantWritable && c.sendBufBytes < this.sendBuffer / 2) {
      c.wantWritable = false;
      this.events.push({ type: 'writable', conn: c.id });
    }
  }

  private maybeDone(c: Conn): void {
    if (c.finSent && c.finRcvd && c.sndUna === c.sndNxt && c.state !== 'closed') {
      if (c.needAck) this.emit(c, ACK, 0);
      this.close(c);
      this.events.push({ type: 'closed', conn: c.id });
    }
  }

  private fail(c: Conn, code: string, message: string): void {
    if (c.state === 'closed') return;
    this.close(c);
    this.events.push({ type: 'closed', conn: c.id, error: { code, message } });
  }

  private close(c: Conn): void {
    c.state = 'closed';
    this.conns.delete(c.id);
    this.byTuple.delete(`${c.la}|${c.lp}|${c.ra}|${c.rp}`);
  }
}

function header(sp: number, dp: number, seq: number, ack: number, flags: number, wnd: number): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = sp >> 8;
  h[1] = sp & 0xff;
  h[2] = dp >> 8;
  h[3] = dp & 0xff;
  h[4] = seq >>> 24;
  h[5] = (seq >>> 16) & 0xff;
  h[6] = (seq >>> 8) & 0xff;
  h[7] = seq & 0xff;
  h[8] = ack >>> 24;
  h[9] = (ack >>> 16) & 0xff;
  h[10] = (ack >>> 8) & 0xff;
  h[11] = ack & 0xff;
  h[12] = 5 << 4;
  h[13] = flags;
  h[14] = wnd >> 8;
  h[15] = wnd & 0xff;
  return h;
}
