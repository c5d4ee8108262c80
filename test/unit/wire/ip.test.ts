import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildIpPacket,
  decodeIpPacket,
  encodeIPv4HeaderInto,
  formatIPv4,
  formatIPv6,
  type Ipv4Header,
  ipVersionOf,
  parseIPv4,
  parseIPv6,
  parseIp,
  verifyIPv4Checksum,
} from '../../../stack/wire/ip';
import { EncodeError, ParseError } from '../../../stack/wire/types';
import { assertSame, ipv6Text, mutated } from './arbitraries';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('wire/ip: addresses', () => {
  it('parses and formats IPv6 per RFC 5952 (compression, lowercase, mapped IPv4)', () => {
    const cases: [string, string][] = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero word is not compressed
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['fe80::1:2', 'fe80::1:2'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::ffff:c000:0201', '::ffff:192.0.2.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
    ];
    for (const [input, want] of cases) {
      const b = parseIPv6(input);
      expect(b, input).not.toBeNull();
      expect(formatIPv6(b!), input).toBe(want);
    }
  });

  it('refuses malformed addresses', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.-4',
      '1..3.4',
      ' 1.2.3.4',
      'a.b.c.d',
    ])
      expect(parseIPv4(bad), bad).toBeNull();
    for (const bad of [
      ':',
      ':::',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7::8',
      '::1.2.3',
      '::ffff:1.2.3.4:1',
      'fe80::1%eth0',
    ])
      expect(parseIPv6(bad), bad).toBeNull();
    expect(parseIp('10.0.0.1')).toEqual(new Uint8Array([10, 0, 0, 1]));
    expect(ipVersionOf('10.0.0.1')).toBe(4);
    expect(ipVersionOf('::1')).toBe(6);
    expect(ipVersionOf('nope')).toBe(0);
  });

  it('text -> bytes -> text is the identity on canonical text, bytes -> text -> bytes always', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (b6, b4) => {
          assertSame(parseIPv6(formatIPv6(b6)), b6, 'v6');
          assertSame(parseIPv4(formatIPv4(b4)), b4, 'v4');
        },
      ),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(ipv6Text, (t) => {
        assertSame(formatIPv6(parseIPv6(t)!), t, 'canonical');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('wire/ip: headers', () => {
  it('builds an IPv4 packet with a correct header checksum (known answer) and decodes it', () => {
    const payload = new Uint8Array([1, 2, 3, 4]);
    const p = buildIpPacket('192.168.0.1', '192.168.0.199', 6, payload, { id: 0x1c46, ttl: 64 });
    // Header: 45 00 0018 1c46 4000 40 06 csum c0a80001 c0a800c7
    expect(hex(p.subarray(0, 10))).toBe('450000181c4640004006');
    expect(verifyIPv4Checksum(p)).toBe(true);
    // Independent: one's-complement sum of the header words must be 0xffff.
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += (p[i]! << 8) | p[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect(s).toBe(0xffff);
    const d = decodeIpPacket(p);
    expect(d).not.toBeInstanceOf(ParseError);
    const pk = d as Exclude<typeof d, ParseError>;
    expect(pk.protocol).toBe(6);
    expect(pk.header).toMatchObject({
      version: 4,
      src: '192.168.0.1',
      dst: '192.168.0.199',
      ttl: 64,
      id: 0x1c46,
      flags: 2,
      totalLength: 24,
    });
    expect(pk.payload).toEqual(payload);
    p[8] = 63;
    expect(verifyIPv4Checksum(p)).toBe(false);
  });

  it('builds and decodes IPv6, skipping extension headers to the upper layer', () => {
    const tcp = new Uint8Array(20).fill(7);
    const p = buildIpPacket('2001:db8::1', 'fe80::2', 6, tcp, { ttl: 9, flowLabel: 0xabcde, tos: 0x2e });
    expect(p.length).toBe(60);
    const d = decodeIpPacket(p) as Exclude<ReturnType<typeof decodeIpPacket>, ParseError>;
    expect(d.header).toEqual({
      version: 6,
      trafficClass: 0x2e,
      flowLabel: 0xabcde,
      payloadLength: 20,
      nextHeader: 6,
      hopLimit: 9,
      src: '2001:db8::1',
      dst: 'fe80::2',
    });
    expect(d.protocol).toBe(6);
    // Hop-by-hop (8 bytes) then a fragment header (8 bytes) before TCP.
    const ext = new Uint8Array([44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1]);
    const inner = new Uint8Array([...ext, ...tcp]);
    const q = buildIpPacket('2001:db8::1', 'fe80::2', 0, inner);
    const e = decodeIpPacket(q) as Exclude<ReturnType<typeof decodeIpPacket>, ParseError>;
    expect(e.protocol).toBe(6);
    expect(e.payload).toEqual(tcp);
    expect(() => buildIpPacket('10.0.0.1', '::1', 6, tcp)).toThrow(EncodeError);
  });

  it('IPv4 options and trailing bytes: payload bounded by total length', () => {
    const h: Ipv4Header = {
      version: 4,
      tos: 0,
      totalLength: 28 + 3,
      id: 1,
      flags: 0,
      fragmentOffset: 0,
      ttl: 1,
      protocol: 17,
      checksum: 0,
      src: '1.2.3.4',
      dst: '5.6.7.8',
      options: new Uint8Array([1, 1, 1, 0, 1, 1, 1, 0]),
    };
    const b = new Uint8Array(40).fill(0xaa);
    expect(encodeIPv4HeaderInto(b, 0, h)).toBe(28);
    expect(verifyIPv4Checksum(b)).toBe(true);
    const d = decodeIpPacket(b) as Exclude<ReturnType<typeof decodeIpPacket>, ParseError>;
    expect(d.header).toMatchObject({ ihl: 7, options: h.options });
    expect(d.payload).toHaveLength(3);
    expect(() => encodeIPv4HeaderInto(b, 0, { ...h, options: new Uint8Array(3) })).toThrow(EncodeError);
  });

  it('errors: truncated, bad IHL, lengths beyond the packet, unknown version', () => {
    const good = buildIpPacket('10.0.0.1', '10.0.0.2', 6, new Uint8Array(4));
    const codes = (b: Uint8Array) => (decodeIpPacket(b) as ParseError).code;
    expect(codes(new Uint8Array(0))).toBe('truncated');
    expect(codes(good.subarray(0, 19))).toBe('truncated');
    expect(codes(good.subarray(0, 23))).toBe('truncated');
    const ihl = new Uint8Array(good);
    ihl[0] = 0x44;
    expect(codes(ihl)).toBe('bad-ihl');
    const v = new Uint8Array(good);
    v[0] = 0x55;
    expect(codes(v)).toBe('bad-version');
    const v6 = buildIpPacket('::1', '::2', 6, new Uint8Array(4));
    expect(codes(v6.subarray(0, 43))).toBe('truncated');
  });

  /** Total, and reads only its window: inside a larger buffer of noise it decodes the same. */
  function checkTotal(b: Uint8Array, noise: number): void {
    const r = decodeIpPacket(b);
    const big = new Uint8Array(b.length + 32).fill(noise);
    big.set(b, 16);
    const w = decodeIpPacket(big, 16, b.length);
    if (r instanceof ParseError) {
      if (!(w instanceof ParseError)) throw new Error('windowed decode succeeded');
      assertSame(w.code, r.code, 'code');
    } else {
      assertSame(w, r, 'windowed decode');
      if (r.payload.length > b.length) throw new Error('payload longer than the input');
    }
  }

  it('is total on 100,000 random inputs', () => {
    // Random bytes, and random bytes behind a plausible first byte (version 4 or 6).
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc
        .tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60), fc.uint8Array({ maxLength: 80 }))
        .map(([v, rest]) => new Uint8Array([v, ...rest])),
    );
    fc.assert(fc.property(input, fc.integer({ min: 0, max: 255 }), checkTotal), { numRuns: 100_000 });
  });

  it('is total on 100,000 mutated valid packets', () => {
    const pool = fc.sample(
      fc
        .tuple(fc.boolean(), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 255 }))
        .map(([v6, payload, proto]) =>
          v6
            ? buildIpPacket('2001:db8::1', 'fd00::2', proto, payload)
            : buildIpPacket('10.1.1.1', '10.2.2.2', proto, payload),
        ),
      { numRuns: 500, seed: 7 },
    );
    fc.assert(fc.property(mutated(fc.constantFrom(...pool)), fc.integer({ min: 0, max: 255 }), checkTotal), {
      numRuns: 100_000,
    });
  });
});
