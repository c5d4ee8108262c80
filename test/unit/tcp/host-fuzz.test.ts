/**
 * The host faces the network: malformed, hostile or just odd segments must never throw, never
 * corrupt a live connection's stream, and never make it answer with more than a few segments.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpHost } from '../../../stack/tcp/host';
import { encodeSegment } from '../../../stack/wire/tcp';
import type { TcpOption, TcpSegment } from '../../../stack/wire/types';

const option: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.record({ kind: fc.constant('mss' as const), mss: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ kind: fc.constant('wscale' as const), shift: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('sackPermitted' as const) }),
  fc.record({
    kind: fc.constant('timestamps' as const),
    tsval: fc.integer({ min: 0, max: 0xffffffff }),
    tsecr: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({
    kind: fc.constant('sack' as const),
    blocks: fc.array(
      fc.record({
        left: fc.integer({ min: 0, max: 0xffffffff }),
        right: fc.integer({ min: 0, max: 0xffffffff }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);

function segArb(ports: { local: number; remote: number }, near: () => { seq: number; ack: number }) {
  return fc
    .record({
      seqDelta: fc.integer({ min: -70000, max: 70000 }),
      ackDelta: fc.integer({ min: -70000, max: 70000 }),
      flags: fc.integer({ min: 0, max: 0xff }),
      window: fc.integer({ min: 0, max: 65535 }),
      options: fc.array(option, { maxLength: 2 }),
      len: fc.integer({ min: 0, max: 1500 }),
      nearPorts: fc.boolean(),
      random: fc.boolean(),
    })
    .map((r): TcpSegment => {
      const n = near();
      return {
        srcPort: r.nearPorts ? ports.remote : 1 + (r.window % 60000),
        dstPort: r.nearPorts ? ports.local : 80,
        seq: r.random ? (r.seqDelta * 61343) >>> 0 : (n.seq + r.seqDelta) >>> 0,
        ack: r.random ? (r.ackDelta * 7919) >>> 0 : (n.ack + r.ackDelta) >>> 0,
        flags: r.flags,
        window: r.window,
        checksum: 0,
        urgent: 0,
        options: r.options,
        payload: new Uint8Array(r.len).fill(0xee),
      };
    });
}

describe('TcpHost under hostile input', () => {
  it('never throws on garbage bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const h = new TcpHost({ addresses: ['10.0.0.2'], isnSecret: new Uint8Array(16) });
        h.listen(80);
        h.input({ src: '10.0.0.1', dst: '10.0.0.2', data: bytes }, 0);
        h.advance(1000);
        expect(h.takeOutput().length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });

  it('a live connection survives blind in-window and out-of-window junk with its stream intact', () => {
    // Two hosts talking; an attacker injects crafted segments towards the server between steps.
    const server = new TcpHost({ addresses: ['10.0.0.2'], isnSecret: new Uint8Array(16).fill(5) });
    const client = new TcpHost({
      addresses: ['10.0.0.1'],
      isnSecret: new Uint8Array(16).fill(6),
      random: () => 3,
    });
    server.listen(80);
    let now = 0;
    const conn = client.connect({ host: '10.0.0.2', port: 80 }, now);
    const lport = client.info(conn)!.local.port;
    const got: number[] = [];
    let sconn = -1;
    const step = () => {
      now += 1;
      for (let i = 0; i < 100; i++) {
        const a = client.takeOutput();
        const b = server.takeOutput();
        if (!a.length && !b.length) break;
        for (const p of a) server.input(p, now);
        for (const p of b) client.input(p, now);
      }
      client.advance(now);
      server.advance(now);
      for (const e of server.takeEvents()) {
        if (e.type === 'accepted') sconn = e.conn;
        if (e.type === 'data') {
          for (const x of e.data) got.push(x);
          server.consumed(e.conn, e.data.length, now);
        }
      }
      client.takeEvents();
    };
    step();
    step();
    expect(sconn).toBeGreaterThan(0);
    const near = () => {
      const t = server.tcbOf(sconn);
      return { seq: t?.rcvNxt ?? 0, ack: t?.sndNxt ?? 0 };
    };
    const data = new Uint8Array(50_000).map((_, i) => (i * 13) & 255);
    let off = 0;
    let injected = 0;
    fc.assert(
      fc.property(segArb({ local: 80, remote: lport }, near), (seg) => {
        // A blind attacker: it may guess the receive window (seq near RCV.NXT) but not SND.NXT,
        // so data-bearing junk carries an ACK far from the acceptable range (RFC 5961 §5 drops it).
        // An exact-sequence RST would be a valid reset, which no blind attacker can count on.
        if (seg.flags & 0x04 && seg.seq === near().seq) seg.flags &= ~0x04;
        if (seg.payload.length > 0) seg.ack = (near().ack + 0x40000000 + seg.window * 4099) >>> 0;
        seg.options = seg.options.slice(0, seg.options.some((o) => o.kind === 'sack') ? 1 : 2);
        server.input({ src: '10.0.0.1', dst: '10.0.0.2', data: encodeSegment(seg) }, now);
        injected++;
        expect(server.takeOutput().length).toBeLessThanOrEqual(2);
        if (off < data.length) off += client.write(conn, data.subarray(off, off + 2000), now);
        step();
      }),
      { numRuns: 300 },
    );
    for (let i = 0; i < 3000 && got.length < data.length; i++) {
      if (off < data.length) off += client.write(conn, data.subarray(off), now);
      step();
    }
    expect(injected).toBe(300);
    expect(server.tcbOf(sconn)).toBeDefined();
    expect(got.length).toBe(data.length);
    expect(Uint8Array.from(got)).toEqual(data);
  });
});
