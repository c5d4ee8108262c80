import { describe, expect, it } from 'vitest';
import type { CoreEvent, Packet } from '../../../stack/core/contract';
import { buildPair, type CoreFactory, startBulk } from '../../../stack/sim/index';
import { TcpHost } from '../../../stack/tcp/host';
import { TcpState } from '../../../stack/tcp/tcb';
import { decodeSegment, encodeSegment, verifySegmentChecksum } from '../../../stack/wire/tcp';
import { ACK, isParseError, RST, SYN, type TcpSegment } from '../../../stack/wire/types';

const factory: CoreFactory = (h) =>
  new TcpHost({ addresses: h.addresses, isnSecret: h.rng.bytes(16), random: () => h.rng.nextU32() });

function seg(p: Partial<TcpSegment>): TcpSegment {
  return {
    srcPort: 40000,
    dstPort: 80,
    seq: 1000,
    ack: 0,
    flags: SYN,
    window: 65535,
    checksum: 0,
    urgent: 0,
    options: [{ kind: 'mss', mss: 1460 }],
    payload: new Uint8Array(0),
    ...p,
  };
}

function decodeAll(out: Packet[]): TcpSegment[] {
  return out.map((p) => {
    const s = decodeSegment(p.data);
    if (isParseError(s)) throw new Error(s.message);
    return s;
  });
}

describe('TcpHost', () => {
  it('carries a transfer end to end with the events in order, and checksums verify', () => {
    const { sim, a, b } = buildPair({ factory, seed: 2, rateMbps: 20, rttMs: 10 });
    const evA: string[] = [];
    const evB: string[] = [];
    a.on((e) => evA.push(e.type));
    b.on((e) => evB.push(e.type));
    const x = startBulk(sim, { client: a, server: b, bytes: 500_000 });
    const trace = sim.tracePackets(10);
    sim.runWhile(() => !x.done, 20_000);
    sim.runFor(200);
    expect(x.ok).toBe(true);
    expect(evA[0]).toBe('connected');
    expect(evB[0]).toBe('accepted');
    expect(evB).toContain('end');
    expect(evA).toContain('end');
    expect(evA.at(-1)).toBe('closed');
    expect(evB.at(-1)).toBe('closed');
    expect(trace.toJSON().records.length).toBeGreaterThan(0);
    // TIME_WAIT keeps the client's connection until 2MSL; the server's is gone.
    const hb = b.core as TcpHost;
    expect(hb.connectionCount).toBe(0);
    const ha = a.core as TcpHost;
    expect(ha.connStats()[0]!.state).toBe('TIME_WAIT');
  });

  it('answers a SYN to a closed port with RST/ACK, and the connector gets ECONNREFUSED', () => {
    const { sim, a, b, addrB } = buildPair({ factory, seed: 3, rttMs: 10 });
    const events: CoreEvent[] = [];
    a.on((e) => events.push(e));
    const conn = a.connect({ host: addrB, port: 9 });
    sim.runFor(100);
    expect(events).toEqual([
      { type: 'closed', conn, error: { code: 'ECONNREFUSED', message: 'connection refused' } },
    ]);
    expect((b.core as TcpHost).counters.resetsSent).toBe(1);
  });

  it('RST rules for segments that reach no connection (RFC 9293 §3.10.7.1)', () => {
    const h = new TcpHost({ addresses: ['10.0.0.2'], isnSecret: new Uint8Array(16), random: () => 7 });
    const send = (s: TcpSegment) => h.input({ src: '10.0.0.1', dst: '10.0.0.2', data: encodeSegment(s) }, 0);
    send(seg({ flags: ACK, seq: 5, ack: 777, payload: new Uint8Array(10), options: [] }));
    send(seg({ flags: SYN, seq: 100 }));
    send(seg({ flags: RST, seq: 5 }));
    const out = decodeAll(h.takeOutput());
    expect(out).toHaveLength(2);
    // With ACK: <SEQ=SEG.ACK><CTL=RST>.
    expect([out[0]!.flags, out[0]!.seq]).toEqual([RST, 777]);
    // Without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (the SYN counts one).
    expect([out[1]!.flags, out[1]!.seq, out[1]!.ack]).toEqual([RST | ACK, 0, 101]);
    // Never a RST for a RST.
    expect(h.counters.resetsSent).toBe(2);
  });

  it('bounds half-open connections per listener (SYN flood), and frees slots on completion', () => {
    const h = new TcpHost({
      addresses: ['10.0.0.2'],
      synBacklog: 8,
      synCookies: false,
      isnSecret: new Uint8Array(16),
    });
    h.listen(80);
    for (let i = 0; i < 50; i++) {
      h.input({ src: '10.9.0.1', dst: '10.0.0.2', data: encodeSegment(seg({ srcPort: 1000 + i })) }, i);
    }
    const synacks = decodeAll(h.takeOutput()).filter((s) => s.flags === (SYN | ACK));
    expect(synacks).toHaveLength(8);
    expect(h.counters.synDropsBacklog).toBe(42);
    expect(h.connectionCount).toBe(8);
    // Completing one handshake frees a slot.
    const first = synacks[0]!;
    h.input(
      {
        src: '10.9.0.1',
        dst: '10.0.0.2',
        data: encodeSegment(
          seg({ srcPort: first.dstPort, flags: ACK, seq: 1001, ack: (first.seq + 1) >>> 0, options: [] }),
        ),
      },
      60,
    );
    expect(h.takeEvents().map((e) => e.type)).toEqual(['accepted']);
    h.input({ src: '10.9.0.1', dst: '10.0.0.2', data: encodeSegment(seg({ srcPort: 2000 })) }, 61);
    expect(decodeAll(h.takeOutput()).filter((s) => s.flags === (SYN | ACK))).toHaveLength(1);
    // Half-open connections expire after their SYN/ACK retries.
    h.advance(1e9);
    for (let t = 0; t < 20 && h.nextDeadline() < Number.POSITIVE_INFINITY; t++) h.advance(h.nextDeadline());
    expect(h.connectionCount).toBe(1);
    // Never announced, so never reported.
    expect(h.takeEvents()).toEqual([]);
  });

  it('picks distinct ephemeral ports, reports stats, emits writable when the send buffer drains', () => {
    const { sim, a, b, addrB } = buildPair({
      factory: (h) =>
        new TcpHost({
          addresses: h.addresses,
          isnSecret: h.rng.bytes(16),
          random: () => h.rng.nextU32(),
          sndBuf: 64 * 1024,
        }),
      seed: 4,
      rateMbps: 10,
      rttMs: 20,
    });
    b.listen(5000);
    const c1 = a.connect({ host: addrB, port: 5000 });
    const c2 = a.connect({ host: addrB, port: 5000 });
    const ha = a.core as TcpHost;
    const p1 = ha.info(c1)!.local.port;
    const p2 = ha.info(c2)!.local.port;
    expect(p1).not.toBe(p2);
    for (const p of [p1, p2]) {
      expect(p).toBeGreaterThanOrEqual(32768);
      expect(p).toBeLessThanOrEqual(60999);
    }
    b.on((e) => {
      if (e.type === 'data') b.consumed(e.conn, e.data.length);
    });
    let writable = 0;
    a.on((e) => {
      if (e.type === 'writable' && e.conn === c1) writable++;
    });
    sim.runFor(100);
    const big = new Uint8Array(200_000);
    const n = a.write(c1, big);
    expect(n).toBe(64 * 1024);
    sim.runFor(500);
    expect(writable).toBe(1);
    const st = ha.connStats().find((s) => s.conn === c1)!;
    expect(st.mode).toBe('tcp');
    expect(st.state).toBe('ESTABLISHED');
    const sf = st.subflows[0]!;
    expect(sf.bytesSent).toBe(64 * 1024);
    expect(sf.bytesAcked).toBe(64 * 1024);
    expect(sf.srttMs).toBeGreaterThanOrEqual(20);
    expect(sf.mss).toBe(1448);
    expect(sf.local.port).toBe(p1);
    expect(ha.tcbOf(c1)!.state).toBe(TcpState.ESTABLISHED);
  });

  it('refuses a second connection on the same 4-tuple', () => {
    const h = new TcpHost({ addresses: ['10.0.0.1'], isnSecret: new Uint8Array(16), random: () => 1 });
    h.connect({ host: '10.0.0.2', port: 80, localPort: 4000 }, 0);
    expect(() => h.connect({ host: '10.0.0.2', port: 80, localPort: 4000 }, 0)).toThrow(/EADDRINUSE/);
    expect(h.connect({ host: '10.0.0.2', port: 81, localPort: 4000 }, 0)).toBeGreaterThan(0);
  });

  it('computes TCP checksums over the pseudo-header, and can verify them on input', () => {
    const h = new TcpHost({ addresses: ['10.0.0.1'], isnSecret: new Uint8Array(16), random: () => 1 });
    h.connect({ host: '10.0.0.2', port: 80 }, 0);
    const [p] = h.takeOutput();
    expect(verifySegmentChecksum(p!.data, p!.src, p!.dst)).toBe(true);
    const v = new TcpHost({ addresses: ['10.0.0.2'], isnSecret: new Uint8Array(16), verifyChecksums: true });
    v.listen(80);
    const bad = p!.data.slice();
    bad[bad.length - 1]! ^= 0xff;
    v.input({ ...p!, data: bad }, 0);
    expect(v.counters.badChecksums).toBe(1);
    expect(v.takeOutput()).toHaveLength(0);
    v.input(p!, 0);
    expect(decodeAll(v.takeOutput()).map((s) => s.flags)).toEqual([SYN | ACK]);
  });
});

describe('TcpHost over IPv6', () => {
  it('carries a transfer between IPv6 addresses', () => {
    const { sim, a, b, addrA } = buildPair({ factory, seed: 8, family: 6, rateMbps: 20, rttMs: 10 });
    expect(addrA).toContain(':');
    const x = startBulk(sim, { client: a, server: b, bytes: 1e6 });
    sim.runWhile(() => !x.done, 20_000);
    expect(x.ok).toBe(true);
    const st = (a.core as TcpHost).connStats()[0]!;
    expect(st.subflows[0]!.local.address).toBe(addrA);
  });
});

/** Two hosts wired back to back (no simulator): packets move on `pump`. */
function wire(a: TcpHost, b: TcpHost, aAddr: string, bAddr: string) {
  let now = 0;
  const step = (dt: number) => {
    now += dt;
    for (let i = 0; i < 1000; i++) {
      const pa = a.takeOutput();
      const pb = b.takeOutput();
      if (pa.length === 0 && pb.length === 0) break;
      for (const p of pa) if (p.dst === bAddr) b.input(p, now);
      for (const p of pb) if (p.dst === aAddr) a.input(p, now);
    }
    a.advance(now);
    b.advance(now);
  };
  return { step, now: () => now };
}

describe('SYN cookies', () => {
  it('under a SYN flood the listener stays stateless and a real client still gets in', () => {
    const server = new TcpHost({
      addresses: ['10.0.0.2'],
      synBacklog: 16,
      isnSecret: new Uint8Array(16).fill(1),
    });
    const client = new TcpHost({
      addresses: ['10.0.0.1'],
      isnSecret: new Uint8Array(16).fill(2),
      random: () => 99,
    });
    server.listen(80);
    // 2000 spoofed SYNs that never complete.
    for (let i = 0; i < 2000; i++) {
      const src = `10.7.${(i >> 8) & 255}.${i & 255}`;
      server.input(
        { src, dst: '10.0.0.2', data: encodeSegment(seg({ srcPort: 1024 + (i % 50000), seq: i })) },
        0,
      );
    }
    const answers = decodeAll(server.takeOutput());
    expect(answers.filter((s) => s.flags === (SYN | ACK))).toHaveLength(2000);
    expect(server.counters.cookiesSent).toBe(2000 - 16);
    expect(server.connectionCount).toBe(16);
    // Half-open connections hold little memory: buffers are allocated when data flows.
    for (const st of server.connStats()) expect(server.tcbOf(st.conn)!.bufferBytes).toBeLessThanOrEqual(4096);
    // A real client connects through the cookie path and moves data both ways.
    const w = wire(client, server, '10.0.0.1', '10.0.0.2');
    const events: CoreEvent[] = [];
    const conn = client.connect({ host: '10.0.0.2', port: 80 }, 0);
    w.step(1);
    w.step(1);
    events.push(...client.takeEvents());
    expect(events.map((e) => e.type)).toEqual(['connected']);
    expect(server.counters.cookiesAccepted).toBe(1);
    const sev = server.takeEvents();
    expect(sev.map((e) => e.type)).toEqual(['accepted']);
    const sconn = sev[0]!.conn;
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
    let off = 0;
    let got = 0;
    const hash: number[] = [];
    for (let i = 0; i < 500 && got < data.length; i++) {
      off += client.write(conn, data.subarray(off), w.now());
      w.step(1);
      for (const e of server.takeEvents()) {
        if (e.type === 'data') {
          for (const b of e.data) hash.push(b);
          got += e.data.length;
          server.consumed(sconn, e.data.length, w.now());
        }
      }
    }
    expect(got).toBe(data.length);
    expect(Uint8Array.from(hash)).toEqual(data);
    const t = server.tcbOf(sconn)!;
    expect(t.wsOn || t.sackOn || t.tsOn).toBe(false);
    expect(t.mss).toBe(1460);
  });

  it('a forged or stale cookie ACK is refused with RST', () => {
    const server = new TcpHost({
      addresses: ['10.0.0.2'],
      synBacklog: 0,
      isnSecret: new Uint8Array(16).fill(3),
    });
    server.listen(80);
    server.input({ src: '10.0.0.9', dst: '10.0.0.2', data: encodeSegment(seg({ seq: 500 })) }, 0);
    const [synack] = decodeAll(server.takeOutput());
    const ackFor = (ack: number, at: number) =>
      server.input(
        {
          src: '10.0.0.9',
          dst: '10.0.0.2',
          data: encodeSegment(seg({ flags: ACK, seq: 501, ack, options: [] })),
        },
        at,
      );
    ackFor((synack!.seq + 2) >>> 0, 1); // wrong number
    ackFor((synack!.seq + 1) >>> 0, 200_000); // too late: two 64 s slots on
    expect(server.counters.cookiesRejected).toBe(2);
    expect(decodeAll(server.takeOutput()).map((s) => s.flags)).toEqual([RST, RST]);
    ackFor((synack!.seq + 1) >>> 0, 2);
    expect(server.counters.cookiesAccepted).toBe(1);
    expect(server.takeEvents().map((e) => e.type)).toEqual(['accepted']);
  });
});
