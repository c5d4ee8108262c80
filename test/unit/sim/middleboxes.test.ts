import { describe, expect, it } from 'vitest';
import {
  buildPair,
  chain,
  dropWhere,
  type Packet,
  rewritePayload,
  stripOptions,
  tcpFlags,
  tcpOptionKinds,
  tcpPayload,
} from '../../../stack/sim/index';
import { ProbeCore } from '../../../stack/sim/testcores';
import { decodeSegment, encodeSegment, verifySegmentChecksum } from '../../../stack/wire/tcp';
import { ParseError, type TcpOption } from '../../../stack/wire/types';

const SRC = '10.0.0.1';
const DST = '10.0.0.2';
const ctx = { now: 0, link: 'l', dir: 'ab' as const };

function segment(options: TcpOption[], payload: number[], flags = 0x02): Packet {
  const data = encodeSegment(
    {
      srcPort: 1234,
      dstPort: 80,
      seq: 1000,
      ack: 0,
      flags,
      window: 65535,
      checksum: 0,
      urgent: 0,
      options,
      payload: new Uint8Array(payload),
    },
    SRC,
    DST,
  );
  return { src: SRC, dst: DST, data };
}

const mpCapable: TcpOption = {
  kind: 'mptcp',
  mp: { subtype: 'MP_CAPABLE', version: 1, a: false, b: false, c: false, h: true, flags: 0x01 },
} as TcpOption;

const synOptions: TcpOption[] = [
  { kind: 'mss', mss: 1460 },
  { kind: 'sackPermitted' },
  { kind: 'timestamps', tsval: 1, tsecr: 0 },
  { kind: 'wscale', shift: 7 },
  mpCapable,
];

describe('middleboxes', () => {
  it('stripOptions removes MPTCP options, keeps the rest, fixes the checksum', () => {
    const pkt = segment(synOptions, [1, 2, 3]);
    expect(tcpOptionKinds(pkt.data)).toEqual([2, 4, 8, 3, 30]);
    const out = stripOptions([30])(pkt, ctx)!;
    expect(out).not.toBe(pkt);
    expect(tcpOptionKinds(out.data)).toEqual([2, 4, 8, 3]);
    expect(out.data.length).toBeLessThan(pkt.data.length);
    expect(out.data.length % 4).toBe(pkt.data.length % 4);
    expect(verifySegmentChecksum(out.data, SRC, DST)).toBe(true);
    const seg = decodeSegment(out.data);
    if (seg instanceof ParseError) throw new Error(seg.code);
    expect(seg.options.map((o) => o.kind)).toEqual(['mss', 'sackPermitted', 'timestamps', 'wscale']);
    expect([...seg.payload]).toEqual([1, 2, 3]);
    expect(seg.seq).toBe(1000);
    expect(tcpFlags(out.data)).toBe(0x02);
  });

  it("stripOptions 'nop' mode keeps the header length", () => {
    const pkt = segment(synOptions, [9]);
    const out = stripOptions([30], { mode: 'nop' })(pkt, ctx)!;
    expect(out.data.length).toBe(pkt.data.length);
    expect(tcpOptionKinds(out.data)).toEqual([2, 4, 8, 3]);
    expect(verifySegmentChecksum(out.data, SRC, DST)).toBe(true);
    expect([...tcpPayload(out.data)]).toEqual([9]);
  });

  it('stripOptions can target SYNs only and leaves clean packets untouched', () => {
    const syn = stripOptions([30], { flags: 0x02 });
    const ack = segment([mpCapable], [], 0x10);
    expect(syn(ack, ctx)).toBe(ack);
    const plain = segment([{ kind: 'mss', mss: 1400 }], []);
    expect(stripOptions([30])(plain, ctx)).toBe(plain);
  });

  it('rewritePayload changes bytes and keeps the checksum valid', () => {
    const pkt = segment([{ kind: 'timestamps', tsval: 5, tsecr: 6 }], [104, 105], 0x18);
    const mb = rewritePayload((p) => (p[0] === 104 ? Uint8Array.from([72, 73, 33]) : null));
    const out = mb(pkt, ctx)!;
    expect([...tcpPayload(out.data)]).toEqual([72, 73, 33]);
    expect(tcpOptionKinds(out.data)).toEqual([8]);
    expect(verifySegmentChecksum(out.data, SRC, DST)).toBe(true);
    const untouched = segment([], [1], 0x18);
    expect(mb(untouched, ctx)).toBe(untouched);
  });

  it('chain and dropWhere compose on a live link', () => {
    const p = buildPair({ factory: () => new ProbeCore(), delayMs: 1 });
    const arrived: Packet[] = [];
    const pb = p.b.core as ProbeCore;
    const orig = pb.input.bind(pb);
    pb.input = (pkt, now) => {
      arrived.push(pkt);
      orig(pkt, now);
    };
    p.link.setMiddlebox(
      chain(
        dropWhere((pkt) => tcpFlags(pkt.data) === 0x04), // RSTs never pass
        stripOptions([30]),
      ),
    );
    for (const pkt of [segment(synOptions, []), segment([], [], 0x04), segment([mpCapable], [5], 0x18)]) {
      (p.a.core as ProbeCore).inject(pkt);
    }
    p.a.pump();
    p.sim.run();
    expect(arrived.map((x) => tcpOptionKinds(x.data))).toEqual([[2, 4, 8, 3], []]);
    expect(arrived.every((x) => verifySegmentChecksum(x.data, SRC, DST))).toBe(true);
    expect(p.link.ab.counters.dropped.middlebox).toBe(1);
  });
});
