import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSegment,
  encodedLength,
  encodeHeaderInto,
  encodeInto,
  encodeSegment,
  headerLength,
  optionsLength,
  setTcpChecksum,
  verifySegmentChecksum,
} from '../../../stack/wire/tcp';
import {
  ACK,
  EncodeError,
  ParseError,
  PSH,
  SYN,
  type TcpOption,
  type TcpSegment,
} from '../../../stack/wire/types';
import { assertSame, mutated, segmentOf, tcpOptions, tcpSegmentFields } from './arbitraries';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function seg(options: TcpOption[], payload = new Uint8Array(0), flags = ACK): TcpSegment {
  return {
    srcPort: 1234,
    dstPort: 80,
    seq: 1,
    ack: 2,
    flags,
    window: 0xffff,
    checksum: 0,
    urgent: 0,
    options,
    payload,
  };
}

function fits(options: TcpOption[]): boolean {
  try {
    optionsLength(options);
    return true;
  } catch (e) {
    if (e instanceof EncodeError) return false;
    throw e;
  }
}

describe('wire/tcp: header and option layout', () => {
  it('lays out a SYN like Linux: MSS, SACK-permitted packed with timestamps, NOP + window scale', () => {
    const s = seg(
      [
        { kind: 'mss', mss: 1460 },
        { kind: 'sackPermitted' },
        { kind: 'timestamps', tsval: 1, tsecr: 0 },
        { kind: 'wscale', shift: 7 },
      ],
      undefined,
      SYN,
    );
    const b = encodeSegment(s);
    expect(b.length).toBe(40);
    expect(b[12]! >> 4).toBe(10);
    expect(hex(b.subarray(20))).toBe('020405b4' + '0402080a' + '00000001' + '00000000' + '01030307');
  });

  it('pads with NOPs before timestamps, SACK and lone SACK-permitted, and after odd MPTCP lengths', () => {
    const b = encodeSegment(
      seg([
        { kind: 'timestamps', tsval: 0x01020304, tsecr: 0x05060708 },
        { kind: 'sack', blocks: [{ left: 10, right: 20 }] },
        { kind: 'mptcp', mp: { subtype: 'MP_PRIO', backup: true } },
        { kind: 'sackPermitted' },
      ]),
    );
    expect(hex(b.subarray(20))).toBe(
      '0101080a0102030405060708' + '0101050a0000000a00000014' + '1e035101' + '01010402',
    );
  });

  it('a data segment with timestamps and a full DSS (26 bytes + checksum = 28) uses all 40 bytes', () => {
    const opts: TcpOption[] = [
      { kind: 'timestamps', tsval: 5, tsecr: 6 },
      {
        kind: 'mptcp',
        mp: {
          subtype: 'DSS',
          dataAck: 1n << 40n,
          dataAck8: true,
          dataFin: false,
          mapping: { dsn: 1n << 50n, dsn8: true, ssn: 1, length: 1460, checksum: 0xabcd },
        },
      },
    ];
    expect(optionsLength(opts)).toBe(40);
    expect(headerLength(opts)).toBe(60);
    const payload = new Uint8Array(1460).fill(0x5a);
    const s = seg(opts, payload);
    expect(encodedLength(s)).toBe(1520);
    const b = encodeSegment(s);
    expect(b[12]! >> 4).toBe(15);
    const d = decodeSegment(b);
    expect(d).toEqual({ ...s, dataOffset: 15 });
    // Without checksum the DSS is 26 bytes, followed by two NOPs.
    const noCk = structuredClone(opts);
    const mp = (noCk[1] as { mp: { mapping: { checksum?: number } } }).mp;
    delete mp.mapping.checksum;
    const b2 = encodeSegment(seg(noCk));
    expect(b2[12]! >> 4).toBe(15);
    expect(hex(b2.subarray(58, 60))).toBe('0101');
  });

  it('refuses options beyond 40 bytes with a clear EncodeError', () => {
    const opts: TcpOption[] = [
      { kind: 'timestamps', tsval: 1, tsecr: 2 },
      { kind: 'sack', blocks: [1, 2, 3].map((i) => ({ left: i, right: i + 1 })) },
      { kind: 'mss', mss: 1 },
    ];
    expect(() => encodeSegment(seg(opts))).toThrow(EncodeError);
    expect(() => encodeSegment(seg(opts))).toThrow(/44 bytes, more than the 40/);
    expect(() => encodeSegment(seg([{ kind: 'sack', blocks: [] }]))).toThrow(EncodeError);
    expect(() => encodeSegment(seg([{ kind: 'unknown', type: 1, data: new Uint8Array(0) }]))).toThrow(
      EncodeError,
    );
    expect(() => encodeSegment({ ...seg([]), seq: 2 ** 32 })).toThrow(EncodeError);
    expect(() => encodeSegment({ ...seg([]), srcPort: -1 })).toThrow(EncodeError);
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 65536])
      expect(() => encodeSegment({ ...seg([]), window: bad }), String(bad)).toThrow(EncodeError);
    for (const bad of [0.5, Number.NaN, -1, 2 ** 32])
      expect(() => encodeSegment({ ...seg([]), ack: bad }), String(bad)).toThrow(EncodeError);
    expect(() => encodeSegment(seg([{ kind: 'timestamps', tsval: 2 ** 32, tsecr: 0 }]))).toThrow(EncodeError);
    expect(() => encodeSegment(seg([{ kind: 'wscale', shift: 256 }]))).toThrow(EncodeError);
    expect(() => encodeSegment(seg([{ kind: 'mss', mss: 70000 }]))).toThrow(EncodeError);
    expect(() => encodeInto(new Uint8Array(19), 0, seg([]))).toThrow(EncodeError);
  });

  it('computes the checksum with the pseudo-header when addresses are given (known answer)', () => {
    const s = { ...seg([], new TextEncoder().encode('hi!'), ACK | PSH), window: 0xffff };
    const b = encodeSegment(s, '192.168.0.1', '192.168.0.2');
    expect(hex(b.subarray(16, 18))).toBe('9fe7');
    expect(verifySegmentChecksum(b, '192.168.0.1', '192.168.0.2')).toBe(true);
    const b6 = encodeSegment(s, '2001:db8::1', 'fe80::2');
    expect(hex(b6.subarray(16, 18))).toBe('f4fe');
    // Without addresses the given checksum is written as is.
    expect(hex(encodeSegment({ ...s, checksum: 0x1234 }).subarray(16, 18))).toBe('1234');
    const c = encodeSegment(s);
    expect(setTcpChecksum(c, '192.168.0.1', '192.168.0.2')).toBe(0x9fe7);
    expect(hex(c)).toBe(hex(b));
    expect(() => encodeSegment(s, '10.0.0.1', '::1')).toThrow(EncodeError);
  });

  it('encodeHeaderInto + the payload sent separately equals the whole encoding (checksum included)', () => {
    fc.assert(
      fc.property(tcpSegmentFields, tcpOptions, fc.boolean(), (f, options, v6) => {
        fc.pre(fits(options));
        const s = segmentOf(f, options);
        const [src, dst] = v6 ? ['2001:db8::1', '2001:db8::2'] : ['10.0.0.1', '10.0.0.2'];
        const hdr = new Uint8Array(60);
        const hl = encodeHeaderInto(hdr, 0, s, src, dst);
        assertSame(hl, headerLength(options), 'header length');
        const whole = new Uint8Array([...hdr.subarray(0, hl), ...s.payload]);
        assertSame(whole, encodeSegment(s, src, dst), 'with checksum');
        const hl2 = encodeHeaderInto(hdr, 0, s);
        assertSame(new Uint8Array([...hdr.subarray(0, hl2), ...s.payload]), encodeSegment(s), 'without');
      }),
      { numRuns: 3000 },
    );
    expect(() => encodeHeaderInto(new Uint8Array(20), 0, seg([{ kind: 'mss', mss: 1 }]))).toThrow(
      EncodeError,
    );
  });

  it('encodeInto writes at an offset and returns the length', () => {
    const s = seg([{ kind: 'mss', mss: 536 }], new Uint8Array([9, 8, 7]));
    const buf = new Uint8Array(100).fill(0xee);
    const n = encodeInto(buf, 10, s, '10.0.0.1', '10.0.0.2');
    expect(n).toBe(27);
    expect(hex(buf.subarray(10, 10 + n))).toBe(hex(encodeSegment(s, '10.0.0.1', '10.0.0.2')));
    expect(buf[9]).toBe(0xee);
    expect(buf[37]).toBe(0xee);
    expect(decodeSegment(buf, 10, n)).toEqual({ ...s, dataOffset: 6, checksum: (buf[26]! << 8) | buf[27]! });
  });
});

describe('wire/tcp: decoding', () => {
  it('keeps unknown options, treats known kinds with wrong lengths as unknown, stops at EOL', () => {
    const hdr = '04d200500000000100000002' + '8010ffff00000000';
    // kind 27 (len 4), MSS, NOP, window scale 0, EOL, then bytes after EOL that must be ignored.
    const opts = '1b040102' + '0204ffff' + '01' + '030300' + '00aaaaaa';
    const b = new Uint8Array(Buffer.from(hdr.replace('8010', '9010') + opts, 'hex'));
    const d = decodeSegment(b);
    expect(d).not.toBeInstanceOf(ParseError);
    const s = d as TcpSegment;
    expect(s.dataOffset).toBe(9);
    expect(s.options).toEqual([
      { kind: 'unknown', type: 27, data: new Uint8Array([1, 2]) },
      { kind: 'mss', mss: 0xffff },
      { kind: 'wscale', shift: 0 },
    ]);
    const wrong = new Uint8Array(Buffer.from(`${hdr.replace('8010', '6010')}02030101`, 'hex'));
    expect((decodeSegment(wrong) as TcpSegment).options).toEqual([
      { kind: 'unknown', type: 2, data: new Uint8Array([1]) },
    ]);
    // A kind-30 option that is not a valid MPTCP suboption is kept as unknown, not a segment error.
    const badMp = new Uint8Array(Buffer.from(`${hdr.replace('8010', '6010')}1e04f000`, 'hex'));
    expect((decodeSegment(badMp) as TcpSegment).options).toEqual([
      { kind: 'unknown', type: 30, data: new Uint8Array([0xf0, 0]) },
    ]);
  });

  it('returns typed errors for truncated headers, bad offsets and broken option lengths', () => {
    const hdr = (doff: number) => `04d20050000000010000000${2}${doff.toString(16)}010ffff00000000`;
    const cases: [string, string][] = [
      ['04d20050', 'truncated'],
      [hdr(4), 'bad-offset'],
      [hdr(6), 'truncated'],
      [`${hdr(6)}0201ffff`, 'bad-option'], // length byte 1
      [`${hdr(6)}010102ff`, 'bad-option'], // MSS runs past the header
      [`${hdr(6)}01010108`, 'bad-option'], // kind 8 as the last byte: no length byte
    ];
    for (const [h, code] of cases) {
      const r = decodeSegment(new Uint8Array(Buffer.from(h, 'hex')));
      expect(r, h).toBeInstanceOf(ParseError);
      expect((r as ParseError).code, h).toBe(code);
    }
    expect((decodeSegment(new Uint8Array(40), 30, 20) as ParseError).code).toBe('range');
  });

  it('decode(encode(x)) == x for any segment whose options fit', () => {
    fc.assert(
      fc.property(tcpSegmentFields, tcpOptions, (f, options) => {
        fc.pre(fits(options));
        const s = segmentOf(f, options);
        const b = encodeSegment(s);
        assertSame(b.length, encodedLength(s), 'length');
        assertSame(decodeSegment(b), { ...s, dataOffset: headerLength(options) / 4 }, 'round trip');
      }),
      { numRuns: 20_000 },
    );
  });

  it('segments with addresses always verify, and a corrupted byte is detected', () => {
    fc.assert(
      fc.property(
        tcpSegmentFields,
        tcpOptions,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (f, options, at, x) => {
          fc.pre(fits(options));
          const b = encodeSegment(segmentOf(f, options), '10.1.2.3', '10.3.2.1');
          expect(verifySegmentChecksum(b, '10.1.2.3', '10.3.2.1')).toBe(true);
          expect(verifySegmentChecksum(b, '10.1.2.3', '10.3.2.2')).toBe(false);
          const i = at % b.length;
          const w = i & ~1;
          const word = () => (b[w]! << 8) | (b[w + 1] ?? 0);
          const oldWord = word();
          b[i] = b[i]! ^ x;
          const newWord = word();
          // One's-complement arithmetic cannot tell 0x0000 from 0xffff; any other change of a word shows.
          if (!(oldWord % 0xffff === 0 && newWord % 0xffff === 0)) {
            expect(verifySegmentChecksum(b, '10.1.2.3', '10.3.2.1')).toBe(false);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  /** Total, and reads only its window: inside a larger buffer of noise it decodes the same. */
  function checkTotal(bytes: Uint8Array, noise: number): void {
    let r: ReturnType<typeof decodeSegment>;
    try {
      r = decodeSegment(bytes);
    } catch (e) {
      throw new Error(`decoder threw on ${hex(bytes)}: ${e}`);
    }
    const big = new Uint8Array(bytes.length + 32).fill(noise);
    big.set(bytes, 16);
    const w = decodeSegment(big, 16, bytes.length);
    if (r instanceof ParseError) {
      if (!(w instanceof ParseError)) throw new Error(`windowed decode of ${hex(bytes)} succeeded`);
      assertSame([w.code, w.offset], [r.code, r.offset < 0 ? r.offset : r.offset + 16], 'windowed error');
      return;
    }
    assertSame(w, r, 'windowed decode');
    // Whatever decodes re-encodes (or is refused with EncodeError, e.g. 3-byte unknown options that
    // need padding), and the re-encoding decodes to the same value.
    try {
      const again = encodeSegment(r);
      assertSame(decodeSegment(again), { ...r, dataOffset: again[12]! >> 4 }, 're-decode');
    } catch (e) {
      if (!(e instanceof EncodeError)) throw e;
    }
  }

  it('is total on 100,000 random inputs', () => {
    const header = fc
      .tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ maxLength: 60 }))
      .map(([h, rest]) => new Uint8Array([...h, ...rest]));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 80 }), header),
        fc.integer({ min: 0, max: 255 }),
        checkTotal,
      ),
      { numRuns: 100_000 },
    );
  });

  it('is total on 100,000 mutated valid encodings', () => {
    // A pool of 2,000 valid encodings (every option shape), mutated afresh in each run.
    const pool = fc.sample(
      fc
        .tuple(tcpSegmentFields, tcpOptions)
        .filter(([, o]) => fits(o))
        .map(([f, o]) => encodeSegment(segmentOf({ ...f, payload: f.payload.subarray(0, 8) }, o))),
      { numRuns: 2000, seed: 42 },
    );
    const valid = fc.constantFrom(...pool);
    fc.assert(fc.property(mutated(valid), fc.integer({ min: 0, max: 255 }), checkTotal), {
      numRuns: 100_000,
    });
  });
});
