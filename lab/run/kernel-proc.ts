/**
 * Starting the kernel's end of a run, wherever that kernel is: the agent bundle's `--kernel-traffic`
 * program (stack/agent/kernel-traffic.ts, MPTCP or plain TCP sockets through libc) runs under
 * `ip netns exec` for a namespace or container node, and in the guest over SSH for a VM node, whose
 * kernel is the guest's. One program, one JSON-line protocol, either place; each end reports its
 * own per-subflow figures in its progress lines, so nothing polls `ss` beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { KernelSubflow } from '../../stack/agent/kernel-traffic';
import { agentScript } from '../agents';
import type { Lab } from '../lab';
import type { NodeModel } from '../topology/model';
import type { StreamProcess } from '../vm/guest-process';
import type { SubflowFigure } from './timeline';

/** One JSON line of the kernel end (see kernel-traffic.ts for the protocol). */
export interface KernelLine {
  listening?: number;
  connecting?: boolean;
  connected?: boolean;
  t?: number;
  bytes?: number;
  done?: boolean;
  sha256?: string;
  seconds?: number;
  sendSeconds?: number;
  subflows?: KernelSubflow[];
}

/** The node_modules directory koffi resolves from here, for a bundle that lives elsewhere. */
function nodePathForKoffi(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('koffi');
    const at = main.lastIndexOf('/node_modules/');
    return at >= 0 ? main.slice(0, at + '/node_modules'.length) : dirname(main);
  } catch {
    return undefined;
  }
}

function childProcess(p: ChildProcess): StreamProcess {
  const exited = new Promise<number>((r) => p.on('close', (code) => r(code ?? -1)));
  return {
    stdout: p.stdout as NodeJS.ReadableStream,
    stderr: p.stderr as NodeJS.ReadableStream,
    exited,
    kill: async () => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `--kernel-traffic ARGS` in `node`: its guest when it is a VM, else its namespace. */
export async function spawnKernelTraffic(lab: Lab, node: NodeModel, args: string[]): Promise<StreamProcess> {
  if (node.backend === 'vm') return lab.guestAgentProcess(node.name, ['--kernel-traffic', ...args]);
  const nodePath = nodePathForKoffi();
  const env = { ...process.env, ...(nodePath ? { NODE_PATH: nodePath } : {}) };
  const p = spawn(
    'ip',
    ['netns', 'exec', node.netns, process.execPath, agentScript(), '--kernel-traffic', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  p.on('error', () => {});
  return childProcess(p);
}

/** Feeds each JSON line to `on`; keeps the last lines of stderr for a failure's message. */
export function lines(p: StreamProcess, on: (l: KernelLine) => void): { stderr: () => string } {
  let err = '';
  p.stderr.setEncoding('utf8');
  p.stderr.on('data', (d: string) => {
    err = (err + d).slice(-4000);
  });
  const rl = createInterface({ input: p.stdout });
  rl.on('line', (l) => {
    let parsed: KernelLine;
    try {
      parsed = JSON.parse(l) as KernelLine;
    } catch {
      return; // not ours
    }
    on(parsed);
  });
  return { stderr: () => err.trim().split('\n').slice(-3).join(' ') };
}

/**
 * An end's subflows as timeline figures. Path indices are stable per 4-tuple (`pathIdx`, shared
 * with the other end when it is a kernel end too), the master subflow — the connector's
 * source to `host:port` — first.
 */
export function kernelFigures(
  subflows: readonly KernelSubflow[],
  o: {
    role: 'send' | 'recv';
    open: 'listen' | 'connect';
    host: string;
    port: number;
    source?: string | undefined;
    pathIdx: Map<string, number>;
  },
): SubflowFigure[] {
  const master = (x: KernelSubflow) => {
    const [c, l] = o.open === 'connect' ? [x.local, x.peer] : [x.peer, x.local];
    return l === `${o.host}:${o.port}` && (!o.source || c.startsWith(`${o.source}:`)) ? 0 : 1;
  };
  const sorted = [...subflows].sort((x, y) => master(x) - master(y));
  return sorted.map((s) => {
    // keyed from the sender's side, so both ends of one subflow get the same index
    const key = o.role === 'send' ? `${s.local}|${s.peer}` : `${s.peer}|${s.local}`;
    if (!o.pathIdx.has(key)) o.pathIdx.set(key, o.pathIdx.size + 1);
    const f: SubflowFigure = {
      pathIndex: o.pathIdx.get(key)!,
      local: s.local,
      remote: s.peer,
      bytes: o.role === 'send' ? s.bytesAcked : s.bytesReceived,
    };
    if (o.role === 'send') {
      if (s.cwnd > 0) f.cwnd = s.cwnd;
      if (s.rttMs > 0) f.srttMs = s.rttMs;
      f.retransmits = s.retrans;
    }
    return f;
  });
}
