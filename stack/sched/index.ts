/**
 * Packet schedulers: which subflow carries the next chunk of the shared send buffer. Scheduling
 * happens when a segment is about to be sent (the design's "scheduled at send time"), so it follows
 * path changes: the connection asks `pick` each time a subflow wants new data.
 *
 * - default: the subflow with the lowest smoothed RTT among those with room in their cwnd; backup
 *   subflows only when no non-backup subflow is usable at all.
 * - roundrobin: usable subflows with room in turn, one chunk each.
 * - redundant: every usable subflow sends every byte (each with its own cursor); `pick` gives the
 *   lowest-RTT one for data that must go on one path only (reinjections).
 */

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
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** True: every subflow carries every byte. */
  readonly redundant: boolean;
  /**
   * The subflow that should carry the next chunk now, or undefined when none can (or when it is
   * better to wait). `queued` is the data waiting to be sent (bytes), when known.
   */
  pick(subflows: readonly SchedSubflow[], queued?: number): SchedSubflow | undefined;
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

function lowestRtt(subflows: readonly SchedSubflow[], needRoom: boolean): SchedSubflow | undefined {
  const backups = onlyBackups(subflows);
  let best: SchedSubflow | undefined;
  for (const s of subflows) {
    if (!s.usable || s.backup !== backups || (needRoom && !hasRoom(s))) continue;
    if (!best || rttKey(s) < rttKey(best) || (rttKey(s) === rttKey(best) && s.id < best.id)) best = s;
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
  pick(subflows: readonly SchedSubflow[], queued?: number): SchedSubflow | undefined {
    const best = lowestRtt(subflows, true);
    if (!best || queued === undefined) return best;
    const fastest = lowestRtt(subflows, false);
    if (fastest && fastest !== best && !hasRoom(fastest) && !worthSlower(fastest, best, queued))
      return undefined;
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
