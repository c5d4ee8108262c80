/**
 * The real-time driver: runs a sans-I/O NetCore on Node's event loop.
 *
 * - Time comes from performance.now() (ms, float).
 * - One timer, armed for `core.nextDeadline()`; it is re-armed only when the deadline moves earlier
 *   than the armed one, or after it fired. A timer firing early is harmless (advance is idempotent).
 * - Incoming packets are queued; the first one of a tick schedules one setImmediate (a bound method,
 *   no closure per packet). That turn feeds every queued packet to the core, calls `advance` once,
 *   then flushes `takeOutput()` to the phy in one batch and dispatches `takeEvents()`.
 * - Application calls (write, connect, ...) go straight to the core and then `kick()` the driver,
 *   which coalesces them into the same kind of turn.
 */
import { performance } from 'node:perf_hooks';
import type { CoreEvent, NetCore, Packet, UnreachableCode } from '../core/contract';
import type { SynGuard } from './syn-guard';

/** What the driver needs from a phy: a batched send, and a way to hand it received packets. */
export interface PhySink {
  /** Sends packets in order. The phy owns the array afterwards. */
  send(packets: Packet[]): void;
}

export type PacketTap = (packet: Packet, direction: 'in' | 'out', now: number) => void;

export interface DriverCounters {
  /** Turns run (each: inputs, one advance, one flush). */
  turns: number;
  packetsIn: number;
  packetsOut: number;
  timerFires: number;
  /** Exceptions thrown by the core on input (the packet is dropped, the driver keeps running). */
  coreErrors: number;
}

export class Driver {
  readonly counters: DriverCounters = { turns: 0, packetsIn: 0, packetsOut: 0, timerFires: 0, coreErrors: 0 };
  /** Set by the owner (the API) to receive application events, in order. */
  onEvents: ((events: CoreEvent[]) => void) | undefined;
  /** Called on every packet in and out (capture); undefined when off. */
  tap: PacketTap | undefined;
  /** Half-open limit in front of the core (undefined: none). */
  guard: SynGuard | undefined;
  /** Called when the core throws; the default logs nothing. */
  onCoreError: ((err: unknown) => void) | undefined;

  private inbox: Packet[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** Absolute time (performance.now() ms) the timer is armed for; Infinity when none. */
  private armedAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly boundTurn = () => this.turn();
  private readonly boundFire = this.fire.bind(this);

  constructor(
    readonly core: NetCore,
    private phy: PhySink,
  ) {}

  now(): number {
    return performance.now();
  }

  setPhy(phy: PhySink): void {
    this.phy = phy;
  }

  /** A packet arrived (called by the phy, once per datagram). */
  receive(packet: Packet): void {
    if (this.stopped) return;
    this.inbox.push(packet);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.boundTurn);
    }
  }

  /** The phy says src -> dst has no route: the core hears it now, its output goes in a turn. */
  unreachable(src: string, dst: string, code: UnreachableCode): void {
    if (this.stopped || !this.core.unreachable) return;
    try {
      this.core.unreachable(src, dst, code, performance.now());
    } catch (err) {
      this.counters.coreErrors++;
      this.onCoreError?.(err);
    }
    this.kick();
  }

  /** The host's routes changed: the core may try unroutable pairs again. */
  routesChanged(): void {
    if (this.stopped || !this.core.routesChanged) return;
    try {
      this.core.routesChanged(performance.now());
    } catch (err) {
      this.counters.coreErrors++;
      this.onCoreError?.(err);
    }
    this.kick();
  }

  /** Schedules a turn (after an application call changed the core's state). */
  kick(): void {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.boundTurn);
  }

  /** Runs a turn now, synchronously (used by tests and by close paths). */
  flushNow(): void {
    this.turn();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.inbox = [];
  }

  private fire(): void {
    const armedAt = this.armedAt;
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.counters.timerFires++;
    // Node's timers have 1 ms granularity on their own clock and may fire a hair before the
    // deadline by performance.now(); clamp so the due timers run now instead of re-arming for 0 ms.
    const now = performance.now();
    this.turn(armedAt > now && armedAt - now < 2 ? armedAt : now);
  }

  private turn(at?: number): void {
    this.scheduled = false;
    if (this.stopped) return;
    this.counters.turns++;
    const core = this.core;
    const now = at ?? performance.now();
    const inbox = this.inbox;
    if (inbox.length > 0) {
      this.inbox = [];
      const tap = this.tap;
      const guard = this.guard;
      for (let i = 0; i < inbox.length; i++) {
        const p = inbox[i]!;
        if (tap) tap(p, 'in', now);
        if (guard && !guard.admit(p, now)) continue;
        try {
          core.input(p, now);
        } catch (err) {
          this.counters.coreErrors++;
          this.onCoreError?.(err);
        }
      }
      this.counters.packetsIn += inbox.length;
    }
    try {
      core.advance(now);
    } catch (err) {
      this.counters.coreErrors++;
      this.onCoreError?.(err);
    }
    this.flush(now);
    this.arm();
  }

  /** Sends the core's output and dispatches its events. Events may call back into the core. */
  private flush(now: number): void {
    // Events first can cause more output (an app writing on 'connect'), so loop a bounded number
    // of times until the core is quiet.
    for (let round = 0; round < 8; round++) {
      const out = this.core.takeOutput();
      if (out.length > 0) {
        this.counters.packetsOut += out.length;
        const tap = this.tap;
        if (tap) for (let i = 0; i < out.length; i++) tap(out[i]!, 'out', now);
        this.phy.send(out);
      }
      const events = this.core.takeEvents();
      if (events.length === 0) return;
      this.onEvents?.(events);
      // The handlers may have written, consumed or closed: their kicks are absorbed here.
    }
    // Still busy after 8 rounds: continue on the next turn rather than starving I/O.
    this.kick();
  }

  private arm(): void {
    const deadline = this.core.nextDeadline();
    if (!Number.isFinite(deadline)) return;
    if (this.timer && deadline >= this.armedAt) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(0, deadline - performance.now());
    this.armedAt = deadline;
    // setTimeout's granularity is 1 ms; round up so it does not fire a hair early and spin.
    this.timer = setTimeout(this.boundFire, Math.ceil(delay));
  }
}
