import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dssChecksum,
  fold,
  internetChecksum,
  pseudoHeaderSum,
  sum16,
  tcpChecksum,
  verifyDssChecksum,
  verifyTcpChecksum,
} from '../../../stack/wire/checksum';
import { parseIp } from '../../../stack/wire/ip';

/** Plain reference: fold after every word. */
function reference(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i]! << 8) | (b[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

const hexb = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('wire/checksum', () => {
  it('RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2', () => {
    const b = hexb('0001f203f4f5f6f7');
    expect(fold(sum16(b))).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it('equals a word-by-word reference on random data, any offset and odd lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), (b, skip) => {
        const off = Math.min(skip, b.length);
        expect(internetChecksum(b, off)).toBe(reference(b.subarray(off)));
      }),
      { numRuns: 2000 },
    );
  });

  it('long inputs (over the 64 KiB fold interval) and unaligned views match the reference', () => {
    const big = new Uint8Array(200_003).map((_, i) => (i * 131 + (i >> 8)) & 0xff);
    expect(internetChecksum(big)).toBe(reference(big));
    const ones = new Uint8Array(150_000).fill(0xff);
    expect(internetChecksum(ones)).toBe(reference(ones));
    const view = new Uint8Array(big.buffer, 3, 5001);
    expect(internetChecksum(view, 1)).toBe(reference(view.subarray(1)));
  });

  it('partial sums compose (even split) and a stored checksum verifies to zero', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 400 }), fc.nat(), (b, cut) => {
        const even = (cut % b.length) & ~1;
        expect(fold(sum16(b, 0, even) + sum16(b, even))).toBe(fold(sum16(b)));
        const withCk = new Uint8Array(b.length + (b.length & 1) + 2);
        withCk.set(b);
        const ck = internetChecksum(withCk);
        withCk[withCk.length - 2] = ck >> 8;
        withCk[withCk.length - 1] = ck & 0xff;
        expect(internetChecksum(withCk)).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('TCP pseudo-header checksums match known answers (IPv4 and IPv6; Python reference)', () => {
    const seg = new Uint8Array([...hexb('04d2005000000001000000025018ffff00000000'), ...Buffer.from('hi!')]);
    expect(tcpChecksum(parseIp('192.168.0.1')!, parseIp('192.168.0.2')!, seg)).toBe(0x9fe7);
    expect(tcpChecksum(parseIp('2001:db8::1')!, parseIp('fe80::2')!, seg)).toBe(0xf4fe);
    const stored = new Uint8Array(seg);
    stored[16] = 0x9f;
    stored[17] = 0xe7;
    expect(verifyTcpChecksum(parseIp('192.168.0.1')!, parseIp('192.168.0.2')!, stored)).toBe(true);
    expect(verifyTcpChecksum(parseIp('192.168.0.1')!, parseIp('192.168.0.3')!, stored)).toBe(false);
    // IPv6 uses a 32-bit length: lengths above 65535 still sum correctly.
    expect(pseudoHeaderSum(new Uint8Array(16), new Uint8Array(16), 6, 0x12345)).toBe(6 + 1 + 0x2345);
  });

  it('DSS checksum (RFC 8684 §3.3.1) matches a known answer and verifies', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const ck = dssChecksum(0x0123456789abcdefn, 0x11223344, 11, payload);
    expect(ck).toBe(0xf94a);
    expect(verifyDssChecksum(0x0123456789abcdefn, 0x11223344, 11, payload, ck)).toBe(true);
    expect(verifyDssChecksum(0x0123456789abcdefn, 0x11223345, 11, payload, ck)).toBe(false);
    expect(verifyDssChecksum(0x0123456789abcdeen, 0x11223344, 11, payload, ck)).toBe(false);
    expect(verifyDssChecksum(0x0123456789abcdefn, 0x11223344, 12, payload, ck)).toBe(false);
    payload[3] = 0;
    expect(verifyDssChecksum(0x0123456789abcdefn, 0x11223344, 11, payload, ck)).toBe(false);
  });

  it('DSS checksum over a payload range equals the one over a copy', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(10),
        (dsn, ssn, b, off) => {
          const o = Math.min(off, b.length);
          const part = b.slice(o);
          const ck = dssChecksum(dsn, ssn, part.length, b, o);
          expect(ck).toBe(dssChecksum(dsn, ssn, part.length, part));
          expect(verifyDssChecksum(dsn, ssn, part.length, part, ck)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
