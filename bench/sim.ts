/**
 * Simulator speed, as the ratio of wall-clock times of the same run in the simulator and in the
 * real-time lab, both measured here in the same `npm run bench`:
 *
 * - sim.livecd_wall_s: the live-CD demo (topologies/ietf-livecd.yaml with its events: WiFi lost at
 *   10 s, back at 20 s), `mplab run server client` for 30 s of traffic. Ours: `simulateRun` (world
 *   built from the plan, the transfer, the timeline); baseline: `runTraffic` in a netns lab running
 *   our agents (the lab's up and down are not counted: only the run). The ratio is the speed-up.
 * - sim.two_host_wall_s: the same for topologies/two-host.yaml, a → b, 10 s (2 × 100 Mbit/s).
 * - sim.link_path_pps: packets per second through the link path alone (ProbeCore stream over a
 *   rate-limited link with jitter and loss); baseline the bare event queue doing the three
 *   push+pop pairs a packet costs, so the ratio is the share of time spent in the heap.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agentScript } from '../lab/agents';
import { Lab } from '../lab/lab';
import { runTraffic } from '../lab/run/index';
import type { RunSpec } from '../lab/run/spec';
import { simulateRun } from '../lab/sim/run';
import { loadTopology } from '../lab/topology/index';
import { buildPair, type EventHandler, EventQueue } from '../stack/sim/index';
import { ProbeCore } from '../stack/sim/testcores';
import type { BenchFigure, BenchModule } from './harness';

const topo = (f: string) => fileURLToPath(new URL(`../topologies/${f}`, import.meta.url));

interface Scenario {
  id: string;
  title: string;
  file: string;
  spec: Omit<RunSpec, 'events'>;
  /** Use the topology's own scenario events. */
  events: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    id: 'sim.livecd_wall_s',
    title: 'wall-clock seconds of the live-CD demo run (30 s, WiFi lost at 10 s and back at 20 s)',
    file: 'ietf-livecd.yaml',
    spec: { from: 'server', to: 'client', stack: 'ts', timeMs: 30_000 },
    events: true,
  },
  {
    id: 'sim.two_host_wall_s',
    title: 'wall-clock seconds of a 10 s two-host run (2 × 100 Mbit/s paths)',
    file: 'two-host.yaml',
    spec: { from: 'a', to: 'b', stack: 'ts', timeMs: 10_000 },
    events: false,
  },
];

async function simWall(s: Scenario, seed: number): Promise<number> {
  const model = await loadTopology(topo(s.file));
  const spec: RunSpec = { ...s.spec, events: s.events ? model.events : [] };
  const t0 = performance.now();
  const out = simulateRun(model, spec, { seed });
  const wall = (performance.now() - t0) / 1000;
  if (out.result.integrity !== 'ok') throw new Error(`${s.id}: simulated run: ${out.result.integrity}`);
  return wall;
}

async function labWall(s: Scenario, rep: number): Promise<number> {
  const model = await loadTopology(topo(s.file), { name: `bsim${process.pid % 10000}${rep}` });
  const spec: RunSpec = { ...s.spec, events: s.events ? model.events : [] };
  const lab = await Lab.up(model);
  try {
    const t0 = performance.now();
    const out = await runTraffic(lab, spec);
    const wall = (performance.now() - t0) / 1000;
    if (out.result.integrity !== 'ok') throw new Error(`${s.id}: lab run: ${out.result.integrity}`);
    return wall;
  } finally {
    await lab.down();
  }
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
    if (process.getuid?.() !== 0) return 'needs root (the real-time lab run is the baseline)';
    try {
      if (!existsSync(agentScript())) return 'needs dist/agent.js (npm run build)';
    } catch (e) {
      return `needs the agent bundle: ${(e as Error).message}`;
    }
    return true;
  },
  async run({ quick, repetitions }) {
    const figures: BenchFigure[] = [];
    const scenarios = quick ? SCENARIOS.slice(1) : SCENARIOS;
    for (const s of scenarios) {
      await simWall(s, 99); // warm-up (JIT), not counted
      const ours: number[] = [];
      const base: number[] = [];
      // alternate, so drift on a shared machine hits both alike
      for (let i = 0; i < repetitions; i++) {
        ours.push(await simWall(s, i + 1));
        base.push(await labWall(s, i));
      }
      figures.push({
        id: s.id,
        title: s.title,
        ours: { label: 'simulator (--sim)', unit: 's', values: ours },
        baseline: { label: 'netns lab, our agents, real time', unit: 's', values: base },
        higherIsBetter: false,
        note: `${s.file}: mplab run ${s.spec.from} ${s.spec.to} --time ${(s.spec.timeMs ?? 0) / 1000}s${s.events ? ' with the topology events' : ''}; lab: the run only (up and down not counted); sim: world built from the plan plus the run`,
      });
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
    figures.push({
      id: 'sim.link_path_pps',
      title: 'packets per second through one link (1 Gbit/s, jitter, 1% loss), no transport',
      ours: { label: 'link path', unit: 'pkt/s', values: lp },
      baseline: { label: 'bare event queue, 3 push+pop per packet', unit: 'pkt/s', values: bq },
      higherIsBetter: true,
      note: 'each packet: pump, enqueue, transmit event, loss and jitter draws, arrival event, receive',
    });
    return figures;
  },
};

export default mod;
