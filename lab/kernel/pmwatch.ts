/**
 * What a user runs beside the kernel's MPTCP so that it follows links coming and going, as mptcpd
 * does: a watcher on the node's link events (`ip -o monitor link`, the RTNLGRP_LINK notifications
 * mptcpd's network monitor listens to). An interface is usable while it is IFF_UP and IFF_RUNNING
 * (up, with carrier). When an interface with an endpoint stops being usable the watcher deletes the
 * endpoint (`ip mptcp endpoint delete id N`: the kernel closes the subflows on it and reinjects
 * their data); when it is usable again it puts back the interface's routes (as the host's network
 * configuration does on link-up) and re-adds the endpoint with its flags, and the in-kernel path
 * manager opens a subflow from it on every existing connection (and announces it with `signal`).
 *
 * The lab's `stack: kernel` nodes (lab.ts kernelConfig) have one endpoint per address; the watcher
 * reads them at start (`ip mptcp endpoint show`). bench/lib/pmwatch.ts, the failover baseline's
 * watcher, parses link lines with `parseLinkLine` from here.
 */
import type { Readable } from 'node:stream';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { RuntimeFailure } from '../errors';
import { routeLine } from '../topology/iproute';
import type { NodeModel } from '../topology/model';

const execFileP = promisify(execFile);

/**
 * Parses one line of `ip -o monitor link`: the interface and whether it is usable (flags UP and no
 * NO-CARRIER; iproute2 prints NO-CARRIER for an interface that is up but not running). A deleted
 * link is not usable. Undefined for lines that are not link lines.
 */
export function parseLinkLine(line: string): { ifname: string; usable: boolean } | undefined {
  const m = /^(Deleted\s+)?\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:\s+<([^>]*)>/.exec(line.trim());
  if (!m) return undefined;
  const flags = m[3]!.split(',');
  const usable = !m[1] && flags.includes('UP') && !flags.includes('NO-CARRIER');
  return { ifname: m[2]!, usable };
}

export interface KernelEndpoint {
  address: string;
  id: number;
  /** e.g. ['signal', 'subflow'] */
  flags: string[];
  dev: string;
}

/** Parses `ip mptcp endpoint show` lines: "10.0.1.1 id 1 signal subflow dev eth1". */
export function parseEndpoints(text: string): KernelEndpoint[] {
  const out: KernelEndpoint[] = [];
  for (const line of text.split('\n')) {
    const w = line.trim().split(/\s+/);
    const id = w.indexOf('id');
    const dev = w.indexOf('dev');
    if (!w[0] || id < 0 || dev < 0) continue;
    out.push({
      address: w[0],
      id: Number(w[id + 1]),
      flags: w.slice(id + 2, dev).filter((f) => /^[a-z]+$/.test(f)),
      dev: w[dev + 1]!,
    });
  }
  return out;
}

/** The `ip -batch` lines that react to `ep`'s interface becoming (un)usable. */
export function endpointReaction(node: NodeModel, ep: KernelEndpoint, usable: boolean): string[] {
  if (!usable) return [`mptcp endpoint delete id ${ep.id}`];
  const routes = node.routes
    .filter((r) => (r.family === 6) === ep.address.includes(':'))
    .filter((r) => r.dev === ep.dev || r.nexthops?.some((h) => h.dev === ep.dev))
    .map((r) => routeLine(r));
  return [
    ...routes,
    `mptcp endpoint add ${ep.address} dev ${ep.dev} id ${ep.id} ${ep.flags.join(' ')}`.trim(),
  ];
}

export interface EndpointReaction {
  ifname: string;
  usable: boolean;
  /** performance.now() when the event was read and when the change was applied. */
  seen: number;
  done: number;
  error?: string;
}

/**
 * Follows `ip -o monitor link` output: once per change of a watched interface's usability, applies
 * `lines(ep, usable)` in `ns` with one `ip -batch`, one reaction at a time in the order the events
 * came, each timed by `clock`. Shared by the lab's watcher and the failover bench's baseline.
 */
export function followLinkEvents<E>(
  stdout: Readable | null,
  ns: string,
  byIf: ReadonlyMap<string, E>,
  lines: (ep: E, usable: boolean) => string[],
  clock: () => number,
): { settled(): Promise<EndpointReaction[]> } {
  const state = new Map([...byIf.keys()].map((k) => [k, true]));
  const reactions: EndpointReaction[] = [];
  let chain: Promise<void> = Promise.resolve();
  let buf = '';
  stdout?.on('data', (d: Buffer | string) => {
    buf += String(d);
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      const ev = parseLinkLine(line);
      const ep = ev && byIf.get(ev.ifname);
      if (!ev || !ep || state.get(ev.ifname) === ev.usable) continue;
      state.set(ev.ifname, ev.usable);
      const seen = clock();
      chain = chain.then(async () => {
        const r: EndpointReaction = { ifname: ev.ifname, usable: ev.usable, seen, done: 0 };
        try {
          const child = execFileP('ip', ['-n', ns, '-force', '-batch', '-']);
          child.child.stdin?.end(`${lines(ep, ev.usable).join('\n')}\n`);
          await child;
        } catch (e) {
          r.error = (e as Error).message.split('\n')[0];
        }
        r.done = clock();
        reactions.push(r);
      });
    }
  });
  return {
    async settled() {
      await chain;
      return reactions;
    },
  };
}

export interface EndpointWatcher {
  /** Stops watching; the reactions made so far. */
  stop(): Promise<EndpointReaction[]>;
}

/** Starts the mptcpd-like watcher in a `stack: kernel` node's namespace. */
export async function watchKernelEndpoints(node: NodeModel): Promise<EndpointWatcher> {
  const ns = node.netns;
  const { stdout } = await execFileP('ip', ['-n', ns, 'mptcp', 'endpoint', 'show']);
  const endpoints = parseEndpoints(stdout);
  const byIf = new Map(endpoints.map((e) => [e.dev, e]));
  const p: ChildProcess = spawn('ip', ['-n', ns, '-o', 'monitor', 'link'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<void>((r) => p.on('close', () => r()));
  const follow = followLinkEvents(
    p.stdout,
    ns,
    byIf,
    (ep, usable) => endpointReaction(node, ep, usable),
    () => performance.now(),
  );
  // `ip monitor` prints nothing when it is ready; its netlink socket is bound within milliseconds
  await new Promise((r) => setTimeout(r, 100));
  if (p.exitCode !== null)
    throw new RuntimeFailure(`ip monitor link in ${ns} exited: ${err.trim().slice(-300)}`);
  return {
    async stop() {
      if (p.exitCode === null) p.kill('SIGTERM');
      await exited;
      return follow.settled();
    },
  };
}
