/**
 * Lab build and teardown times: `up` (agents ready where the nodes run our stack) and `down` for a
 * two-host lab and a 50-node chain, beside a baseline measured in the same run: a shell script of
 * raw `ip` commands, one process per command, the way a person would write it, building the same
 * namespaces, veths, addresses, routes, rules and forwarding (and starting the same agents, waiting
 * for their sockets, when the lab has any).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { agentScript } from '../lab/agents';
import { Lab } from '../lab/lab';
import { runDir } from '../lab/state';
import type { LabModel } from '../lab/topology/model';
import { chain, twoHost } from '../test/integration/lab/models';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { repeat } from './harness';

function agentPath(): string | undefined {
  try {
    return agentScript();
  } catch {
    return undefined;
  }
}

/** The person's script: one `ip` (or sysctl) process per command. */
function baselineScript(m: LabModel, agent: string | undefined, dir: string): { up: string; down: string } {
  const ns = (n: string) => `mplab-${m.name}-${n}`;
  const up: string[] = ['set -e'];
  for (const n of m.nodes) up.push(`ip netns add ${ns(n.name)}`, `ip -n ${ns(n.name)} link set lo up`);
  let k = 0;
  for (const l of m.links) {
    const ta = `mpbl${k}a`;
    const tb = `mpbl${k}b`;
    k++;
    up.push(
      `ip link add ${ta} type veth peer name ${tb}`,
      `ip link set ${ta} netns ${ns(l.a.node)}`,
      `ip link set ${tb} netns ${ns(l.b.node)}`,
      `ip -n ${ns(l.a.node)} link set ${ta} name ${l.a.iface}`,
      `ip -n ${ns(l.b.node)} link set ${tb} name ${l.b.iface}`,
    );
  }
  for (const n of m.nodes) {
    const h = ns(n.name);
    for (const i of n.interfaces) {
      for (const a of i.addresses) up.push(`ip -n ${h} addr add ${a.address}/${a.prefix} dev ${i.name}`);
      up.push(`ip -n ${h} link set ${i.name} up`);
    }
    for (const r of n.routes)
      up.push(
        `ip -n ${h} route add ${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.table ? ` table ${r.table}` : ''}${r.src ? ` src ${r.src}` : ''}`,
      );
    for (const r of n.rules)
      up.push(`ip -n ${h} rule add from ${r.from} lookup ${r.table} priority ${r.priority}`);
    if (n.forwarding) up.push(`ip netns exec ${h} sysctl -qw net.ipv4.ip_forward=1`);
  }
  const ts = m.nodes.filter((n) => n.stack === 'ts');
  if (agent) {
    for (const n of ts)
      up.push(
        `ip netns exec ${ns(n.name)} ${process.execPath} ${agent} --socket ${dir}/${n.name}.sock --log ${dir}/${n.name}.log >/dev/null 2>&1 & echo $! >> ${dir}/pids`,
      );
    // wait until every socket exists and answers a ping
    for (const n of ts)
      up.push(
        `until printf '{"jsonrpc":"2.0","id":1,"method":"ping"}\\n' | timeout 1 python3 -c "import socket,sys;s=socket.socket(socket.AF_UNIX);s.connect('${dir}/${n.name}.sock');s.sendall(sys.stdin.buffer.read());print(s.recv(100))" 2>/dev/null | grep -q pong; do sleep 0.01; done`,
      );
  }
  const down: string[] = [];
  // the agents this script started, by pid
  if (agent) down.push(`[ -f ${dir}/pids ] && kill $(cat ${dir}/pids) 2>/dev/null; rm -f ${dir}/pids`);
  for (const n of m.nodes) down.push(`ip netns del ${ns(n.name)}`);
  return { up: up.join('\n'), down: down.join('\n') };
}

function sh(script: string): number {
  const t = performance.now();
  execFileSync('bash', ['-s'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  return performance.now() - t;
}

async function measure(
  label: string,
  make: (name: string) => LabModel,
  o: BenchOptions,
): Promise<BenchFigure[]> {
  const agent = agentPath();
  const withAgents = agent !== undefined;
  const oursUp: number[] = [];
  const oursDown: number[] = [];
  await repeat(o.repetitions, async (i) => {
    const m = make(`bl${process.pid % 1000}o${i}`);
    if (!withAgents) for (const n of m.nodes) n.stack = 'none';
    const t0 = performance.now();
    const lab = await Lab.up(m);
    oursUp.push(performance.now() - t0);
    const t1 = performance.now();
    await lab.down();
    oursDown.push(performance.now() - t1);
    return 0;
  });
  const baseUp: number[] = [];
  const baseDown: number[] = [];
  await repeat(o.repetitions, async (i) => {
    const m = make(`bl${process.pid % 1000}b${i}`);
    if (!withAgents) for (const n of m.nodes) n.stack = 'none';
    const dir = `${runDir()}/bench-baseline-${process.pid}`;
    mkdirSync(dir, { recursive: true });
    const s = baselineScript(m, agent, dir);
    try {
      baseUp.push(sh(s.up));
      baseDown.push(sh(s.down));
    } finally {
      execFileSync('bash', ['-s'], {
        input: s.down.replace(/^ip netns del (\S+)$/gm, 'ip netns del $1 2>/dev/null || true'),
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      rmSync(dir, { recursive: true, force: true });
    }
    return 0;
  });
  const note = withAgents
    ? 'up includes starting every agent and its first ping answer'
    : 'no dist/agent.js: nodes built without agents (stack none) on both sides';
  return [
    {
      id: `lab.up.${label}`,
      title: `mplab up, ${label} (${withAgents ? 'agents ready' : 'network only'})`,
      ours: { label: 'Lab.up (ip/tc batches)', unit: 'ms', values: oursUp },
      baseline: { label: 'raw ip script, one process per command', unit: 'ms', values: baseUp },
      higherIsBetter: false,
      note,
    },
    {
      id: `lab.down.${label}`,
      title: `mplab down, ${label}`,
      ours: { label: 'Lab.down', unit: 'ms', values: oursDown },
      baseline: { label: 'ip netns del per namespace', unit: 'ms', values: baseDown },
      higherIsBetter: false,
      note,
    },
  ];
}

const lab: BenchModule = {
  name: 'lab',
  async available() {
    if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
    if (!existsSync('/usr/bin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/sbin/ip'))
      return 'needs iproute2';
    return true;
  },
  async run(o) {
    return [
      ...(await measure('two_host', (n) => twoHost(n), o)),
      ...(await measure('chain50', (n) => chain(n, 50, 'ts'), o)),
    ];
  },
};

export default lab;
