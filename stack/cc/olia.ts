/**
 * OLIA, the Opportunistic Linked Increases Algorithm (Khalili, Gast, Popovic, Le Boudec,
 * "MPTCP is not Pareto-optimal", IEEE/ACM ToN 2013; draft-khalili-mptcp-congestion-control).
 *
 * Windows w in packets. For each ACK on path r (per acknowledged packet):
 *
 *   w_r += (w_r / rtt_r^2) / (sum_p w_p / rtt_p)^2 + alpha_r / w_r
 *
 * with M the paths of largest window, B the "best" paths (largest l_p / rtt_p^2, where l_p is the
 * larger of the bytes acked between the last two losses and since the last loss on p; TCP's rate
 * on a path goes as sqrt(l) / rtt, so this ranks paths by the rate TCP would get there):
 *   alpha_r =  1 / (|P| |B \ M|)  if r in B \ M (and B \ M is not empty)
 *   alpha_r = -1 / (|P| |M|)       if r in M and B \ M is not empty
 *   alpha_r =  0                   otherwise.
 * On loss, w_r is halved. A single path behaves as Reno.
 */
import { registerCc } from './index';
import { CoupledCc } from './lia';
import type { AckSample, CcGroup, CcInit, CcSubflowView } from './types';

/** One path's figures for OLIA (window in packets, rtt in ms, l in bytes). */
export interface OliaPath {
  w: number;
  rttMs: number;
  l: number;
}

/** alpha_r for every path (same order). */
export function oliaAlphas(paths: readonly OliaPath[]): number[] {
  const n = paths.length;
  const out = new Array<number>(n).fill(0);
  if (n < 2) return out;
  let maxW = 0;
  let bestQ = -1;
  for (const p of paths) {
    if (p.w > maxW) maxW = p.w;
    const q = p.l / (p.rttMs * p.rttMs);
    if (q > bestQ) bestQ = q;
  }
  const eps = 1e-9;
  const inM = paths.map((p) => p.w >= maxW * (1 - eps));
  const inB = paths.map((p) => p.l / (p.rttMs * p.rttMs) >= bestQ * (1 - eps));
  let bNotM = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (inB[i] && !inM[i]) bNotM++;
    if (inM[i]) m++;
  }
  if (bNotM === 0) return out;
  for (let i = 0; i < n; i++) {
    if (inB[i] && !inM[i]) out[i] = 1 / (n * bNotM);
    else if (inM[i]) out[i] = -1 / (n * m);
  }
  return out;
}

/** OLIA's per-packet increase (packets) of path `r`. */
export function oliaIncrease(paths: readonly OliaPath[], r: number, alphas: readonly number[]): number {
  const p = paths[r]!;
  let sum = 0;
  for (const q of paths) sum += q.w / q.rttMs;
  return p.w / (p.rttMs * p.rttMs) / (sum * sum) + alphas[r]! / p.w;
}

const peers = new WeakMap<CcGroup, Set<Olia>>();

export class Olia extends CoupledCc {
  readonly name: string = 'olia';
  /** Bytes acked between the last two losses (l1) and since the last loss (l2). */
  l1 = 0;
  l2 = 0;
  lastAlpha = 0;
  private readonly scratch: OliaPath[] = [];

  constructor(init: CcInit) {
    super(init);
    if (init.group) {
      let set = peers.get(init.group);
      if (!set) peers.set(init.group, (set = new Set()));
      set.add(this);
    }
  }

  get view(): CcSubflowView | undefined {
    return this.self;
  }

  private get active(): boolean {
    return this.self ? this.self.active : true;
  }

  override onAck(s: AckSample): void {
    this.l2 += s.ackedBytes;
    super.onAck(s);
  }

  protected reduceTo(_now: number, flightSize: number): number {
    this.l1 = this.l2;
    this.l2 = 0;
    this.frac = 0;
    return Math.floor(flightSize / 2);
  }

  protected avoid(s: AckSample): void {
    const rtt = this.rtt(s) || 1;
    const paths = this.scratch;
    paths.length = 0;
    paths.push({ w: this.cwnd / this.mss, rttMs: rtt, l: Math.max(this.l1, this.l2) });
    const set = this.group ? peers.get(this.group) : undefined;
    if (set) {
      for (const o of set) {
        // Skip peers no longer in use: inactive, or replaced on their subflow (live cc change).
        if (o === this || !o.active || (o.self && 'cc' in o.self && (o.self as { cc: unknown }).cc !== o))
          continue;
        const r = o.self && o.self.srttMs > 0 ? o.self.srttMs : o.ownRttMs;
        if (r <= 0) continue;
        paths.push({ w: o.cwnd / o.mss, rttMs: r, l: Math.max(o.l1, o.l2) });
      }
    }
    const alphas = oliaAlphas(paths);
    this.lastAlpha = alphas[0]!;
    const perPacket = oliaIncrease(paths, 0, alphas);
    // Per acknowledged packet, in packets -> bytes: (acked / mss) * perPacket * mss.
    this.grow(s.ackedBytes * perPacket);
  }
}

export function createOlia(init: CcInit): Olia {
  return new Olia(init);
}

registerCc('olia', createOlia);
