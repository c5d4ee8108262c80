/**
 * Congestion control behind one interface. The TCP control block (stack/tcp/tcb.ts) owns loss
 * detection and recovery (RFC 6675 with SACK, RFC 6582 NewReno without); an algorithm only decides
 * cwnd and ssthresh from the events the TCB reports. All sizes are bytes, times ms.
 *
 * Coupled algorithms (LIA, OLIA, BALIA; the MPTCP layer's files) see every subflow of their
 * connection through a `CcGroup`: the factory receives the group and the subflow's own view.
 */

/** What an algorithm may read of one subflow (its own, or a sibling in the same connection). */
export interface CcSubflowView {
  readonly cwnd: number;
  readonly ssthresh: number;
  /** Smoothed RTT in ms; 0 before the first sample. */
  readonly srttMs: number;
  readonly mss: number;
  readonly bytesInFlight: number;
  readonly inRecovery: boolean;
  /** False while the subflow cannot carry data (handshake, closed, backup not in use). */
  readonly active: boolean;
}

/** The subflows of one connection, for coupled algorithms. Plain TCP has a group of one. */
export interface CcGroup {
  subflows(): Iterable<CcSubflowView>;
}

export interface CcInit {
  mss: number;
  /** RFC 6928-style initial window in segments; default 10. */
  initialWindowSegments?: number;
  /** This subflow, as the group sees it. */
  self?: CcSubflowView;
  group?: CcGroup;
}

/** Reported by the TCB on every ACK that acknowledges new data (cumulatively or by SACK). */
export interface AckSample {
  now: number;
  /** Bytes newly acknowledged by this ACK. */
  ackedBytes: number;
  /** An RTT sample in ms taken from this ACK, or -1 (Karn's rule, or no timestamps). */
  rttMs: number;
  /** Bytes in flight before the ACK was processed (to tell whether cwnd limited growth). */
  inflight: number;
  /** True while in fast recovery: no growth (RFC 6675 / RFC 6582). */
  inRecovery: boolean;
}

export interface CongestionControl {
  readonly name: string;
  readonly cwnd: number;
  readonly ssthresh: number;
  onAck(sample: AckSample): void;
  /**
   * Fast retransmit: loss detected by dup ACKs or SACK. `flightSize` is bytes outstanding.
   * With `sack` the TCB runs RFC 6675 and cwnd is set to ssthresh; without, NewReno inflates
   * (ssthresh + 3 MSS).
   */
  onEnterRecovery(now: number, flightSize: number, sack: boolean): void;
  /** NewReno only: a further duplicate ACK during recovery inflates cwnd by one MSS. */
  onDupAck(now: number): void;
  /** NewReno only (RFC 6582 §3.2 step 3): a partial ACK deflates by the amount acked. */
  onPartialAck(now: number, ackedBytes: number): void;
  /** Full ACK: recovery ends. */
  onExitRecovery(now: number, flightSize: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4, cwnd = 1 MSS). */
  onRto(now: number, flightSize: number): void;
  setMss(mss: number): void;
  /** Optional undo (spurious fast retransmit, RFC 3522): a copy of the state before a reduction… */
  snapshot?(): unknown;
  /** …and putting it back. */
  restore?(state: unknown): void;
}

export type CcFactory = (init: CcInit) => CongestionControl;

/**
 * Shared mechanics of loss-based algorithms: slow start, NewReno inflation and deflation, RTO.
 * Subclasses give the multiplicative decrease (`reduceTo`) and congestion-avoidance growth
 * (`avoid`), and may hook the events.
 */
export abstract class LossBasedCc implements CongestionControl {
  abstract readonly name: string;
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  mss: number;
  protected sackRecovery = false;
  protected readonly self: CcSubflowView | undefined;
  protected readonly group: CcGroup | undefined;

  constructor(init: CcInit) {
    this.mss = init.mss;
    this.cwnd = (init.initialWindowSegments ?? 10) * init.mss;
    this.self = init.self;
    this.group = init.group;
  }

  /** The ssthresh to use after a congestion event. */
  protected abstract reduceTo(now: number, flightSize: number): number;
  /** Congestion-avoidance growth for `acked` bytes. */
  protected abstract avoid(sample: AckSample): void;

  onAck(s: AckSample): void {
    if (s.inRecovery) return;
    // Grow only when cwnd is what limits sending (RFC 7661 / RFC 9438 §4.5 in spirit): an
    // application- or scheduler-limited flow must not inflate a window it does not use.
    const slowStart = this.cwnd < this.ssthresh;
    if (slowStart ? s.inflight * 2 < this.cwnd : s.inflight + 3 * this.mss < this.cwnd) return;
    if (slowStart) {
      // Slow start (RFC 5681 eq. 2, with appropriate byte counting limited to 2 MSS per ACK,
      // RFC 3465 L = 2).
      const inc = Math.min(s.ackedBytes, 2 * this.mss);
      this.cwnd += inc;
      if (this.cwnd > this.ssthresh) {
        // Leaving slow start: the remainder counts as congestion avoidance.
        this.cwnd = Math.max(this.ssthresh, this.mss);
        this.onSlowStartExit(s.now);
      }
      return;
    }
    this.avoid(s);
  }

  /** Called once when slow start ends without a loss (cwnd reached ssthresh). */
  protected onSlowStartExit(_now: number): void {}

  onEnterRecovery(now: number, flightSize: number, sack: boolean): void {
    this.ssthresh = Math.max(this.reduceTo(now, flightSize), 2 * this.mss);
    this.sackRecovery = sack;
    this.cwnd = sack ? this.ssthresh : this.ssthresh + 3 * this.mss;
  }

  onDupAck(_now: number): void {
    if (!this.sackRecovery) this.cwnd += this.mss;
  }

  onPartialAck(_now: number, ackedBytes: number): void {
    if (this.sackRecovery) return;
    this.cwnd = Math.max(this.cwnd - ackedBytes, this.mss);
    if (ackedBytes >= this.mss) this.cwnd += this.mss;
  }

  onExitRecovery(_now: number, flightSize: number): void {
    // RFC 6582 §3.2 step 3 (full ACK), option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
    this.cwnd = this.sackRecovery
      ? this.ssthresh
      : Math.min(this.ssthresh, Math.max(flightSize, this.mss) + this.mss);
    this.sackRecovery = false;
  }

  onRto(now: number, flightSize: number): void {
    this.ssthresh = Math.max(this.reduceTo(now, flightSize), 2 * this.mss);
    this.cwnd = this.mss;
    this.sackRecovery = false;
  }

  snapshot(): unknown {
    return { ...this };
  }

  restore(state: unknown): void {
    Object.assign(this, state as object);
  }

  setMss(mss: number): void {
    if (mss <= 0 || mss === this.mss) return;
    this.cwnd = Math.max(Math.round((this.cwnd / this.mss) * mss), mss);
    if (this.ssthresh !== Number.MAX_SAFE_INTEGER)
      this.ssthresh = Math.round((this.ssthresh / this.mss) * mss);
    this.mss = mss;
  }
}
