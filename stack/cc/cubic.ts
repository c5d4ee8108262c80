/**
 * CUBIC (RFC 9438). Window in segments internally:
 *   W_cubic(t) = C (t - K)^3 + W_max,  K = cbrt((W_max - cwnd_epoch) / C)
 * with C = 0.4, β = 0.7, the Reno-friendly estimate W_est (α = 3(1-β)/(1+β) until W_est reaches
 * W_max, then 1), and fast convergence. No HyStart.
 */
import { type AckSample, type CcInit, LossBasedCc } from './types';

export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
const ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

export interface CubicOptions {
  fastConvergence?: boolean;
  /** Leave slow start when the RTT rises (HyStart's delay increase, RFC 9406 §4.2). Default true. */
  hystart?: boolean;
}

/** RFC 9406 constants. */
const HS_MIN_SSTHRESH_SEGS = 16;
const HS_N_RTT_SAMPLE = 8;
const HS_MIN_ETA = 4;
const HS_MAX_ETA = 16;

export class Cubic extends LossBasedCc {
  readonly name: string = 'cubic';
  /** W_max in segments; 0 before the first congestion event. */
  wMax = 0;
  /** K in seconds for the current epoch. */
  k = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 when none. */
  epochStart = -1;
  cwndEpoch = 0;
  wEst = 0;
  private lastRttMs = 100;
  private readonly fastConvergence: boolean;
  private readonly hystart: boolean;
  // HyStart rounds, by time (one round ≈ one minimum RTT).
  private hsRoundEnd = -1;
  private hsLastMin = Number.POSITIVE_INFINITY;
  private hsCurMin = Number.POSITIVE_INFINITY;
  private hsSamples = 0;
  /** Set when HyStart ended slow start (for tests and reports). */
  hystartExit = false;

  constructor(init: CcInit, options: CubicOptions = {}) {
    super(init);
    this.fastConvergence = options.fastConvergence ?? true;
    this.hystart = options.hystart ?? true;
  }

  override onAck(s: AckSample): void {
    if (this.hystart && !s.inRecovery && this.cwnd < this.ssthresh && s.rttMs > 0) this.hystartSample(s);
    super.onAck(s);
  }

  private hystartSample(s: AckSample): void {
    if (s.now >= this.hsRoundEnd) {
      this.hsLastMin = this.hsCurMin;
      this.hsCurMin = Number.POSITIVE_INFINITY;
      this.hsSamples = 0;
      this.hsRoundEnd = s.now + (Number.isFinite(this.hsLastMin) ? this.hsLastMin : s.rttMs);
    }
    if (s.rttMs < this.hsCurMin) this.hsCurMin = s.rttMs;
    this.hsSamples++;
    if (
      this.hsSamples >= HS_N_RTT_SAMPLE &&
      Number.isFinite(this.hsLastMin) &&
      this.cwnd >= HS_MIN_SSTHRESH_SEGS * this.mss
    ) {
      const eta = Math.min(Math.max(this.hsLastMin / 8, HS_MIN_ETA), HS_MAX_ETA);
      if (this.hsCurMin >= this.hsLastMin + eta) {
        // Queue building: leave slow start before it overflows.
        this.ssthresh = this.cwnd;
        this.hystartExit = true;
        this.epochStart = -1;
      }
    }
  }

  /** W_cubic(t) for t in seconds since the epoch start, in segments. */
  wCubic(tSec: number): number {
    const d = tSec - this.k;
    return CUBIC_C * d * d * d + this.wMax;
  }

  protected reduceTo(_now: number, _flightSize: number): number {
    const w = this.cwnd / this.mss;
    // Fast convergence (RFC 9438 §4.7): release bandwidth when W_max keeps shrinking.
    if (this.fastConvergence && w < this.wMax) this.wMax = (w * (1 + CUBIC_BETA)) / 2;
    else this.wMax = w;
    this.epochStart = -1;
    return Math.floor(this.cwnd * CUBIC_BETA);
  }

  protected override onSlowStartExit(_now: number): void {
    this.epochStart = -1;
  }

  protected avoid(s: AckSample): void {
    if (s.rttMs > 0) this.lastRttMs = s.rttMs;
    else if (this.self && this.self.srttMs > 0) this.lastRttMs = this.self.srttMs;
    const mss = this.mss;
    let w = this.cwnd / mss;
    if (this.epochStart < 0) {
      this.epochStart = s.now;
      this.cwndEpoch = w;
      if (this.wMax <= w) {
        this.wMax = w;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - w) / CUBIC_C);
      }
      this.wEst = w;
    }
    const t = (s.now - this.epochStart) / 1000;
    const segs = s.ackedBytes / mss;
    let target = this.wCubic(t + this.lastRttMs / 1000);
    if (target < w) target = w;
    else if (target > 1.5 * w) target = 1.5 * w;
    this.wEst += ((this.wEst >= this.wMax ? 1 : ALPHA) * segs) / w;
    if (this.wCubic(t) < this.wEst) {
      // Reno-friendly region.
      if (this.wEst > w) w = this.wEst;
    } else {
      w += ((target - w) / w) * segs;
    }
    this.cwnd = Math.max(Math.floor(w * mss), mss);
  }
}

export function createCubic(init: CcInit): Cubic {
  return new Cubic(init);
}
