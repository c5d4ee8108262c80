/**
 * Aggregation: goodput of one bulk transfer over two tbf-shaped 50 Mbit/s paths (two namespaces,
 * two veth pairs, tbf on the egress of every end, MTU 1500, queue 100 ms at the rate), our stack
 * (two node agents, MPTCP over the UDP phy, fullmesh PM, LIA, MSS 1452) beside the kernel's MPTCP
 * (python3, IPPROTO_MPTCP, one subflow per path: a `subflow` endpoint on A's second address) over the same paths in the
 * same run. Goodput is the receiving application's bytes over the steady part of the transfer
 * (slow start left out).
 */
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { needs } from './lib/avail';
import { steadyMbps as steady, withAgentBed } from './lib/bed';
import { kernelTransfer, oursTransfer } from './lib/transfer';

const RATE = 50;

const mod: BenchModule = {
  name: 'aggregation',
  async available() {
    return needs({ kernelMptcp: true, tc: true });
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 5 : 8;
    const warm = options.quick ? 1.5 : 2;
    const paths = [
      { via: 'veth' as const, rateMbps: RATE },
      { via: 'veth' as const, rateMbps: RATE },
    ];
    return withAgentBed('agg', 233, paths, async ({ h, procs, start }) => {
      const a = await start(h.nsA, 'a');
      const b = await start(h.nsB, 'b');
      const ours: number[] = [];
      const kernel: number[] = [];
      let port = 7000;
      const dst = h.paths[0]!.b;
      // warm-up (JIT, ARP), not measured
      await oursTransfer(a, b, dst, { seconds: 1.5, port: port++, intervalMs: 0 });
      for (let i = 0; i < options.repetitions; i++) {
        const o = await oursTransfer(a, b, dst, { seconds, port: port++, intervalMs: 100 });
        ours.push(steady(o, warm, seconds));
        const k = await kernelTransfer(procs, h.nsA, h.nsB, dst, { seconds, port: port++, intervalMs: 100 });
        kernel.push(steady(k, warm, seconds));
      }
      return [
        {
          id: 'aggregation.goodput_2x50',
          title: `Goodput over two tbf-shaped ${RATE} Mbit/s paths (ideal: ${2 * RATE} Mbit/s less headers)`,
          ours: { label: 'our MPTCP (agents, UDP phy)', unit: 'Mbit/s', values: ours },
          baseline: { label: 'kernel MPTCP, 2 subflows, default offloads', unit: 'Mbit/s', values: kernel },
          higherIsBetter: true,
          note: `2 veth pairs, tbf ${RATE} Mbit/s each direction (queue 100 ms), MTU 1500; ${seconds} s transfers, goodput from ${warm} s on; ours MSS 1452 (UDP phy: MTU − IP/UDP/TCP headers) fullmesh LIA, kernel MPTCP its own MSS on the 1500 MTU`,
        },
      ];
    });
  },
};

export default mod;
