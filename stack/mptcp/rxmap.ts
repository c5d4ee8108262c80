/**
 * Receive-side DSS mappings of one subflow: which subflow bytes (relative subflow sequence numbers)
 * carry which data offsets. In-order subflow bytes are turned into data-level chunks at once
 * (no receive queue per subflow); with the DSS checksum a mapping's bytes are held until the whole
 * mapping is there and its checksum verified.
 */
import { dssChecksum } from '../wire/checksum';

export interface RxMapping {
  /** Relative subflow sequence number of the first byte. */
  ssn: number;
  /** Data offset of the first byte. */
  off: number;
  /** Mapped bytes (DATA_FIN excluded); Infinity for the infinite mapping. */
  len: number;
  /** DSN as carried (for the checksum pseudo-header). */
  dsn: bigint;
  /** Data-level length as carried (DATA_FIN included). */
  wireLen: number;
  checksum?: number;
  /** Bytes held for the checksum. */
  held?: Uint8Array;
  got: number;
}

export type FeedResult = 'ok' | 'unmapped' | 'checksum';

/** u32 distance a - b. */
function diff(a: number, b: number): number {
  return (a - b) >>> 0;
}

export class RxMappings {
  /** By starting relative subflow sequence number (insertion ordered). */
  private readonly byStart = new Map<number, RxMapping>();
  /** The first failing mapping, when a checksum failed. */
  failed: RxMapping | undefined;
  /** After 'unmapped': index in the fed bytes where mapping stopped. */
  stoppedAt = 0;
  /** End of the last bytes mapped: relative subflow seq and data offset (-1 before any). */
  lastSsnEnd = -1;
  lastOffEnd = -1;
  private removals = 0;

  constructor(public checksums: boolean) {}

  /** Most mappings kept waiting for their bytes (a peer cannot make us hold more). */
  static readonly MAX = 65536;

  get size(): number {
    return this.byStart.size;
  }

  clear(): void {
    this.byStart.clear();
  }

  /** Records a mapping (a repeat of a known one is ignored). */
  add(ssn: number, off: number, len: number, dsn: bigint, wireLen: number, checksum?: number): void {
    const known = this.byStart.get(ssn);
    if (known && known.off === off && known.len === len) return;
    const m: RxMapping = { ssn, off, len, dsn, wireLen, got: 0 };
    if (checksum !== undefined) m.checksum = checksum;
    if (this.byStart.size >= RxMappings.MAX && !known) {
      const oldest = this.byStart.keys().next();
      if (!oldest.done) this.byStart.delete(oldest.value);
    }
    this.byStart.set(ssn, m);
  }

  /**
   * In-order subflow bytes starting at relative ssn. Emits data-level chunks through `out`.
   * Returns 'unmapped' when bytes have no mapping, 'checksum' when a mapping failed its checksum
   * (its bytes are not emitted).
   */
  feed(ssn: number, data: Uint8Array, out: (off: number, bytes: Uint8Array) => void): FeedResult {
    let pos = 0;
    while (pos < data.length) {
      const at = (ssn + pos) >>> 0;
      const m = this.find(at);
      if (!m) {
        this.stoppedAt = pos;
        return 'unmapped';
      }
      const into = diff(at, m.ssn);
      const avail = Number.isFinite(m.len) ? m.len - into : data.length - pos;
      const n = Math.min(avail, data.length - pos);
      const piece = data.subarray(pos, pos + n);
      if (this.checksums && m.checksum !== undefined && Number.isFinite(m.len)) {
        // Held until the whole mapping is here (allocated on its first bytes).
        if (!m.held) m.held = new Uint8Array(m.len);
        m.held.set(piece, into);
        m.got += n;
        if (m.got >= m.len) {
          const sum = dssChecksum(m.dsn, m.ssn, m.wireLen, m.held, 0, m.len, m.checksum ?? 0);
          this.remove(m);
          if (sum !== 0) {
            this.failed = m;
            return 'checksum';
          }
          out(m.off, m.held);
          this.lastSsnEnd = (m.ssn + m.len) >>> 0;
          this.lastOffEnd = m.off + m.len;
        }
      } else {
        out(m.off + into, piece);
        this.lastSsnEnd = (at + n) >>> 0;
        this.lastOffEnd = m.off + into + n;
        m.got += n;
        if (Number.isFinite(m.len) && into + n >= m.len) this.remove(m);
      }
      pos += n;
    }
    return 'ok';
  }

  private find(at: number): RxMapping | undefined {
    // The common case: each segment carries its own mapping, starting where its bytes start.
    const exact = this.byStart.get(at);
    if (exact && exact.len > 0) return exact;
    for (const m of this.byStart.values()) {
      const d = diff(at, m.ssn);
      if (d < m.len && d < 0x80000000) return m;
    }
    return undefined;
  }

  private remove(m: RxMapping): void {
    if (this.byStart.get(m.ssn) === m) this.byStart.delete(m.ssn);
    // Now and then, drop stale mappings entirely below the bytes delivered so far.
    if (++this.removals % 256 !== 0 || this.byStart.size < 64) return;
    const edge = (m.ssn + m.len) >>> 0;
    for (const [k, o] of this.byStart) {
      if (Number.isFinite(o.len) && !o.held && diff(edge, (o.ssn + o.len) >>> 0) < 0x80000000)
        this.byStart.delete(k);
    }
  }
}
