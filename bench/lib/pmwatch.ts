/**
 * The path-manager reaction a user configures for the kernel's MPTCP when links come and go, as
 * mptcpd does it: a watcher on the host's link events (`ip -o monitor link`, the RTNLGRP_LINK
 * notifications mptcpd's network monitor listens to). An interface is usable, as mptcpd's monitor
 * defines it, while it is IFF_UP and IFF_RUNNING (up, with carrier). When an interface with an
 * endpoint stops being usable the watcher deletes that endpoint (`ip mptcp endpoint delete id N`:
 * the kernel closes the subflows on it and reinjects their data); when it is usable again it puts
 * back the interface's source route (as the host's network configuration does on link-up) and
 * re-adds the endpoint with the `subflow` flag, and the in-kernel path manager opens a subflow from
 * it on every existing connection. mptcpd itself is not used: it is not packaged here, and it
 * reacts to address events, which `ip link set down` does not produce.
 *
 * Each reaction is one `ip -batch` process, recorded with the time the event was seen and the time
 * the reaction was done (CLOCK_MONOTONIC s), so a bench can report how fast the baseline reacted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { collect, now, type Procs, sleep } from './topo';

const execFileP = promisify(execFile);

export interface WatchedEndpoint {
  addr: string;
  ifname: string;
  /** The endpoint id (`ip mptcp endpoint add … id N`). */
  id: number;
  /** The source-routing table of this address (its default route is put back on link-up). */
  table: number;
}

export interface Reaction {
  ifname: string;
  usable: boolean;
  /** When the link event was read, and when the endpoint change had been applied. */
  seen: number;
  done: number;
  error?: string;
}

export interface EndpointWatcher {
  /** Stops watching; the reactions made so far. */
  stop(): Promise<Reaction[]>;
}

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

/** Endpoint lines for one transition (exported for unit tests). */
export function reactionLines(ep: WatchedEndpoint, usable: boolean): string[] {
  return usable
    ? [
        `route replace default dev ${ep.ifname} table ${ep.table}`,
        `mptcp endpoint add ${ep.addr} dev ${ep.ifname} id ${ep.id} subflow`,
      ]
    : [`mptcp endpoint delete id ${ep.id}`];
}

/** Starts watching `ns`'s links for the given endpoints (which are configured when it starts). */
export async function watchEndpoints(
  procs: Procs,
  ns: string,
  endpoints: WatchedEndpoint[],
): Promise<EndpointWatcher> {
  const byIf = new Map(endpoints.map((e) => [e.ifname, e]));
  const state = new Map(endpoints.map((e) => [e.ifname, true]));
  const reactions: Reaction[] = [];
  const p = procs.spawnIn(ns, 'ip', ['-o', 'monitor', 'link']);
  const c = collect(p);
  let chain: Promise<void> = Promise.resolve();
  let buf = '';
  p.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      const ev = parseLinkLine(line);
      const ep = ev && byIf.get(ev.ifname);
      if (!ev || !ep || state.get(ev.ifname) === ev.usable) continue;
      state.set(ev.ifname, ev.usable);
      const seen = now();
      // one reaction at a time, in the order the events came
      chain = chain.then(async () => {
        const r: Reaction = { ifname: ev.ifname, usable: ev.usable, seen, done: 0 };
        try {
          const lines = reactionLines(ep, ev.usable);
          const child = execFileP('ip', ['-n', ns, '-force', '-batch', '-']);
          child.child.stdin?.end(`${lines.join('\n')}\n`);
          await child;
        } catch (e) {
          r.error = (e as Error).message.split('\n')[0];
        }
        r.done = now();
        reactions.push(r);
      });
    }
  });
  // `ip monitor` prints nothing when it is ready; its netlink socket is bound within milliseconds.
  await sleep(100);
  if (p.exitCode !== null) throw new Error(`ip monitor link in ${ns} exited: ${c.err().slice(-300)}`);
  return {
    async stop() {
      p.kill('SIGTERM');
      await c.exited;
      await chain;
      return reactions;
    },
  };
}
