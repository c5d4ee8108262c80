/**
 * Opportunistic retransmission and penalization (Raiciu et al., "How hard can it be? Designing and
 * implementing a deployable multipath TCP", NSDI 2012, §4.2; Linux's out-of-tree MPTCP
 * `mptcp_rcv_buf_optimization`), as `net.mptcp.mptcp_opportunistic_retrans`:
 *
 *   0  off;
 *   1  opportunistic retransmission: when the connection-level receive window blocks new data (or
 *      nothing new is left at the end of the stream) and the oldest unacked data sits on a much
 *      slower subflow, a faster subflow with room sends that data again instead of idling;
 *   2  (default) as 1, and the slow subflow holding the window is penalized: its cwnd halved (and
 *      ssthresh set to it), at most once per its RTT, so it stops taking more than its share of
 *      the window;
 *   3  as 2, and also when the send buffer is what blocks (every byte of it sent and it is full:
 *      the trigger Linux uses, for senders whose buffer is smaller than the peer's window).
 *
 * Pure decisions over the connection's send-buffer cursors and each subflow's sent ranges; the
 * connection applies them (stack/mptcp/conn.ts).
 */

export type OppLevel = 0 | 1 | 2 | 3;

/** A holder is "much slower" when its RTT is more than this many times the sender's. */
export const OPP_SLOWER_FACTOR = 2;

export interface OppRange {
  start: number;
  end: number;
}

export interface OppSubflow {
  readonly srttMs: number;
  readonly closed: boolean;
  /** Data ranges sent on it and not yet data-acked, ascending. */
  readonly tx: readonly OppRange[];
}

/** Send-buffer cursors (data offsets) and limits the decision reads. */
export interface OppBuffer {
  una: number;
  nxt: number;
  end: number;
  /** Offset the peer's window allows up to. */
  sendLimit: number;
  /** Offset of DATA_FIN, -1 before the application ended. */
  finOffset: number;
  /** Free bytes in the send buffer. */
  room: number;
}

export type OppTrigger = 'window' | 'tail' | 'sndbuf';

/** Why an opportunistic retransmission may happen now, or undefined. */
export function oppTrigger(level: OppLevel, b: OppBuffer): OppTrigger | undefined {
  if (level === 0) return undefined;
  if (b.nxt >= b.sendLimit && b.end > b.nxt) return 'window';
  if (b.nxt >= b.end && b.finOffset >= 0) return 'tail';
  if (level >= 3 && b.nxt >= b.end && b.room <= 0) return 'sndbuf';
  return undefined;
}

/**
 * The range `sf` should send again (at most `max` bytes from `from`, the oldest data not yet sent
 * again) and the subflow holding it, or undefined when the oldest data is not on a much slower one.
 */
export function oppPick<S extends OppSubflow>(
  sf: S,
  subflows: readonly S[],
  from: number,
  nxt: number,
  max: number,
): { range: OppRange; holder: S } | undefined {
  if (from >= nxt) return undefined;
  for (const s of subflows) {
    if (s === sf || s.closed) continue;
    for (const r of s.tx) {
      if (r.start > from) break;
      if (r.end <= from) continue;
      // Only when the holder is much slower (its copy arrives well after ours would).
      if ((s.srttMs || 0) <= OPP_SLOWER_FACTOR * (sf.srttMs || 0)) return undefined;
      return { range: { start: from, end: Math.min(r.end, from + max) }, holder: s };
    }
  }
  return undefined;
}

/** Whether the holder is penalized for this retransmission (level 2+, the window or buffer blocked). */
export function oppPenalizes(level: OppLevel, trigger: OppTrigger): boolean {
  return level >= 2 && trigger !== 'tail';
}

/** At most once per the holder's RTT (100 ms before it has one). */
export function oppPenaltyDue(lastAt: number, now: number, holderSrttMs: number): boolean {
  return now - lastAt >= (holderSrttMs || 100);
}
