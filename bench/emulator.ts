/**
 * The userspace link emulator (lab/emulator) against a plain veth pair, measured in the same run:
 * - throughput of one emulated link with no shaping (kernel TCP via iperf3, 1500-byte MTU frames):
 *   Mbit/s of goodput and frames/s at the receiving interface;
 * - latency at low load: median RTT of ICMP echoes every 10 ms, kernel-timestamped (the emulator's
 *   added latency for the two crossings is the difference to the veth baseline).
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

async function vethPair(rateMbps?: number): Promise<Pair> {
  const [a, b] = namespaces('v');
  try {
    ip(['-n', a, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', b]);
    ip(['-n', a, 'link', 'set', 'eth1', 'up']);
    ip(['-n', b, 'link', 'set', 'eth1', 'up']);
    // 1500-byte frames on the wire, as through the TAPs: no segmentation offloads on the baseline.
    for (const ns of [a, b]) {
      execFileSync(
        'ip',
        ['netns', 'exec', ns, 'ethtool', '-K', 'eth1', 'tso', 'off', 'gso', 'off', 'gro', 'off'],
        {
          stdio: 'ignore',
        },
      );
    }
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

const bench: BenchModule = {
  name: 'emulator',
  async available() {
    if (process.getuid?.() !== 0) return 'needs root (namespaces, TAP devices)';
    if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
    for (const tool of ['iperf3', 'python3', 'ethtool']) {
      try {
        execFileSync(tool, ['--version'], { stdio: 'ignore' });
      } catch {
        return `${tool} not installed`;
      }
    }
    return true;
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 2 : 4;
    const probes = options.quick ? 100 : 300;
    const ours = { mbps: [] as number[], fps: [] as number[], rtt: [] as number[], shaped: [] as number[] };
    const base = { mbps: [] as number[], fps: [] as number[], rtt: [] as number[], shaped: [] as number[] };
    for (let i = 0; i < options.repetitions; i++) {
      for (const [make, into] of [
        [emulatedPair, ours],
        [vethPair, base],
      ] as const) {
        const p = await make();
        try {
          const t = throughput(p, seconds);
          into.mbps.push(t.mbps);
          into.fps.push(t.fps);
          into.rtt.push(rtt(p, probes));
        } finally {
          await p.close();
        }
      }
      // Rate accuracy: TCP goodput under a 20 Mbit/s setting, emulator vs the kernel's tbf.
      for (const [make, into] of [
        [emulatedPair, ours],
        [vethPair, base],
      ] as const) {
        const p = await make(20);
        try {
          into.shaped.push(throughput(p, seconds + 1).mbps);
        } finally {
          await p.close();
        }
      }
    }
    const note =
      'one link, no shaping; kernel TCP (iperf3), MTU 1500, veth with tso/gso/gro off so both carry 1514-byte frames; emulator data plane SCHED_FIFO 10';
    return [
      {
        id: 'emulator.throughput_mbps',
        title: 'TCP goodput through one emulated link, no shaping (target ≥ 200 Mbit/s)',
        ours: { label: 'userspace emulator (2 TAPs)', unit: 'Mbit/s', values: ours.mbps },
        baseline: { label: 'veth pair, offloads off', unit: 'Mbit/s', values: base.mbps },
        higherIsBetter: true,
        note,
      },
      {
        id: 'emulator.frames_per_second',
        title: 'Frames per second received (data direction, ~1514-byte frames)',
        ours: { label: 'userspace emulator (2 TAPs)', unit: 'frames/s', values: ours.fps },
        baseline: { label: 'veth pair, offloads off', unit: 'frames/s', values: base.fps },
        higherIsBetter: true,
        note,
      },
      {
        id: 'emulator.shaped_20mbit_goodput',
        title: 'TCP goodput with a 20 Mbit/s rate setting (closer to 20 is better)',
        ours: { label: 'emulator rateMbps: 20 (L3 bytes)', unit: 'Mbit/s', values: ours.shaped },
        baseline: { label: 'veth + tc tbf 20mbit (L2 bytes)', unit: 'Mbit/s', values: base.shaped },
        higherIsBetter: true,
        note: 'the emulator counts IP bytes, tbf counts Ethernet frames: TCP goodput ceilings 19.3 vs 19.1 Mbit/s',
      },
      {
        id: 'emulator.rtt_low_load_ms',
        title: 'Median RTT of ICMP echoes every 10 ms, kernel timestamps (added latency = difference)',
        ours: { label: 'userspace emulator (2 TAPs)', unit: 'ms', values: ours.rtt },
        baseline: { label: 'veth pair, offloads off', unit: 'ms', values: base.rtt },
        higherIsBetter: false,
        note: `${probes} echoes answered by the peer's kernel, replies timestamped by the kernel (SO_TIMESTAMPNS)`,
      },
    ];
  },
};

export default bench;
