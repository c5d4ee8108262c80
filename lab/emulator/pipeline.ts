/**
 * The per-direction pipeline of an emulated link, sans-I/O: time comes in as `now` (ms), randomness
 * from a seeded Rng. Order of stages for a frame arriving at `now`:
 *
 *   down? → random loss → Gilbert-Elliott loss → duplication → drop-tail queue + rate (or trace)
 *         → delay + jitter (no reordering: due = max(previous due, departure + delay + jitter))
 *         → reordering (a frame picked with reorderPct skips the delay and may overtake)
 *
 * Rate, queue sizes and traces count L3 bytes (frame length minus the 14-byte Ethernet header), so
 * "20 Mbit/s" and a Mahimahi opportunity of 1500 bytes mean IP packets, as with tc and Mahimahi.
 * Counters count whole frames as read from the TAP.
 */
import type { Rng } from './rng';
import { type Trace, TraceCursor, loadTrace } from './trace';
import type { DirStats, DropCause, EmuDirParams } from './types';

export const ETH_HEADER = 14;
/** Default queue when the parameters give none: 100 ms at the link's rate, at least 32 frames' worth. */
export const DEFAULT_QUEUE_MS = 100;
export const MIN_QUEUE_BYTES = 32 * 1500;
/**
 * Frames one direction may hold at once (queued or delayed), whatever the parameters: bounds the
 * memory of a long delay at a high rate (netem has the same kind of limit). Beyond it: queue drops.
 */
export const MAX_PENDING = 50_000;

export type TraceLoader = (path: string) => Trace;

export function emptyDirStats(): DirStats {
  return {
    frames: 0,
    bytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    drops: { queue: 0, loss: 0, burst: 0, down: 0 },
    duplicated: 0,
    reordered: 0,
    pending: 0,
    queueBytes: 0,
    queueHighBytes: 0,
    queueHighFrames: 0,
    writeErrors: 0,
  };
}

/** Result codes of admit(): a due time ≥ 0, or one of these. */
export const DROPPED = -1;

export class DirPipeline {
  params: EmuDirParams = {};
  up = true;
  readonly stats: DirStats = emptyDirStats();
  /** Set by admit(): the due time of a duplicate copy, or DROPPED when none. */
  dupDue = DROPPED;

  private readonly rng: Rng;
  private readonly loadTraceFn: TraceLoader;
  // rate
  private bytesPerMs = 0;
  private lastDepart = 0;
  private cursor: TraceCursor | null = null;
  private limitBytes = Number.POSITIVE_INFINITY;
  private limitFrames = Number.POSITIVE_INFINITY;
  // queue backlog: ring of (departure time, L3 bytes) of frames not yet departed
  private qTime = new Float64Array(64);
  private qLen = new Float64Array(64);
  private qHead = 0;
  private qCount = 0;
  private qBytes = 0;
  // delay
  private lastDue = 0;
  // Gilbert-Elliott state
  private bad = false;

  constructor(rng: Rng, params: EmuDirParams = {}, now = 0, loadTraceFn: TraceLoader = loadTrace) {
    this.rng = rng;
    this.loadTraceFn = loadTraceFn;
    this.set(params, now, true);
  }

  /** Applies parameters (merged into the current ones unless `replace`). Throws on invalid values. */
  set(params: EmuDirParams, now: number, replace = false): void {
    const next: EmuDirParams = replace ? { ...params } : { ...this.params, ...params };
    validate(next);
    let cursor = this.cursor;
    if (next.trace !== this.params.trace || replace) {
      cursor = next.trace ? new TraceCursor(this.loadTraceFn(next.trace), now) : null;
    }
    this.params = next;
    this.cursor = cursor;
    this.bytesPerMs = next.rateMbps ? next.rateMbps * 125 : 0;
    const rateBytesPerMs = cursor ? cursor.trace.bytesPerMs : this.bytesPerMs;
    const q = next.queue;
    this.limitBytes = Number.POSITIVE_INFINITY;
    this.limitFrames = Number.POSITIVE_INFINITY;
    if (q?.bytes !== undefined) this.limitBytes = q.bytes;
    else if (q?.packets !== undefined) this.limitFrames = q.packets;
    else if (q?.ms !== undefined && rateBytesPerMs > 0) this.limitBytes = q.ms * rateBytesPerMs;
    else if (rateBytesPerMs > 0)
      this.limitBytes = Math.max(MIN_QUEUE_BYTES, DEFAULT_QUEUE_MS * rateBytesPerMs);
    if (!next.burstLoss) this.bad = false;
    if (!this.shaped()) {
      // No rate any more: the backlog is gone with it.
      this.qCount = 0;
      this.qBytes = 0;
      this.qHead = 0;
    }
  }

  private shaped(): boolean {
    return this.cursor !== null || this.bytesPerMs > 0;
  }

  /**
   * Decides the fate of a frame of `len` bytes arriving at `now`: returns its due time (≥ now) or
   * DROPPED. `dupDue` tells whether a duplicate must be delivered too.
   */
  admit(len: number, now: number): number {
    const s = this.stats;
    s.frames++;
    s.bytes += len;
    this.dupDue = DROPPED;
    if (!this.up) return this.drop('down');
    const p = this.params;
    if (p.lossPct && this.rng.next() * 100 < p.lossPct) return this.drop('loss');
    const ge = p.burstLoss;
    if (ge) {
      // As netem's loss_gilb_ell(): the frame's fate follows the state it found; the state moves on.
      const wasBad = this.bad;
      if (wasBad) {
        if (this.rng.next() * 100 < ge.r) this.bad = false;
      } else if (this.rng.next() * 100 < ge.p) this.bad = true;
      const lossProb = wasBad ? (ge.lossBad ?? 100) : (ge.lossGood ?? 0);
      if (lossProb > 0 && this.rng.next() * 100 < lossProb) return this.drop('burst');
    }
    const due = this.pass(len, now);
    if (due === DROPPED) return this.drop('queue');
    s.pending++;
    if (p.duplicatePct && this.rng.next() * 100 < p.duplicatePct) {
      // Counted when made; the copy may still meet a full queue (then counted as a queue drop).
      s.duplicated++;
      const d2 = this.pass(len, now);
      if (d2 === DROPPED) s.drops.queue++;
      else {
        s.pending++;
        this.dupDue = d2;
      }
    }
    return due;
  }

  /** Queue + rate + delay for one copy. */
  private pass(len: number, now: number): number {
    if (this.stats.pending >= MAX_PENDING) return DROPPED;
    let depart = now;
    if (this.shaped()) {
      const l3 = len > ETH_HEADER ? len - ETH_HEADER : len;
      // Frames that have finished serialization leave the backlog.
      while (this.qCount > 0 && this.qTime[this.qHead]! <= now) {
        this.qBytes -= this.qLen[this.qHead]!;
        this.qHead = (this.qHead + 1) & (this.qTime.length - 1);
        this.qCount--;
      }
      if (this.qBytes + l3 > this.limitBytes || this.qCount + 1 > this.limitFrames) return DROPPED;
      if (this.cursor) depart = this.cursor.take(l3, now);
      else {
        depart = Math.max(this.lastDepart, now) + l3 / this.bytesPerMs;
        this.lastDepart = depart;
      }
      this.pushBacklog(depart, l3);
    }
    const p = this.params;
    if (p.reorderPct && p.delayMs && this.rng.next() * 100 < p.reorderPct) {
      this.stats.reordered++;
      return depart;
    }
    let delay = p.delayMs ?? 0;
    if (p.jitterMs) delay += (this.rng.next() * 2 - 1) * p.jitterMs;
    let due = depart + Math.max(delay, 0);
    if (due < this.lastDue) due = this.lastDue;
    this.lastDue = due;
    return due;
  }

  private pushBacklog(depart: number, l3: number): void {
    if (this.qCount === this.qTime.length) {
      const n = this.qTime.length;
      const t = new Float64Array(n * 2);
      const l = new Float64Array(n * 2);
      for (let i = 0; i < n; i++) {
        t[i] = this.qTime[(this.qHead + i) & (n - 1)]!;
        l[i] = this.qLen[(this.qHead + i) & (n - 1)]!;
      }
      this.qTime = t;
      this.qLen = l;
      this.qHead = 0;
    }
    const tail = (this.qHead + this.qCount) & (this.qTime.length - 1);
    this.qTime[tail] = depart;
    this.qLen[tail] = l3;
    this.qCount++;
    this.qBytes += l3;
    const s = this.stats;
    if (this.qBytes > s.queueHighBytes) s.queueHighBytes = this.qBytes;
    if (this.qCount > s.queueHighFrames) s.queueHighFrames = this.qCount;
  }

  private drop(cause: DropCause): number {
    this.stats.drops[cause]++;
    return DROPPED;
  }

  /** A held frame reached its due time: true = write it; false = the link went down (counted). */
  release(len: number): boolean {
    const s = this.stats;
    s.pending--;
    if (!this.up) {
      s.drops.down++;
      return false;
    }
    s.delivered++;
    s.deliveredBytes += len;
    return true;
  }

  /** Current backlog waiting for the rate limiter (bytes, frames), as of `now`. */
  backlog(now: number): { bytes: number; frames: number } {
    let bytes = this.qBytes;
    let frames = this.qCount;
    for (let i = 0; i < this.qCount; i++) {
      const k = (this.qHead + i) & (this.qTime.length - 1);
      if (this.qTime[k]! <= now) {
        bytes -= this.qLen[k]!;
        frames--;
      }
    }
    return { bytes, frames };
  }
}

function pct(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || v > 100)
    throw new Error(`${name} must be a percentage in [0, 100], got ${v}`);
}

function nonNeg(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a finite number ≥ 0, got ${v}`);
}

export function validate(p: EmuDirParams): void {
  nonNeg('rateMbps', p.rateMbps);
  nonNeg('delayMs', p.delayMs);
  nonNeg('jitterMs', p.jitterMs);
  pct('lossPct', p.lossPct);
  pct('reorderPct', p.reorderPct);
  pct('duplicatePct', p.duplicatePct);
  if (p.burstLoss) {
    pct('burstLoss.p', p.burstLoss.p);
    pct('burstLoss.r', p.burstLoss.r);
    pct('burstLoss.lossBad', p.burstLoss.lossBad);
    pct('burstLoss.lossGood', p.burstLoss.lossGood);
  }
  if (p.queue) {
    nonNeg('queue.bytes', p.queue.bytes);
    nonNeg('queue.ms', p.queue.ms);
    nonNeg('queue.packets', p.queue.packets);
  }
  if (p.trace !== undefined && typeof p.trace !== 'string') throw new Error('trace must be a file path');
}
