/**
 * The rest of the MPTCP layer in the simulator: state report, multipath trigger, path-specific and
 * shared MSS, backup and MP_PRIO, address removal and return, MP_FASTCLOSE, schedulers, live knobs,
 * determinism. Every transfer is SHA-256 checked (BulkTransfer.ok).
 */
import { describe, expect, it } from 'vitest';
import { buildPair, buildTwoPath, startBulk, tcpPayload } from '../../../stack/sim/index';
import { decodeSegment } from '../../../stack/wire/tcp';
import { isParseError } from '../../../stack/wire/types';
import { hostOf, mptcpFactory } from './helpers';

function twoPaths(knobs: Record<string, number | string> = {}, extra = {}) {
  return buildTwoPath({
    factory: mptcpFactory(knobs, extra),
    server: 'single',
    paths: [
      { rateMbps: 10, delayMs: 10 },
      { rateMbps: 10, delayMs: 10 },
    ],
  });
}

describe('state report', () => {
  it('shows tokens (never keys), data sequence numbers, subflows, the mapping table and MIB', () => {
    const { sim, client, server, clientAddrs } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 2_000_000 });
    let json = '';
    let text = '';
    let keys: bigint[] = [];
    sim.at(800, () => {
      const h = hostOf(client.core);
      json = JSON.stringify(h.report());
      text = h.reportText();
      const c = h.connection(t.clientConn)!;
      keys = [c.local!.key, c.remoteKey!];
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const r = JSON.parse(json);
    const conn = r.connections[0];
    expect(conn.mode).toBe('mptcp');
    expect(conn.localToken).toMatch(/^0x[0-9a-f]{8}$/);
    expect(conn.remoteToken).toMatch(/^0x[0-9a-f]{8}$/);
    expect(BigInt(conn.data.sndUna)).toBeGreaterThan(0n);
    expect(conn.subflows).toHaveLength(2);
    for (const s of conn.subflows) {
      for (const k of ['pathIndex', 'endpoint', 'state', 'mss', 'cwnd', 'ssthresh', 'srttMs', 'rttvarMs'])
        expect(s).toHaveProperty(k);
      for (const k of ['bytesSent', 'bytesAcked', 'bytesReceived', 'retransmits', 'reinjections'])
        expect(typeof s[k]).toBe('number');
    }
    expect(r.mappingTable.map((m: { pathIndex: number }) => m.pathIndex)).toEqual([1, 2]);
    expect(r.mappingTable[1].endpoint.srcAddr).toBe(clientAddrs[1]);
    expect(r.mib.MPJoinAccepted).toBe(1);
    // Never the keys, in any notation.
    for (const k of keys) {
      expect(json).not.toContain(k.toString());
      expect(json.toLowerCase()).not.toContain(k.toString(16));
      expect(text).not.toContain(k.toString());
    }
    expect(text).toContain('Mapping table');
    expect(text).toMatch(/token\s+\| path index \| endpoint_id/);
    expect(text).toContain(`${conn.localToken} | 1 `);
    expect(text).toContain('MPJoinAccepted');
  });
});

describe('multipath trigger', () => {
  it('mptcp_trigger_bytes holds extra subflows back until that many bytes moved', () => {
    const { sim, client, server } = twoPaths({ 'net.mptcp.mptcp_trigger_bytes': 1_000_000 });
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    let deliveredAtJoin = -1;
    sim.every(5, () => {
      const c = hostOf(client.core).connStats()[0];
      if (deliveredAtJoin < 0 && c && c.subflows.length > 1) deliveredAtJoin = c.bytesDelivered;
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(deliveredAtJoin).toBeGreaterThanOrEqual(1_000_000);
    expect(deliveredAtJoin).toBeLessThan(1_200_000);
  });

  it('mptcp_trigger_ms holds extra subflows back for that long', () => {
    const { sim, client, server } = twoPaths({ 'net.mptcp.mptcp_trigger_ms': 700 });
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    let joinedAt = -1;
    sim.every(5, () => {
      const c = hostOf(client.core).connStats()[0];
      if (joinedAt < 0 && c && c.subflows.length > 1) joinedAt = sim.now;
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const established = t.connectedAt;
    expect(joinedAt - established).toBeGreaterThanOrEqual(700);
    expect(joinedAt - established).toBeLessThan(760);
  });
});

describe('MSS', () => {
  it('path-specific: each subflow cuts with its own MSS; mptcp_mss forces one shared MSS', () => {
    for (const shared of [0, 900]) {
      const b = buildTwoPath({
        factory: mptcpFactory({ 'net.mptcp.mptcp_mss': shared }, { mssByAddress: { '10.2.0.1': 960 } }),
        server: 'single',
        paths: [
          { rateMbps: 10, delayMs: 10 },
          { rateMbps: 10, delayMs: 10, mtu: 1000 },
        ],
      });
      const biggest = [0, 0];
      b.paths.forEach((p, i) => {
        p.ab.set({
          middlebox: (pkt) => {
            biggest[i] = Math.max(biggest[i]!, tcpPayload(pkt.data).length);
            return pkt;
          },
        });
      });
      const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 3_000_000 });
      b.sim.runWhile(() => !t.done, 60_000);
      expect(t.ok).toBe(true);
      expect(b.paths[1]!.ab.counters.dropped.mtu).toBe(0);
      const subs = hostOf(b.client.core).connStats()[0]!.subflows;
      if (shared === 0) {
        expect(subs.map((s) => s.mss)).toEqual([1420, 920]);
        expect(biggest).toEqual([1420, 920]);
      } else {
        expect(subs.map((s) => s.mss)).toEqual([900, 900]);
        expect(biggest).toEqual([900, 900]);
      }
    }
  });
});

describe('backup subflows and MP_PRIO', () => {
  it('a backup subflow idles while the regular one works, carries the data when it fails, MP_PRIO flips it', () => {
    const { sim, client, server, clientAddrs, paths } = twoPaths();
    hostOf(client.core).setBackup(clientAddrs[1]!, true, 0);
    const t = startBulk(sim, { client, server, bytes: 6_000_000 });
    let onBackupBefore = -1;
    sim.at(1500, () => {
      onBackupBefore = paths[1]!.ab.counters.deliveredBytes;
      paths[0]!.down();
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    // Before the failure, only control segments (handshake, ACKs) went on the backup path.
    expect(onBackupBefore).toBeLessThan(20_000);
    expect(paths[1]!.ab.counters.deliveredBytes).toBeGreaterThan(2_000_000);
    const srvConn = hostOf(server.core).connection(t.serverConn)!;
    expect(srvConn.subflows.find((s) => s.role === 'join')?.peerBackup).toBe(true);

    // MP_PRIO: clearing the flag live tells the peer.
    const b = twoPaths();
    hostOf(b.client.core).setBackup(b.clientAddrs[1]!, true, 0);
    const t2 = startBulk(b.sim, { client: b.client, server: b.server, bytes: 4_000_000 });
    b.sim.at(800, () => hostOf(b.client.core).setBackup(b.clientAddrs[1]!, false, b.sim.now));
    b.sim.runWhile(() => !t2.done, 60_000);
    expect(t2.ok).toBe(true);
    expect(hostOf(b.client.core).report().mib.MPPrioTx).toBe(1);
    expect(hostOf(b.server.core).report().mib.MPPrioRx).toBe(1);
    expect(b.paths[1]!.ab.counters.deliveredBytes).toBeGreaterThan(1_000_000);
  });
});

describe('addresses', () => {
  it('an address going away closes its subflow, sends REMOVE_ADDR, reinjects; coming back rebuilds it', () => {
    const { sim, client, server, clientAddrs } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 8_000_000 });
    const iface = client.ifaces[1]!;
    sim.at(1000, () => client.removeAddress(clientAddrs[1]!));
    sim.at(2500, () => client.addAddress(clientAddrs[1]!, iface));
    let rowsMid: string[] = [];
    sim.at(2000, () => {
      rowsMid = hostOf(client.core)
        .report()
        .mappingTable.map((r) => `${r.pathIndex}:${r.state}`);
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const cm = hostOf(client.core).report();
    const sm = hostOf(server.core).report();
    expect(rowsMid).toEqual(['1:established', '2:removed']);
    expect(cm.mib.RmAddrTx).toBe(1);
    expect(sm.mib.RmAddr).toBe(1);
    expect(cm.mib.SubflowsOpened).toBe(2);
    const subs = cm.connections[0]!.subflows;
    const rebuilt = subs.filter((s) => s.pathIndex === 2);
    expect(rebuilt).toHaveLength(2);
    expect(rebuilt[0]!.state).toBe('CLOSED');
    expect(rebuilt[1]!.bytesAcked).toBeGreaterThan(500_000);
    expect(cm.mappingTable.find((r) => r.pathIndex === 2)?.state).toBe('established');
  });
});

describe('ADD_ADDR retransmission', () => {
  it('an ADD_ADDR lost on the way is sent again after mptcp_add_addr_timeout, until echoed', () => {
    const b = buildTwoPath({
      factory: mptcpFactory({ 'net.mptcp.mptcp_add_addr_timeout': 500 }),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    let dropped = -1;
    b.paths[0]!.ba.set({
      middlebox: (p, ctx) => {
        const s = decodeSegment(p.data);
        if (
          dropped < 0 &&
          !isParseError(s) &&
          s.options.some((o) => o.kind === 'mptcp' && o.mp.subtype === 'ADD_ADDR')
        ) {
          dropped = ctx.now;
          return null;
        }
        return p;
      },
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 3_000_000 });
    let joinedAt = -1;
    b.sim.every(10, () => {
      const c = hostOf(b.client.core).connStats()[0];
      if (joinedAt < 0 && c?.subflows.some((s) => s.remote.address === b.serverAddrs[1]))
        joinedAt = b.sim.now;
    });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(dropped).toBeGreaterThan(0);
    expect(joinedAt - dropped).toBeGreaterThanOrEqual(480);
    expect(joinedAt - dropped).toBeLessThan(700);
    const sm = hostOf(b.server.core).report().mib;
    expect(sm.AddAddrTx).toBe(2);
    expect(sm.EchoAdd).toBe(1);
  });
});

describe('the server loses an address', () => {
  it('its subflows close, the client honours REMOVE_ADDR, data intact', () => {
    const b = buildTwoPath({
      factory: mptcpFactory(),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 6_000_000 });
    let before = 0;
    b.sim.at(1500, () => {
      before = hostOf(b.client.core)
        .report()
        .connections[0]!.subflows.filter(
          (s) => s.remote.address === b.serverAddrs[1] && s.state !== 'CLOSED',
        ).length;
      b.server.removeAddress(b.serverAddrs[1]!);
    });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(before).toBe(2);
    const r = hostOf(b.client.core).report();
    expect(hostOf(b.server.core).report().mib.RmAddrTx).toBe(1);
    expect(r.mib.RmAddr).toBe(1);
    const toGone = r.connections[0]!.subflows.filter((s) => s.remote.address === b.serverAddrs[1]);
    expect(toGone.every((s) => s.state === 'CLOSED' && s.closeReason === 'remote-removed')).toBe(true);
    expect(
      r.mappingTable
        .filter((m) => m.endpoint.dstAddr === b.serverAddrs[1])
        .every((m) => m.state === 'removed'),
    ).toBe(true);
  });
});

describe('losing the master address', () => {
  it('the connection lives on over the join; the address coming back is used again', () => {
    const { sim, client, server, clientAddrs, paths } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 8_000_000 });
    const iface = client.ifaces[0]!;
    sim.at(800, () => client.removeAddress(clientAddrs[0]!));
    let onPath0AtReturn = 0;
    sim.at(2000, () => {
      onPath0AtReturn = paths[0]!.ab.counters.deliveredBytes;
      client.addAddress(clientAddrs[0]!, iface);
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const r = hostOf(client.core).report();
    const master = r.connections[0]!.subflows[0]!;
    expect(master.state).toBe('CLOSED');
    expect(master.closeReason).toBe('address-removed');
    expect(r.mib.RmAddrTx).toBe(1);
    expect(hostOf(server.core).report().mib.RmAddr).toBe(1);
    // Path index 1 was rebuilt as a join from the returning address.
    expect(r.connections[0]!.subflows.filter((s) => s.pathIndex === 1 && s.state !== 'CLOSED')).toHaveLength(
      1,
    );
    expect(paths[0]!.ab.counters.deliveredBytes - onPath0AtReturn).toBeGreaterThan(1_000_000);
  });
});

describe('termination', () => {
  it('DATA_FIN both ways closes both ends cleanly', () => {
    const { sim, client, server } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 1_000_000 });
    sim.runWhile(() => !t.done || Number.isNaN(t.clientClosedAt) || Number.isNaN(t.serverClosedAt), 60_000);
    expect(t.ok).toBe(true);
    expect(t.error).toBeUndefined();
    expect(t.clientClosedAt).toBeGreaterThan(0);
    expect(t.serverClosedAt).toBeGreaterThan(0);
    expect(hostOf(client.core).report().mib.DataFinRx).toBe(1);
    expect(hostOf(server.core).report().mib.DataFinRx).toBe(1);
  });

  it('MP_FASTCLOSE ends the connection at once on both sides', () => {
    const { sim, client, server } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 50_000_000 });
    sim.at(1000, () => {
      client.core.abort(t.clientConn, sim.now);
      client.pump();
    });
    sim.runWhile(() => Number.isNaN(t.serverClosedAt), 5000);
    expect(t.serverClosedAt).toBeGreaterThanOrEqual(1000);
    expect(t.serverClosedAt).toBeLessThan(1100);
    expect(t.error).toMatchObject({ side: 'server', code: 'ECONNRESET' });
    expect(hostOf(client.core).report().mib.MPFastcloseTx).toBe(2);
    expect(hostOf(server.core).report().mib.MPFastcloseRx).toBeGreaterThanOrEqual(1);
  });
});

describe('schedulers and live knobs', () => {
  it('roundrobin spreads data evenly; redundant sends every byte on every subflow', () => {
    const rr = twoPaths({ 'net.mptcp.mptcp_scheduler': 'roundrobin' });
    const t1 = startBulk(rr.sim, { client: rr.client, server: rr.server, bytes: 3_000_000 });
    rr.sim.runWhile(() => !t1.done, 60_000);
    expect(t1.ok).toBe(true);
    const s1 = hostOf(rr.client.core)
      .connStats()[0]!
      .subflows.map((s) => s.bytesAcked);
    expect(Math.min(...s1) / Math.max(...s1)).toBeGreaterThan(0.7);

    const red = twoPaths({ 'net.mptcp.mptcp_scheduler': 'redundant' });
    const t2 = startBulk(red.sim, { client: red.client, server: red.server, bytes: 2_000_000 });
    red.sim.runWhile(() => !t2.done, 60_000);
    expect(t2.ok).toBe(true);
    const s2 = hostOf(red.client.core)
      .connStats()[0]!
      .subflows.map((s) => s.bytesSent);
    for (const b of s2) expect(b).toBeGreaterThan(1_500_000);
  });

  it('every mptcp_cc value carries a transfer (coupled and uncoupled)', () => {
    for (const cc of ['lia', 'olia', 'balia', 'reno', 'cubic']) {
      const { sim, client, server } = twoPaths({ 'net.mptcp.mptcp_cc': cc });
      const t = startBulk(sim, { client, server, bytes: 1_000_000 });
      sim.runWhile(() => !t.done, 60_000);
      expect(t.ok).toBe(true);
      const c = hostOf(client.core).connection(t.clientConn)!;
      expect(c.subflows.map((s) => s.tcb.cc.name)).toEqual([cc, cc]);
      expect(c.subflows.every((s) => s.tcb.bytesAcked > 50_000)).toBe(true);
    }
  });

  it('scheduler and cc changes apply to live connections', () => {
    const { sim, client, server } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    sim.at(600, () => {
      const h = hostOf(client.core);
      h.sysctl.set('net.mptcp.mptcp_scheduler', 'roundrobin');
      h.sysctl.set('net.mptcp.mptcp_cc', 'olia');
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const c = hostOf(client.core).connection(t.clientConn)!;
    expect(c.sched.name).toBe('roundrobin');
    expect(c.subflows.every((s) => s.tcb.cc.name === 'olia')).toBe(true);
    expect(hostOf(client.core).report().connections[0]!.cc).toBe('olia');
  });
});

describe('determinism', () => {
  it('same seed, same report, byte for byte', () => {
    const run = () => {
      const { sim, a, b } = buildPair({
        factory: mptcpFactory({
          'net.mptcp.mptcp_path_manager': 'ndiffports',
          'net.mptcp.mptcp_ndiffports': 3,
        }),
        rateMbps: 10,
        rttMs: 30,
        loss: 0.01,
        seed: 'det',
      });
      const t = startBulk(sim, { client: a, server: b, bytes: 1_500_000 });
      sim.runWhile(() => !t.done, 60_000);
      expect(t.ok).toBe(true);
      return JSON.stringify([hostOf(a.core).report(), hostOf(b.core).report(), t.durationMs]);
    };
    expect(run()).toBe(run());
  });
});

describe('robustness', () => {
  it('MP_CAPABLE SYNs dropped by a middlebox: plain TCP after mptcp_syn_retries', async () => {
    const { dropWhere, tcpFlags, tcpOptionKinds } = await import('../../../stack/sim/index');
    const { sim, a, b, link } = buildPair({
      factory: mptcpFactory({ 'net.mptcp.mptcp_syn_retries': 1 }),
      rateMbps: 10,
      rttMs: 20,
    });
    let dropped = 0;
    link.ab.set({
      middlebox: dropWhere((p) => {
        const drop = (tcpFlags(p.data) & 2) !== 0 && tcpOptionKinds(p.data).includes(30);
        if (drop) dropped++;
        return drop;
      }),
    });
    const t = startBulk(sim, { client: a, server: b, bytes: 500_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(dropped).toBe(2);
    expect(t.connectedAt).toBeGreaterThan(2900);
    expect(t.connectedAt).toBeLessThan(3500);
    expect(hostOf(a.core).connStats()[0]?.mode ?? 'tcp').toBe('tcp');
  });

  it('a small connection-level window: the fast subflow sends the oldest data of the slow one again', () => {
    const b = buildTwoPath({
      // BLEST and the slow-path queue cap (on by default) keep the window from blocking here in
      // the first place: off, so that opportunistic retransmission is what is exercised.
      factory: mptcpFactory({
        'net.ipv4.tcp_rmem': '4096 131072 524288',
        'net.mptcp.mptcp_sched_blest': 0,
        'net.mptcp.mptcp_sched_slow_queue': 0,
      }),
      server: 'single',
      paths: [
        { rateMbps: 20, delayMs: 10 },
        { rateMbps: 2, delayMs: 75 },
      ],
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 6_000_000 });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const mib = hostOf(b.client.core).report().mib;
    expect(mib.OpportunisticRetrans).toBeGreaterThan(0);
    expect(mib.Penalizations).toBeGreaterThan(0);
    const subs = hostOf(b.client.core).report().connections[0]!.subflows;
    expect(subs[0]!.reinjections).toBeGreaterThan(0);
  });

  it('a lost fourth ACK of MP_JOIN: the third ACK is repeated and answered', async () => {
    const { tcpFlags, tcpPayload } = await import('../../../stack/sim/index');
    const { sim, client, server, paths } = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    let sawSynAck = false;
    let droppedAt = -1;
    paths[1]!.ba.set({
      middlebox: (p, ctx) => {
        const f = tcpFlags(p.data);
        if (f === 0x12) sawSynAck = true;
        else if (sawSynAck && droppedAt < 0 && f === 0x10 && tcpPayload(p.data).length === 0) {
          droppedAt = ctx.now;
          return null;
        }
        return p;
      },
    });
    const t = startBulk(sim, { client, server, bytes: 4_000_000 });
    let readyAt = -1;
    sim.every(10, () => {
      const c = hostOf(client.core).connection(t.clientConn);
      if (readyAt < 0 && c?.subflows[1]?.joinReady) readyAt = sim.now;
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(droppedAt).toBeGreaterThan(0);
    expect(readyAt - droppedAt).toBeGreaterThanOrEqual(900);
    expect(readyAt - droppedAt).toBeLessThan(1200);
    expect(hostOf(client.core).connStats()[0]!.subflows[1]!.bytesAcked).toBeGreaterThan(500_000);
  });

  it('bytes lost at the data level after their subflow ACK are sent again by the data-level timer', () => {
    const { sim, client, server } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    let lost = 0;
    sim.at(300, () => {
      const conn = hostOf(server.core).connection(t.serverConn)!;
      const orig = conn.rxBytes.bind(conn);
      conn.rxBytes = (off, bytes, now) => {
        // The receiver loses one chunk it had already acknowledged at the subflow level.
        if (lost === 0 && off > conn.rq.rcvNxt) {
          lost = bytes.length;
          return;
        }
        orig(off, bytes, now);
      };
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(lost).toBeGreaterThan(0);
    expect(t.ok).toBe(true);
    expect(hostOf(client.core).report().mib.MPTCPRetrans).toBeGreaterThanOrEqual(1);
  });
});

describe('IPv6', () => {
  it('fullmesh over IPv6 paths: ADD_ADDR v6, joins, data intact', () => {
    const b = buildTwoPath({
      family: 6,
      factory: mptcpFactory(),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 3_000_000 });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const r = hostOf(b.client.core).report();
    expect(r.mib.AddAddr).toBe(1);
    expect(r.mappingTable).toHaveLength(4);
    expect(r.connections[0]!.subflows.filter((s) => s.bytesAcked > 100_000).length).toBeGreaterThanOrEqual(3);
    for (const row of r.mappingTable) expect(row.endpoint.srcAddr).toContain(':');
  });
});

describe('options stripped mid-connection', () => {
  it('the only subflow falls back to TCP on both sides; bytes intact', async () => {
    const { stripOptions } = await import('../../../stack/sim/index');
    for (const dirs of [['ab', 'ba'], ['ab']] as const) {
      const { sim, a, b, link } = buildPair({ factory: mptcpFactory(), rateMbps: 10, rttMs: 20 });
      const strip = stripOptions([30]);
      let n = 0;
      for (const d of dirs) link[d].set({ middlebox: (p, ctx) => (++n > 300 ? strip(p, ctx) : p) });
      const t = startBulk(sim, { client: a, server: b, bytes: 2_000_000 });
      sim.runWhile(() => !t.done, 60_000);
      expect(n).toBeGreaterThan(300);
      expect(t.ok).toBe(true);
      expect(t.error).toBeUndefined();
      // The receiver always notices (its data arrives unmapped); the sender when its ACKs do too.
      expect(hostOf(b.core).report().connections[0]!.fallback).toMatch(/stripped/);
      if (dirs.length === 2) expect(hostOf(a.core).report().connections[0]!.fallback).toMatch(/stripped/);
    }
  });
});

describe('timeouts', () => {
  it('every path dead for good: the connection ends with ETIMEDOUT, loudly', () => {
    const { sim, client, server, paths } = twoPaths({}, { tcb: { userTimeoutMs: 5000 } });
    const t = startBulk(sim, { client, server, bytes: 50_000_000 });
    sim.at(1000, () => {
      paths[0]!.down();
      paths[1]!.down();
    });
    sim.runWhile(() => Number.isNaN(t.clientClosedAt), 60_000);
    expect(t.error).toMatchObject({ side: 'client', code: 'ETIMEDOUT' });
    expect(t.clientClosedAt).toBeGreaterThan(5000);
    expect(t.clientClosedAt).toBeLessThan(15_000);
    expect(t.bytesReceived).toBeLessThan(50_000_000);
  });
});

describe('the C flag', () => {
  it('a server that refuses joins to its initial address sets C; the client only joins its other address', () => {
    const b = buildTwoPath({
      factory: mptcpFactory(),
      factoryServer: mptcpFactory({ 'net.mptcp.mptcp_allow_join_initial_addr_port': 0 }),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 3_000_000 });
    b.sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const r = hostOf(b.client.core).report();
    const subs = r.connections[0]!.subflows;
    // The master plus the two subflows toward the announced address; none else toward the first.
    expect(subs.filter((s) => s.remote.address === b.serverAddrs[0])).toHaveLength(1);
    expect(subs.filter((s) => s.remote.address === b.serverAddrs[1])).toHaveLength(2);
    expect(hostOf(b.server.core).report().mib.MPJoinRefused).toBe(0);
  });
});

describe('writing and ending before the handshake completes', () => {
  it('the data and the end arrive, whether the connection stays MPTCP, falls back, or is plain TCP', async () => {
    const { createHash } = await import('node:crypto');
    for (const [clientMp, serverMp] of [
      [1, 1],
      [1, 0],
      [0, 1],
    ] as const) {
      const { sim, a, b, addrB } = buildPair({
        factory: mptcpFactory({ 'net.mptcp.mptcp_enabled': clientMp }),
        factoryB: mptcpFactory({ 'net.mptcp.mptcp_enabled': serverMp }),
        rateMbps: 10,
        rttMs: 20,
      });
      const payload = new Uint8Array(200_000).map((_, i) => (i * 7 + 3) & 0xff);
      const got: Uint8Array[] = [];
      let ended = false;
      b.core.listen(80);
      b.on((e) => {
        if (e.type === 'data') {
          got.push(e.data);
          b.core.consumed(e.conn, e.data.length, sim.now);
        }
        if (e.type === 'end') ended = true;
      });
      sim.at(0, () => {
        const id = a.core.connect({ host: addrB, port: 80 }, sim.now);
        expect(a.core.write(id, payload, sim.now)).toBe(payload.length);
        a.core.end(id, sim.now);
        a.pump();
      });
      sim.runWhile(() => !ended, 10_000);
      expect(ended).toBe(true);
      const all = Buffer.concat(got);
      expect(createHash('sha256').update(all).digest('hex')).toBe(
        createHash('sha256').update(payload).digest('hex'),
      );
    }
  });
});

describe('a subflow closed by the peer (FIN, no DATA_FIN)', () => {
  it('our side of it closes too; the connection goes on over the others, bytes intact', () => {
    const { sim, client, server } = twoPaths();
    const t = startBulk(sim, { client, server, bytes: 6_000_000 });
    sim.at(1000, () => {
      const conn = hostOf(server.core).connection(t.serverConn)!;
      const join = conn.subflows.find((s) => s.role === 'join')!;
      join.tcb.close(sim.now);
      server.pump();
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const subs = hostOf(client.core).report().connections[0]!.subflows;
    const closedJoin = subs.find((s) => s.pathIndex === 2)!;
    expect(closedJoin.closeReason).toBe('peer closed the subflow (FIN)');
    expect(['FIN_WAIT_1', 'FIN_WAIT_2', 'LAST_ACK', 'TIME_WAIT', 'CLOSED', 'CLOSING']).toContain(
      closedJoin.state,
    );
    expect(subs.find((s) => s.pathIndex === 1)!.bytesAcked).toBeGreaterThan(3_000_000);
  });
});
