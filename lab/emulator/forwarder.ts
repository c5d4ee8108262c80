/**
 * The emulator's scheduler, sans-I/O: every held frame of every direction sits in ONE binary heap
 * keyed by (due time, arrival sequence); the driver sleeps until `nextDue()` and calls `poll(now)`,
 * which hands each due frame to the sink. Heap entries are recycled, so the steady state allocates
 * nothing per frame. Generic over the frame storage `T` (a pooled Buffer in the real driver, a
 * plain object in tests).
 */
import { DirPipeline, DROPPED, type TraceLoader } from './pipeline';
import { Rng } from '../../stack/sim/prng';
import { loadTrace } from './trace';
import type { EmuDirParams } from './types';

interface Entry<T> {
  due: number;
  seq: number;
  dir: number;
  len: number;
  frame: T;
}

export interface Sink<T> {
  /** Writes the frame to direction `dir`'s receiving end (`due`: when the link model said it arrives). */
  deliver(dir: number, frame: T, len: number, due: number): void;
  /** The frame storage may be reused (after delivery or a drop at release). */
  free(frame: T): void;
  /** Makes a copy of a frame (for duplication). */
  copy(frame: T, len: number): T;
}

export class Forwarder<T> {
  readonly dirs: DirPipeline[] = [];
  private heap: Entry<T>[] = [];
  private spare: Entry<T>[] = [];
  private seq = 0;
  /** Largest lateness seen at release (poll time - due time), ms: how well the driver keeps time. */
  lateMaxMs = 0;
  /** Releases more than 1 ms late. */
  lateCount = 0;

  constructor(
    private readonly sink: Sink<T>,
    private readonly seed = 1,
    private readonly loadTraceFn: TraceLoader = loadTrace,
  ) {}

  /**
   * Adds a direction; returns its index. Each direction has its own random stream, forked from the
   * seed by `label` with the link model's one generator (stack/sim/prng.ts): the dataplane names it
   * `link/<id>/<ab|ba>` as the simulator does, so a seed means the same draws in both.
   */
  addDir(params: EmuDirParams, now: number, label = `dir/${this.dirs.length}`): number {
    const i = this.dirs.length;
    this.dirs.push(new DirPipeline(new Rng(this.seed).fork(label), params, now, this.loadTraceFn));
    return i;
  }

  /**
   * A frame of `len` bytes arrived on direction `dir` at `now`. Returns true when the forwarder
   * keeps the frame storage (it will be passed to sink.deliver/free later), false when dropped.
   */
  input(dir: number, frame: T, len: number, now: number): boolean {
    const p = this.dirs[dir]!;
    const due = p.admit(len, now);
    if (due === DROPPED) return false;
    if (due <= now && this.heap.length === 0 && p.dupDue === DROPPED) {
      // Nothing held and nothing to wait for: straight through, no heap (order is kept).
      if (p.release(len)) this.sink.deliver(dir, frame, len, due);
      this.sink.free(frame);
      return true;
    }
    this.push(due, dir, len, frame);
    if (p.dupDue !== DROPPED) this.push(p.dupDue, dir, len, this.sink.copy(frame, len));
    return true;
  }

  /** Delivers every frame due at or before `now`, in (due, arrival) order. */
  poll(now: number): number {
    const h = this.heap;
    let n = 0;
    while (h.length > 0 && h[0]!.due <= now) {
      const e = this.pop();
      const late = now - e.due;
      if (late > this.lateMaxMs) this.lateMaxMs = late;
      if (late > 1) this.lateCount++;
      if (this.dirs[e.dir]!.release(e.len)) {
        this.sink.deliver(e.dir, e.frame, e.len, e.due);
        n++;
      }
      this.sink.free(e.frame);
      e.frame = undefined as T;
      this.spare.push(e);
    }
    return n;
  }

  /** Due time of the earliest held frame, or Infinity. */
  nextDue(): number {
    return this.heap.length > 0 ? this.heap[0]!.due : Number.POSITIVE_INFINITY;
  }

  get held(): number {
    return this.heap.length;
  }

  private push(due: number, dir: number, len: number, frame: T): void {
    const e = this.spare.pop() ?? { due: 0, seq: 0, dir: 0, len: 0, frame };
    e.due = due;
    e.seq = this.seq++;
    e.dir = dir;
    e.len = len;
    e.frame = frame;
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pe = h[parent]!;
      if (pe.due < due || (pe.due === due && pe.seq < e.seq)) break;
      h[i] = pe;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry<T> {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && less(h[r]!, h[l]!)) c = r;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function less<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
