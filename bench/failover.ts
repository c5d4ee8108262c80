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
 * Ours (two node agents, fullmesh PM) beside the kernel's MPTCP (subflow endpoint) in the same run.
 * The path that goes down is the second one: both stacks' initial subflow rides the first.
 */
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { needs } from './lib/avail';
import { withAgentBed } from './lib/bed';
import { goodputMbps, longestGap, timeToReach } from './lib/series';
import type { Procs, TwoHosts } from './lib/topo';
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
      const hosts = h;
      const a = await start(h.nsA, 'a');
      const b = await start(h.nsB, 'b');
      const dst = h.paths[0]!.b;
      let port = 7100;
      // warm-up (JIT, ARP), not measured
      await oursTransfer(a, b, dst, { seconds: 1.5, port: port++, intervalMs: 0 });
      const ours: Outcome[] = [];
      const kernel: Outcome[] = [];
      for (let i = 0; i < options.repetitions; i++) {
        ours.push(await once(hosts, procs, (o) => oursTransfer(a, b, dst, o), t, port++));
        kernel.push(
          await once(hosts, procs, (o) => kernelTransfer(procs, hosts.nsA, hosts.nsB, dst, o), t, port++),
        );
      }
      const censored = (xs: Outcome[]) => xs.filter((x) => x.censored).length;
      const base = `2 veth pairs, tbf ${RATE} Mbit/s each direction, MTU 1500; ${t.pre + t.down + t.post} s transfer, path 2 down at ${t.pre} s for ${t.down} s (both ends, ip link set down); goodput sampled every ${STEP_MS} ms, 100 ms trailing window, threshold ${THRESHOLD} Mbit/s`;
      const cens = (() => {
        const o = censored(ours);
        const k = censored(kernel);
        return o + k === 0
          ? ''
          : `; path never carried data again within ${t.post} s in ${o} of ours and ${k} of the kernel's runs (counted as the time left: a lower bound)`;
      })();
      return [
        {
          id: 'failover.down_gap_s',
          title: 'Longest goodput gap (< 10% of the surviving path) after a path goes down',
          ours: { label: 'our MPTCP', unit: 's', values: ours.map((x) => x.downGap) },
          baseline: { label: 'kernel MPTCP', unit: 's', values: kernel.map((x) => x.downGap) },
          higherIsBetter: false,
          note: `${base}; 0 = never under the threshold (resolution ${STEP_MS} ms)`,
        },
        {
          id: 'failover.outage_goodput',
          title: `Goodput while the path is down (from 0.5 s after; one ${RATE} Mbit/s path left)`,
          ours: { label: 'our MPTCP', unit: 'Mbit/s', values: ours.map((x) => x.outage) },
          baseline: { label: 'kernel MPTCP', unit: 'Mbit/s', values: kernel.map((x) => x.outage) },
          higherIsBetter: true,
          note: base,
        },
        {
          id: 'failover.up_resume_s',
          title: 'Time from the path coming back until it carries data again (≥ 10% of its rate)',
          ours: { label: 'our MPTCP', unit: 's', values: ours.map((x) => x.resume) },
          baseline: { label: 'kernel MPTCP', unit: 's', values: kernel.map((x) => x.resume) },
          higherIsBetter: false,
          note: `${base}${cens}`,
        },
        {
          id: 'failover.up_gap_s',
          title: 'Longest goodput gap (< 10% of one path) after the path comes back',
          ours: { label: 'our MPTCP', unit: 's', values: ours.map((x) => x.upGap) },
          baseline: { label: 'kernel MPTCP', unit: 's', values: kernel.map((x) => x.upGap) },
          higherIsBetter: false,
          note: `${base}; 0 = never under the threshold`,
        },
      ];
    });
  },
};

export default mod;
