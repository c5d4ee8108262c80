/**
 * The connection's shared send buffer (the design's "one send buffer shared by all subflows,
 * scheduled at send time"). Bytes are addressed by data offset (DSN - IDSN - 1). Subflows take
 * chunks when they may send; what a failed or stalled subflow held is queued for reinjection on
 * another. Bytes leave the buffer only when the peer's data ACK covers them.
 */
import { ByteRing } from '../tcp/ring';

export interface Range {
  start: number;
  end: number;
}

export class SharedSendBuffer {
  private readonly ring = new ByteRing(64 * 1024);
  /** Oldest byte not data-acked. */
  una = 0;
  /** Next byte never sent on any subflow. */
  nxt = 0;
  /** Ranges to send again on another subflow (sorted, disjoint, >= una). */
  readonly reinject: Range[] = [];
  /** Offset of the DATA_FIN once the application ended (it takes one DSN); -1 before. */
  finOffset = -1;
  finAcked = false;

  constructor(public limit: number) {}

  /** First offset past the queued bytes. */
  get end(): number {
    return this.una + this.ring.length;
  }

  get buffered(): number {
    return this.ring.length;
  }

  /** Bytes queued and never sent. */
  get unsent(): number {
    return this.end - this.nxt;
  }

  get room(): number {
    return Math.max(0, this.limit - this.ring.length);
  }

  /** Queues what fits; returns how many bytes were taken. */
  write(data: Uint8Array): number {
    if (this.finOffset >= 0) return 0;
    const n = Math.min(data.length, this.room);
    if (n > 0) this.ring.push(data, 0, n);
    return n;
  }

  /** The application ended: the DATA_FIN goes at the current end. */
  close(): void {
    if (this.finOffset < 0) this.finOffset = this.end;
  }

  /** Copy of bytes [off, off + len) (must still be buffered). */
  bytes(off: number, len: number): Uint8Array {
    return this.ring.read(off - this.una, len);
  }

  /** Copies [off, off+len) into dst at `at`. */
  copyInto(dst: Uint8Array, at: number, off: number, len: number): void {
    this.ring.copyInto(dst, at, off - this.una, len);
  }

  /**
   * Data ACK up to `ack` (exclusive). Returns the bytes newly acknowledged (DATA_FIN excluded).
   * An ACK beyond what was sent is clamped.
   */
  ack(ack: number): number {
    let top = Math.max(this.nxt, this.maxSent);
    if (this.finOffset >= 0 && ack > this.finOffset) {
      this.finAcked = true;
      ack = this.finOffset;
    }
    if (ack > top) ack = top;
    if (ack <= this.una) return 0;
    const n = ack - this.una;
    this.ring.consume(n);
    this.una = ack;
    if (this.nxt < ack) this.nxt = ack;
    top = this.una;
    while (this.reinject.length > 0 && this.reinject[0]!.end <= this.una) this.reinject.shift();
    const first = this.reinject[0];
    if (first && first.start < this.una) first.start = this.una;
    return n;
  }

  /** Highest offset ever handed out (for reinjection of redundant cursors). */
  maxSent = 0;

  /**
   * Next new chunk of at most `max` bytes (advances `nxt`); undefined when nothing is unsent.
   * `limit` is the peer's connection-level window edge (an offset); nothing at or past it is given.
   */
  takeNew(max: number, limit: number): Range | undefined {
    const end = Math.min(this.end, limit);
    if (this.nxt >= end || max <= 0) return undefined;
    const r = { start: this.nxt, end: Math.min(end, this.nxt + max) };
    this.nxt = r.end;
    if (r.end > this.maxSent) this.maxSent = r.end;
    return r;
  }

  /** Next chunk at a private cursor (the redundant scheduler); undefined when caught up. */
  takeAt(cursor: number, max: number, limit: number): Range | undefined {
    const from = Math.max(cursor, this.una);
    const end = Math.min(this.end, limit);
    if (from >= end || max <= 0) return undefined;
    const r = { start: from, end: Math.min(end, from + max) };
    if (r.end > this.maxSent) this.maxSent = r.end;
    if (r.end > this.nxt) this.nxt = r.end;
    return r;
  }

  /** Queues [start, end) for reinjection (the part not yet data-acked, merged with the queue). */
  queueReinject(start: number, end: number): number {
    if (start < this.una) start = this.una;
    if (end <= start) return 0;
    let added = end - start;
    const q = this.reinject;
    let i = 0;
    while (i < q.length && q[i]!.end < start) i++;
    // Merge with every overlapping/adjacent range.
    let s = start;
    let e = end;
    let j = i;
    while (j < q.length && q[j]!.start <= e) {
      const r = q[j]!;
      added -= Math.max(0, Math.min(e, r.end) - Math.max(s, r.start));
      s = Math.min(s, r.start);
      e = Math.max(e, r.end);
      j++;
    }
    q.splice(i, j - i, { start: s, end: e });
    return added;
  }

  /** Takes up to `max` bytes from the front of the reinjection queue. */
  takeReinject(max: number): Range | undefined {
    while (this.reinject.length > 0) {
      const r = this.reinject[0]!;
      if (r.start < this.una) r.start = this.una;
      if (r.start >= r.end) {
        this.reinject.shift();
        continue;
      }
      const start = r.start;
      const end = Math.min(r.end, start + max);
      r.start = end;
      if (r.start >= r.end) this.reinject.shift();
      return { start, end };
    }
    return undefined;
  }

  get reinjectBytes(): number {
    let n = 0;
    for (const r of this.reinject) n += r.end - r.start;
    return n;
  }
}
