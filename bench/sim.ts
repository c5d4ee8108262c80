/**
 * Simulator speed.
 *
 * - sim.speedup_100mbit: simulated seconds per wall-clock second for one bulk transfer over a
 *   100 Mbit/s, 20 ms RTT link with the TCP engine (stack/tcp/host.ts, CUBIC by default); baseline
 *   real time (1 s per s), so the ratio is the speed-up.
 * - sim.packets_per_second: packets the simulator moves per wall-clock second in that transfer;
 *   baseline the packets per second the real 100 Mbit/s link carries in it.
 * - sim.speedup_100mbit_testcore: the same transfer with the WindowCore test transport, whose
 *   per-packet work is small: what the simulator itself allows.
 * - sim.link_path_pps: packets per second through the link path alone (ProbeCore stream over a
 *   rate-limited link with jitter and loss); baseline the bare event queue doing the three
 *   push+pop pairs a packet costs, so the ratio is the share of time spent in the heap.
 */
import type { NetCore } from '../stack/core/contract';
import { buildPair, type EventHandler, EventQueue, type HostInfo, startBulk } from '../stack/sim/index';
import { ProbeCore, WindowCore } from '../stack/sim/testcores';
import { TcpHost } from '../stack/tcp/host';
import type { BenchFigure, BenchModule } from './harness';

type Factory = (h: HostInfo) => NetCore;

/** The TCP engine, seeded from the simulator (ISN secret, ports). */
const tcpEngine: Factory = (h) =>
  new TcpHost({ addresses: h.addresses, isnSecret: h.rng.bytes(16), random: () => h.rng.nextU32() });

const testCore: Factory = () =>
  new WindowCore({ windowBytes: 256 * 1024, sendBufferBytes: 1 << 20, ackEvery: 2 });

function transfer(
  factory: Factory,
  bytes: number,
  copies: boolean,
): { simMs: number; wallMs: number; cpuMs: number; packets: number } {
  const { sim, a, b, link } = buildPair({ factory, rateMbps: 100, rttMs: 20, queueBytes: 400_000, seed: 1 });
  const x = startBulk(sim, { client: a, server: b, bytes, verify: false, reuseBuffer: copies });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  sim.runWhile(() => !x.done, 600_000);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (!x.ok) throw new Error('bench transfer did not complete');
  const packets = link.ab.counters.sentPackets + link.ba.counters.sentPackets;
  return { simMs: sim.now - x.startAt, wallMs, cpuMs: (c.user + c.system) / 1000, packets };
}

function linkPath(count: number): number {
  const p = buildPair({
    factory: () => new ProbeCore({ record: false }),
    rateMbps: 1000,
    delayMs: 5,
    jitterMs: 1,
    loss: 0.01,
    queueBytes: 1e6,
  });
  const pa = p.a.core as ProbeCore;
  pa.stream({ src: p.addrA, dst: p.addrB, length: 1000, intervalMs: 0.01, count }, 0);
  p.a.pump();
  const t0 = performance.now();
  p.sim.run();
  const wall = performance.now() - t0;
  const got = (p.b.core as ProbeCore).receivedCount;
  if (got < count * 0.95) throw new Error(`link path: only ${got} of ${count} packets arrived`);
  return (count / wall) * 1000;
}

function bareQueue(count: number): number {
  const q = new EventQueue();
  const h: EventHandler = { handle: () => {} };
  // steady state of ~500 pending events, as in a transfer
  for (let i = 0; i < 500; i++) q.push(i * 0.01, h, 0, 0, null);
  const t0 = performance.now();
  let t = 5;
  for (let i = 0; i < count; i++) {
    const ev = q.pop()!;
    q.release(ev);
    q.push((t += 0.01), h, 0, 0, null);
  }
  const wall = performance.now() - t0;
  // a packet over one link costs three events (sender timer, end of transmission, arrival)
  return (count / wall / 3) * 1000;
}

const mod: BenchModule = {
  name: 'sim',
  async available() {
    return true;
  },
  async run({ quick, repetitions }) {
    const bytes = quick ? 20e6 : 50e6;
    // Warm-up (JIT): two transfers, not one. V8 re-optimizes much of the hot path when a second
    // simulator's objects arrive (new maps, new call targets), so a single warm-up leaves the first
    // measured repetition running at half speed in code that is being recompiled.
    transfer(tcpEngine, 5e6, true);
    transfer(tcpEngine, 5e6, true);
    const speed: number[] = [];
    const speedCpu: number[] = [];
    const pps: number[] = [];
    const realPps: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      const r = transfer(tcpEngine, bytes, true);
      speed.push(r.simMs / r.wallMs);
      speedCpu.push(r.simMs / r.cpuMs);
      pps.push((r.packets / r.wallMs) * 1000);
      realPps.push((r.packets / r.simMs) * 1000);
    }
    transfer(testCore, 5e6, false);
    transfer(testCore, 5e6, false);
    const speedTest: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      const r = transfer(testCore, bytes, false);
      speedTest.push(r.simMs / r.wallMs);
    }
    const n = quick ? 200_000 : 500_000;
    linkPath(20_000);
    bareQueue(100_000);
    const lp: number[] = [];
    const bq: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      lp.push(linkPath(n));
      bq.push(bareQueue(n));
    }
    const figures: BenchFigure[] = [
      {
        id: 'sim.speedup_100mbit',
        title: 'simulated seconds per wall-clock second, one 100 Mbit/s TCP transfer',
        ours: { label: 'simulator + TCP engine', unit: 'sim s/s', values: speed },
        baseline: { label: 'real time', unit: 'sim s/s', values: speed.map(() => 1) },
        higherIsBetter: true,
        note: `${bytes / 1e6} MB, 20 ms RTT, 400 kB queue, TcpHost defaults (checksums on); payload generated, not hashed; after two 5 MB warm-up transfers`,
      },
      {
        id: 'sim.speedup_100mbit_cpu',
        title: 'the same, per second of process CPU time (robust to a loaded machine)',
        ours: { label: 'simulator + TCP engine', unit: 'sim s/cpu s', values: speedCpu },
        baseline: { label: 'real time', unit: 'sim s/s', values: speedCpu.map(() => 1) },
        higherIsBetter: true,
        note: 'user + system time of the process, GC threads included',
      },
      {
        id: 'sim.packets_per_second',
        title: 'packets simulated per wall-clock second in that transfer (both directions)',
        ours: { label: 'simulator + TCP engine', unit: 'pkt/s', values: pps },
        baseline: { label: 'real 100 Mbit/s link', unit: 'pkt/s', values: realPps },
        higherIsBetter: true,
      },
      {
        id: 'sim.speedup_100mbit_testcore',
        title: 'the same transfer over the WindowCore test transport (light per-packet work)',
        ours: { label: 'simulator + WindowCore', unit: 'sim s/s', values: speedTest },
        baseline: { label: 'real time', unit: 'sim s/s', values: speedTest.map(() => 1) },
        higherIsBetter: true,
        note: '256 KiB window, ACK every 2nd packet',
      },
      {
        id: 'sim.link_path_pps',
        title: 'packets per second through one link (1 Gbit/s, jitter, 1% loss), no transport',
        ours: { label: 'link path', unit: 'pkt/s', values: lp },
        baseline: { label: 'bare event queue, 3 push+pop per packet', unit: 'pkt/s', values: bq },
        higherIsBetter: true,
        note: 'each packet: pump, enqueue, transmit event, loss and jitter draws, arrival event, receive',
      },
    ];
    return figures;
  },
};

export default mod;
