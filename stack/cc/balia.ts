/**
 * BALIA, the Balanced Linked Adaptation algorithm (Peng, Walid, Hwang, Low, "Multipath TCP:
 * Analysis, Design, and Implementation", IEEE/ACM ToN 2016).
 *
 * Windows w in packets, x_r = w_r / rtt_r, alpha_r = max_k x_k / x_r. For each ACK on path r
 * (per acknowledged packet):
 *
 *   w_r += x_r / (rtt_r (sum_k x_k)^2) * (1 + alpha_r) / 2 * (4 + alpha_r) / 5
 *
 * and on each loss on r:
 *
 *   w_r -= w_r / 2 * min(alpha_r, 1.5)
 *
 * A single path (alpha = 1) is Reno: +1/w per packet, halving on loss.
 */
import { registerCc } from './index';
import { CoupledCc } from './lia';
import type { AckSample, CcInit } from './types';

export interface BaliaPath {
  /** Window, packets. */
  w: number;
  rttMs: number;
}

export function baliaAlpha(paths: readonly BaliaPath[], r: number): number {
  let maxX = 0;
  for (const p of paths) maxX = Math.max(maxX, p.w / p.rttMs);
  const p = paths[r]!;
  return maxX / (p.w / p.rttMs);
}

/** Per-packet increase (packets) of path r. */
export function baliaIncrease(paths: readonly BaliaPath[], r: number): number {
  let sumX = 0;
  for (const p of paths) sumX += p.w / p.rttMs;
  const p = paths[r]!;
  const x = p.w / p.rttMs;
  const a = baliaAlpha(paths, r);
  return (x / (p.rttMs * sumX * sumX)) * ((1 + a) / 2) * ((4 + a) / 5);
}

/** Window after a loss on path r (packets). */
export function baliaDecrease(paths: readonly BaliaPath[], r: number): number {
  const p = paths[r]!;
  return p.w - (p.w / 2) * Math.min(baliaAlpha(paths, r), 1.5);
}

export class Balia extends CoupledCc {
  readonly name: string = 'balia';
  lastAlpha = 1;
  private readonly scratch: BaliaPath[] = [];

  private build(rttMs: number): BaliaPath[] {
    const out = this.scratch;
    out.length = 0;
    out.push({ w: this.cwnd / this.mss, rttMs: rttMs > 0 ? rttMs : 1 });
    if (this.group) {
      for (const v of this.group.subflows()) {
        if (v === this.self || !v.active || v.srttMs <= 0 || v.cwnd <= 0) continue;
        out.push({ w: v.cwnd / v.mss, rttMs: v.srttMs });
      }
    }
    return out;
  }

  protected reduceTo(_now: number, _flightSize: number): number {
    this.frac = 0;
    const rtt = this.self && this.self.srttMs > 0 ? this.self.srttMs : this.ownRttMs;
    const paths = this.build(rtt);
    this.lastAlpha = baliaAlpha(paths, 0);
    return Math.floor(baliaDecrease(paths, 0) * this.mss);
  }

  protected avoid(s: AckSample): void {
    const paths = this.build(this.rtt(s));
    this.lastAlpha = baliaAlpha(paths, 0);
    this.grow(s.ackedBytes * baliaIncrease(paths, 0));
  }
}

export function createBalia(init: CcInit): Balia {
  return new Balia(init);
}

registerCc('balia', createBalia);
