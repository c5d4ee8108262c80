/**
 * One direction of a link, sans-I/O: the link model both drivers run. The simulator's links
 * (stack/sim/sim.ts, virtual time) and the userspace emulator (lab/emulator/, real time) hand each
 * packet's size and arrival time to `admit`, which decides its fate at once: a drop with its cause,
 * or the time it reaches the far end (and, when duplicated, the copy's). The driver holds the packet
 * until then (an event in the simulator, a heap entry in the emulator) and calls `release`.
 *
 * Stages, in netem's order under tbf (what a lab's kernel does):
 *
 *   too large (mtu)? → random loss → Gilbert–Elliott loss → drop-tail queue + rate (or a Mahimahi
 *   trace) → duplication (the copy passes the queue too) → reordering (a picked packet skips the
 *   delay, or is held back extraDelayMs) → delay + jitter (FIFO: never before the previous one)
 *
 * A packet's departure is computed when it is admitted: the bytes "in the queue" at time t are
 * those of admitted packets that have not finished serialization by t (the one in service
 * included), so drop decisions need no timer. A rate change applies to packets admitted after it.
 * Randomness comes from one seeded Rng per direction, drawn in the stage order above, so the same
 * seed and the same arrivals give the same fates in both drivers (test/unit/sim/link-model.test.ts).
 */
import type { Rng } from '../sim/prng';
import type { DropCause, LinkCounters, LinkParams } from '../sim/types';
import { defaultQueueBytes } from './queue';
import { TRACE_MTU, type Trace, TraceCursor } from './trace';

/** admit()'s answer for a dropped packet (the cause is in `lastDrop`). */
export const DROPPED = -1;

export const DEFAULT_LINK_PARAMS: LinkParams = {
  rateMbps: Number.POSITIVE_INFINITY,
  delayMs: 0,
  jitterMs: 0,
  jitterDist: 'uniform',
  loss: 0,
  duplicate: 0,
};

export function newCounters(): LinkCounters {
  return {
    sentPackets: 0,
    sentBytes: 0,
    deliveredPackets: 0,
    deliveredBytes: 0,
    dropped: { queue: 0, random: 0, burst: 0, down: 0, middlebox: 0, mtu: 0 },
    duplicated: 0,
    reordered: 0,
    queueHighWaterBytes: 0,
    queueHighWaterPackets: 0,
  };
}

const QUEUE_KEYS = ['queueBytes', 'queueMs', 'queuePackets'] as const;

/** Throws on a parameter no link can have (negative, NaN, a probability above 1, a bad trace). */
export function validateLinkParams(p: LinkParams, where = 'link'): void {
  for (const k of ['rateMbps', 'delayMs', 'jitterMs', 'loss', 'duplicate'] as const) {
    const v = p[k];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new Error(`${where}: bad ${k}`);
  }
  if (p.loss > 1 || p.duplicate > 1) throw new Error(`${where}: probability above 1`);
  const tr = p.deliveryTrace;
  if (tr) {
    const times = tr.opportunitiesMs;
    const period = tr.periodMs ?? times[times.length - 1] ?? 0;
    if (
      times.length === 0 ||
      !(period > 0) ||
      times.some((t, i) => t < 0 || t > period || (i > 0 && t < times[i - 1]!))
    )
      throw new Error(`${where}: bad delivery trace`);
  }
}

export class LinkPipeline {
  readonly params: LinkParams;
  readonly counters: LinkCounters = newCounters();
  /** Set by admit(): the cause of the last drop. */
  lastDrop: DropCause = 'queue';
  /** Set by admit(): the due time of a duplicate copy, or DROPPED when there is none. */
  dupDue = DROPPED;
  /** Packets admitted and not yet released (the emulator bounds it: maxPending). */
  pending = 0;

  private bytesPerMs = Number.POSITIVE_INFINITY;
  private limitBytes = Number.POSITIVE_INFINITY;
  private limitPackets = Number.POSITIVE_INFINITY;
  private lastDepart = Number.NEGATIVE_INFINITY;
  private lastDue = Number.NEGATIVE_INFINITY;
  private cursor: TraceCursor | null = null;
  private traceTimes: number[] | null = null;
  private bad = false;
  // packets not yet fully serialized: ring of (departure time, bytes)
  private qTime = new Float64Array(64);
  private qLen = new Float64Array(64);
  private qHead = 0;
  private qCount = 0;
  private qBytes = 0;

  constructor(
    private readonly rng: Rng,
    params: Partial<LinkParams> = {},
    /** Where errors say they come from. */
    private readonly where = 'link',
    /** Packets held at once beyond which admit() drops (queue): a memory bound for real time. */
    private readonly maxPending = Number.POSITIVE_INFINITY,
  ) {
    this.params = { ...DEFAULT_LINK_PARAMS, ...params };
    this.refresh();
  }

  /**
   * Merges parameters in (for the next packet). Setting one of queueBytes, queueMs, queuePackets
   * alone clears the other two.
   */
  set(params: Partial<LinkParams>): void {
    const next: LinkParams = { ...this.params, ...params };
    const q = QUEUE_KEYS.filter((k) => params[k] !== undefined);
    if (q.length === 1) for (const k of QUEUE_KEYS) if (k !== q[0]) next[k] = undefined;
    validateLinkParams(next, this.where);
    Object.assign(this.params, next);
    for (const k of QUEUE_KEYS) if (next[k] === undefined) delete this.params[k];
    this.refresh();
  }

  private refresh(): void {
    const p = this.params;
    validateLinkParams(p, this.where);
    const tr = p.deliveryTrace;
    if (tr) {
      const times = tr.opportunitiesMs;
      const period = tr.periodMs ?? times[times.length - 1]!;
      if (this.traceTimes !== times) {
        this.traceTimes = times;
        const trace: Trace = {
          times: Float64Array.from(times),
          period,
          bytesPerMs: (times.length * TRACE_MTU) / period,
          source: this.where,
        };
        this.cursor = new TraceCursor(trace, tr.startMs ?? 0);
      }
      this.bytesPerMs = (times.length * TRACE_MTU) / period; // the mean, for queueMs
    } else {
      this.traceTimes = null;
      this.cursor = null;
      this.bytesPerMs = p.rateMbps > 0 ? p.rateMbps * 125 : Number.POSITIVE_INFINITY;
    }
    this.limitPackets = p.queuePackets ?? Number.POSITIVE_INFINITY;
    if (p.queueBytes !== undefined) this.limitBytes = p.queueBytes;
    else if (p.queueMs !== undefined) this.limitBytes = p.queueMs * this.bytesPerMs;
    else if (p.queuePackets !== undefined) this.limitBytes = Number.POSITIVE_INFINITY;
    else this.limitBytes = defaultQueueBytes(this.bytesPerMs);
    if (!p.gilbert) this.bad = false;
    if (!this.shaped()) {
      // no rate any more: the backlog went with it
      this.qCount = 0;
      this.qBytes = 0;
      this.qHead = 0;
      this.lastDepart = Number.NEGATIVE_INFINITY;
    }
  }

  /** Whether packets are serialized at all (a finite rate or a trace). */
  shaped(): boolean {
    return this.cursor !== null || this.bytesPerMs !== Number.POSITIVE_INFINITY;
  }

  private dropped(cause: DropCause): number {
    this.counters.dropped[cause]++;
    this.lastDrop = cause;
    return DROPPED;
  }

  /** Counts a drop the driver decided (link down, a middlebox, a write error). */
  countDrop(cause: DropCause): void {
    this.counters.dropped[cause]++;
  }

  /**
   * The fate of a packet of `size` wire bytes offered at `now`: its due time at the far end (≥ now),
   * or DROPPED (cause in `lastDrop`). `dupDue` tells whether a copy follows.
   */
  admit(size: number, now: number): number {
    const c = this.counters;
    c.sentPackets++;
    c.sentBytes += size;
    this.dupDue = DROPPED;
    const p = this.params;
    if (p.mtu !== undefined && size > p.mtu) return this.dropped('mtu');
    if (p.loss > 0 && this.rng.next() < p.loss) return this.dropped('random');
    const ge = p.gilbert;
    if (ge) {
      // netem's loss_gilb_ell(): the packet's fate follows the state it found; the state moves on
      const wasBad = this.bad;
      if (wasBad) {
        if (this.rng.next() < ge.r) this.bad = false;
      } else if (this.rng.next() < ge.p) this.bad = true;
      const lossP = wasBad ? (ge.lossBad ?? 1) : (ge.lossGood ?? 0);
      if (lossP > 0 && this.rng.next() < lossP) return this.dropped('burst');
    }
    const due = this.pass(size, now);
    if (due === DROPPED) return this.dropped('queue');
    this.pending++;
    if (p.duplicate > 0 && this.rng.next() < p.duplicate) {
      c.duplicated++;
      const d2 = this.pass(size, now);
      if (d2 === DROPPED) c.dropped.queue++;
      else {
        this.pending++;
        this.dupDue = d2;
      }
    }
    return due;
  }

  /** Queue + rate + reordering + delay for one copy. */
  private pass(size: number, now: number): number {
    if (this.pending >= this.maxPending) return DROPPED;
    let depart = now;
    if (this.shaped()) {
      // packets that finished serialization leave the queue
      const mask = this.qTime.length - 1;
      while (this.qCount > 0 && this.qTime[this.qHead]! <= now) {
        this.qBytes -= this.qLen[this.qHead]!;
        this.qHead = (this.qHead + 1) & mask;
        this.qCount--;
      }
      if (this.qBytes + size > this.limitBytes || this.qCount >= this.limitPackets) return DROPPED;
      if (this.cursor !== null) depart = this.cursor.take(size, now);
      else {
        depart = Math.max(this.lastDepart, now) + size / this.bytesPerMs;
        this.lastDepart = depart;
      }
      this.push(depart, size);
    }
    const p = this.params;
    const ro = p.reorder;
    if (ro && ro.prob > 0 && (ro.extraDelayMs !== undefined || p.delayMs > 0) && this.rng.next() < ro.prob) {
      // outside the FIFO rule: it overtakes (netem: skips the delay) or is overtaken (held back)
      this.counters.reordered++;
      return ro.extraDelayMs !== undefined ? depart + p.delayMs + ro.extraDelayMs : depart;
    }
    let d = p.delayMs;
    if (p.jitterMs > 0) {
      d +=
        p.jitterDist === 'normal' ? this.rng.normal() * p.jitterMs : (2 * this.rng.next() - 1) * p.jitterMs;
      if (d < 0) d = 0;
    }
    let due = depart + d;
    if (due < this.lastDue) due = this.lastDue;
    this.lastDue = due;
    return due;
  }

  private push(depart: number, size: number): void {
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
    this.qTime[(this.qHead + this.qCount) & (this.qTime.length - 1)] = depart;
    this.qLen[(this.qHead + this.qCount) & (this.qTime.length - 1)] = size;
    this.qCount++;
    this.qBytes += size;
    const c = this.counters;
    if (this.qBytes > c.queueHighWaterBytes) c.queueHighWaterBytes = this.qBytes;
    if (this.qCount > c.queueHighWaterPackets) c.queueHighWaterPackets = this.qCount;
  }

  /** A held packet reached its due time and is delivered (counted). */
  release(size: number): void {
    this.pending--;
    this.counters.deliveredPackets++;
    this.counters.deliveredBytes += size;
  }

  /** A held packet was lost on the way (the link went down): counted as `down`. */
  lose(): void {
    this.pending--;
    this.counters.dropped.down++;
  }

  /** The link went down: the queue empties (held packets are the driver's to lose via `lose`). */
  cut(): void {
    this.qCount = 0;
    this.qBytes = 0;
    this.qHead = 0;
    this.lastDepart = Number.NEGATIVE_INFINITY;
    this.lastDue = Number.NEGATIVE_INFINITY;
  }

  /** Bytes and packets not yet fully serialized at `now` (the one in service included). */
  backlog(now: number): { bytes: number; packets: number } {
    let bytes = this.qBytes;
    let packets = this.qCount;
    for (let i = 0; i < this.qCount; i++) {
      const k = (this.qHead + i) & (this.qTime.length - 1);
      if (this.qTime[k]! <= now) {
        bytes -= this.qLen[k]!;
        packets--;
      }
    }
    return { bytes, packets };
  }
}
