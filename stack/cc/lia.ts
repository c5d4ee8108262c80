/**
 * LIA, the Linked Increases Algorithm (RFC 6356), the coupled congestion control of MPTCP.
 *
 * Slow start, fast retransmit/recovery and the multiplicative decrease are those of regular TCP
 * (halving). In congestion avoidance, for each ACK on subflow i acknowledging bytes_acked:
 *
 *   cwnd_i += min(alpha * bytes_acked * MSS_i / cwnd_total, bytes_acked * MSS_i / cwnd_i)
 *
 *   alpha = cwnd_total * max_i(cwnd_i / rtt_i^2) / (sum_i cwnd_i / rtt_i)^2
 *
 * (RFC 6356 §3, with cwnd in bytes.) Subflows without an RTT sample, or not active, are left out
 * of the sums; a connection of one subflow therefore behaves exactly as Reno.
 *
 * Also the shared plumbing of the coupled algorithms (olia.ts, balia.ts): reading the group.
 */
import { registerCc } from './index';
import type { AckSample, CcGroup, CcInit, CcSubflowView } from './types';
import { LossBasedCc } from './types';

/** One subflow's figures as the coupled formulas use them (cwnd bytes, rtt ms). */
export interface CoupledPath {
  cwnd: number;
  rttMs: number;
  mss: number;
  /** True for the subflow the ACK is for. */
  self: boolean;
}

/**
 * The connection's subflows for a coupled formula. The group may or may not list `self`; either
 * way the result holds exactly one entry with self = true, carrying this algorithm's own cwnd.
 */
export function gatherPaths(
  self: CcSubflowView | undefined,
  group: CcGroup | undefined,
  ownCwnd: number,
  ownRttMs: number,
  ownMss: number,
  out: CoupledPath[],
): CoupledPath[] {
  out.length = 0;
  out.push({ cwnd: ownCwnd, rttMs: ownRttMs, mss: ownMss, self: true });
  if (!group) return out;
  for (const v of group.subflows()) {
    if (v === self || !v.active || v.srttMs <= 0 || v.cwnd <= 0) continue;
    out.push({ cwnd: v.cwnd, rttMs: v.srttMs, mss: v.mss, self: false });
  }
  return out;
}

/** RFC 6356 alpha over the given paths (cwnd bytes, rtt any unit). 1 for a single path. */
export function liaAlpha(paths: readonly CoupledPath[]): number {
  let total = 0;
  let best = 0;
  let sum = 0;
  for (const p of paths) {
    if (p.rttMs <= 0) continue;
    total += p.cwnd;
    const x = p.cwnd / (p.rttMs * p.rttMs);
    if (x > best) best = x;
    sum += p.cwnd / p.rttMs;
  }
  if (sum <= 0) return 1;
  return (total * best) / (sum * sum);
}

/** RFC 6356 per-ACK increase (bytes) of the subflow `selfCwnd`/`mss`. */
export function liaIncrease(
  alpha: number,
  ackedBytes: number,
  mss: number,
  selfCwnd: number,
  totalCwnd: number,
): number {
  return Math.min((alpha * ackedBytes * mss) / totalCwnd, (ackedBytes * mss) / selfCwnd);
}

/**
 * Base of the coupled algorithms: keeps its own RTT estimate when the TCB gives no self view,
 * and accumulates fractional increases (cwnd stays a whole number of bytes).
 */
export abstract class CoupledCc extends LossBasedCc {
  protected ownRttMs = 0;
  protected frac = 0;
  protected readonly paths: CoupledPath[] = [];

  constructor(init: CcInit) {
    super(init);
  }

  protected rtt(s: AckSample): number {
    if (this.self && this.self.srttMs > 0) this.ownRttMs = this.self.srttMs;
    else if (s.rttMs > 0)
      this.ownRttMs = this.ownRttMs > 0 ? 0.875 * this.ownRttMs + 0.125 * s.rttMs : s.rttMs;
    return this.ownRttMs;
  }

  protected collect(s: AckSample): CoupledPath[] {
    const rtt = this.rtt(s);
    return gatherPaths(this.self, this.group, this.cwnd, rtt > 0 ? rtt : 1, this.mss, this.paths);
  }

  protected grow(bytes: number): void {
    this.frac += bytes;
    if (this.frac >= 1) {
      const whole = Math.floor(this.frac);
      this.cwnd += whole;
      this.frac -= whole;
    } else if (this.frac <= -1) {
      const whole = Math.ceil(this.frac);
      this.cwnd = Math.max(this.mss, this.cwnd + whole);
      this.frac -= whole;
    }
  }
}

export class Lia extends CoupledCc {
  readonly name: string = 'lia';
  /** Last alpha computed (for reports and tests). */
  alpha = 1;

  protected reduceTo(_now: number, flightSize: number): number {
    this.frac = 0;
    return Math.floor(flightSize / 2);
  }

  protected avoid(s: AckSample): void {
    const paths = this.collect(s);
    let total = 0;
    for (const p of paths) total += p.cwnd;
    this.alpha = liaAlpha(paths);
    this.grow(liaIncrease(this.alpha, s.ackedBytes, this.mss, this.cwnd, total));
  }
}

export function createLia(init: CcInit): Lia {
  return new Lia(init);
}

registerCc('lia', createLia);
