/**
 * Data-level reassembly across subflows: bytes arrive with their data offset from any subflow, in
 * any order; the in-order prefix goes to the application at once. The connection-level receive
 * window is what is left of the buffer (out-of-order bytes plus delivered bytes the application
 * has not consumed yet).
 */

interface Chunk {
  off: number;
  data: Uint8Array;
}

export class DataReassembly {
  /** Next data offset expected. */
  rcvNxt = 0;
  /** Bytes delivered to the application and not yet consumed. */
  unconsumed = 0;
  private readonly ofo: Chunk[] = [];
  private ofoBytes = 0;
  duplicates = 0;
  ofoSegments = 0;
  /** Bytes that ever arrived ahead of a gap at the data level (cumulative; for per-interval figures). */
  ofoBytesTotal = 0;

  constructor(public capacity: number) {}

  /** Bytes the peer may still send beyond rcvNxt. */
  get window(): number {
    return Math.max(0, this.capacity - this.unconsumed - this.ofoBytes);
  }

  get outOfOrderBytes(): number {
    return this.ofoBytes;
  }

  /**
   * Adds bytes at `off`; calls `deliver` for each chunk that becomes in order (in order).
   * Bytes beyond rcvNxt + capacity are dropped (the peer overran the window). Returns the number
   * of bytes delivered.
   */
  add(off: number, data: Uint8Array, deliver: (data: Uint8Array) => void): number {
    let start = 0;
    let end = data.length;
    if (off + end <= this.rcvNxt) {
      this.duplicates++;
      return 0;
    }
    if (off < this.rcvNxt) {
      start = this.rcvNxt - off;
      off = this.rcvNxt;
    }
    const limit = this.rcvNxt + this.capacity;
    if (off + (end - start) > limit) end = start + Math.max(0, limit - off);
    if (end <= start) return 0;
    if (off > this.rcvNxt) {
      this.insert(off, start === 0 && end === data.length ? data : data.subarray(start, end));
      return 0;
    }
    let delivered = end - start;
    const first = start === 0 && end === data.length ? data : data.subarray(start, end);
    this.rcvNxt += first.length;
    this.unconsumed += first.length;
    deliver(first);
    let k = 0;
    while (k < this.ofo.length) {
      const c = this.ofo[k]!;
      if (c.off > this.rcvNxt) break;
      k++;
      this.ofoBytes -= c.data.length;
      const cend = c.off + c.data.length;
      if (cend <= this.rcvNxt) continue;
      const piece = c.data.subarray(this.rcvNxt - c.off);
      this.rcvNxt += piece.length;
      this.unconsumed += piece.length;
      delivered += piece.length;
      deliver(piece);
    }
    if (k > 0) this.ofo.splice(0, k);
    return delivered;
  }

  consumed(n: number): void {
    this.unconsumed = Math.max(0, this.unconsumed - n);
  }

  /** Inserts an out-of-order chunk, trimming what is already held. */
  private insert(off: number, data: Uint8Array): void {
    const q = this.ofo;
    let end = off + data.length;
    // The common case: past everything held (the fast path keeps sending beyond a gap).
    const last = q[q.length - 1];
    if (!last || off >= last.off + last.data.length) {
      q.push({ off, data });
      this.ofoBytes += data.length;
      this.ofoBytesTotal += data.length;
      this.ofoSegments++;
      return;
    }
    // Find the first chunk ending after `off`.
    let i = 0;
    while (i < q.length && q[i]!.off + q[i]!.data.length <= off) i++;
    let cur = off;
    let inserted = false;
    while (cur < end) {
      const c = q[i];
      if (!c || c.off >= end) {
        const piece = data.subarray(cur - off, end - off);
        q.splice(i, 0, { off: cur, data: piece.length === data.length ? data : piece.slice() });
        this.ofoBytes += piece.length;
        this.ofoBytesTotal += piece.length;
        inserted = true;
        break;
      }
      if (c.off > cur) {
        const piece = data.subarray(cur - off, c.off - off);
        q.splice(i, 0, { off: cur, data: piece.slice() });
        this.ofoBytes += piece.length;
        this.ofoBytesTotal += piece.length;
        inserted = true;
        i++;
      }
      cur = Math.max(cur, c.off + c.data.length);
      i++;
      if (cur >= end) break;
    }
    if (inserted) this.ofoSegments++;
    else this.duplicates++;
    end = 0;
  }
}
