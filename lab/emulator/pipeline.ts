/**
 * The emulator's side of the link model: the per-direction pipeline is stack/link/pipeline.ts (the
 * one the simulator runs too); this adapter speaks the emulator's parameters (the topology's units)
 * and counters. Rate, queue sizes and traces count L3 bytes (frame length minus the 14-byte Ethernet
 * header), so "20 Mbit/s" and a Mahimahi opportunity of 1500 bytes mean IP packets, as in the
 * simulator. Counters count whole frames as read from the TAP.
 */
import { DROPPED as LINK_DROPPED, LinkPipeline } from '../../stack/link/pipeline';
import type { Rng } from '../../stack/sim/prng';
import type { LinkParams } from '../../stack/sim/types';
import { loadTrace } from './trace';
import type { Trace } from './trace';
import type { DirStats, EmuDirParams } from './types';

export const ETH_HEADER = 14;
/** Default queue when the parameters give none: the link model's (stack/link/queue.ts). */
export { DEFAULT_QUEUE_MS } from '../../stack/link/queue';
/**
 * Frames one direction may hold at once (queued or delayed), whatever the parameters: bounds the
 * memory of a long delay at a high rate (netem has the same kind of limit). Beyond it: queue drops.
 */
export const MAX_PENDING = 50_000;

export type TraceLoader = (path: string) => Trace;

/** Result codes of admit(): a due time ≥ 0, or this. */
export const DROPPED = LINK_DROPPED;

/** The emulator's parameters (the topology's units: percent, ms, Mbit/s) as the link model's. */
export function linkParamsOf(p: EmuDirParams, trace: Trace | null, traceStart: number): Partial<LinkParams> {
  const out: Partial<LinkParams> = {
    rateMbps: p.rateMbps !== undefined && p.rateMbps > 0 ? p.rateMbps : Number.POSITIVE_INFINITY,
    delayMs: p.delayMs ?? 0,
    jitterMs: p.jitterMs ?? 0,
    jitterDist: 'uniform',
    loss: (p.lossPct ?? 0) / 100,
    duplicate: (p.duplicatePct ?? 0) / 100,
    gilbert: p.burstLoss
      ? {
          p: p.burstLoss.p / 100,
          r: p.burstLoss.r / 100,
          lossBad: (p.burstLoss.lossBad ?? 100) / 100,
          lossGood: (p.burstLoss.lossGood ?? 0) / 100,
        }
      : null,
    // netem's reordering: a picked frame skips the delay
    reorder: p.reorderPct ? { prob: p.reorderPct / 100 } : null,
    queueBytes: p.queue?.bytes,
    queuePackets: p.queue?.packets,
    queueMs: p.queue?.ms,
    deliveryTrace: trace
      ? { opportunitiesMs: Array.from(trace.times), periodMs: trace.period, startMs: traceStart }
      : null,
  };
  return out;
}

/**
 * One direction of an emulated link: the link model's pipeline (stack/link/pipeline.ts) fed with
 * L3 sizes (frame length minus the Ethernet header), plus what only the emulator has: parameters in
 * the topology's units, trace files by path, frame counters, and link down as a flag checked when a
 * held frame is due (its TAP carrier is what the nodes see).
 */
export class DirPipeline {
  params: EmuDirParams = {};
  up = true;
  /** What only the emulator counts, in whole frames; everything else is the link model's. */
  private frames = 0;
  private bytes = 0;
  private delivered = 0;
  private deliveredBytes = 0;
  private writeErrors = 0;
  /** Set by admit(): the due time of a duplicate copy, or DROPPED when none. */
  dupDue = DROPPED;

  private readonly rng: Rng;
  private readonly loadTraceFn: TraceLoader;
  private pipe: LinkPipeline;
  private trace: Trace | null = null;
  private traceStart = 0;

  constructor(rng: Rng, params: EmuDirParams = {}, now = 0, loadTraceFn: TraceLoader = loadTrace) {
    this.rng = rng;
    this.loadTraceFn = loadTraceFn;
    this.pipe = new LinkPipeline(rng, {}, 'emulated link', MAX_PENDING);
    this.set(params, now, true);
  }

  /** Applies parameters (merged into the current ones unless `replace`). Throws on invalid values. */
  set(params: EmuDirParams, now: number, replace = false): void {
    const next: EmuDirParams = replace ? { ...params } : { ...this.params, ...params };
    validate(next);
    let trace = this.trace;
    let start = this.traceStart;
    if (next.trace !== this.params.trace || replace) {
      trace = next.trace ? this.loadTraceFn(next.trace) : null;
      start = now;
    }
    const lp = linkParamsOf(next, trace, start);
    // the same trace keeps its cursor: hand the pipeline the array it already has
    if (trace !== null && trace === this.trace && this.pipe.params.deliveryTrace)
      lp.deliveryTrace = this.pipe.params.deliveryTrace;
    this.pipe.set(lp);
    this.params = next;
    this.trace = trace;
    this.traceStart = start;
  }

  /**
   * Decides the fate of a frame of `len` bytes arriving at `now`: returns its due time (≥ now) or
   * DROPPED. `dupDue` tells whether a duplicate must be delivered too.
   */
  admit(len: number, now: number): number {
    this.frames++;
    this.bytes += len;
    this.dupDue = DROPPED;
    const pipe = this.pipe;
    if (!this.up) {
      pipe.countDrop('down');
      return DROPPED;
    }
    const due = pipe.admit(len > ETH_HEADER ? len - ETH_HEADER : len, now);
    this.dupDue = pipe.dupDue;
    return due;
  }

  /** A held frame reached its due time: true = write it; false = the link went down (counted). */
  release(len: number): boolean {
    if (!this.up) {
      this.pipe.lose();
      return false;
    }
    this.pipe.release(len > ETH_HEADER ? len - ETH_HEADER : len);
    this.delivered++;
    this.deliveredBytes += len;
    return true;
  }

  /** The TAP refused a released frame: it counts as a write error, not as delivered. */
  writeFailed(len: number): void {
    this.delivered--;
    this.deliveredBytes -= len;
    this.writeErrors++;
  }

  /**
   * The counters as of now, read from the link model's own (nothing is copied per frame). The
   * backlog in bytes needs a time: `queueBytes` is 0 here, filled by the caller from backlog(now).
   */
  get stats(): DirStats {
    const c = this.pipe.counters;
    return {
      frames: this.frames,
      bytes: this.bytes,
      delivered: this.delivered,
      deliveredBytes: this.deliveredBytes,
      drops: { queue: c.dropped.queue, loss: c.dropped.random, burst: c.dropped.burst, down: c.dropped.down },
      duplicated: c.duplicated,
      reordered: c.reordered,
      pending: this.pipe.pending,
      queueBytes: 0,
      queueHighBytes: c.queueHighWaterBytes,
      queueHighFrames: c.queueHighWaterPackets,
      writeErrors: this.writeErrors,
    };
  }

  /** Current backlog waiting for the rate limiter (bytes, frames), as of `now`. */
  backlog(now: number): { bytes: number; frames: number } {
    const b = this.pipe.backlog(now);
    return { bytes: b.bytes, frames: b.packets };
  }

  /** The random stream this direction draws from (tests). */
  get random(): Rng {
    return this.rng;
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
