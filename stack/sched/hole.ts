/**
 * Hole repair (`net.mptcp.mptcp_hole_reinject`): when the data-level left edge (the byte the
 * receiver waits for) sits on a much slower subflow and is late, send what that subflow holds
 * again on a faster one.
 *
 * A loss on the slow path (the demo's 3G: 2 Mbit/s, ~175-250 ms smoothed RTT) leaves a hole at the
 * data level that the slow subflow repairs a slow RTT after it notices (duplicate ACKs or SACKs
 * coming back over the slow path), and every byte after the lost segment on that subflow waits at
 * the receiver's subflow level too (subflow data reaches the connection in order). Meanwhile the
 * fast subflow's data piles up out of order and the application receives nothing: a stall of
 * ~300 ms per 3G loss, several a second with 2 % loss, which no window or queue rule prevents.
 *
 * The sender knows when it sent each range. The left edge's range, sent on the holder at `at`,
 * is late once `lateAfterMs` has passed with no data ACK for it: a data ACK comes back by the
 * fastest path, so on time it arrives within the holder's one-way delay plus the fast path's,
 * well before the holder's own duplicate ACKs could tell of a loss. Then everything the holder carries
 * and has not had repaired goes in the reinjection queue (about its bandwidth-delay product, which
 * the slow-path queue cap keeps small), and a faster subflow sends it in one fast one-way delay.
 * The holder's own retransmission still happens (subflow-level reliability); the receiver drops
 * the copy that comes second. Between paths of similar RTT the copy would come no sooner: the
 * rule applies only to a holder HOLE_SLOWER_FACTOR times slower than a usable other subflow.
 *
 * Linux's reinjection on a subflow's trouble (the out-of-tree MPTCP's on RTO, upstream's
 * `__mptcp_retrans` on the MPTCP-level timer) brought forward to the first sign of a hole.
 * Pure decisions; the connection applies them (stack/mptcp/conn.ts).
 */

/** The holder must be at least this many times slower (smoothed RTT) than the subflow repairing. */
export const HOLE_SLOWER_FACTOR = 2;

/** A data range sent on a subflow at `at` (ms) and not yet data-acked. */
export interface TxRange {
  start: number;
  end: number;
  at: number;
}

/** What the decision reads of a subflow. */
export interface HoleSubflow {
  readonly srttMs: number;
  /** Established, not stalled: can carry the copy. */
  readonly usable: boolean;
  /** Ranges sent on it and not yet data-acked, ascending. */
  readonly tx: readonly TxRange[];
  /** Data offset up to which its ranges were already sent again by this rule. */
  readonly repairedTo: number;
}

/**
 * Whether what `holder` carries should be sent again elsewhere now: it holds the left edge
 * `una` in a range not repaired yet, that range is late, and another usable subflow is much faster.
 */
export function holeNeedsRepair<S extends HoleSubflow>(
  holder: S,
  subflows: readonly S[],
  una: number,
  now: number,
): boolean {
  const first = holder.tx[0];
  if (first === undefined || first.start > una || una >= first.end) return false;
  if (holder.repairedTo > una || holder.srttMs <= 0) return false;
  let fast: S | undefined;
  for (const s of subflows) {
    if (s === holder || !s.usable || s.srttMs <= 0) continue;
    if (!fast || s.srttMs < fast.srttMs) fast = s;
  }
  if (!fast || holder.srttMs <= HOLE_SLOWER_FACTOR * fast.srttMs) return false;
  return now - first.at >= lateAfterMs(holder.srttMs, fast.srttMs);
}

/**
 * How long after its send the left edge's data ACK is late: the holder's one-way delay (half its
 * smoothed RTT) and the fast path's way back (half the fast RTT), plus the fast path's other half
 * as margin (jitter, delayed ACKs). With the holder at least twice as slow this is below the
 * holder's RTT: the repair starts before the holder's own duplicate ACKs could tell of a loss.
 */
export function lateAfterMs(holderSrttMs: number, fastSrttMs: number): number {
  return holderSrttMs / 2 + fastSrttMs;
}

/** Ranges of one send burst merge into one entry while this close in time (ms). */
export const TX_MERGE_MS = 10;
