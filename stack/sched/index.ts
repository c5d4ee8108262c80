/**
 * Packet schedulers: which subflow carries the next chunk of the shared send buffer. Scheduling
 * happens when a segment is about to be sent (the design's "scheduled at send time"), so it follows
 * path changes: the connection asks `pick` each time a subflow wants new data.
 *
 * - default: the subflow with the lowest smoothed RTT among those with room in their cwnd; backup
 *   subflows only when no non-backup subflow is usable at all. Against head-of-line blocking
 *   behind a slow path it applies, each switched by its knob (see `SchedPolicy`):
 *   the slow-path queue cap (slow-queue.ts), BLEST (blest.ts) and the ECF wait rule
 *   (`worthSlower`, always on); opportunistic retransmission is the connection's (opportunistic.ts).
 * - roundrobin: usable subflows with room in turn, one chunk each.
 * - redundant: every usable subflow sends every byte (each with its own cursor); `pick` gives the
 *   lowest-RTT one for data that must go on one path only (reinjections).
 */

import { blestSkipsSlow } from './blest';
import { overSlowQueueCap } from './slow-queue';

export type SchedulerName = 'default' | 'roundrobin' | 'redundant';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['default', 'roundrobin', 'redundant'];

/** What a scheduler sees of one subflow. */
export interface SchedSubflow {
  /** Path index (unique within the connection). */
  readonly id: number;
  /** Smoothed RTT in ms; 0 = no sample yet. */
  readonly srttMs: number;
  readonly cwnd: number;
  readonly bytesInFlight: number;
  readonly mss: number;
  /** Backup flag (ours or the peer's MP_PRIO). */
  readonly backup: boolean;
  /** Established, not failing, allowed to carry data. */
  readonly usable: boolean;
  /** Lowest RTT seen (ms); absent or Infinity when unknown. */
  readonly minRttMs?: number;
  /** Recent maximum delivery rate, bytes per ms; absent or 0 when unknown. */
  readonly deliveryRate?: number;
}

/** Which anti-head-of-line rules the default scheduler applies (the knobs). */
export interface SchedPolicy {
  /** net.mptcp.mptcp_sched_slow_queue: cap bytes in flight on slower subflows near their BDP. */
  slowQueue: boolean;
  /** net.mptcp.mptcp_sched_blest: skip a slower subflow when it would block the fast one. */
  blest: boolean;
}

/**
 * What the connection tells the scheduler besides the subflows. One object per connection,
 * reused: the scheduler writes `heldBy` so the caller can count what held a subflow back.
 */
export interface SchedContext {
  /** Bytes waiting to be sent. */
  queued: number;
  /** The peer's connection-level receive window from the data ACK point (Infinity: unknown). */
  windowBytes: number;
  policy: SchedPolicy;
  /** Out: why the last pick returned no subflow, or a slower one than it could have. */
  heldBy: 'none' | 'slow-queue' | 'blest' | 'ecf';
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** True: every subflow carries every byte. */
  readonly redundant: boolean;
  /**
   * The subflow that should carry the next chunk now, or undefined when none can (or when it is
   * better to wait). `queued` is the data waiting to be sent (bytes), when known.
   */
  pick(subflows: readonly SchedSubflow[], queued?: number, ctx?: SchedContext): SchedSubflow | undefined;
  /** A chunk went out on `id` (round robin moves on). */
  sent(id: number): void;
}

/** Room for at least one more segment in the congestion window. */
export function hasRoom(s: SchedSubflow): boolean {
  return s.cwnd - s.bytesInFlight >= Math.min(s.mss, s.cwnd);
}

/** Backup subflows count only when no regular subflow is usable. */
function onlyBackups(subflows: readonly SchedSubflow[]): boolean {
  for (const s of subflows) if (s.usable && !s.backup) return false;
  return true;
}

/** RTT used for ordering: unknown (0) sorts after every measured one. */
function rttKey(s: SchedSubflow): number {
  return s.srttMs > 0 ? s.srttMs : Number.MAX_VALUE;
}

function lowestRtt(
  subflows: readonly SchedSubflow[],
  needRoom: boolean,
  except?: SchedSubflow,
): SchedSubflow | undefined {
  const backups = onlyBackups(subflows);
  let best: SchedSubflow | undefined;
  for (const s of subflows) {
    if (!s.usable || s.backup !== backups || (needRoom && !hasRoom(s))) continue;
    if (s !== except && except !== undefined && needRoom && clearlySlower(s, except) && overSlowQueueCap(s))
      continue;
    if (!best || rttKey(s) < rttKey(best) || (rttKey(s) === rttKey(best) && s.id < best.id)) best = s;
  }
  return best;
}

/**
 * Whether `s`'s path is slower than the fastest `f` by more than measurement noise: its minimum RTT
 * at least SLOWER_RATIO times and SLOWER_MS more. The cap exists for a path whose queue adds delay
 * the fast path does not have; two paths of the same RTT (a data centre's, loopback's) are peers, and
 * capping one of them would starve it (its delivery rate, measured under the cap, stays low).
 */
const SLOWER_RATIO = 1.5;
const SLOWER_MS = 5;
function clearlySlower(s: SchedSubflow, f: SchedSubflow): boolean {
  const rs = minRttKey(s);
  const rf = minRttKey(f);
  return rs >= SLOWER_RATIO * rf && rs - rf >= SLOWER_MS;
}

/** Minimum RTT for "which path is fast": queueing does not change it. */
function minRttKey(s: SchedSubflow): number {
  const m = s.minRttMs;
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : rttKey(s);
}

/** The usable subflow with the lowest minimum RTT: the one the slow-queue cap never applies to. */
function fastestPath(subflows: readonly SchedSubflow[]): SchedSubflow | undefined {
  const backups = onlyBackups(subflows);
  let best: SchedSubflow | undefined;
  for (const s of subflows) {
    if (!s.usable || s.backup !== backups) continue;
    if (!best || minRttKey(s) < minRttKey(best) || (minRttKey(s) === minRttKey(best) && s.id < best.id))
      best = s;
  }
  return best;
}

/**
 * Whether sending on the slower `s` beats waiting for the fastest `f` (which has no room): the
 * ECF rule (Lim et al., CoNEXT 2017) without its hysteresis. `f` drains `queued` bytes in about
 * (1 + queued / cwnd_f) of its RTTs; when that is sooner than one RTT of `s`, wait for `f`.
 */
export function worthSlower(f: SchedSubflow, s: SchedSubflow, queued: number): boolean {
  if (f.srttMs <= 0 || s.srttMs <= 0 || f.cwnd <= 0) return true;
  return (1 + queued / f.cwnd) * f.srttMs >= s.srttMs;
}

export class DefaultScheduler implements Scheduler {
  readonly name = 'default' as const;
  readonly redundant = false;
  pick(subflows: readonly SchedSubflow[], queued?: number, ctx?: SchedContext): SchedSubflow | undefined {
    if (ctx) ctx.heldBy = 'none';
    const capped = ctx?.policy.slowQueue ? fastestPath(subflows) : undefined;
    const best = lowestRtt(subflows, true, capped);
    if (ctx && capped && best !== lowestRtt(subflows, true)) ctx.heldBy = 'slow-queue';
    if (!best || queued === undefined) return best;
    const fastest = lowestRtt(subflows, false);
    if (!fastest || fastest === best || hasRoom(fastest)) return best;
    if (!worthSlower(fastest, best, queued)) {
      if (ctx) ctx.heldBy = 'ecf';
      return undefined;
    }
    if (ctx?.policy.blest && blestSkipsSlow(fastest, best, ctx.windowBytes)) {
      ctx.heldBy = 'blest';
      return undefined;
    }
    return best;
  }
  sent(_id: number): void {}
}

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'roundrobin' as const;
  readonly redundant = false;
  private last = -1;
  pick(subflows: readonly SchedSubflow[]): SchedSubflow | undefined {
    const backups = onlyBackups(subflows);
    let after: SchedSubflow | undefined;
    let first: SchedSubflow | undefined;
    for (const s of subflows) {
      if (!s.usable || s.backup !== backups || !hasRoom(s)) continue;
      if (!first || s.id < first.id) first = s;
      if (s.id > this.last && (!after || s.id < after.id)) after = s;
    }
    return after ?? first;
  }
  sent(id: number): void {
    this.last = id;
  }
}

export class RedundantScheduler implements Scheduler {
  readonly name = 'redundant' as const;
  readonly redundant = true;
  pick(subflows: readonly SchedSubflow[]): SchedSubflow | undefined {
    return lowestRtt(subflows, true);
  }
  sent(_id: number): void {}
}

export function createScheduler(name: string): Scheduler {
  switch (name) {
    case 'default':
      return new DefaultScheduler();
    case 'roundrobin':
      return new RoundRobinScheduler();
    case 'redundant':
      return new RedundantScheduler();
    default:
      throw new Error(`unknown scheduler '${name}' (known: ${SCHEDULER_NAMES.join(', ')})`);
  }
}
