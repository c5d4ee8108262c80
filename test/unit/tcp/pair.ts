/**
 * Two TCBs back to back through a tiny virtual-time loop: every segment goes through the wire
 * codec (encode, decode), a fixed one-way delay, an optional rate, and a drop/mangle filter.
 */
import { createHash } from 'node:crypto';
import { RecvBuffer, SendBuffer } from '../../../stack/tcp/plain';
import { Tcb, type TcbConfig, type TcbHooks } from '../../../stack/tcp/tcb';
import { decodeSegment, encodeSegment } from '../../../stack/wire/tcp';
import { isParseError, type TcpSegment } from '../../../stack/wire/types';

export type Dir = 'ab' | 'ba';

export interface Sent {
  t: number;
  dir: Dir;
  seg: TcpSegment;
}

interface InFlight {
  at: number;
  dir: Dir;
  bytes: Uint8Array;
}

export interface Side {
  tcb: Tcb;
  snd: SendBuffer;
  rcv: RecvBuffer;
  received: Uint8Array[];
  events: string[];
  autoConsume: boolean;
}

export interface PairOptions {
  delayMs?: number;
  /** Bits per second per direction; 0 = infinite. */
  rate?: number;
  a?: Partial<TcbConfig>;
  b?: Partial<TcbConfig>;
  hooksA?: TcbHooks;
  hooksB?: TcbHooks;
  issA?: number;
  issB?: number;
  sndBuf?: number;
  rcvBuf?: number;
}

function side(
  localPort: number,
  remotePort: number,
  iss: number,
  cfg: Partial<TcbConfig> | undefined,
  hooks: TcbHooks | undefined,
  sndBuf: number,
  rcvBuf: number,
): Side {
  const s = {} as Side;
  s.received = [];
  s.events = [];
  s.autoConsume = true;
  s.snd = new SendBuffer(sndBuf);
  s.rcv = new RecvBuffer(rcvBuf, (_tcb, data) => {
    s.received.push(data.slice());
    if (s.autoConsume) s.rcv.consume(data.length);
  });
  const h: TcbHooks = {
    ...hooks,
    onEstablished: (t, now) => {
      s.events.push('established');
      hooks?.onEstablished?.(t, now);
    },
    onPeerFin: (t, now) => {
      s.events.push('peerfin');
      hooks?.onPeerFin?.(t, now);
    },
    onClosed: (t, err, now) => {
      s.events.push(err ? `closed:${err.code}` : 'closed');
      hooks?.onClosed?.(t, err, now);
    },
  };
  s.tcb = new Tcb({
    localPort,
    remotePort,
    iss,
    source: s.snd,
    sink: s.rcv,
    hooks: h,
    config: { rcvBuf, ...cfg },
  });
  return s;
}

export class Pair {
  now = 0;
  readonly a: Side;
  readonly b: Side;
  delayMs: number;
  rate: number;
  log: Sent[] = [];
  /** Return true to drop the segment. */
  drop: ((s: Sent, index: number) => boolean) | undefined;
  /** Extra random delay (uniform 0..jitterMs): reorders segments. */
  jitterMs = 0;
  /** Probability that a segment is delivered twice. */
  dupProb = 0;
  /** Seeded generator for jitter and duplication (xorshift32). */
  private rng = 0x9e3779b9;
  private q: InFlight[] = [];
  private busyUntil = { ab: 0, ba: 0 };
  private sentCount = 0;

  constructor(o: PairOptions = {}) {
    this.delayMs = o.delayMs ?? 10;
    this.rate = o.rate ?? 0;
    const sndBuf = o.sndBuf ?? 1 << 20;
    const rcvBuf = o.rcvBuf ?? 1 << 20;
    this.a = side(1000, 2000, o.issA ?? 0x1000, o.a, o.hooksA, sndBuf, rcvBuf);
    this.b = side(2000, 1000, o.issB ?? 0xfffff000, o.b, o.hooksB, sndBuf, rcvBuf);
  }

  /** Drains both TCBs' outboxes onto the wire. */
  flush(): void {
    for (const [s, dir] of [
      [this.a, 'ab'],
      [this.b, 'ba'],
    ] as const) {
      for (const seg of s.tcb.takeOutput()) {
        const bytes = encodeSegment(seg);
        const decoded = decodeSegment(bytes);
        if (isParseError(decoded)) throw new Error(`codec: ${decoded.message}`);
        const sent: Sent = { t: this.now, dir, seg: decoded };
        this.log.push(sent);
        const idx = this.sentCount++;
        if (this.drop?.(sent, idx)) continue;
        let at = this.now;
        if (this.rate > 0) {
          const start = Math.max(at, this.busyUntil[dir]);
          at = start + ((bytes.length + 40) * 8 * 1000) / this.rate;
          this.busyUntil[dir] = at;
        }
        at += this.delayMs;
        if (this.jitterMs > 0) at += this.random() * this.jitterMs;
        const copies = this.dupProb > 0 && this.random() < this.dupProb ? 2 : 1;
        for (let c = 0; c < copies; c++) {
          // Ordered by arrival time (FIFO unless jitter reorders).
          let i = this.q.length;
          while (i > 0 && this.q[i - 1]!.at > at) i--;
          this.q.splice(i, 0, { at: at + c * 0.001, dir, bytes: bytes.slice() });
        }
      }
    }
  }

  seed(n: number): void {
    this.rng = n >>> 0 || 1;
  }

  random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 4294967296;
  }

  /** Runs events until `until` (ms) or until nothing is left. */
  run(until: number): void {
    this.flush();
    for (let guard = 0; guard < 5_000_000; guard++) {
      const qa = this.q[0]?.at ?? Number.POSITIVE_INFINITY;
      const ta = this.a.tcb.nextDeadline();
      const tb = this.b.tcb.nextDeadline();
      const t = Math.min(qa, ta, tb);
      if (t > until || !Number.isFinite(t)) {
        if (Number.isFinite(until)) this.now = Math.max(this.now, until);
        return;
      }
      this.now = Math.max(this.now, t);
      if (qa === t) {
        const p = this.q.shift()!;
        const seg = decodeSegment(p.bytes);
        if (isParseError(seg)) throw new Error(seg.message);
        (p.dir === 'ab' ? this.b : this.a).tcb.input(seg, this.now);
      } else if (ta === t) this.a.tcb.advance(this.now);
      else this.b.tcb.advance(this.now);
      this.flush();
    }
    throw new Error('event loop guard');
  }

  connect(): void {
    this.a.tcb.connect(this.now);
    this.flush();
    // The first segment a→b must be the SYN: hand it to b.acceptSyn.
    const first = this.q.shift();
    if (!first) throw new Error('no SYN');
    this.now = first.at;
    const syn = decodeSegment(first.bytes);
    if (isParseError(syn)) throw new Error(syn.message);
    this.b.tcb.acceptSyn(syn, this.now);
    this.flush();
  }

  /** Writes everything from `data` into a's send buffer as room allows while running. */
  write(from: Side, data: Uint8Array): () => number {
    let off = 0;
    return () => {
      if (off < data.length) {
        off += from.snd.write(from.tcb, data.subarray(off));
        from.tcb.output(this.now);
        this.flush();
      }
      return off;
    };
  }

  /** Transfers `data` a→b (or given direction), pumping the send buffer; returns when delivered. */
  transfer(from: Side, to: Side, data: Uint8Array, limitMs: number, step = 5): number {
    const pump = this.write(from, data);
    const start = this.now;
    while (this.now - start < limitMs) {
      pump();
      this.run(this.now + step);
      if (received(to) >= data.length) return this.now - start;
    }
    return -1;
  }

  segs(dir: Dir, pred: (s: TcpSegment) => boolean = () => true): Sent[] {
    return this.log.filter((s) => s.dir === dir && pred(s.seg));
  }
}

export function received(s: Side): number {
  let n = 0;
  for (const c of s.received) n += c.length;
  return n;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(data: Uint8Array | Uint8Array[]): string {
  const h = createHash('sha256');
  if (Array.isArray(data)) for (const c of data) h.update(c);
  else h.update(data);
  return h.digest('hex');
}
