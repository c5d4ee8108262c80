/**
 * Forged MP_JOINs and the DSS checksum against payload-rewriting middleboxes. Every transfer is
 * SHA-256 checked (BulkTransfer.ok).
 */
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../stack/core/contract';
import { buildPair, buildTwoPath, rewritePayload, startBulk } from '../../../stack/sim/index';
import { decodeSegment, encodeSegment } from '../../../stack/wire/tcp';
import { ACK, isParseError, type MptcpOption, SYN, type TcpSegment } from '../../../stack/wire/types';
import { hostOf, mptcpFactory } from './helpers';

function seg(p: Packet): TcpSegment {
  const s = decodeSegment(p.data);
  if (isParseError(s)) throw new Error(String(s));
  return s;
}

function mptcp(s: TcpSegment): MptcpOption[] {
  return s.options.flatMap((o) => (o.kind === 'mptcp' ? [o.mp] : []));
}

describe('forged MP_JOIN', () => {
  it('unknown token and wrong third-ACK HMAC are refused with RST, counted; the connection is unharmed', () => {
    const { sim, client, server, clientAddrs, serverAddrs } = buildTwoPath({
      factory: mptcpFactory({ 'net.mptcp.mptcp_path_manager': 'default' }),
      server: 'single',
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    const srv = hostOf(server.core);
    const forgedFrom = clientAddrs[1]!;
    const to = serverAddrs[0]!;
    const synOf = (token: number, port: number): Packet => ({
      src: forgedFrom,
      dst: to,
      data: encodeSegment(
        {
          srcPort: port,
          dstPort: 5001,
          seq: 1000,
          ack: 0,
          flags: SYN,
          window: 65535,
          checksum: 0,
          urgent: 0,
          options: [
            { kind: 'mss', mss: 1460 },
            {
              kind: 'mptcp',
              mp: { subtype: 'MP_JOIN', form: 'syn', backup: false, addressId: 9, token, nonce: 42 },
            },
          ],
          payload: new Uint8Array(0),
        },
        forgedFrom,
        to,
      ),
    });
    const outcome: Record<string, unknown> = {};
    sim.at(500, () => {
      const conn = srv.connection(t.serverConn)!;
      const token = conn.local!.token;
      // 1. Unknown token.
      srv.input(synOf((token ^ 0x5a5a5a5a) >>> 0, 40001), sim.now);
      const out1 = srv.takeOutput().map(seg);
      outcome.unknownRst = out1.some(
        (s) => (s.flags & 4) !== 0 && mptcp(s).some((m) => m.subtype === 'MP_TCPRST'),
      );
      // 2. Known token, forged third ACK.
      srv.input(synOf(token, 40002), sim.now);
      const out2 = srv.takeOutput().map(seg);
      const synack = out2.find((s) => (s.flags & (SYN | ACK)) === (SYN | ACK));
      outcome.synackJoin = synack
        ? mptcp(synack).some((m) => m.subtype === 'MP_JOIN' && m.form === 'synack')
        : false;
      const third: TcpSegment = {
        srcPort: 40002,
        dstPort: 5001,
        seq: 1001,
        ack: ((synack?.seq ?? 0) + 1) >>> 0,
        flags: ACK,
        window: 65535,
        checksum: 0,
        urgent: 0,
        options: [
          { kind: 'mptcp', mp: { subtype: 'MP_JOIN', form: 'ack', hmac: new Uint8Array(20).fill(0xab) } },
        ],
        payload: new Uint8Array(0),
      };
      srv.input({ src: forgedFrom, dst: to, data: encodeSegment(third, forgedFrom, to) }, sim.now);
      const out3 = srv.takeOutput().map(seg);
      const rst = out3.find((s) => (s.flags & 4) !== 0);
      outcome.hmacRst = rst ? mptcp(rst).find((m) => m.subtype === 'MP_TCPRST') : undefined;
      outcome.subflowsAfter = conn.subflows.filter((s) => !s.closed).length;
    });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    expect(outcome.unknownRst).toBe(true);
    expect(outcome.synackJoin).toBe(true);
    expect(outcome.hmacRst).toMatchObject({ subtype: 'MP_TCPRST', reason: 1 });
    expect(outcome.subflowsAfter).toBe(1);
    const mib = srv.report().mib;
    expect(mib.MPJoinNoTokenFound).toBe(1);
    expect(mib.MPJoinAckHMacFailure).toBe(1);
    expect(mib.MPJoinRefused).toBe(2);
    expect(mib.MPJoinAccepted).toBe(0);
    expect(srv.connStats()[0]!.mode).toBe('mptcp');
  });

  it('a SYN/ACK with a wrong HMAC is refused by the client; the connection goes on', () => {
    const { sim, client, server, paths } = buildTwoPath({
      factory: mptcpFactory(),
      server: 'single',
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    // On path 2 toward the client, corrupt the truncated HMAC of MP_JOIN SYN/ACKs.
    paths[1]!.ba.set({
      middlebox: (p) => {
        const s = decodeSegment(p.data);
        if (isParseError(s) || (s.flags & (SYN | ACK)) !== (SYN | ACK)) return p;
        for (const o of s.options) {
          if (o.kind === 'mptcp' && o.mp.subtype === 'MP_JOIN' && o.mp.form === 'synack') {
            o.mp.truncatedHmac ^= 1n;
          }
        }
        return { src: p.src, dst: p.dst, data: encodeSegment(s, p.src, p.dst) };
      },
    });
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.ok).toBe(true);
    const mib = hostOf(client.core).report().mib;
    expect(mib.MPJoinSynAckHMacFailure).toBeGreaterThanOrEqual(1);
    expect(mib.MPJoinAccepted).toBe(0);
    const subs = hostOf(client.core).connStats()[0]!.subflows;
    expect(subs.filter((s) => s.bytesAcked > 0)).toHaveLength(1);
  });
});

describe('DSS checksum against payload-rewriting middleboxes', () => {
  const csum = { 'net.mptcp.mptcp_checksum': 1 };

  it('one path, one rewritten segment: MP_FAIL, infinite-mapping fallback, bytes intact', () => {
    const { sim, a, b, link } = buildPair({ factory: mptcpFactory(csum), rateMbps: 20, rttMs: 20 });
    let n = 0;
    let rewritten = 0;
    link.ab.set({
      middlebox: rewritePayload((payload) => {
        if (payload.length < 100 || ++n !== 300) return null;
        rewritten++;
        const p = payload.slice();
        p[50] = p[50]! ^ 0xff;
        return p;
      }),
    });
    const t = startBulk(sim, { client: a, server: b, bytes: 2_000_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(rewritten).toBe(1);
    expect(t.error).toBeUndefined();
    expect(t.ok).toBe(true);
    const rx = hostOf(b.core).report();
    const tx = hostOf(a.core).report();
    expect(rx.mib.DataCsumErr).toBe(1);
    expect(rx.mib.MPFailTx).toBe(1);
    expect(tx.mib.MPFailRx).toBe(1);
    expect(tx.mib.InfiniteMapTx).toBe(1);
    expect(rx.mib.InfiniteMapRx).toBe(1);
    expect(tx.connections[0]?.checksum ?? true).toBe(true);
    // Both ends now run plain TCP (the contract's mode after a fallback).
    expect(tx.connections[0]?.mode).toBe('tcp');
    expect(rx.connections[0]?.mode).toBe('tcp');
  });

  it('two paths, one rewriting every segment: that subflow is reset (MP_FAIL + MP_TCPRST), data goes on the other', () => {
    const { sim, client, server, paths } = buildTwoPath({
      factory: mptcpFactory(csum),
      server: 'single',
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    paths[1]!.ab.set({
      middlebox: rewritePayload((payload) => {
        if (payload.length < 10) return null;
        const p = payload.slice();
        p[5] = p[5]! ^ 0x01;
        return p;
      }),
    });
    const t = startBulk(sim, { client, server, bytes: 3_000_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.error).toBeUndefined();
    expect(t.ok).toBe(true);
    const rx = hostOf(server.core).report();
    const tx = hostOf(client.core).report();
    expect(rx.mib.DataCsumErr).toBeGreaterThanOrEqual(1);
    expect(rx.mib.MPRstTx).toBeGreaterThanOrEqual(1);
    expect(tx.mib.MPRstRx).toBeGreaterThanOrEqual(1);
    expect(tx.mib.Reinjections).toBeGreaterThanOrEqual(1);
    expect(tx.connections[0]!.mode).toBe('mptcp');
    const closed = tx.connections[0]!.subflows.filter((s) => s.pathIndex !== 1);
    expect(closed.every((s) => s.state === 'CLOSED')).toBe(true);
    expect(closed.some((s) => (s.closeReason ?? '').includes('MP_TCPRST reason 6'))).toBe(true);
  });

  it('control: without the checksum the same rewriting box corrupts silently (what the checksum prevents)', () => {
    const { sim, a, b, link } = buildPair({ factory: mptcpFactory(), rateMbps: 20, rttMs: 20 });
    let n = 0;
    link.ab.set({
      middlebox: rewritePayload((payload) => {
        if (payload.length < 100 || ++n !== 300) return null;
        const p = payload.slice();
        p[50] = p[50]! ^ 0xff;
        return p;
      }),
    });
    const t = startBulk(sim, { client: a, server: b, bytes: 2_000_000 });
    sim.runWhile(() => !t.done, 60_000);
    expect(t.done).toBe(true);
    expect(t.bytesReceived).toBe(2_000_000);
    expect(t.receivedSha).not.toBe(t.sentSha);
  });
});

describe('SYN backlog', () => {
  it('half-open passive connections are capped; excess SYNs are dropped and counted', async () => {
    const { MptcpHost } = await import('../../../stack/mptcp/host');
    const h = new MptcpHost({ addresses: ['10.0.0.1'], synBacklog: 8, random: () => 7 });
    h.listen(80);
    for (let i = 0; i < 20; i++) {
      const syn: TcpSegment = {
        srcPort: 10_000 + i,
        dstPort: 80,
        seq: i * 1000,
        ack: 0,
        flags: SYN,
        window: 65535,
        checksum: 0,
        urgent: 0,
        options: [
          {
            kind: 'mptcp',
            mp: { subtype: 'MP_CAPABLE', version: 1, a: false, b: false, c: false, h: true, flags: 1 },
          },
        ],
        payload: new Uint8Array(0),
      };
      h.input({ src: '10.0.0.9', dst: '10.0.0.1', data: encodeSegment(syn, '10.0.0.9', '10.0.0.1') }, i);
    }
    const synacks = h
      .takeOutput()
      .map(seg)
      .filter((s) => (s.flags & (SYN | ACK)) === (SYN | ACK));
    expect(synacks).toHaveLength(8);
    expect(h.stats.synDropped).toBe(12);
    // Half-open connections are not announced to the application.
    expect(h.takeEvents().filter((e) => e.type === 'accepted')).toHaveLength(0);
    expect(h.connStats().filter((c) => c.state === 'SYN_RECEIVED')).toHaveLength(8);
  });
});

describe('MP_JOIN where MPTCP is off', () => {
  it('is refused with MP_TCPRST "administratively prohibited", not taken for a new connection', async () => {
    const { MptcpHost } = await import('../../../stack/mptcp/host');
    const { Sysctl } = await import('../../../stack/sysctl');
    const h = new MptcpHost({
      addresses: ['10.0.0.1'],
      sysctl: new Sysctl({ 'net.mptcp.mptcp_enabled': 0 }),
    });
    h.listen(80);
    const syn: TcpSegment = {
      srcPort: 4000,
      dstPort: 80,
      seq: 1,
      ack: 0,
      flags: SYN,
      window: 65535,
      checksum: 0,
      urgent: 0,
      options: [
        {
          kind: 'mptcp',
          mp: { subtype: 'MP_JOIN', form: 'syn', backup: false, addressId: 1, token: 5, nonce: 6 },
        },
      ],
      payload: new Uint8Array(0),
    };
    h.input({ src: '10.0.0.9', dst: '10.0.0.1', data: encodeSegment(syn, '10.0.0.9', '10.0.0.1') }, 0);
    const out = h.takeOutput().map(seg);
    expect(out).toHaveLength(1);
    expect(out[0]!.flags & 4).toBe(4);
    expect(mptcp(out[0]!).find((m) => m.subtype === 'MP_TCPRST')).toMatchObject({ reason: 3 });
    expect(h.connStats()).toHaveLength(0);
  });
});
