/** What a traffic run is asked to do, whoever runs it (lab agents, kernel sockets, the simulator). */
import { UsageError } from '../errors';
import type { LabModel, NodeModel, ScenarioEvent } from '../topology/model';
import type { RunEnd, RunStack } from './result';
import { checkParallel } from './parallel';
import { checkOmit } from './window';

export interface RunSpec {
  /** The node that opens the connection (to <to>'s first address); it sends unless `reverse`. */
  from: string;
  /** The node that accepts the connection; it receives unless `reverse`. */
  to: string;
  /** <to> sends and <from> receives on the connection <from> opened (iperf3 -R). */
  reverse?: boolean;
  /** Send exactly this many bytes, or … */
  bytes?: number;
  /** … send for this long (ms). Default 10 s when neither is given. */
  timeMs?: number;
  stack: RunStack;
  /** Timeline sampling interval, ms (default 100). */
  intervalMs?: number;
  /** Scenario events, times from the start of the transfer (default: none). */
  events?: ScenarioEvent[];
  /** Port the sink listens on (default 5001). */
  port?: number;
  /** Address to connect to (default: the receiver's first address). */
  host?: string;
  /** This many connections at once (default 1; --parallel), each with its own integrity check. */
  parallel?: number;
  /** As many connections the other way at the same time (--bidir). */
  bidir?: boolean;
  /** Leave the first this-many ms out of the figures (iperf3 -O); the timeline keeps them, marked. */
  omitMs?: number;
}

export const DEFAULT_RUN_MS = 10_000;
export const DEFAULT_INTERVAL_MS = 100;
export const DEFAULT_PORT = 5001;

/** Checks the endpoints against the model; returns both node models and the address to connect to. */
export function resolveEndpoints(
  model: LabModel,
  spec: RunSpec,
): { from: NodeModel; to: NodeModel; host: string; source: string | undefined } {
  const find = (name: string, role: string) => {
    const n = model.nodes.find((x) => x.name === name);
    if (!n)
      throw new UsageError(
        `run: no node '${name}' (${role}) in lab '${model.name}' (nodes: ${model.nodes.map((x) => x.name).join(', ')})`,
      );
    if (n.kind !== 'host')
      throw new UsageError(`run: node '${name}' is a ${n.kind}; traffic runs between hosts`);
    return n;
  };
  const from = find(spec.from, 'sender');
  const to = find(spec.to, 'receiver');
  if (from.name === to.name) throw new UsageError('run: <from> and <to> are the same node');
  const host = spec.host ?? to.addresses[0];
  if (host === undefined) throw new UsageError(`run: node '${to.name}' has no address`);
  if (spec.bytes !== undefined && spec.timeMs !== undefined)
    throw new UsageError('run: give --bytes or --time, not both');
  if (spec.bytes !== undefined && !(spec.bytes > 0)) throw new UsageError('run: --bytes must be > 0');
  if (spec.timeMs !== undefined && !(spec.timeMs > 0)) throw new UsageError('run: --time must be > 0');
  if (spec.intervalMs !== undefined && !(spec.intervalMs >= 10))
    throw new UsageError('run: --interval must be at least 10ms');
  checkParallel(spec);
  checkOmit(spec.omitMs, spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : undefined);
  return { from, to, host, source: sourceFor(from, host) };
}

function v4(a: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  return m
    ? ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0
    : undefined;
}

/**
 * The sender's address for the first subflow: the one on the destination's subnet when there is
 * one, else the node's first address of the same family. (A host's address list may be reordered
 * by its stack when an interface goes down and up; the first subflow must not follow that.)
 */
export function sourceFor(from: NodeModel, host: string): string | undefined {
  const dst = v4(host);
  const family = host.includes(':') ? 6 : 4;
  for (const i of from.interfaces)
    for (const a of i.addresses) {
      if (a.family !== family) continue;
      if (dst !== undefined) {
        const src = v4(a.address);
        const mask = a.prefix === 0 ? 0 : (0xffffffff << (32 - a.prefix)) >>> 0;
        if (src !== undefined && (src & mask) >>> 0 === (dst & mask) >>> 0) return a.address;
      } else if (a.subnet === host) return a.address;
    }
  return from.interfaces.flatMap((i) => i.addresses).find((a) => a.family === family)?.address;
}

/** Who sent, who opened the connection, and which stack each end ran (`stackOf(node)`). */
export function runEnds(
  spec: Pick<RunSpec, 'from' | 'to' | 'reverse'>,
  stackOf: (node: string) => RunStack,
): RunEnd[] {
  const reverse = spec.reverse === true;
  return [
    { node: spec.from, role: reverse ? 'receiver' : 'sender', opened: true, stack: stackOf(spec.from) },
    { node: spec.to, role: reverse ? 'sender' : 'receiver', opened: false, stack: stackOf(spec.to) },
  ];
}

/** The sending and the receiving node of a run. */
export function runRoles(spec: Pick<RunSpec, 'from' | 'to' | 'reverse'>): {
  sender: string;
  receiver: string;
} {
  return spec.reverse ? { sender: spec.to, receiver: spec.from } : { sender: spec.from, receiver: spec.to };
}
