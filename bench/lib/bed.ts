/**
 * The test bed the agent benchmarks share (aggregation, failover, heterogeneous): two hosts joined
 * by the given paths, the kernel's MPTCP configured for A → B over every path (the baseline), our
 * agent bundled once, and a way to start agents in either namespace. Everything it made (agents,
 * children, namespaces, the emulator, the scratch folder) is removed when the body ends, on failure
 * and on interrupt too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goodputMbps } from './series';
import { onInterrupt, type PathSpec, Procs, type TwoHosts, twoHosts } from './topo';
import { type Agent, bundleAgent, kernelMptcp, startAgent, stopAgent, type TransferRun } from './transfer';

export interface AgentBed {
  h: TwoHosts;
  procs: Procs;
  /** Scratch folder: the agent bundle, sockets and logs. */
  dir: string;
  /** Starts an agent in `ns` (extra: agent flags such as --addresses, --udp-port); stopped at the end. */
  start(ns: string, name: string, extra?: string[]): Promise<Agent>;
}

/** Builds the bed (`net`: the second octet of the paths' 10.net.i.0/24), runs `body`, tears down. */
export async function withAgentBed<T>(
  name: string,
  net: number,
  specs: PathSpec[],
  body: (bed: AgentBed) => Promise<T>,
): Promise<T> {
  const procs = new Procs();
  const agents: Agent[] = [];
  const dir = mkdtempSync(join(tmpdir(), `mplab-bench-${name}-`));
  const unhook = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  let h: TwoHosts | undefined;
  try {
    h = await twoHosts(net, specs);
    kernelMptcp(
      h.nsA,
      h.nsB,
      h.paths.map((p) => p.a),
      h.paths.map((p) => p.ifA),
    );
    const js = await bundleAgent(dir);
    const start = async (ns: string, agentName: string, extra: string[] = []): Promise<Agent> => {
      const ag = await startAgent(procs, js, dir, ns, agentName, extra);
      agents.push(ag);
      return ag;
    };
    return await body({ h, procs, dir, start });
  } finally {
    for (const a of agents) await stopAgent(a).catch(() => {});
    await procs.killAll();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
    unhook();
  }
}

/** Goodput of a transfer over its steady part: from `warm` seconds after its start to `seconds`. */
export function steadyMbps(r: TransferRun, warm: number, seconds: number): number {
  return goodputMbps(r.samples, r.t0 + warm, r.t0 + seconds);
}
