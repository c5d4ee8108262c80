/**
 * NewReno (RFC 5681 congestion avoidance, RFC 6582 recovery). Halves on loss:
 * ssthresh = max(FlightSize / 2, 2 SMSS); grows one SMSS per RTT in congestion avoidance.
 */
import { type AckSample, type CcInit, LossBasedCc } from './types';

export class Reno extends LossBasedCc {
  readonly name: string = 'reno';
  /** Bytes acked since the last one-MSS increase (RFC 5681 §3.1, byte counting). */
  private acc = 0;

  protected reduceTo(_now: number, flightSize: number): number {
    this.acc = 0;
    return Math.floor(flightSize / 2);
  }

  protected avoid(s: AckSample): void {
    this.acc += s.ackedBytes;
    while (this.acc >= this.cwnd) {
      this.acc -= this.cwnd;
      this.cwnd += this.mss;
    }
  }
}

export function createReno(init: CcInit): Reno {
  return new Reno(init);
}
