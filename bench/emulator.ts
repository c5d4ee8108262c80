/**
 * The userspace link emulator (lab/emulator) against a plain veth pair, measured in the same run:
 * - throughput of one emulated link with no shaping (kernel TCP via iperf3, 1500-byte MTU frames):
 *   Mbit/s of goodput beside a veth pair as a user gets it (default offloads: TSO/GSO/GRO on, so it
 *   moves up to 64 KB per packet), and beside a veth with those offloads off (1514-byte frames, as
 *   through the emulator's TAPs) as a second, labelled baseline;
 * - frames/s at the receiving interface, beside the veth with offloads off only: with offloads on a
 *   veth counts GSO super-packets, not frames, so only that veth gives a per-frame comparison;
 * - latency at low load: median RTT of ICMP echoes every 10 ms, kernel-timestamped (the emulator's
 *   added latency for the two crossings is the difference to the veth baseline);
 * - rate accuracy: TCP goodput under a 20 Mbit/s setting beside the kernel's tbf on a veth.
 * Target (issue 9): ≥ 200 Mbit/s with 1500-byte frames.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, stopEmulator } from '../lab/emulator/index';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { median } from './harness';

const PROBE = fileURLToPath(new URL('../test/integration/emulator/icmp-probe.py', import.meta.url));
const IP_A = '10.78.0.1';
const IP_B = '10.78.0.2';

interface Pair {
  a: string;
  b: string;
  close(): Promise<void>;
}

function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function namespaces(kind: string): [string, string] {
  const t = Math.random().toString(16).slice(2, 8);
  const a = `mplab-b${t}-${kind}a`;
  const b = `mplab-b${t}-${kind}b`;
  ip(['netns', 'add', a]);
  ip(['netns', 'add', b]);
  return [a, b];
}

function address(a: string, b: string): void {
  ip(['-n', a, '-batch', '-'], `link set lo up\naddr add ${IP_A}/24 dev eth1\n`);
  ip(['-n', b, '-batch', '-'], `link set lo up\naddr add ${IP_B}/24 dev eth1\n`);
}

/** A veth pair as a user gets it, or with TSO/GSO/GRO off (`offloadsOff`: 1514-byte frames). */
async function vethPair(rateMbps?: number, offloadsOff = false): Promise<Pair> {
  const [a, b] = namespaces('v');
  try {
    ip(['-n', a, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', b]);
    ip(['-n', a, 'link', 'set', 'eth1', 'up']);
    ip(['-n', b, 'link', 'set', 'eth1', 'up']);
    if (offloadsOff)
      for (const ns of [a, b])
        execFileSync(
          'ip',
          ['netns', 'exec', ns, 'ethtool', '-K', 'eth1', 'tso', 'off', 'gso', 'off', 'gro', 'off'],
          { stdio: 'ignore' },
        );
    address(a, b);
    if (rateMbps) {
      // The kernel's shaper as the baseline: tbf on each egress, 100 ms of queue.
      for (const ns of [a, b]) {
        execFileSync('tc', [
          '-n',
          ns,
          'qdisc',
          'add',
          'dev',
          'eth1',
          'root',
          'tbf',
          'rate',
          `${rateMbps}mbit`,
          'burst',
          '15k',
          'latency',
          '100ms',
        ]);
      }
    }
  } catch (e) {
    ip(['netns', 'del', a]);
    ip(['netns', 'del', b]);
    throw e;
  }
  return {
    a,
    b,
    close: async () => {
      ip(['netns', 'del', a]);
      ip(['netns', 'del', b]);
    },
  };
}

async function emulatedPair(rateMbps?: number): Promise<Pair> {
  const [a, b] = namespaces('e');
  const dir = mkdtempSync(join(tmpdir(), 'mplab-emu-bench-'));
  const cleanup = (): void => {
    ip(['netns', 'del', a]);
    ip(['netns', 'del', b]);
    rmSync(dir, { recursive: true, force: true });
  };
  let h: Awaited<ReturnType<typeof startEmulator>>;
  try {
    h = await startEmulator({
      lab: 'bench',
      stateDir: dir,
      links: [
        {
          id: 'l',
          a: { netns: a, ifname: 'eth1' },
          b: { netns: b, ifname: 'eth1' },
          ab: rateMbps ? { rateMbps } : {},
          ba: rateMbps ? { rateMbps } : {},
        },
      ],
    });
    address(a, b);
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    a,
    b,
    close: async () => {
      await stopEmulator(h);
      cleanup();
    },
  };
}

function rxPackets(ns: string): number {
  const j = JSON.parse(ip(['-n', ns, '-s', '-j', 'link', 'show', 'eth1'])) as {
    stats64: { rx: { packets: number } };
  }[];
  return j[0]!.stats64.rx.packets;
}

/** iperf3 TCP a → b for `seconds`: goodput Mbit/s and frames/s received by b's eth1. */
function throughput(p: Pair, seconds: number): { mbps: number; fps: number } {
  // Not daemonized: killed below even if the client fails, so no server outlives the run.
  const server = spawn('ip', ['netns', 'exec', p.b, 'iperf3', '-s', '-1', '-B', IP_B], { stdio: 'ignore' });
  try {
    execFileSync('sleep', ['0.3']);
    const rx0 = rxPackets(p.b);
    const t0 = performance.now();
    const out = execFileSync(
      'ip',
      ['netns', 'exec', p.a, 'iperf3', '-c', IP_B, '-t', String(seconds), '-J'],
      {
        encoding: 'utf8',
        timeout: (seconds + 20) * 1000,
      },
    );
    const el = (performance.now() - t0) / 1000;
    const rx = rxPackets(p.b) - rx0;
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return { mbps: j.end.sum_received.bits_per_second / 1e6, fps: rx / el };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

/** Median RTT (ms) of `count` ICMP echoes every 10 ms, kernel-timestamped (icmp-probe.py). */
function rtt(p: Pair, count: number): number {
  const out = execFileSync('ip', ['netns', 'exec', p.a, 'python3', PROBE, IP_B, String(count), '10'], {
    encoding: 'utf8',
  });
  // The first echo waits for ARP: leave it out.
  const r = (JSON.parse(out) as { rtt: (number | null)[] }).rtt.slice(1);
  return median(r.filter((x): x is number => x !== null));
}

function hasTool(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Side {
  mbps: number[];
  fps: number[];
  rtt: number[];
  shaped: number[];
}

const side = (): Side => ({ mbps: [], fps: [], rtt: [], shaped: [] });

const bench: BenchModule = {
  name: 'emulator',
  async available() {
    if (process.getuid?.() !== 0) return 'needs root (namespaces, TAP devices)';
    if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
    for (const tool of ['iperf3', 'python3']) if (!hasTool(tool)) return `${tool} not installed`;
    return true;
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 2 : 4;
    const probes = options.quick ? 100 : 300;
    // the offloads-off veth needs ethtool; without it that baseline (and frames/s) is left out
    const ethtool = hasTool('ethtool');
    const ours = side();
    const veth = side();
    const off = side();
    const measure = async (make: () => Promise<Pair>, into: Side, rtts: boolean) => {
      const p = await make();
      try {
        const t = throughput(p, seconds);
        into.mbps.push(t.mbps);
        into.fps.push(t.fps);
        if (rtts) into.rtt.push(rtt(p, probes));
      } finally {
        await p.close();
      }
    };
    const shaped = async (make: () => Promise<Pair>, into: Side) => {
      const p = await make();
      try {
        into.shaped.push(throughput(p, seconds + 1).mbps);
      } finally {
        await p.close();
      }
    };
    for (let i = 0; i < options.repetitions; i++) {
      await measure(() => emulatedPair(), ours, true);
      await measure(() => vethPair(), veth, true);
      if (ethtool) await measure(() => vethPair(undefined, true), off, false);
      // Rate accuracy: TCP goodput under a 20 Mbit/s setting, emulator vs the kernel's tbf.
      await shaped(() => emulatedPair(20), ours);
      await shaped(() => vethPair(20), veth);
    }
    const note =
      'one link, no shaping; kernel TCP (iperf3), MTU 1500; the emulator carries 1514-byte frames between two TAPs (data plane SCHED_FIFO 10); the veth baseline has its default offloads (TSO/GSO/GRO), the second baseline has them off';
    const EMU = 'userspace emulator (2 TAPs)';
    const figs: BenchFigure[] = [
      {
        id: 'emulator.throughput_mbps',
        title: 'TCP goodput through one emulated link, no shaping (target ≥ 200 Mbit/s)',
        ours: { label: EMU, unit: 'Mbit/s', values: ours.mbps },
        baseline: { label: 'veth pair, default offloads', unit: 'Mbit/s', values: veth.mbps },
        ...(ethtool
          ? { moreBaselines: [{ label: 'veth pair, offloads off', unit: 'Mbit/s', values: off.mbps }] }
          : {}),
        higherIsBetter: true,
        note: ethtool ? note : `${note} (not measured here: no ethtool)`,
      },
    ];
    if (ethtool)
      figs.push({
        id: 'emulator.frames_per_second',
        title: 'Frames per second received (data direction, 1514-byte frames)',
        ours: { label: EMU, unit: 'frames/s', values: ours.fps },
        baseline: { label: 'veth pair, offloads off (1514-byte frames)', unit: 'frames/s', values: off.fps },
        higherIsBetter: true,
        note: 'per-frame cost: the baseline is the veth with TSO/GSO/GRO off, since with its default offloads a veth counts GSO super-packets (up to 64 KB) rather than frames',
      });
    figs.push(
      {
        id: 'emulator.shaped_20mbit_goodput',
        title: 'TCP goodput with a 20 Mbit/s rate setting (closer to 20 is better)',
        ours: { label: 'emulator rateMbps: 20 (L3 bytes)', unit: 'Mbit/s', values: ours.shaped },
        baseline: { label: 'veth + tc tbf 20mbit (L2 bytes)', unit: 'Mbit/s', values: veth.shaped },
        higherIsBetter: true,
        note: 'the emulator counts IP bytes, tbf counts Ethernet frames: TCP goodput ceilings 19.3 vs 19.1 Mbit/s; veth with default offloads, tbf 15 kB burst, 100 ms latency',
      },
      {
        id: 'emulator.rtt_low_load_ms',
        title: 'Median RTT of ICMP echoes every 10 ms, kernel timestamps (added latency = difference)',
        ours: { label: EMU, unit: 'ms', values: ours.rtt },
        baseline: { label: 'veth pair, default offloads', unit: 'ms', values: veth.rtt },
        higherIsBetter: false,
        note: `${probes} echoes answered by the peer's kernel, replies timestamped by the kernel (SO_TIMESTAMPNS)`,
      },
    );
    return figs;
  },
};

export default bench;
