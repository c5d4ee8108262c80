import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeIpPacket, verifyIPv4Checksum } from '../../../stack/wire/ip';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, MemoryPcap, PcapFile, PcapWriter } from '../../../stack/wire/pcap';
import { decodeSegment, encodeSegment, verifySegmentChecksum } from '../../../stack/wire/tcp';
import { ACK, ParseError, type TcpSegment } from '../../../stack/wire/types';

const seg: TcpSegment = {
  srcPort: 5000,
  dstPort: 80,
  seq: 7,
  ack: 9,
  flags: ACK,
  window: 1000,
  checksum: 0,
  urgent: 0,
  options: [{ kind: 'timestamps', tsval: 1, tsecr: 2 }],
  payload: new Uint8Array([1, 2, 3]),
};

/** Minimal independent pcap reader: global header fields and records. */
function readPcap(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hdr = {
    magic: v.getUint32(0, true),
    major: v.getUint16(4, true),
    minor: v.getUint16(6, true),
    snaplen: v.getUint32(16, true),
    linktype: v.getUint32(20, true),
  };
  const recs: { sec: number; usec: number; incl: number; orig: number; data: Uint8Array }[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = v.getUint32(o + 8, true);
    recs.push({
      sec: v.getUint32(o, true),
      usec: v.getUint32(o + 4, true),
      incl,
      orig: v.getUint32(o + 12, true),
      data: b.subarray(o + 16, o + 16 + incl),
    });
    o += 16 + incl;
  }
  expect(o).toBe(b.length);
  return { hdr, recs };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('wire/pcap', () => {
  it('writes a classic pcap (raw IP): header, microsecond timestamps, real IPv4 + TCP with checksums', () => {
    const p = new MemoryPcap();
    p.writeSegment(1_700_000_000_123.25, '10.0.0.1', '10.0.0.2', seg);
    p.writeSegment(2_999.9999, '2001:db8::1', '2001:db8::2', encodeSegment(seg));
    expect(p.packets).toBe(2);
    const { hdr, recs } = readPcap(p.bytes());
    expect(hdr).toEqual({ magic: 0xa1b2c3d4, major: 2, minor: 4, snaplen: 262144, linktype: LINKTYPE_RAW });
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ sec: 1_700_000_000, usec: 123250, incl: 20 + 35, orig: 55 });
    // 2999.9999 ms rounds to 3.000000 s, carried into the seconds.
    expect(recs[1]).toMatchObject({ sec: 3, usec: 0 });
    const ip4 = recs[0]!.data;
    expect(verifyIPv4Checksum(ip4)).toBe(true);
    const d4 = decodeIpPacket(ip4);
    if (d4 instanceof ParseError) throw d4;
    expect(d4.protocol).toBe(6);
    expect(verifySegmentChecksum(d4.payload, '10.0.0.1', '10.0.0.2')).toBe(true);
    expect(decodeSegment(d4.payload)).toMatchObject({ seq: 7, ack: 9, payload: new Uint8Array([1, 2, 3]) });
    const d6 = decodeIpPacket(recs[1]!.data);
    if (d6 instanceof ParseError) throw d6;
    expect(d6.header).toMatchObject({
      version: 6,
      src: '2001:db8::1',
      dst: '2001:db8::2',
      payloadLength: 35,
    });
    // Encoded bytes without a checksum get one for the addresses.
    expect(verifySegmentChecksum(d6.payload, '2001:db8::1', '2001:db8::2')).toBe(true);
  });

  it('Ethernet link type: 14-byte header, EtherType by family, snaplen truncation keeps orig_len', () => {
    const p = new MemoryPcap({ linktype: 'ethernet', snaplen: 40 });
    p.writeSegment(0, '10.0.0.1', '10.0.0.2', seg);
    p.writeSegment(0, 'fe80::1', 'fe80::2', seg);
    const { hdr, recs } = readPcap(p.bytes());
    expect(hdr.linktype).toBe(LINKTYPE_ETHERNET);
    expect(recs[0]).toMatchObject({ incl: 40, orig: 14 + 55 });
    expect(Buffer.from(recs[0]!.data.subarray(0, 14)).toString('hex')).toBe(
      '02000a000002' + '02000a000001' + '0800',
    );
    expect(Buffer.from(recs[1]!.data.subarray(12, 14)).toString('hex')).toBe('86dd');
  });

  it('streams to a file (same bytes as in memory) and to any sink', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mplab-pcap-'));
    dirs.push(dir);
    const file = join(dir, 'x.pcap');
    const f = new PcapFile(file);
    const m = new MemoryPcap();
    for (let i = 0; i < 3000; i++) {
      f.writeSegment(i, '10.0.0.1', '10.0.0.2', { ...seg, seq: i });
      m.writeSegment(i, '10.0.0.1', '10.0.0.2', { ...seg, seq: i });
    }
    f.close();
    f.close(); // idempotent
    expect(new Uint8Array(readFileSync(file))).toEqual(m.bytes());
    expect(() => f.writeSegment(0, '10.0.0.1', '10.0.0.2', seg)).toThrow();
    // An open file descriptor: written to, left open.
    const fd = openSync(join(dir, 'y.pcap'), 'w');
    const g = new PcapFile(fd, { linktype: 'ethernet' });
    g.writeSegment(1, '10.0.0.1', '10.0.0.2', seg);
    g.close();
    expect(fstatSync(fd).size).toBe(24 + 16 + 14 + 55);
    closeSync(fd);
    const chunks: Uint8Array[] = [];
    const w = new PcapWriter((c) => chunks.push(c));
    w.writeIpPacket(5, new Uint8Array([0x45]));
    expect(chunks).toHaveLength(2);
    expect(chunks[1]!.length).toBe(17);
  });
});
