/**
 * The live-CD demo in the simulator with the client as the connector (test/unit/mptcp/livecd.ts):
 * the client's path manager opens the 3G subflow and re-joins from WiFi when it returns; every
 * whole second while both paths are up delivers at least 75 % of WiFi + 3G's rate to the
 * application; each anti-head-of-line mechanism, switched off, makes that bound fail in a scenario
 * where it is the one that matters; MPTCP is never worse than its best path alone.
 *
 * The scenarios (each deterministic, fixed seed):
 * - the demo as shipped (6 MB receive buffer, no loss): the slow-path queue cap is what matters;
 * - the demo with a phone-sized receive buffer (512 kB, 768 kB) and 2 % loss on 3G: the
 *   connection-level window blocks, BLEST (512 kB) and opportunistic retransmission (768 kB)
 *   are what matter;
 * - the demo's 6 MB window with 2 % loss on 3G: no window blocks, each 3G loss leaves a hole at
 *   the data level; hole repair (stack/sched/hole.ts) is what matters.
 */
import { describe, expect, it } from 'vitest';
import {
  BOTH_MBPS,
  BOUNDED_SECONDS,
  type LivecdOptions,
  type LivecdResult,
  runLivecd,
  slowestBounded,
} from './livecd';
import { hostOf } from './helpers';

const BOUND = 0.75 * BOTH_MBPS;
const OFF = {
  slowQueue: { 'net.mptcp.mptcp_sched_slow_queue': 0 },
  blest: { 'net.mptcp.mptcp_sched_blest': 0 },
  opp: { 'net.mptcp.mptcp_opportunistic_retrans': 0 },
  hole: { 'net.mptcp.mptcp_hole_reinject': 0 },
};
// seed: which 3G segments the 2 % loss takes (the link model draws loss before the queue, as the
// lab's emulator and netem do); 768 kB uses seed 4, where retransmission is the rule that decides
const phone = (rmemMax: number, seed = 1): LivecdOptions => ({
  g3Loss: 0.02,
  seed,
  knobs: { 'net.ipv4.tcp_rmem': `4096 65536 ${rmemMax}` },
});
function run(base: LivecdOptions, off: Record<string, number> = {}): LivecdResult {
  const r = runLivecd({ ...base, knobs: { ...base.knobs, ...off } });
  expect(r.error).toBeUndefined();
  expect(r.intact).toBe(true);
  return r;
}
function mean(xs: number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i]!;
  return s / (to - from);
}
function table(r: LivecdResult): string {
  return BOUNDED_SECONDS.map((s) => `${s}s ${r.perSecond[s]!.toFixed(2)}`).join(', ');
}

describe('live-CD demo, client as connector (simulator)', () => {
  const demo = runLivecd();

  it('the client opens the connection and the 3G subflow, and re-joins from WiFi when it returns', () => {
    expect(demo.error).toBeUndefined();
    expect(demo.intact).toBe(true);
    const client = hostOf(demo.mb.client.core).report();
    const server = hostOf(demo.mb.server.core).report();
    expect(client.connections[0]!.role).toBe('client');
    expect(server.connections[0]!.role).toBe('server');
    // 3G at the start, WiFi again after 20 s: two joins from the client, none from the server.
    expect(demo.clientMib.MPJoinSynTx).toBeGreaterThanOrEqual(2);
    expect(demo.serverMib.MPJoinSynTx).toBe(0);
    expect(demo.serverMib.MPJoinAccepted).toBe(demo.clientMib.MPJoinSynTx);
    // The returning WiFi address was announced again (ADD_ADDR) after it came back.
    expect(demo.clientMib.AddAddrTx).toBeGreaterThanOrEqual(2);
    expect(demo.serverMib.AddAddr).toBeGreaterThanOrEqual(2);
    expect(demo.clientMib.EchoAdd).toBeGreaterThanOrEqual(2);
    const wifi = demo.mb.clientAddrs[0]!;
    const onWifi = client.connections[0]!.subflows.filter((s) => s.local.address === wifi);
    // The master (closed when its address went) and the subflow the client joined from it again.
    expect(onWifi.map((s) => s.state)).toEqual(['CLOSED', 'ESTABLISHED']);
    expect(onWifi[1]!.local.port).not.toBe(onWifi[0]!.local.port);
    expect(onWifi[1]!.bytesReceived).toBeGreaterThan(1_000_000);
  });

  it(`every whole second from 1 s to 9 s and 23 s to 29 s delivers >= ${BOUND} Mbit/s`, () => {
    const w = slowestBounded(demo);
    expect(w.mbps, table(demo)).toBeGreaterThanOrEqual(BOUND);
    // The cap is what held the 3G subflow back (the counter is in the report).
    expect(demo.serverMib.SlowQueueHeld).toBeGreaterThan(0);
  });

  it('the slow-path queue cap off: the bound fails (3G slow start overshoots into its 300 ms queue)', () => {
    const r = run({}, OFF.slowQueue);
    expect(r.serverMib.SlowQueueHeld).toBe(0);
    expect(slowestBounded(r).mbps, table(r)).toBeLessThan(BOUND);
  });

  it('a phone-sized window (512 kB), lossy 3G: holds with every rule, fails without BLEST', () => {
    const on = run(phone(524_288));
    expect(slowestBounded(on).mbps, table(on)).toBeGreaterThanOrEqual(BOUND);
    expect(on.serverMib.BlestSkipped).toBeGreaterThan(0);
    const off = run(phone(524_288), OFF.blest);
    expect(off.serverMib.BlestSkipped).toBe(0);
    expect(slowestBounded(off).mbps, table(off)).toBeLessThan(BOUND);
  });

  it('a phone-sized window (768 kB), lossy 3G, no hole repair: holds with opportunistic retransmission, fails without', () => {
    // Hole repair (on by default) resends the late 3G data before the window blocks, so here it
    // would hide the rule under test: it is off on both sides of the comparison.
    const base = phone(786_432, 4);
    base.knobs = { ...base.knobs, ...OFF.hole };
    const on = run(base);
    expect(slowestBounded(on).mbps, table(on)).toBeGreaterThanOrEqual(BOUND);
    expect(on.serverMib.OpportunisticRetrans).toBeGreaterThan(0);
    expect(on.serverMib.Penalizations).toBeGreaterThan(0);
    const off = run(base, OFF.opp);
    expect(off.serverMib.OpportunisticRetrans).toBe(0);
    expect(slowestBounded(off).mbps, table(off)).toBeLessThan(BOUND);
  });

  it("the demo's window, lossy 3G: holds with every rule, fails without hole repair", () => {
    // seed 3: 2 % loss each way on 3G; without the rule seconds 4 and 26 fall to ~13.6 and ~15
    // Mbit/s (~300 ms holes, one per 3G loss, the 3G subflow repairing each a slow RTT later)
    const lossy: LivecdOptions = { g3Loss: 0.02, seed: 3 };
    const on = run(lossy);
    expect(slowestBounded(on).mbps, table(on)).toBeGreaterThanOrEqual(BOUND);
    expect(on.serverMib.HoleReinjections).toBeGreaterThan(0);
    const off = run(lossy, OFF.hole);
    expect(off.serverMib.HoleReinjections).toBe(0);
    expect(slowestBounded(off).mbps, table(off)).toBeLessThan(BOUND);
  });

  it('MPTCP is never worse than its best path alone (plain TCP over WiFi alone, over 3G alone)', () => {
    const tcp = { 'net.mptcp.mptcp_enabled': 0 };
    const both = run({ events: false, durationMs: 20_000 });
    const wifiTcp = run({ paths: 'wifi', knobs: tcp, durationMs: 20_000 });
    expect(mean(both.perSecond, 1, 20)).toBeGreaterThanOrEqual(mean(wifiTcp.perSecond, 1, 20));
    // While WiFi is down the demo runs on 3G alone: as fast as plain TCP over 3G then.
    const g3Tcp = run({ paths: '3g', knobs: tcp, durationMs: 20_000 });
    expect(mean(demo.perSecond, 11, 20)).toBeGreaterThanOrEqual(mean(g3Tcp.perSecond, 11, 20));
  });
});
