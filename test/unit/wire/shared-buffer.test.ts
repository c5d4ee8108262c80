import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketSlab, encodePacket, encodePacketFrom } from '../../../stack/tcp/host';
import { sum16 } from '../../../stack/wire/checksum';
import { encodeSegment, encodeSegmentWith, verifySegmentChecksum } from '../../../stack/wire/tcp';
import type { TcpSegment } from '../../../stack/wire/types';

/** Reference: byte by byte, big-endian words, odd tail padded. */
function naiveSum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function segment(payload: Uint8Array, seq: number): TcpSegment {
  return {
    srcPort: 40000,
    dstPort: 80,
    seq,
    ack: 12345,
    flags: 0x18,
    window: 500,
    checksum: 0,
    urgent: 0,
    options: [{ kind: 'timestamps', tsval: (seq ^ 0x5a5a) >>> 0, tsecr: 7 }],
    payload,
  };
}

describe('checksums over arrays cut from a shared buffer', () => {
  it('sum16 of a view at any offset equals the byte-wise sum (one view cached per buffer)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.nat(7),
        fc.nat(7),
        (bytes, pre, post) => {
          const buf = new Uint8Array(pre + bytes.length + post).fill(0xee);
          buf.set(bytes, pre);
          const view = buf.subarray(pre, pre + bytes.length);
          // the same buffer summed at two offsets in a row must not reuse a wrongly offset view
          expect(fold(sum16(view))).toBe(fold(naiveSum(bytes)));
          expect(fold(sum16(buf, pre, bytes.length))).toBe(fold(naiveSum(bytes)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodeSegmentWith into slab arrays gives the bytes encodeSegment gives, checksums valid', () => {
    const slab = new PacketSlab();
    const out: Uint8Array[] = [];
    const want: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const payload = new Uint8Array((i * 37) % 1461).map((_, k) => (k * 7 + i) & 0xff);
      const seg = segment(payload, (i * 1_000_003) >>> 0);
      out.push(encodeSegmentWith(seg, slab.alloc, '10.0.0.1', '10.0.0.2'));
      want.push(encodeSegment(seg, '10.0.0.1', '10.0.0.2'));
    }
    // checked after all were written: no packet overwrote another in the shared slab
    for (let i = 0; i < out.length; i++) {
      expect(out[i]).toEqual(want[i]);
      expect(verifySegmentChecksum(out[i]!, '10.0.0.1', '10.0.0.2')).toBe(true);
    }
    // several packets really share a buffer, and none overlaps its neighbour
    expect(out[1]!.buffer).toBe(out[2]!.buffer);
    expect(out[2]!.byteOffset).toBeGreaterThanOrEqual(out[1]!.byteOffset + out[1]!.length);
  });

  it('PacketSlab hands out fresh buffers for large packets and new slabs when one is full', () => {
    const slab = new PacketSlab();
    const big = slab.alloc(20_000);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(20_000);
    const first = slab.alloc(1500);
    let last = first;
    for (let i = 0; i < 50; i++) last = slab.alloc(1500);
    expect(last.buffer).not.toBe(first.buffer);
    expect(last.length).toBe(1500);
    expect(first.byteOffset % 8).toBe(0);
  });

  it('encodePacketFrom and encodePacket agree, with and without checksums (IPv6 too)', () => {
    const slab = new PacketSlab();
    const seg = segment(new Uint8Array(333).fill(9), 0xfffffff0);
    for (const [s, d] of [
      ['10.1.2.3', '10.3.2.1'],
      ['fd00::1', 'fd00::2'],
    ] as const) {
      for (const ck of [true, false]) {
        const a = encodePacketFrom(slab, seg, s, d, ck);
        const b = encodePacket(seg, s, d, ck);
        expect(a.src).toBe(s);
        expect(a.dst).toBe(d);
        expect(a.data).toEqual(b.data);
        expect(verifySegmentChecksum(a.data, s, d)).toBe(ck);
      }
    }
  });
});
