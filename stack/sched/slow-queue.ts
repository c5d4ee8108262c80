/**
 * The slow-path queue cap (`net.mptcp.mptcp_sched_slow_queue`): do not over-fill a subflow whose
 * queue only adds delay.
 *
 * A bufferbloated path (the demo's 3G: 2 Mbit/s behind a 50-packet queue, 300 ms of it) takes all
 * the cwnd a loss-based congestion control gives it and turns it into queueing delay. For a single
 * path that costs nothing but latency; under MPTCP every byte parked in that queue is a byte the
 * data level must wait for, so the fast path's data piles up behind it (head-of-line blocking), and
 * the slow path's slow-start overshoot into the full queue loses packets whose repair takes a
 * bloated RTT more. So a subflow that is not the connection's fastest keeps at most
 *
 *   cap = GAIN x deliveryRate x minRtt + HEADROOM segments   (at least MIN_SEGMENTS)
 *
 * in flight: about its bandwidth-delay product, which keeps its pipe full (the rate it delivers is
 * unchanged) while its queue stays a few packets long. The delivery rate is a windowed maximum of
 * acked bytes per round (as BBR's bandwidth filter); GAIN > 1 lets the estimate grow by a quarter
 * per round while the path is not yet full, which is this mechanism's slow start.
 * The fastest subflow (lowest minimum RTT) is never capped, nor is a subflow alone: a single path
 * behaves as plain TCP.
 */

/** Headroom over the measured bandwidth-delay product (and the growth per round while probing). */
export const SLOW_QUEUE_GAIN = 1.25;
/** Segments allowed beyond GAIN x BDP (ACK compression, delayed ACKs). */
export const SLOW_QUEUE_HEADROOM = 2;
/** The cap never goes below this many segments. */
export const SLOW_QUEUE_MIN_SEGMENTS = 4;
/** Rounds the bandwidth maximum looks back over. */
const RATE_ROUNDS = 6;

/**
 * Per-subflow delivery-rate and minimum-RTT estimator, fed from the subflow's cumulative ACKs.
 * Sans-I/O: the time comes in with each call. No allocation after construction.
 */
export class PathRate {
  /** Lowest smoothed RTT seen (ms); Infinity before the first sample. */
  minRttMs = Number.POSITIVE_INFINITY;
  /** Windowed maximum delivery rate, bytes per ms; 0 before one round completed. */
  rate = 0;
  private roundStart = -1;
  private roundBytes = 0;
  private readonly rounds = new Float64Array(RATE_ROUNDS);
  private next = 0;

  /** `bytes` were newly acked at `now`; `srttMs` is the subflow's smoothed RTT then. */
  onAcked(bytes: number, now: number, srttMs: number): void {
    if (srttMs > 0 && srttMs < this.minRttMs) this.minRttMs = srttMs;
    if (this.roundStart < 0) {
      // The first ACK opens the first round; its bytes left before it started.
      this.roundStart = now;
      return;
    }
    this.roundBytes += bytes;
    const len = now - this.roundStart;
    // A round lasts about one RTT (at least 10 ms, so a burst of ACKs is not taken for a rate).
    if (len < Math.max(10, srttMs > 0 ? srttMs : 100)) return;
    this.rounds[this.next] = this.roundBytes / len;
    this.next = (this.next + 1) % RATE_ROUNDS;
    let m = 0;
    for (let i = 0; i < RATE_ROUNDS; i++) if (this.rounds[i]! > m) m = this.rounds[i]!;
    this.rate = m;
    this.roundStart = now;
    this.roundBytes = 0;
  }
}

/** What the cap needs of a subflow. */
export interface QueueCapView {
  readonly mss: number;
  readonly bytesInFlight: number;
  readonly minRttMs?: number;
  readonly deliveryRate?: number;
}

/** Bytes in flight the cap allows on a slower subflow (Infinity while nothing is measured). */
export function slowQueueCap(s: QueueCapView): number {
  const rate = s.deliveryRate ?? 0;
  const rtt = s.minRttMs ?? Number.POSITIVE_INFINITY;
  if (!(rate > 0) || !Number.isFinite(rtt)) return Number.POSITIVE_INFINITY;
  return Math.max(
    SLOW_QUEUE_MIN_SEGMENTS * s.mss,
    SLOW_QUEUE_GAIN * rate * rtt + SLOW_QUEUE_HEADROOM * s.mss,
  );
}

/** True when one more segment on `s` would put it over its cap. */
export function overSlowQueueCap(s: QueueCapView): boolean {
  return s.bytesInFlight + s.mss > slowQueueCap(s);
}
