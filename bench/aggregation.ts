/**
 * Aggregation: goodput of one bulk transfer over two tbf-shaped 50 Mbit/s paths (two namespaces,
 * two veth pairs, tbf on the egress of every end, MTU 1500, queue 100 ms at the rate), our stack
 * (two node agents, MPTCP over the UDP phy, fullmesh PM, LIA, MSS 1452) beside the kernel's MPTCP
 * (python3, IPPROTO_MPTCP, one subflow per path: a `subflow` endpoint on A's second address) over the same paths in the
 * same run. Goodput is the receiving application's bytes over the steady part of the transfer
 * (slow start left out).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { needs } from './lib/avail';
import { goodputMbps } from './lib/series';
import { onInterrupt, Procs, type TwoHosts, twoHosts } from './lib/topo';
import {
  type Agent,
  bundleAgent,
  kernelMptcp,
  kernelTransfer,
  oursTransfer,
  startAgent,
  stopAgent,
  type TransferRun,
} from './lib/transfer';

const RATE = 50;

function steady(r: TransferRun, warm: number, seconds: number): number {
  return goodputMbps(r.samples, r.t0 + warm, r.t0 + seconds);
}

const mod: BenchModule = {
  name: 'aggregation',
  async available() {
    return needs({ kernelMptcp: true, tc: true });
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 5 : 8;
    const warm = options.quick ? 1.5 : 2;
    const procs = new Procs();
    const agents: Agent[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'mplab-bench-agg-'));
    const unhook = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
    let h: TwoHosts | undefined;
    try {
      h = await twoHosts(233, [
        { via: 'veth', rateMbps: RATE },
        { via: 'veth', rateMbps: RATE },
      ]);
      kernelMptcp(
        h.nsA,
        h.nsB,
        h.paths.map((p) => p.a),
        h.paths.map((p) => p.ifA),
      );
      const js = await bundleAgent(dir);
      const a = await startAgent(procs, js, dir, h.nsA, 'a');
      agents.push(a);
      const b = await startAgent(procs, js, dir, h.nsB, 'b');
      agents.push(b);
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
          baseline: { label: 'kernel MPTCP, 2 subflows', unit: 'Mbit/s', values: kernel },
          higherIsBetter: true,
          note: `2 veth pairs, tbf ${RATE} Mbit/s each direction (queue 100 ms), MTU 1500; ${seconds} s transfers, goodput from ${warm} s on; ours MSS 1452 (UDP phy: MTU − IP/UDP/TCP headers) fullmesh LIA, kernel MPTCP its own MSS on the 1500 MTU`,
        },
      ];
    } finally {
      for (const a of agents) await stopAgent(a).catch(() => {});
      await procs.killAll();
      await h?.close();
      rmSync(dir, { recursive: true, force: true });
      unhook();
    }
  },
};

export default mod;
