/**
 * The live-CD demo's figures from a run's timeline, the same for our stack and the kernel's MPTCP
 * (`mplab demo --compare kernel` puts both in one table):
 *
 * - goodput: the run's application goodput (RunResult.goodputMbps);
 * - stall: an interval whose application goodput is below `stallMbps` (default 10 % of the 3G
 *   link's rate: less than a tenth of what even the slow path alone carries);
 * - gap when WiFi goes: the stalled time in the contiguous run of stalled intervals that starts
 *   within the second after WiFi goes down (0 when the application never stalls there);
 * - time to use WiFi again: from WiFi's return to the end of the first interval in which the WiFi
 *   subflows carry at least `wifiMbps` (default 10 % of WiFi's rate); undefined when they never do;
 * - seconds of application stall: all stalled intervals between the start and the end of the
 *   sending window;
 * - per-second goodput: application Mbit/s over each whole second of the run.
 *
 * WiFi's subflows are those with the client's WiFi address at either end (path indices differ
 * between stacks, and a re-joined WiFi subflow gets a new one).
 */
import type { RunResult, TimelinePoint } from './result';

export interface DemoFigures {
  goodputMbps: number;
  gapSeconds: number;
  /** undefined: WiFi never carried data again within the run. */
  wifiBackSeconds: number | undefined;
  stallSeconds: number;
  perSecond: number[];
  /** The thresholds used: stall below this, WiFi in use from this (Mbit/s). */
  stallMbps: number;
  wifiMbps: number;
}

export interface DemoFigureOptions {
  /** The client's WiFi address. */
  wifiAddress: string;
  downAt: number;
  upAt: number;
  /** The sending window's end (the demo's duration), seconds. */
  duration: number;
  stallMbps: number;
  wifiMbps: number;
}

const addrOf = (ep: string) => ep.slice(0, ep.lastIndexOf(':'));

/** Path indices of the subflows with the WiFi address at one end. */
export function wifiPaths(r: Pick<RunResult, 'subflows'>, wifiAddress: string): Set<number> {
  return new Set(
    r.subflows
      .filter((s) => addrOf(s.local) === wifiAddress || addrOf(s.remote) === wifiAddress)
      .map((s) => s.pathIndex),
  );
}

/** Each timeline point with the start of its interval. */
function intervals(tl: readonly TimelinePoint[]): { t0: number; p: TimelinePoint }[] {
  let prev = 0;
  return tl.map((p) => {
    const o = { t0: prev, p };
    prev = p.t;
    return o;
  });
}

/** Application Mbit/s over each whole second [k, k+1) up to `seconds` (interval-weighted). */
export function perSecondGoodput(tl: readonly TimelinePoint[], seconds: number): number[] {
  const bits = new Array<number>(Math.ceil(seconds)).fill(0);
  for (const { t0, p } of intervals(tl)) {
    const dt = p.t - t0;
    if (dt <= 0) continue;
    // spread the interval's bits over the seconds it covers
    for (let k = Math.floor(t0); k < Math.min(bits.length, Math.ceil(p.t)); k++) {
      const overlap = Math.min(p.t, k + 1) - Math.max(t0, k);
      if (overlap > 0) bits[k]! += p.total * overlap;
    }
  }
  return bits.map((b) => Math.round(b * 1000) / 1000);
}

export function demoFigures(r: RunResult, o: DemoFigureOptions): DemoFigures {
  const wifi = wifiPaths(r, o.wifiAddress);
  const iv = intervals(r.timeline);
  const stalled = (p: TimelinePoint) => p.total < o.stallMbps;
  let stallSeconds = 0;
  for (const { t0, p } of iv)
    if (t0 < o.duration && stalled(p)) stallSeconds += Math.min(p.t, o.duration) - t0;
  let gapSeconds = 0;
  const first = iv.findIndex(({ t0, p }) => p.t > o.downAt && t0 < o.downAt + 1 && stalled(p));
  if (first >= 0)
    for (let i = first; i < iv.length && stalled(iv[i]!.p) && iv[i]!.t0 < o.upAt; i++)
      gapSeconds += iv[i]!.p.t - Math.max(iv[i]!.t0, o.downAt);
  let wifiBackSeconds: number | undefined;
  for (const { t0, p } of iv) {
    if (t0 < o.upAt) continue;
    const mbps = p.subflows.filter((s) => wifi.has(s.pathIndex)).reduce((a, s) => a + s.mbps, 0);
    if (mbps >= o.wifiMbps) {
      wifiBackSeconds = p.t - o.upAt;
      break;
    }
  }
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    goodputMbps: r.goodputMbps,
    gapSeconds: round(gapSeconds),
    wifiBackSeconds: wifiBackSeconds === undefined ? undefined : round(wifiBackSeconds),
    stallSeconds: round(stallSeconds),
    perSecond: perSecondGoodput(r.timeline, o.duration),
    stallMbps: o.stallMbps,
    wifiMbps: o.wifiMbps,
  };
}
