/**
 * The simulator's event queue: a binary min-heap ordered by (time, sequence number). The sequence
 * number is taken at insertion, so events due at the same time fire in the order they were
 * scheduled — deterministically. Event objects are pooled: the per-packet path allocates nothing.
 */
import type { Packet } from '../core/contract';

/** Whoever receives an event; `kind` and `num` tell it what the event means. */
export interface EventHandler {
  handle(ev: SimEvent): void;
}

export class SimEvent {
  t = 0;
  seq = 0;
  handler: EventHandler | null = null;
  kind = 0;
  /** A number the handler interprets (a generation, an epoch). */
  num = 0;
  pkt: Packet | null = null;
  /** A second number for the handler (a packet's wire size). */
  aux = 0;
  /** Daemon events (periodic samplers) do not keep `run()` going. */
  daemon = false;
}

/**
 * An empty array already in V8's object-elements kind: a fresh `[]` starts as small-integer
 * elements, and code optimized on a previous queue's (transitioned) arrays would deoptimize on it.
 */
function objectArray<T>(seed: T): T[] {
  const a = [seed];
  a.pop();
  return a;
}

export class EventQueue {
  private heap: SimEvent[] = objectArray(new SimEvent());
  private n = 0;
  private nextSeq = 0;
  private pool: SimEvent[] = objectArray(new SimEvent());
  /** Pending events that are not daemons. */
  live = 0;

  get size(): number {
    return this.n;
  }

  push(
    t: number,
    handler: EventHandler,
    kind: number,
    num: number,
    pkt: Packet | null,
    daemon = false,
    aux = 0,
  ): void {
    const ev = this.pool.pop() ?? new SimEvent();
    ev.t = t;
    ev.aux = aux;
    ev.seq = this.nextSeq++;
    ev.handler = handler;
    ev.kind = kind;
    ev.num = num;
    ev.pkt = pkt;
    ev.daemon = daemon;
    if (!daemon) this.live++;
    const heap = this.heap;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = heap[p]!;
      if (pe.t < t || (pe.t === t && pe.seq < ev.seq)) break;
      heap[i] = pe;
      i = p;
    }
    heap[i] = ev;
  }

  /** Time of the earliest event; Infinity when empty. */
  peekTime(): number {
    return this.n > 0 ? this.heap[0]!.t : Number.POSITIVE_INFINITY;
  }

  /** Removes and returns the earliest event. Hand it back with `release` once handled. */
  pop(): SimEvent | undefined {
    if (this.n === 0) return undefined;
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap[--this.n]!;
    heap[this.n] = top; // keep the slot filled; overwritten on the next push
    const n = this.n;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let ce = heap[l]!;
        if (r < n) {
          const re = heap[r]!;
          if (re.t < ce.t || (re.t === ce.t && re.seq < ce.seq)) {
            c = r;
            ce = re;
          }
        }
        if (last.t < ce.t || (last.t === ce.t && last.seq < ce.seq)) break;
        heap[i] = ce;
        i = c;
      }
      heap[i] = last;
    }
    if (!top.daemon) this.live--;
    return top;
  }

  release(ev: SimEvent): void {
    ev.handler = null;
    ev.pkt = null;
    this.pool.push(ev);
  }
}
