/**
 * BLEST, the blocking estimation scheduler (Ferlin, Alay, Mehani, Boreli: "BLEST: Blocking
 * estimation-based MPTCP scheduler for heterogeneous networks", IFIP Networking 2016), as
 * `net.mptcp.mptcp_sched_blest`.
 *
 * When the fastest subflow has no room and the scheduler would put the next segment on a slower
 * one, BLEST asks whether that segment would block the fast subflow by the connection-level
 * window: while the segment crosses the slow path (one slow RTT), the fast subflow could send
 *
 *   X = (cwnd_f + mss_f x (n - 1) / 2) x n   bytes,  n = rtt_s / rtt_f
 *
 * (its cwnd growing by about one segment per RTT in congestion avoidance). If X x LAMBDA does not
 * fit in the window left once the slow subflow's bytes in flight and this segment are counted,
 * the segment would hold the window's left edge while the fast path idles: skip the slow subflow
 * and wait for the fast one. LAMBDA scales the estimate; the paper adapts it, we keep it fixed
 * (deterministic, and the simulator tests show it suffices).
 */

export const BLEST_LAMBDA = 1;

/** What BLEST needs of a subflow. */
export interface BlestView {
  readonly srttMs: number;
  readonly cwnd: number;
  readonly mss: number;
  readonly bytesInFlight: number;
}

/** Bytes the fast subflow can send during one RTT of the slow one. */
export function fastBytesDuringSlowRtt(fast: BlestView, slow: BlestView): number {
  if (fast.srttMs <= 0 || slow.srttMs <= 0) return 0;
  const n = slow.srttMs / fast.srttMs;
  return (fast.cwnd + (fast.mss * Math.max(0, n - 1)) / 2) * n;
}

/**
 * True when sending one more segment on `slow` would block `fast` by the window: `windowBytes` is
 * the peer's connection-level receive window (from the data ACK point; Infinity when unknown).
 */
export function blestSkipsSlow(fast: BlestView, slow: BlestView, windowBytes: number): boolean {
  if (!Number.isFinite(windowBytes)) return false;
  const room = windowBytes - slow.bytesInFlight - slow.mss;
  return fastBytesDuringSlowRtt(fast, slow) * BLEST_LAMBDA > room;
}
