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
import { type EndpointReaction, followLinkEvents, parseLinkLine } from '../../lab/kernel/pmwatch';
import { collect, now, type Procs, sleep } from './topo';

export interface WatchedEndpoint {
  addr: string;
  ifname: string;
  /** The endpoint id (`ip mptcp endpoint add … id N`). */
  id: number;
  /** The source-routing table of this address (its default route is put back on link-up). */
  table: number;
}

/** One reaction to a link event (the lab watcher's record). */
export type Reaction = EndpointReaction;

export interface EndpointWatcher {
  /** Stops watching; the reactions made so far. */
  stop(): Promise<Reaction[]>;
}

// one parser of `ip -o monitor link` lines, shared with the lab's watcher (lab/kernel/pmwatch.ts)
export { parseLinkLine };

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
  const p = procs.spawnIn(ns, 'ip', ['-o', 'monitor', 'link']);
  const c = collect(p);
  const follow = followLinkEvents(p.stdout, ns, byIf, reactionLines, now);
  // `ip monitor` prints nothing when it is ready; its netlink socket is bound within milliseconds.
  await sleep(100);
  if (p.exitCode !== null) throw new Error(`ip monitor link in ${ns} exited: ${c.err().slice(-300)}`);
  return {
    async stop() {
      p.kill('SIGTERM');
      await c.exited;
      return follow.settled();
    },
  };
}
