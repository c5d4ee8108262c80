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
import { createCore } from '../stack/runtime/core-factory';
import { Driver } from '../stack/runtime/driver';
import { TunDevice } from '../stack/runtime/tun-device';
import { TunPhy, tunMss } from '../stack/runtime/tun-phy';
import { Sysctl } from '../stack/sysctl';
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

// ---------------------------------------------------------------------------------------------
// Bulk transfer to the kernel's MPTCP over the TUN phy, beside the kernel's own MPTCP client.

const SINK = String.raw`
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1); print('ready', flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(262144)
    if not d: break
    n += len(d)
print(n, flush=True)
`;
const SOURCE = String.raw`
import socket, sys, time
b = b'x' * 65536; n = int(sys.argv[3]); t0 = time.monotonic()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((sys.argv[1], int(sys.argv[2])))
for i in range(n // 65536): s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(time.monotonic() - t0, flush=True)
`;
const BULK = 64 << 20;

function sinkIn(ns: string, port: number): Promise<{ ready: Promise<void>; done: Promise<number> }> {
  const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', SINK, String(port)]);
  let out = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('ready')) onReady();
  });
  const done = new Promise<number>((resolve, reject) =>
    p.on('exit', (c) =>
      c === 0 ? resolve(Number(out.split('\n')[1])) : reject(new Error(`sink exited ${c}`)),
    ),
  );
  return Promise.resolve({ ready, done });
}

/** Our stack (TUN phy in `ns`) sends BULK bytes to host:port; resolves with seconds (connect to closed). */
async function oursBulk(ns: string, local: string, host: string, port: number): Promise<number> {
  const sysctl = new Sysctl();
  const phy = new TunPhy({ netns: ns, addresses: [local], name: 'mpbench1' });
  const core = createCore({ sysctl, tcb: { mss: tunMss(1500, 4) } }).core;
  const driver = new Driver(core, phy);
  phy.onPacket = (p) => driver.receive(p);
  await phy.start();
  core.setAddresses([local], driver.now());
  const chunk = new Uint8Array(65536).fill(120);
  try {
    return await new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      let sent = 0;
      const conn = core.connect({ host, port, localAddress: local }, driver.now());
      const pump = () => {
        while (sent < BULK) {
          const n = core.write(conn, chunk.subarray(0, Math.min(chunk.length, BULK - sent)), driver.now());
          if (n <= 0) return;
          sent += n;
        }
        core.end(conn, driver.now());
      };
      driver.onEvents = (events) => {
        for (const e of events) {
          if (e.conn !== conn) continue;
          if (e.type === 'connected' || e.type === 'writable') pump();
          if (e.type === 'data') core.consumed(conn, e.data.length, driver.now());
          if (e.type === 'closed') {
            if (e.error) reject(new Error(e.error.message));
            else resolve((performance.now() - t0) / 1000);
          }
        }
        driver.kick();
      };
      driver.kick();
    });
  } finally {
    driver.stop();
    await phy.close();
  }
}

/** The kernel's client sends BULK bytes; resolves with the seconds it measured (connect to close). */
async function kernelBulk(ns: string, host: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', SOURCE, host, String(port), String(BULK)]);
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    p.on('exit', (c) => (c === 0 ? resolve(Number(out.trim())) : reject(new Error(`source exited ${c}`))));
  });
}

async function bulkFigure(reps: number): Promise<BenchFigure> {
  const t = randomBytes(2).toString('hex');
  const a = `mplab-bench-ta${t}`;
  const k = `mplab-bench-tk${t}`;
  execFileSync('ip', ['netns', 'add', a]);
  execFileSync('ip', ['netns', 'add', k]);
  try {
    execFileSync('ip', [
      'link',
      'add',
      `mpb${t}a`,
      'netns',
      a,
      'type',
      'veth',
      'peer',
      'name',
      `mpb${t}k`,
      'netns',
      k,
    ]);
    execFileSync('ip', ['-n', a, '-batch', '-'], {
      input: `link set lo up\naddr add 10.98.1.1/24 dev mpb${t}a\nlink set mpb${t}a up\n`,
    });
    execFileSync('ip', ['-n', k, '-batch', '-'], {
      input: `link set lo up\naddr add 10.98.1.2/24 dev mpb${t}k\nlink set mpb${t}k up\n`,
    });
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < reps; i++) {
      let s = await sinkIn(k, 5301);
      await s.ready;
      const secs = await oursBulk(a, '10.98.1.1', '10.98.1.2', 5301);
      if ((await s.done) !== BULK) throw new Error('ours: the kernel did not receive everything');
      ours.push((BULK * 8) / secs / 1e6);
      s = await sinkIn(k, 5301);
      await s.ready;
      const ks = await kernelBulk(a, '10.98.1.2', 5301);
      if ((await s.done) !== BULK) throw new Error('kernel: the sink did not receive everything');
      base.push((BULK * 8) / ks / 1e6);
    }
    return {
      id: 'tun.bulk_to_kernel_mbps',
      title:
        "bulk MPTCP transfer to the kernel's MPTCP over one veth: our stack (TUN phy) vs the kernel's own client",
      ours: { label: 'our stack, TUN phy, 1 subflow', unit: 'Mbit/s', values: ours },
      baseline: { label: 'kernel MPTCP client (python3 sendall)', unit: 'Mbit/s', values: base },
      higherIsBetter: true,
      note: `${BULK >> 20} MiB, unshaped veth, MSS 1460, same python3 MPTCP sink for both`,
    };
  } finally {
    execFileSync('ip', ['netns', 'del', a]);
    execFileSync('ip', ['netns', 'del', k]);
  }
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
      const bulk = await bulkFigure(options.quick ? 1 : Math.max(3, options.repetitions));
      return [
        bulk,
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
