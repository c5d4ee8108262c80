/**
 * The stack runtime for real: unshaped goodput and CPU seconds per GB between two namespaces joined
 * by two veth pairs (MTU 1500), our stack (two bundled agents, MPTCP over the UDP phy) beside the
 * Linux kernel's MPTCP over the same veths in the same run (python3, IPPROTO_MPTCP = 262, a subflow
 * endpoint on the second address, `ip mptcp limits set subflows 2`).
 *
 * Our stack runs twice: with the MSS derived from the MTU (1452: one segment per datagram, no IP
 * fragmentation) and with the shared-MSS knob net.mptcp.mptcp_mss = 8900 (each segment rides an
 * IP-fragmented datagram of 7 fragments: six times fewer datagrams and system calls per byte, the
 * lever a userspace stack has instead of GSO/GRO). CPU seconds count both agents (sender + receiver), user + system, from
 * /proc/<pid>/stat; the kernel's count both python processes' rusage (softirq work done in their
 * context included, so it is a lower bound for the kernel).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { repeat } from './harness';
import { ip, Procs } from './lib/topo';
import { bundleAgent, type Agent as LibAgent, startAgent as startLibAgent, stopAgent } from './lib/transfer';

const TAG = Math.random().toString(16).slice(2, 8);
const NS_A = `mplab-b${TAG}-a`;
const NS_B = `mplab-b${TAG}-b`;
const A1 = '10.231.1.1';
const B1 = '10.231.1.2';
const A2 = '10.231.2.1';
const B2 = '10.231.2.2';

function setupNetns(): void {
  ip(['netns', 'add', NS_A]);
  ip(['netns', 'add', NS_B]);
  ip(
    ['-batch', '-'],
    [
      `link add ra1${TAG} netns ${NS_A} type veth peer name rb1${TAG} netns ${NS_B}`,
      `link add ra2${TAG} netns ${NS_A} type veth peer name rb2${TAG} netns ${NS_B}`,
    ]
      .join('\n')
      .concat('\n'),
  );
  for (const [ns, side, x1, x2] of [
    [NS_A, 'a', A1, A2],
    [NS_B, 'b', B1, B2],
  ] as const) {
    const lines = [
      'link set lo up',
      `addr add ${x1}/24 dev r${side}1${TAG}`,
      `addr add ${x2}/24 dev r${side}2${TAG}`,
      `link set r${side}1${TAG} up`,
      `link set r${side}2${TAG} up`,
    ];
    ip(['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
  }
}

function teardown(): void {
  for (const ns of [NS_A, NS_B]) {
    try {
      ip(['netns', 'del', ns]);
    } catch {
      // gone
    }
  }
}

/** An agent and its process id (for its CPU time). */
interface Agent extends LibAgent {
  pid: number;
}

async function startAgent(procs: Procs, js: string, dir: string, ns: string, name: string): Promise<Agent> {
  const a = await startLibAgent(procs, js, dir, ns, name);
  return { ...a, pid: (await a.client.call('version')).pid };
}

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
}

interface Run {
  mbps: number;
  cpuPerGB: number;
}

async function oursOnce(a: Agent, b: Agent, seconds: number, port: number): Promise<Run> {
  const sink = await b.client.call('traffic.sink', { port, once: true, intervalMs: 0 });
  const c0 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
  const sent = await a.client.call(
    'traffic.send',
    { host: B1, port, durationMs: seconds * 1000, intervalMs: 0, wait: true },
    { timeoutMs: (seconds + 60) * 1000 },
  );
  if (sent.status?.state !== 'done') throw new Error(`transfer failed: ${JSON.stringify(sent.status)}`);
  let st = (await b.client.call('traffic.status', { id: sink.id })).jobs[0]!;
  for (let i = 0; i < 50 && !st.result; i++) {
    await new Promise((r) => setTimeout(r, 100));
    st = (await b.client.call('traffic.status', { id: sink.id })).jobs[0]!;
  }
  const c1 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
  const r = st.result!;
  if (r.sha256 !== sent.status.result!.sha256) throw new Error('integrity: sha256 differs');
  return { mbps: (r.bytes * 8) / r.seconds / 1e6, cpuPerGB: (c1 - c0) / (r.bytes / 1e9) };
}

const PY_SERVER = `
import socket, sys, time, resource, json
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
n = 0; t0 = None; buf = bytearray(1 << 20)
while True:
    k = c.recv_into(buf)
    if k == 0: break
    if t0 is None: t0 = time.monotonic()
    n += k
t1 = time.monotonic()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({'bytes': n, 'seconds': t1 - (t0 or t1), 'cpu': ru.ru_utime + ru.ru_stime}), flush=True)
`;

const PY_CLIENT = `
import socket, sys, time, resource, json
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((sys.argv[1], int(sys.argv[2])))
buf = b'\\x5a' * (1 << 20); end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end: s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({'cpu': ru.ru_utime + ru.ru_stime}), flush=True)
`;

async function kernelOnce(seconds: number, port: number): Promise<Run> {
  const server = spawn('ip', ['netns', 'exec', NS_B, 'python3', '-c', PY_SERVER, B1, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('kernel server did not start')), 10_000);
    const check = setInterval(() => {
      if (out.includes('ready')) {
        clearTimeout(t);
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  const cl = execFileSync(
    'ip',
    ['netns', 'exec', NS_A, 'python3', '-c', PY_CLIENT, B1, String(port), String(seconds)],
    {
      encoding: 'utf8',
      timeout: (seconds + 30) * 1000,
    },
  );
  await new Promise((r) => server.once('exit', r));
  const srv = JSON.parse(out.trim().split('\n').at(-1)!) as { bytes: number; seconds: number; cpu: number };
  const cli = JSON.parse(cl.trim()) as { cpu: number };
  return { mbps: (srv.bytes * 8) / srv.seconds / 1e6, cpuPerGB: (srv.cpu + cli.cpu) / (srv.bytes / 1e9) };
}

function kernelEndpoints(): void {
  ip(['-n', NS_A, 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
  ip(['-n', NS_B, 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2']);
  ip(['-n', NS_A, 'mptcp', 'endpoint', 'add', A2, 'dev', `ra2${TAG}`, 'subflow']);
  ip(['-n', NS_B, 'mptcp', 'endpoint', 'add', B2, 'dev', `rb2${TAG}`, 'signal']);
  execFileSync('ip', ['netns', 'exec', NS_A, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
  execFileSync('ip', ['netns', 'exec', NS_B, 'sysctl', '-qw', 'net.mptcp.enabled=1']);
}

const mod: BenchModule = {
  name: 'runtime',
  async available() {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (namespaces)';
    if (!existsSync('/proc/sys/net/mptcp/enabled')) return 'kernel without MPTCP (baseline)';
    try {
      execFileSync('python3', ['--version'], { stdio: 'ignore' });
    } catch {
      return 'python3 missing (kernel baseline)';
    }
    return true;
  },
  async run(options: BenchOptions): Promise<BenchFigure[]> {
    const seconds = options.quick ? 4 : 8;
    const dir = mkdtempSync(join(tmpdir(), 'mplab-bench-rt-'));
    const agents: Agent[] = [];
    const procs = new Procs();
    try {
      setupNetns();
      kernelEndpoints();
      const js = await bundleAgent(dir);
      const a = await startAgent(procs, js, dir, NS_A, 'a');
      agents.push(a);
      const b = await startAgent(procs, js, dir, NS_B, 'b');
      agents.push(b);
      let port = 6000;
      const ours1452: Run[] = [];
      const ours8900: Run[] = [];
      const kernel: Run[] = [];
      await repeat(options.repetitions, async () => {
        for (const c of [a, b]) await c.client.call('sysctl.set', { name: 'net.mptcp.mptcp_mss', value: 0 });
        ours1452.push(await oursOnce(a, b, seconds, port++));
        for (const c of [a, b])
          await c.client.call('sysctl.set', { name: 'net.mptcp.mptcp_mss', value: 8900 });
        ours8900.push(await oursOnce(a, b, seconds, port++));
        kernel.push(await kernelOnce(seconds, port++));
        return 0;
      });
      const k = {
        mbps: {
          label: 'kernel MPTCP, 2 subflows (MSS 1448)',
          unit: 'Mbit/s',
          values: kernel.map((r) => r.mbps),
        },
        cpu: { label: 'kernel MPTCP (both ends)', unit: 's/GB', values: kernel.map((r) => r.cpuPerGB) },
      };
      const note = `unshaped veth pair x2 (MTU 1500), ${seconds} s per run, fullmesh PM, LIA`;
      return [
        {
          id: 'runtime.goodput_mss1452',
          title: 'Goodput between two namespaces, our MPTCP over the UDP phy (MSS 1452, unfragmented)',
          ours: { label: 'our stack, MSS 1452', unit: 'Mbit/s', values: ours1452.map((r) => r.mbps) },
          baseline: k.mbps,
          higherIsBetter: true,
          note,
        },
        {
          id: 'runtime.goodput_mss8900',
          title: 'Goodput, our MPTCP with net.mptcp.mptcp_mss = 8900 (IP-fragmented datagrams)',
          ours: { label: 'our stack, mptcp_mss 8900', unit: 'Mbit/s', values: ours8900.map((r) => r.mbps) },
          baseline: k.mbps,
          higherIsBetter: true,
          note,
        },
        {
          id: 'runtime.cpu_per_gb_mss1452',
          title: 'CPU seconds per GB moved (sender + receiver), MSS 1452',
          ours: { label: 'our stack, MSS 1452', unit: 's/GB', values: ours1452.map((r) => r.cpuPerGB) },
          baseline: k.cpu,
          higherIsBetter: false,
          note,
        },
        {
          id: 'runtime.cpu_per_gb_mss8900',
          title: 'CPU seconds per GB moved (sender + receiver), MSS 8900',
          ours: {
            label: 'our stack, mptcp_mss 8900',
            unit: 's/GB',
            values: ours8900.map((r) => r.cpuPerGB),
          },
          baseline: k.cpu,
          higherIsBetter: false,
          note,
        },
      ];
    } finally {
      for (const a of agents) await stopAgent(a);
      await procs.killAll();
      teardown();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default mod;
