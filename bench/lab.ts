/**
 * Lab build and teardown times: `up` (agents ready where the nodes run our stack) and `down` for a
 * two-host lab and a 50-node chain, beside a baseline measured in the same run: the bash script a
 * skilled user would write for the same namespaces, veths, addresses, routes, rules, forwarding
 * and agents (bench/lib/labscript.ts: one root `ip -batch`, one `ip -n NS -batch` per namespace
 * run together, agents' readiness read from their own `ready` line, one batch deleting all).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentScript } from '../lab/agents';
import { Lab } from '../lab/lab';
import { runDir } from '../lab/state';
import type { LabModel } from '../lab/topology/model';
import { chain, twoHost } from '../test/integration/lab/models';
import type { BenchFigure, BenchModule, BenchOptions } from './harness';
import { repeat } from './harness';
import { labScript } from './lib/labscript';

function agentPath(): string | undefined {
  try {
    return agentScript();
  } catch {
    return undefined;
  }
}

/** Runs a bash script file; its wall time in ms. */
function sh(file: string): number {
  const t = performance.now();
  execFileSync('bash', [file], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const baseUp: number[] = [];
  const baseDown: number[] = [];
  const tag = `bl${process.pid % 1000}`;
  // ours and the script alternate, so drift on a shared machine hits both alike
  await repeat(o.repetitions, async (i) => {
    const m = make(`${tag}o${i}`);
    if (!withAgents) for (const n of m.nodes) n.stack = 'none';
    const t0 = performance.now();
    const lab = await Lab.up(m);
    oursUp.push(performance.now() - t0);
    const t1 = performance.now();
    await lab.down();
    oursDown.push(performance.now() - t1);

    const mb = make(`${tag}b${i}`);
    if (!withAgents) for (const n of mb.nodes) n.stack = 'none';
    const dir = `${runDir()}/bench-baseline-${process.pid}-${i}`;
    mkdirSync(dir, { recursive: true });
    const s = labScript(mb, agent, dir);
    const upFile = join(dir, 'up.sh');
    const downFile = join(dir, 'down.sh');
    writeFileSync(upFile, s.up);
    writeFileSync(downFile, s.down);
    let downed = false;
    try {
      baseUp.push(sh(upFile));
      baseDown.push(sh(downFile));
      downed = true;
    } finally {
      // after a failure: the same teardown (it ends the recorded agents and deletes the namespaces)
      if (!downed) execFileSync('bash', [downFile], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
    return 0;
  });
  const note = withAgents
    ? "up includes starting every agent until it answers (ours: a ping and the node's addresses; the script: the agent's ready line, printed once its socket listens on those addresses); the script builds the same namespaces, veths (names, indexes), ip lines and sysctls as Lab.up"
    : 'no dist/agent.js: nodes built without agents (stack none) on both sides';
  return [
    {
      id: `lab.up.${label}`,
      title: `mplab up, ${label} (${withAgents ? 'agents ready' : 'network only'})`,
      ours: { label: 'Lab.up (ip/tc batches)', unit: 'ms', values: oursUp },
      baseline: { label: 'best bash script (ip batches, ready lines)', unit: 'ms', values: baseUp },
      higherIsBetter: false,
      note,
    },
    {
      id: `lab.down.${label}`,
      title: `mplab down, ${label}`,
      ours: { label: 'Lab.down', unit: 'ms', values: oursDown },
      baseline: { label: 'same script: kill agents, one ip batch', unit: 'ms', values: baseDown },
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
