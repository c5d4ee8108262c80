/**
 * Heterogeneous paths: a WiFi-like path (20 Mbit/s, 20 ms RTT) and a 3G-like one (2 Mbit/s, 150 ms
 * RTT) between two namespaces, both through the userspace link emulator (lab/emulator: this kernel
 * has no sch_netem; rate and one-way delay set in each direction, default queue 100 ms at the rate).
 * Headline: our MPTCP over both paths beside the best single path, our stack over the 20 Mbit/s
 * path alone (a second agent pair restricted to that path's addresses), in the same run: a ratio
 * over 1 means the slow path adds goodput instead of dragging the fast one down. Second figure: our
 * MPTCP beside the kernel's MPTCP over the same two paths. Third and fourth: the same two with the
 * machine's other core busy (a spinning child process, started before and killed by its pid after
 * those transfers): MPTCP must not do worse than its best path alone when the CPU is contended
 * (issue 24), with the single-path and kernel baselines under the same load in the same run.
 */
import { spawn } from 'node:child_process';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { needs } from './lib/avail';
import { steadyMbps as steady, withAgentBed } from './lib/bed';
import { kernelTransfer, oursTransfer } from './lib/transfer';

const FAST = { rateMbps: 20, rttMs: 20 };
const SLOW = { rateMbps: 2, rttMs: 150 };

/** Runs `fn` with one core kept busy by a spinning child, killed (by its pid) afterwards. */
async function withBusyCore<T>(fn: () => Promise<T>): Promise<T> {
  const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    return await fn();
  } finally {
    burner.kill('SIGKILL');
  }
}

const mod: BenchModule = {
  name: 'heterogeneous',
  async available() {
    return needs({ kernelMptcp: true, tun: true });
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 8 : 12;
    const warm = options.quick ? 2.5 : 3;
    const paths = [
      { via: 'emulator' as const, rateMbps: FAST.rateMbps, delayMs: FAST.rttMs / 2 },
      { via: 'emulator' as const, rateMbps: SLOW.rateMbps, delayMs: SLOW.rttMs / 2 },
    ];
    return withAgentBed('het', 236, paths, async ({ h, procs, start }) => {
      const fast = h.paths[0]!;
      const a = await start(h.nsA, 'a');
      const b = await start(h.nsB, 'b');
      // the single-path pair: only the fast path's addresses, its own UDP port, no proxy
      const single = ['--udp-port', '8694', '--proxy-port', '0'];
      const a1 = await start(h.nsA, 'a1', ['--addresses', fast.a, ...single]);
      const b1 = await start(h.nsB, 'b1', ['--addresses', fast.b, ...single]);
      let port = 7200;
      // warm-up (JIT, ARP through the emulator), not measured
      await oursTransfer(a, b, fast.b, { seconds: 1.5, port: port++, intervalMs: 0 });
      await oursTransfer(a1, b1, fast.b, { seconds: 1.5, port: port++, intervalMs: 0 });
      const multi: number[] = [];
      const one: number[] = [];
      const kernel: number[] = [];
      const busy = { multi: [] as number[], one: [] as number[], kernel: [] as number[] };
      for (let i = 0; i < options.repetitions; i++) {
        const opts = () => ({ seconds, port: port++, intervalMs: 100 });
        multi.push(steady(await oursTransfer(a, b, fast.b, opts()), warm, seconds));
        one.push(steady(await oursTransfer(a1, b1, fast.b, opts()), warm, seconds));
        kernel.push(steady(await kernelTransfer(procs, h.nsA, h.nsB, fast.b, opts()), warm, seconds));
        await withBusyCore(async () => {
          busy.multi.push(steady(await oursTransfer(a, b, fast.b, opts()), warm, seconds));
          busy.one.push(steady(await oursTransfer(a1, b1, fast.b, opts()), warm, seconds));
          busy.kernel.push(steady(await kernelTransfer(procs, h.nsA, h.nsB, fast.b, opts()), warm, seconds));
        });
      }
      const note = `emulated links: ${FAST.rateMbps} Mbit/s ${FAST.rttMs} ms RTT + ${SLOW.rateMbps} Mbit/s ${SLOW.rttMs} ms RTT (rate and half the RTT each direction, queue 100 ms at the rate), MTU 1500; ${seconds} s transfers, goodput from ${warm} s on; ours MSS 1452 fullmesh LIA, default scheduler`;
      return [
        {
          id: 'heterogeneous.goodput_vs_best_path',
          title: `Our MPTCP over ${FAST.rateMbps} Mbit/s/${FAST.rttMs} ms + ${SLOW.rateMbps} Mbit/s/${SLOW.rttMs} ms beside our stack on the fast path alone`,
          ours: { label: 'our MPTCP, both paths', unit: 'Mbit/s', values: multi },
          baseline: { label: `our stack, ${FAST.rateMbps} Mbit/s path only`, unit: 'Mbit/s', values: one },
          higherIsBetter: true,
          note,
        },
        {
          id: 'heterogeneous.goodput_vs_kernel',
          title: 'Our MPTCP beside the kernel MPTCP over the same two heterogeneous paths',
          ours: { label: 'our MPTCP, both paths', unit: 'Mbit/s', values: multi },
          baseline: { label: 'kernel MPTCP, 2 subflows', unit: 'Mbit/s', values: kernel },
          higherIsBetter: true,
          note,
        },
        {
          id: 'heterogeneous.busy_goodput_vs_best_path',
          title:
            'The same with the other core busy: our MPTCP over both paths beside our stack on the fast path alone',
          ours: { label: 'our MPTCP, both paths, one core spinning', unit: 'Mbit/s', values: busy.multi },
          baseline: {
            label: `our stack, ${FAST.rateMbps} Mbit/s path only, one core spinning`,
            unit: 'Mbit/s',
            values: busy.one,
          },
          higherIsBetter: true,
          note: `${note}; a spinning node process keeps one core busy during these transfers`,
        },
        {
          id: 'heterogeneous.busy_goodput_vs_kernel',
          title: 'The same with the other core busy: our MPTCP beside the kernel MPTCP',
          ours: { label: 'our MPTCP, both paths, one core spinning', unit: 'Mbit/s', values: busy.multi },
          baseline: {
            label: 'kernel MPTCP, 2 subflows, one core spinning',
            unit: 'Mbit/s',
            values: busy.kernel,
          },
          higherIsBetter: true,
          note: `${note}; a spinning node process keeps one core busy during these transfers`,
        },
      ];
    });
  },
};

export default mod;
