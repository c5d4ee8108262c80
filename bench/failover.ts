/**
 * Failover: one bulk transfer over two tbf-shaped 50 Mbit/s paths (the aggregation topology); after
 * a few seconds the second path's link goes down at both ends (like the lab's link-down event), and
 * later comes back up. Measured from the receiver, on one clock (CLOCK_MONOTONIC):
 * - down gap: the longest time, while the path is down, during which the receiving application's
 *   goodput over a trailing 100 ms window stays under 10% of the surviving path's rate (5 Mbit/s);
 * - resume: the time from the link coming back until the returning path carries data again (its
 *   receiving interface takes ≥ 5 Mbit/s over 100 ms);
 * - up gap: the longest such goodput gap after it comes back (the dip the return causes);
 * - outage goodput: the mean goodput while the path is down, from 0.5 s after it went.
 * The path that goes down is the second one: every stack's initial subflow rides the first.
 *
 * Ours: two node agents, fullmesh PM (the agent sees its interfaces change within its 200 ms poll,
 * drops the subflows of an address that went and joins new ones when it is back).
 * Baseline: the kernel's MPTCP configured as a user would for this scenario, i.e. with a path
 * manager that reacts to links: a `subflow` endpoint per extra address plus the mptcpd-like watcher
 * of bench/lib/pmwatch.ts (endpoint deleted when its link stops being usable, re-added when it is
 * usable again, so the kernel opens a new subflow on it). A second, labelled baseline is the kernel
 * with the same endpoint and no reaction at all (the endpoint stays; the old subflow's
 * retransmission timer finds the path back), the configuration the kernel has when nothing watches.
 */
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { needs } from './lib/avail';
import { withAgentBed } from './lib/bed';
import { type Reaction, watchEndpoints } from './lib/pmwatch';
import { goodputMbps, longestGap, timeToReach } from './lib/series';
import { ip, type Procs, type TwoHosts } from './lib/topo';
import {
  kernelTransfer,
  oursTransfer,
  startRxSampler,
  type TransferOptions,
  type TransferRun,
} from './lib/transfer';

const RATE = 50;
const THRESHOLD = RATE * 0.1;
const STEP_MS = 10;

interface Outcome {
  downGap: number;
  resume: number;
  /** True when the path never carried data again before the end (resume is then a lower bound). */
  censored: boolean;
  upGap: number;
  /** Goodput while the path is down, from 0.5 s after it went (the surviving path's share). */
  outage: number;
}

async function once(
  h: TwoHosts,
  procs: Procs,
  run: (opts: TransferOptions) => Promise<TransferRun>,
  t: { pre: number; down: number; post: number },
  port: number,
): Promise<Outcome> {
  const seconds = t.pre + t.down + t.post;
  const rx = await startRxSampler(procs, h.nsB, [h.paths[1]!.ifB], STEP_MS);
  let r: TransferRun;
  let path2: Awaited<ReturnType<typeof rx.stop>>;
  try {
    r = await run({
      seconds,
      port,
      intervalMs: STEP_MS,
      events: [
        { at: t.pre, name: 'down', run: () => h.setPath(1, false) },
        { at: t.pre + t.down, name: 'up', run: () => h.setPath(1, true) },
      ],
    });
  } finally {
    path2 = await rx.stop();
  }
  const down = r.events.down!;
  const up = r.events.up!;
  const end = r.t0 + seconds - 0.2;
  const resume = timeToReach(path2[0]!, up, end, THRESHOLD);
  return {
    downGap: longestGap(r.samples, down, up, THRESHOLD),
    resume: resume ?? end - up,
    censored: resume === undefined,
    upGap: longestGap(r.samples, up, end, THRESHOLD),
    outage: goodputMbps(r.samples, down + 0.5, up),
  };
}

/** Every kernel run starts with the second path's endpoint (id 2) in place, whatever ran before. */
function assertEndpoint(h: TwoHosts): void {
  const eps = ip(['-n', h.nsA, 'mptcp', 'endpoint', 'show']);
  if (!/\bid 2\b/.test(eps) || !eps.includes(h.paths[1]!.a))
    throw new Error(`the kernel's endpoint for path 2 is missing before a run: ${eps.trim() || '(none)'}`);
}

/** The kernel's transfer with the mptcpd-like watcher on A for the second path. */
function kernelWatched(
  h: TwoHosts,
  procs: Procs,
  reactions: Reaction[],
): (o: TransferOptions) => Promise<TransferRun> {
  return async (o) => {
    assertEndpoint(h);
    const p = h.paths[1]!;
    const w = await watchEndpoints(procs, h.nsA, [{ addr: p.a, ifname: p.ifA, id: 2, table: 101 }]);
    let r: TransferRun;
    try {
      r = await kernelTransfer(procs, h.nsA, h.nsB, h.paths[0]!.b, o);
    } finally {
      reactions.push(...(await w.stop()));
    }
    const bad = reactions.find((x) => x.error);
    if (bad) throw new Error(`the endpoint watcher failed on ${bad.ifname}: ${bad.error}`);
    return r;
  };
}

const ms = (xs: number[]) =>
  xs.length === 0 ? 'none' : `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} ms`;

const mod: BenchModule = {
  name: 'failover',
  async available() {
    return needs({ kernelMptcp: true, tc: true });
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const t = options.quick ? { pre: 2.5, down: 3, post: 4.5 } : { pre: 3, down: 4, post: 6 };
    const paths = [
      { via: 'veth' as const, rateMbps: RATE },
      { via: 'veth' as const, rateMbps: RATE },
    ];
    return withAgentBed('fo', 235, paths, async ({ h, procs, start }) => {
      const a = await start(h.nsA, 'a');
      const b = await start(h.nsB, 'b');
      const dst = h.paths[0]!.b;
      let port = 7100;
      // warm-up (JIT, ARP), not measured
      await oursTransfer(a, b, dst, { seconds: 1.5, port: port++, intervalMs: 0 });
      const ours: Outcome[] = [];
      const watched: Outcome[] = [];
      const bare: Outcome[] = [];
      const reactions: Reaction[] = [];
      for (let i = 0; i < options.repetitions; i++) {
        ours.push(await once(h, procs, (o) => oursTransfer(a, b, dst, o), t, port++));
        watched.push(await once(h, procs, kernelWatched(h, procs, reactions), t, port++));
        bare.push(await once(h, procs, (o) => kernelTransfer(procs, h.nsA, h.nsB, dst, o), t, port++));
      }
      const downs = reactions.filter((r) => !r.usable).map((r) => (r.done - r.seen) * 1000);
      const ups = reactions.filter((r) => r.usable).map((r) => (r.done - r.seen) * 1000);
      const base = `2 veth pairs, tbf ${RATE} Mbit/s each direction, MTU 1500; ${t.pre + t.down + t.post} s transfer, path 2 down at ${t.pre} s for ${t.down} s (both ends, ip link set down); goodput sampled every ${STEP_MS} ms, 100 ms trailing window, threshold ${THRESHOLD} Mbit/s; baseline: kernel MPTCP with a subflow endpoint per extra address and an mptcpd-like watcher (endpoint deleted on link loss in ${ms(downs)}, re-added with its route on link return in ${ms(ups)} from the event); second baseline: the same endpoint, no reaction`;
      const censored = (xs: Outcome[]) => xs.filter((x) => x.censored).length;
      const cens = (() => {
        const [o, k, n] = [censored(ours), censored(watched), censored(bare)];
        return o + k + n === 0
          ? ''
          : `; path never carried data again within ${t.post} s in ${o} of ours, ${k} of the watched kernel's and ${n} of the bare kernel's runs (counted as the time left: a lower bound)`;
      })();
      const three = (unit: string, pick: (x: Outcome) => number) => ({
        ours: { label: 'our MPTCP (fullmesh, 200 ms interface poll)', unit, values: ours.map(pick) },
        baseline: {
          label: 'kernel MPTCP + endpoint watcher (mptcpd-like)',
          unit,
          values: watched.map(pick),
        },
        moreBaselines: [
          { label: 'kernel MPTCP, static endpoint, no reaction', unit, values: bare.map(pick) },
        ],
      });
      return [
        {
          id: 'failover.down_gap_s',
          title: 'Longest goodput gap (< 10% of the surviving path) after a path goes down',
          ...three('s', (x) => x.downGap),
          higherIsBetter: false,
          note: `${base}; 0 = never under the threshold (resolution ${STEP_MS} ms)`,
        },
        {
          id: 'failover.outage_goodput',
          title: `Goodput while the path is down (from 0.5 s after; one ${RATE} Mbit/s path left)`,
          ...three('Mbit/s', (x) => x.outage),
          higherIsBetter: true,
          note: base,
        },
        {
          id: 'failover.up_resume_s',
          title: 'Time from the path coming back until it carries data again (≥ 10% of its rate)',
          ...three('s', (x) => x.resume),
          higherIsBetter: false,
          note: `${base}${cens}`,
        },
        {
          id: 'failover.up_gap_s',
          title: 'Longest goodput gap (< 10% of one path) after the path comes back',
          ...three('s', (x) => x.upGap),
          higherIsBetter: false,
          note: `${base}; 0 = never under the threshold`,
        },
      ];
    });
  },
};

export default mod;
