/**
 * The TUN phy's read path from Node: a python3 sender floods UDP packets (1000-byte payload) that
 * the kernel routes into a TUN device in a scratch namespace; the device is read by
 * stack/runtime/tun-device.ts (poll on a worker thread, then a synchronous drain of read(2) calls
 * through koffi). Figures: packets per second received over the flood, and process CPU per packet.
 *
 * Baseline, measured in the same run and the same way: the same flood sent to a Node dgram socket
 * on 127.0.0.1 (libuv's UDP receive path, which batches with recvmmsg), i.e. what Node's own
 * network I/O costs for the same number of packets.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { TunDevice } from '../stack/runtime/tun-device';
import { type BenchFigure, type BenchModule, type BenchOptions, repeat } from './harness';

const PACKETS = 150_000;
const SENDER = String.raw`
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
b = b'x' * 1000
for i in range(n):
    try:
        s.sendto(b, (host, port))
    except OSError:
        pass
`;

function sendFlood(netns: string | null, host: string, port: number, n: number): Promise<void> {
  const argv = ['python3', '-c', SENDER, host, String(port), String(n)];
  const p = netns ? spawn('ip', ['netns', 'exec', netns, ...argv]) : spawn(argv[0]!, argv.slice(1));
  return new Promise((resolve, reject) => {
    p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`sender exited ${c}`))));
  });
}

interface Run {
  pps: number;
  cpuUsPerPacket: number;
  received: number;
}

/** Counts packets from first to last; settles 300 ms after the sender is done. */
async function measure(
  start: (onPacket: (n: number) => void) => void,
  flood: () => Promise<void>,
  stop: () => Promise<void> | void,
): Promise<Run> {
  let received = 0;
  let first = 0;
  let last = 0;
  start((n) => {
    const t = performance.now();
    if (received === 0) first = t;
    received += n;
    last = t;
  });
  const cpu0 = process.cpuUsage();
  await flood();
  await new Promise((r) => setTimeout(r, 300));
  const cpu = process.cpuUsage(cpu0);
  await stop();
  const secs = Math.max(1e-6, (last - first) / 1000);
  return { pps: received / secs, cpuUsPerPacket: (cpu.user + cpu.system) / Math.max(1, received), received };
}

async function tunRun(ns: string): Promise<Run> {
  const dev = new TunDevice({ name: 'mpbench0', netns: ns });
  execFileSync('ip', ['-n', ns, '-batch', '-'], {
    input: 'link set mpbench0 up txqueuelen 10000\naddr add 10.99.0.1/24 dev mpbench0\n',
  });
  return measure(
    (on) => {
      dev.onPackets = (p) => on(p.length);
      dev.start();
    },
    () => sendFlood(ns, '10.99.0.2', 9, PACKETS),
    () => dev.close(),
  );
}

async function udpRun(): Promise<Run> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  return measure(
    (on) => s.on('message', () => on(1)),
    () => sendFlood(null, '127.0.0.1', port, PACKETS),
    () => new Promise<void>((r) => s.close(() => r())),
  );
}

const tunBench: BenchModule = {
  name: 'tun',
  async available() {
    if (process.getuid?.() !== 0) return 'needs root (network namespace, /dev/net/tun)';
    if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
    try {
      execFileSync('python3', ['-c', 'pass']);
    } catch {
      return 'needs python3 (the packet sender)';
    }
    return true;
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const ns = `mplab-bench-tun${randomBytes(2).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const reps = options.quick ? 1 : Math.max(3, options.repetitions);
      const tun: Run[] = [];
      const udp: Run[] = [];
      await repeat(reps, async () => {
        tun.push(await tunRun(ns));
        udp.push(await udpRun());
        return 0;
      });
      const note = `${PACKETS} packets of 1028 bytes (IPv4+UDP+1000) from a python3 sender; received ${tun
        .map((r) => r.received)
        .join('/')} (TUN) and ${udp.map((r) => r.received).join('/')} (UDP)`;
      return [
        {
          id: 'tun.read_packets_per_second',
          title: 'packets per second the TUN phy reads (poll on a worker + synchronous drain via koffi)',
          ours: { label: 'TUN device read', unit: 'packets/s', values: tun.map((r) => r.pps) },
          baseline: {
            label: 'Node dgram socket, same flood',
            unit: 'packets/s',
            values: udp.map((r) => r.pps),
          },
          higherIsBetter: true,
          note,
        },
        {
          id: 'tun.read_cpu_per_packet',
          title: 'process CPU per packet read (µs), TUN phy vs a Node UDP socket',
          ours: { label: 'TUN device read', unit: 'µs/packet', values: tun.map((r) => r.cpuUsPerPacket) },
          baseline: {
            label: 'Node dgram socket',
            unit: 'µs/packet',
            values: udp.map((r) => r.cpuUsPerPacket),
          },
          higherIsBetter: false,
          note: 'CPU of the whole bench process over the flood (the sender is another process); the packet rates above are bounded by the one python3 sender, this figure is what the reader costs',
        },
      ];
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  },
};

export default tunBench;
