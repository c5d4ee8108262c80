/**
 * The live-CD demo scenario (topologies/ietf-livecd.yaml) set up directly in the simulator, with the
 * client as the connector: the phone-like client (WiFi + 3G) opens the connection to the
 * single-homed server and downloads; WiFi is lost at 10 s and comes back at 20 s (the link goes down
 * and the client's address with it, as the lab's link event does).
 *
 *   WiFi: 20 Mbit/s, 10 ms each way, 100-packet queue
 *   3G:    2 Mbit/s, 75 ms each way,  50-packet queue (bufferbloat: 300 ms of queue at 2 Mbit/s)
 *   server behind a router, no added delay on its link
 *
 * The server writes a known byte pattern as fast as its send buffer takes it; the client checks
 * every byte against the pattern (integrity, and order) and bins what the application received.
 */
import { buildTwoPath, type MultiPath } from '../../../stack/sim/index';
import type { LinkConfig } from '../../../stack/sim/types';
import { hostOf, mptcpFactory } from './helpers';

export const WIFI: LinkConfig = { rateMbps: 20, delayMs: 10, queuePackets: 100 };
export const G3: LinkConfig = { rateMbps: 2, delayMs: 75, queuePackets: 50 };
/** WiFi + 3G at the link rate: the bound is a share of this. */
export const BOTH_MBPS = 20 + 2;
export const WIFI_DOWN_MS = 10_000;
export const WIFI_UP_MS = 20_000;

export interface LivecdOptions {
  /** Knobs on both hosts (e.g. a mechanism switched off). */
  knobs?: Record<string, number | string>;
  /** Which access links the client has: both (the demo), or one alone (the single-path baselines). */
  paths?: 'both' | 'wifi' | '3g';
  /** Lose WiFi at 10 s and get it back at 20 s (default true with both paths). */
  events?: boolean;
  /** Virtual run time, ms (default 30 s). */
  durationMs?: number;
  seed?: number;
  /** Random loss on the 3G link, each way (0..1; default none, as the topology). */
  g3Loss?: number;
}

export interface LivecdResult {
  /** Application bytes the client received per 100 ms bin from t = 0. */
  bins: number[];
  /** Application goodput per whole second (index k: [k s, k+1 s)), Mbit/s. */
  perSecond: number[];
  bytes: number;
  /** Every byte matched the server's pattern, in order. */
  intact: boolean;
  error: string | undefined;
  clientMib: Record<string, number>;
  serverMib: Record<string, number>;
  mb: MultiPath;
}

const CHUNK = 65_536;

/** The byte at stream offset `i`: not periodic at any power of two a segment size might hit. */
function patternByte(i: number): number {
  return (i * 131 + Math.floor(i / 1021)) & 0xff;
}

export function runLivecd(o: LivecdOptions = {}): LivecdResult {
  const which = o.paths ?? 'both';
  const knobs = { 'net.mptcp.mptcp_path_manager': 'fullmesh', ...o.knobs };
  const g3: LinkConfig = o.g3Loss ? { ...G3, loss: o.g3Loss } : G3;
  const paths: [LinkConfig, LinkConfig] =
    which === 'both' ? [WIFI, g3] : which === 'wifi' ? [WIFI, g3] : [g3, WIFI];
  const mb = buildTwoPath({
    factory: mptcpFactory(knobs),
    server: 'single',
    paths,
    seed: o.seed ?? 1,
  });
  const { sim, client, server } = mb;
  if (which !== 'both') {
    // One access link alone: the other is down and its address gone before anything starts.
    mb.paths[1]!.down();
    client.removeAddress(mb.clientAddrs[1]!);
  }
  const port = 5201;
  server.listen(port);
  let sconn = -1;
  let sent = 0;
  const buf = new Uint8Array(CHUNK);
  let pending: Uint8Array | null = null;
  const push = (): void => {
    for (;;) {
      if (pending === null) {
        for (let i = 0; i < CHUNK; i++) buf[i] = patternByte(sent + i);
        pending = buf;
      }
      const w = server.core.write(sconn, pending, sim.now);
      sent += w;
      if (w < pending.length) {
        pending = pending.subarray(w);
        break;
      }
      pending = null;
    }
    server.pump();
  };
  let error: string | undefined;
  server.on((e) => {
    if (e.type === 'accepted' && e.port === port && sconn < 0) {
      sconn = e.conn;
      push();
    } else if (e.conn === sconn && e.type === 'writable') push();
    else if (e.conn === sconn && e.type === 'closed' && e.error) error ??= `server: ${e.error.message}`;
  });
  const bins: number[] = [];
  let got = 0;
  let intact = true;
  const cconn = client.connect({ host: mb.serverAddrs[0]!, port });
  client.on((e) => {
    if (e.conn !== cconn) return;
    if (e.type === 'data') {
      const d = e.data;
      for (let i = 0; i < d.length; i++) {
        if (d[i] !== patternByte(got + i)) {
          intact = false;
          break;
        }
      }
      got += d.length;
      const bin = Math.floor(sim.now / 100);
      while (bins.length <= bin) bins.push(0);
      bins[bin]! += d.length;
      client.consumed(cconn, d.length);
    } else if (e.type === 'closed' && e.error) error ??= `client: ${e.error.message}`;
  });
  if ((o.events ?? which === 'both') && which === 'both') {
    const wifi = mb.paths[0]!;
    const addr = mb.clientAddrs[0]!;
    const iface = client.ifaces[0]!;
    sim.at(WIFI_DOWN_MS, () => {
      wifi.down();
      client.removeAddress(addr);
    });
    sim.at(WIFI_UP_MS, () => {
      wifi.bringUp();
      client.addAddress(addr, iface);
    });
  }
  const duration = o.durationMs ?? 30_000;
  sim.runUntil(duration);
  const seconds = Math.floor(duration / 1000);
  while (bins.length < seconds * 10) bins.push(0);
  const perSecond: number[] = [];
  for (let s = 0; s < seconds; s++) {
    let b = 0;
    for (let i = s * 10; i < s * 10 + 10; i++) b += bins[i]!;
    perSecond.push((b * 8) / 1e6);
  }
  return {
    bins,
    perSecond,
    bytes: got,
    intact,
    error,
    clientMib: hostOf(client.core).report().mib,
    serverMib: hostOf(server.core).report().mib,
    mb,
  };
}

/** The seconds the bound applies to: both paths up and settled ([1 s, 9 s) and [23 s, 29 s)). */
export const BOUNDED_SECONDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 23, 24, 25, 26, 27, 28];

/** The slowest bounded second, Mbit/s, and which it was. */
export function slowestBounded(r: LivecdResult, seconds = BOUNDED_SECONDS): { second: number; mbps: number } {
  let worst = { second: -1, mbps: Number.POSITIVE_INFINITY };
  for (const s of seconds) {
    const v = r.perSecond[s] ?? 0;
    if (v < worst.mbps) worst = { second: s, mbps: v };
  }
  return worst;
}
