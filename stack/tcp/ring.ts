/**
 * A growable byte ring (FIFO) on one Uint8Array: the send buffer, the retransmission store.
 * Offsets are relative to the oldest byte. Growth doubles up to `limit`; the writer checks room.
 */
export class ByteRing {
  private buf: Uint8Array;
  private head = 0;
  private len = 0;

  constructor(initial = 16 * 1024) {
    let cap = 1024;
    while (cap < initial) cap *= 2;
    this.buf = new Uint8Array(cap);
  }

  get length(): number {
    return this.len;
  }

  get capacity(): number {
    return this.buf.length;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    this.copyInto(next, 0, 0, this.len);
    this.buf = next;
    this.head = 0;
  }

  /** Appends all of `data`. */
  push(data: Uint8Array, start = 0, end = data.length): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    const cap = this.buf.length;
    const tail = (this.head + this.len) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(data.subarray(start, start + first), tail);
    if (first < n) this.buf.set(data.subarray(start + first, end), 0);
    this.len += n;
  }

  /** Copies `n` bytes starting at `offset` into `dst` at `at`. */
  copyInto(dst: Uint8Array, at: number, offset: number, n: number): void {
    const cap = this.buf.length;
    const from = (this.head + offset) % cap;
    const first = Math.min(n, cap - from);
    dst.set(this.buf.subarray(from, from + first), at);
    if (first < n) dst.set(this.buf.subarray(0, n - first), at + first);
  }

  /**
   * `n` bytes at `offset`: a view into the ring when contiguous (valid until bytes are consumed
   * and overwritten: use it before the ring is written again), else a fresh copy.
   */
  view(offset: number, n: number): Uint8Array {
    const cap = this.buf.length;
    const from = (this.head + offset) % cap;
    if (from + n <= cap) return this.buf.subarray(from, from + n);
    return this.read(offset, n);
  }

  /** A fresh copy of `n` bytes at `offset`. */
  read(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.copyInto(out, 0, offset, n);
    return out;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    if (n >= this.len) {
      this.head = 0;
      this.len = 0;
      return;
    }
    this.head = (this.head + n) % this.buf.length;
    this.len -= n;
  }

  /** Moves up to `n` bytes from the front of this ring to the end of `dst`; returns the count. */
  moveTo(dst: ByteRing, n: number): number {
    const m = Math.min(n, this.len);
    if (m <= 0) return 0;
    dst.ensure(m);
    const cap = this.buf.length;
    const first = Math.min(m, cap - this.head);
    dst.push(this.buf, this.head, this.head + first);
    if (first < m) dst.push(this.buf, 0, m - first);
    this.consume(m);
    return m;
  }
}

/**
 * A fixed-size window of bytes addressed by an offset from a moving base: the receive reassembly
 * store. `write(offset, …)` places bytes `offset` past the base; `advance(n)` moves the base.
 */
export class WindowStore {
  readonly buf: Uint8Array;
  private base = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  write(offset: number, data: Uint8Array, start: number, end: number): void {
    const cap = this.capacity;
    const n = end - start;
    const at = (this.base + offset) % cap;
    const first = Math.min(n, cap - at);
    this.buf.set(data.subarray(start, start + first), at);
    if (first < n) this.buf.set(data.subarray(start + first, end), 0);
  }

  read(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    const cap = this.capacity;
    const at = (this.base + offset) % cap;
    const first = Math.min(n, cap - at);
    out.set(this.buf.subarray(at, at + first), 0);
    if (first < n) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  advance(n: number): void {
    this.base = (this.base + n) % this.capacity;
  }
}
