/**
 * The retransmission queue and SACK scoreboard (RFC 6675): one record per transmitted segment,
 * in sequence order and contiguous, kept in typed-array rings. It maintains `pipe` incrementally:
 * a record contributes its length unless SACKed or deemed lost, plus its length again when it has
 * been retransmitted (RFC 6675 SetPipe).
 */
import * as Seq from './seq';

// Bound once at load (see tcb.ts).
const seqGt = Seq.seqGt;
const seqLeq = Seq.seqLeq;
const seqLt = Seq.seqLt;
const seqSub = Seq.seqSub;

export const F_SACKED = 1;
export const F_LOST = 2;
export const F_REXMIT = 4;
export const F_FIN = 8;
/** Retransmitted at least once (for Karn's rule without timestamps). */
export const F_EVER_REXMIT = 16;

export class Scoreboard {
  private seqs: Uint32Array;
  private lens: Uint32Array;
  private flags: Uint8Array;
  /** Transmission order of each record's latest (re)transmission. */
  private stamps: Uint32Array;
  private txCount = 0;
  /** Highest stamp among records SACKed so far (what the receiver has seen most recently). */
  private sackedStamp = 0;
  private head = 0;
  private n = 0;
  private mask: number;
  /** Bytes counted as in the network (RFC 6675 pipe). */
  pipe = 0;
  /** Bytes SACKed above snd.una. */
  sackedBytes = 0;
  /** Just past the highest SACKed byte; meaningful when sackedBytes > 0. */
  highSacked = 0;
  /** Logical index below which no record is lost-and-not-retransmitted (a scan hint). */
  private lostHint = 0;

  constructor(initial = 256) {
    let cap = 16;
    while (cap < initial) cap *= 2;
    this.seqs = new Uint32Array(cap);
    this.lens = new Uint32Array(cap);
    this.flags = new Uint8Array(cap);
    this.stamps = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get count(): number {
    return this.n;
  }

  seqAt(i: number): number {
    return this.seqs[(this.head + i) & this.mask]!;
  }
  lenAt(i: number): number {
    return this.lens[(this.head + i) & this.mask]!;
  }
  flagsAt(i: number): number {
    return this.flags[(this.head + i) & this.mask]!;
  }

  private contrib(p: number): number {
    const f = this.flags[p]!;
    if (f & F_SACKED) return 0;
    const l = this.lens[p]!;
    return (f & F_LOST ? 0 : l) + (f & F_REXMIT ? l : 0);
  }

  private grow(): void {
    const cap = this.seqs.length * 2;
    const s = new Uint32Array(cap);
    const l = new Uint32Array(cap);
    const f = new Uint8Array(cap);
    const st = new Uint32Array(cap);
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      s[i] = this.seqs[p]!;
      l[i] = this.lens[p]!;
      f[i] = this.flags[p]!;
      st[i] = this.stamps[p]!;
    }
    this.seqs = s;
    this.lens = l;
    this.flags = f;
    this.stamps = st;
    this.head = 0;
    this.mask = cap - 1;
  }

  /** Records a new segment (seq, len in sequence space; a FIN counts 1). */
  push(seq: number, len: number, fin: boolean): void {
    if (this.n === this.seqs.length) this.grow();
    const p = (this.head + this.n) & this.mask;
    this.seqs[p] = seq;
    this.lens[p] = len;
    this.flags[p] = fin ? F_FIN : 0;
    this.stamps[p] = ++this.txCount;
    this.n++;
    this.pipe += len;
  }

  /** Marks record i as retransmitted now. */
  markRetransmitted(i: number): void {
    const p = (this.head + i) & this.mask;
    this.pipe -= this.contrib(p);
    this.flags[p] = this.flags[p]! | F_REXMIT | F_EVER_REXMIT;
    this.stamps[p] = ++this.txCount;
    this.pipe += this.contrib(p);
  }

  /**
   * Lost retransmissions (which RFC 6675 alone leaves to the RTO): a retransmitted, unSACKed record
   * is due again once the receiver has SACKed data sent more than `reorder` transmissions after
   * that retransmission (ordering by transmission time, as RACK does). Returns how many.
   */
  detectLostRetransmits(reorder: number): number {
    if (this.sackedBytes === 0) return 0;
    let k = 0;
    const limit = this.sackedStamp - reorder;
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      if (!seqLt(this.seqs[p]!, this.highSacked)) break;
      const f = this.flags[p]!;
      if ((f & (F_REXMIT | F_SACKED)) !== F_REXMIT || this.stamps[p]! >= limit) continue;
      this.pipe -= this.contrib(p);
      this.flags[p] = (f | F_LOST) & ~F_REXMIT;
      this.pipe += this.contrib(p);
      if (i < this.lostHint) this.lostHint = i;
      k++;
    }
    return k;
  }

  /** Removes everything below `ack`; returns bytes (sequence space) newly acknowledged. */
  ackTo(ack: number): number {
    let acked = 0;
    while (this.n > 0) {
      const p = this.head;
      const s = this.seqs[p]!;
      const l = this.lens[p]!;
      const end = (s + l) >>> 0;
      if (seqLeq(end, ack)) {
        this.pipe -= this.contrib(p);
        if (this.flags[p]! & F_SACKED) this.sackedBytes -= l;
        else acked += l;
        this.head = (this.head + 1) & this.mask;
        this.n--;
        if (this.lostHint > 0) this.lostHint--;
        continue;
      }
      if (seqGt(ack, s)) {
        // Partial acknowledgement of the head record: trim it.
        const d = seqSub(ack, s);
        this.pipe -= this.contrib(p);
        if (this.flags[p]! & F_SACKED) this.sackedBytes -= d;
        else acked += d;
        this.seqs[p] = ack;
        this.lens[p] = l - d;
        this.pipe += this.contrib(p);
      }
      break;
    }
    if (this.sackedBytes <= 0) this.sackedBytes = 0;
    return acked;
  }

  /** First logical index whose record ends after `seq` (binary search), or count. */
  private find(seq: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = (this.head + mid) & this.mask;
      if (seqLeq((this.seqs[p]! + this.lens[p]!) >>> 0, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Applies one SACK block; returns bytes newly SACKed. Records only partly covered stay unSACKed. */
  sack(left: number, right: number): number {
    let newly = 0;
    for (let i = this.find(left); i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      const s = this.seqs[p]!;
      const l = this.lens[p]!;
      if (seqGt((s + l) >>> 0, right)) break;
      if (seqLt(s, left)) continue;
      const f = this.flags[p]!;
      if (f & F_SACKED) continue;
      this.pipe -= this.contrib(p);
      this.flags[p] = f | F_SACKED;
      if (this.stamps[p]! > this.sackedStamp) this.sackedStamp = this.stamps[p]!;
      this.sackedBytes += l;
      newly += l;
      const end = (s + l) >>> 0;
      if (this.sackedBytes === l || seqGt(end, this.highSacked)) this.highSacked = end;
    }
    return newly;
  }

  /**
   * RFC 6675 IsLost over the whole board: an unSACKed record is lost when more than
   * (dupThresh − 1) × mss bytes above it are SACKed. Returns how many records became lost.
   */
  markLost(dupThresh: number, mss: number): number {
    if (this.sackedBytes === 0) return 0;
    const limit = (dupThresh - 1) * mss;
    let above = 0;
    let marked = 0;
    for (let i = this.n - 1; i >= 0; i--) {
      const p = (this.head + i) & this.mask;
      const f = this.flags[p]!;
      if (f & F_SACKED) {
        above += this.lens[p]!;
        continue;
      }
      if (above <= limit) continue;
      if (f & F_LOST) break; // everything below was examined before
      this.pipe -= this.contrib(p);
      this.flags[p] = f | F_LOST;
      this.pipe += this.contrib(p);
      marked++;
      if (i < this.lostHint) this.lostHint = i;
    }
    return marked;
  }

  /** Marks record i lost (NewReno: the head after dup ACKs or a partial ACK). */
  markLostAt(i: number): void {
    if (i >= this.n) return;
    const p = (this.head + i) & this.mask;
    this.pipe -= this.contrib(p);
    this.flags[p] = (this.flags[p]! | F_LOST) & ~F_REXMIT;
    this.pipe += this.contrib(p);
    if (i < this.lostHint) this.lostHint = i;
  }

  /** Forgets loss marks (a recovery proved spurious). */
  unmarkLost(): void {
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      const f = this.flags[p]!;
      if ((f & (F_LOST | F_SACKED)) !== F_LOST) continue;
      this.pipe -= this.contrib(p);
      this.flags[p] = f & ~F_LOST;
      this.pipe += this.contrib(p);
    }
    this.lostHint = this.n;
  }

  /** After an RTO: every unSACKed record is lost and due again. */
  markAllLost(): void {
    this.pipe = 0;
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      const f = this.flags[p]!;
      if (f & F_SACKED) continue;
      this.flags[p] = (f | F_LOST) & ~F_REXMIT;
    }
    this.lostHint = 0;
  }

  /** After reneging or to forget SACK state: clears SACKed bits (they become lost). */
  clearSacks(): void {
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      if (this.flags[p]! & F_SACKED) this.flags[p] = (this.flags[p]! & ~F_SACKED) | F_LOST;
    }
    this.sackedBytes = 0;
    this.lostHint = 0;
  }

  /** RFC 6675 NextSeg rule 1: first record lost, unSACKed and not yet retransmitted; -1 if none. */
  nextLost(): number {
    for (let i = this.lostHint; i < this.n; i++) {
      const f = this.flags[(this.head + i) & this.mask]!;
      if ((f & (F_LOST | F_SACKED | F_REXMIT)) === F_LOST) {
        this.lostHint = i;
        return i;
      }
    }
    this.lostHint = this.n;
    return -1;
  }

  /**
   * RFC 6675 NextSeg rule 3: the first unSACKed record below the highest SACK that has not been
   * retransmitted; -1 if none.
   */
  nextRule3(): number {
    if (this.sackedBytes === 0) return -1;
    for (let i = 0; i < this.n; i++) {
      const p = (this.head + i) & this.mask;
      if (!seqLt(this.seqs[p]!, this.highSacked)) break;
      if ((this.flags[p]! & (F_SACKED | F_REXMIT)) === 0) return i;
    }
    return -1;
  }

  /** Logical index of the record containing `seq`, or -1. */
  indexOf(seq: number): number {
    const i = this.find(seq);
    if (i >= this.n) return -1;
    return seqLeq(this.seqAt(i), seq) ? i : -1;
  }

  clear(): void {
    this.head = 0;
    this.n = 0;
    this.pipe = 0;
    this.sackedBytes = 0;
    this.lostHint = 0;
  }
}
