import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMptcpOption,
  encodeMptcpOption,
  encodeMptcpOptionInto,
  mptcpOptionLength,
} from '../../../stack/wire/mptcp';
import { EncodeError, type MptcpOption, ParseError } from '../../../stack/wire/types';
import { assertSame, mptcpOption, mutated } from './arbitraries';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const K1 = 0x0102030405060708n;
const K2 = 0x1112131415161718n;

/** Every shape once, with its exact RFC 8684 length and encoding. */
const known: [string, MptcpOption, number, string][] = [
  [
    'MP_CAPABLE SYN',
    { subtype: 'MP_CAPABLE', version: 1, a: true, b: false, c: false, h: true, flags: 0x81 },
    4,
    '1e040181',
  ],
  [
    'MP_CAPABLE SYN/ACK',
    { subtype: 'MP_CAPABLE', version: 1, a: false, b: true, c: true, h: true, flags: 0x61, senderKey: K1 },
    12,
    '1e0c01610102030405060708',
  ],
  [
    'MP_CAPABLE ACK',
    {
      subtype: 'MP_CAPABLE',
      version: 1,
      a: false,
      b: false,
      c: false,
      h: true,
      flags: 0x01,
      senderKey: K1,
      receiverKey: K2,
    },
    20,
    '1e140101' + '0102030405060708' + '1112131415161718',
  ],
  [
    'MP_CAPABLE ACK + data length',
    {
      subtype: 'MP_CAPABLE',
      version: 1,
      a: false,
      b: false,
      c: false,
      h: true,
      flags: 0x01,
      senderKey: K1,
      receiverKey: K2,
      dataLength: 0x05dc,
    },
    22,
    '1e160101' + '0102030405060708' + '1112131415161718' + '05dc',
  ],
  [
    'MP_CAPABLE ACK + data length + checksum',
    {
      subtype: 'MP_CAPABLE',
      version: 1,
      a: true,
      b: false,
      c: false,
      h: true,
      flags: 0x81,
      senderKey: K1,
      receiverKey: K2,
      dataLength: 1,
      checksum: 0xbeef,
    },
    24,
    '1e180181' + '0102030405060708' + '1112131415161718' + '0001' + 'beef',
  ],
  [
    'MP_JOIN SYN',
    { subtype: 'MP_JOIN', form: 'syn', backup: true, addressId: 5, token: 0xdeadbeef, nonce: 0x01020304 },
    12,
    '1e0c1105deadbeef01020304',
  ],
  [
    'MP_JOIN SYN/ACK',
    { subtype: 'MP_JOIN', form: 'synack', backup: false, addressId: 0, truncatedHmac: K2, nonce: 0xcafebabe },
    16,
    '1e101000' + '1112131415161718' + 'cafebabe',
  ],
  [
    'MP_JOIN ACK',
    { subtype: 'MP_JOIN', form: 'ack', hmac: new Uint8Array(20).map((_, i) => i + 1) },
    24,
    '1e181000' + '0102030405060708090a0b0c0d0e0f1011121314',
  ],
  ['DSS empty', { subtype: 'DSS', dataAck8: false, dataFin: false }, 4, '1e042000'],
  [
    'DSS ack4',
    { subtype: 'DSS', dataAck: 0x01020304n, dataAck8: false, dataFin: false },
    8,
    '1e08200101020304',
  ],
  [
    'DSS ack8',
    { subtype: 'DSS', dataAck: K1, dataAck8: true, dataFin: false },
    12,
    '1e0c20030102030405060708',
  ],
  [
    'DSS ack8 + map dsn8 + checksum',
    {
      subtype: 'DSS',
      dataAck: K1,
      dataAck8: true,
      dataFin: false,
      mapping: { dsn: K2, dsn8: true, ssn: 0x0a0b0c0d, length: 1460, checksum: 0x1234 },
    },
    28,
    '1e1c200f' + '0102030405060708' + '1112131415161718' + '0a0b0c0d' + '05b4' + '1234',
  ],
  [
    'DSS map dsn4, no checksum, DATA_FIN',
    {
      subtype: 'DSS',
      dataAck8: false,
      dataFin: true,
      mapping: { dsn: 0xa1a2a3a4n, dsn8: false, ssn: 1, length: 1 },
    },
    14,
    '1e0e2014' + 'a1a2a3a4' + '00000001' + '0001',
  ],
  [
    'DSS ack4 + map dsn4 + checksum',
    {
      subtype: 'DSS',
      dataAck: 7n,
      dataAck8: false,
      dataFin: false,
      mapping: { dsn: 9n, dsn8: false, ssn: 2, length: 3, checksum: 4 },
    },
    20,
    '1e142005' + '00000007' + '00000009' + '00000002' + '0003' + '0004',
  ],
  [
    'ADD_ADDR v4 echo',
    { subtype: 'ADD_ADDR', echo: true, addressId: 3, address: '10.0.0.1' },
    8,
    '1e0831030a000001',
  ],
  [
    'ADD_ADDR v4 echo port',
    { subtype: 'ADD_ADDR', echo: true, addressId: 3, address: '10.0.0.1', port: 80 },
    10,
    '1e0a31030a0000010050',
  ],
  [
    'ADD_ADDR v4 hmac',
    { subtype: 'ADD_ADDR', echo: false, addressId: 3, address: '10.0.0.1', hmac: K1 },
    16,
    '1e1030030a000001' + '0102030405060708',
  ],
  [
    'ADD_ADDR v4 port hmac',
    { subtype: 'ADD_ADDR', echo: false, addressId: 3, address: '10.0.0.1', port: 443, hmac: K1 },
    18,
    '1e1230030a00000101bb' + '0102030405060708',
  ],
  [
    'ADD_ADDR v6 echo',
    { subtype: 'ADD_ADDR', echo: true, addressId: 9, address: '2001:db8::1' },
    20,
    '1e14310920010db8000000000000000000000001',
  ],
  [
    'ADD_ADDR v6 echo port',
    { subtype: 'ADD_ADDR', echo: true, addressId: 9, address: '2001:db8::1', port: 1 },
    22,
    '1e16310920010db80000000000000000000000010001',
  ],
  [
    'ADD_ADDR v6 hmac',
    { subtype: 'ADD_ADDR', echo: false, addressId: 9, address: '2001:db8::1', hmac: K2 },
    28,
    '1e1c300920010db8000000000000000000000001' + '1112131415161718',
  ],
  [
    'ADD_ADDR v6 port hmac',
    { subtype: 'ADD_ADDR', echo: false, addressId: 9, address: '2001:db8::1', port: 65535, hmac: K2 },
    30,
    '1e1e300920010db8000000000000000000000001ffff' + '1112131415161718',
  ],
  ['REMOVE_ADDR one', { subtype: 'REMOVE_ADDR', addressIds: [7] }, 4, '1e044007'],
  ['REMOVE_ADDR three', { subtype: 'REMOVE_ADDR', addressIds: [1, 2, 255] }, 6, '1e06400102ff'],
  ['MP_PRIO', { subtype: 'MP_PRIO', backup: true }, 3, '1e0351'],
  ['MP_PRIO with address id', { subtype: 'MP_PRIO', backup: false, addressId: 4 }, 4, '1e045004'],
  ['MP_FAIL', { subtype: 'MP_FAIL', dsn: K1 }, 12, '1e0c6000' + '0102030405060708'],
  ['MP_FASTCLOSE', { subtype: 'MP_FASTCLOSE', receiverKey: K2 }, 12, '1e0c7000' + '1112131415161718'],
  [
    'MP_TCPRST T',
    { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: true, reason: 0x06 },
    4,
    '1e048106',
  ],
  [
    'MP_TCPRST UVW',
    { subtype: 'MP_TCPRST', u: true, v: true, w: true, t: false, reason: 0x00 },
    4,
    '1e048e00',
  ],
];

describe('wire/mptcp: exact encodings and lengths (RFC 8684 §3)', () => {
  for (const [name, opt, len, bytes] of known) {
    it(`${name}: ${len} bytes`, () => {
      expect(mptcpOptionLength(opt)).toBe(len);
      const enc = encodeMptcpOption(opt);
      expect(enc).toHaveLength(len);
      expect(hex(enc)).toBe(bytes);
      expect(decodeMptcpOption(enc)).toEqual(opt);
    });
  }

  it('DSS with a 4-byte DSN / data ACK carries the low 32 bits of a 64-bit value', () => {
    const enc = encodeMptcpOption({
      subtype: 'DSS',
      dataAck: 0x1_0000_0005n,
      dataAck8: false,
      dataFin: false,
      mapping: { dsn: 0xff_0000_0009n, dsn8: false, ssn: 0, length: 0 },
    });
    const dec = decodeMptcpOption(enc);
    expect(dec).toMatchObject({ dataAck: 5n, mapping: { dsn: 9n } });
  });

  it('refuses impossible shapes and out-of-range fields with EncodeError', () => {
    const bad: MptcpOption[] = [
      { subtype: 'MP_CAPABLE', version: 1, a: false, b: false, c: false, h: true, flags: 0, receiverKey: 1n },
      {
        subtype: 'MP_CAPABLE',
        version: 1,
        a: false,
        b: false,
        c: false,
        h: true,
        flags: 0,
        senderKey: 1n,
        dataLength: 1,
      },
      {
        subtype: 'MP_CAPABLE',
        version: 1,
        a: false,
        b: false,
        c: false,
        h: true,
        flags: 0,
        senderKey: 1n,
        receiverKey: 1n,
        checksum: 1,
      },
      { subtype: 'MP_CAPABLE', version: 16, a: false, b: false, c: false, h: true, flags: 0 },
      {
        subtype: 'MP_CAPABLE',
        version: 1,
        a: false,
        b: false,
        c: false,
        h: true,
        flags: 0,
        senderKey: 1n << 64n,
      },
      { subtype: 'MP_JOIN', form: 'ack', hmac: new Uint8Array(19) },
      { subtype: 'MP_JOIN', form: 'syn', backup: false, addressId: 256, token: 0, nonce: 0 },
      { subtype: 'MP_JOIN', form: 'syn', backup: false, addressId: 1, token: 2 ** 32, nonce: 0 },
      { subtype: 'DSS', dataAck: -1n, dataAck8: true, dataFin: false },
      {
        subtype: 'DSS',
        dataAck8: false,
        dataFin: false,
        mapping: { dsn: 0n, dsn8: true, ssn: 0, length: 65536 },
      },
      { subtype: 'ADD_ADDR', echo: false, addressId: 1, address: '10.0.0.1' },
      { subtype: 'ADD_ADDR', echo: true, addressId: 1, address: '10.0.0.1', hmac: 1n },
      { subtype: 'ADD_ADDR', echo: true, addressId: 1, address: '10.0.0.256' },
      { subtype: 'ADD_ADDR', echo: true, addressId: 1, address: '10.0.0.1', port: 70000 },
      { subtype: 'REMOVE_ADDR', addressIds: [] },
      { subtype: 'REMOVE_ADDR', addressIds: new Array(38).fill(1) },
      { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: false, reason: 300 },
    ];
    for (const opt of bad)
      expect(
        () => encodeMptcpOption(opt),
        JSON.stringify(opt, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toThrow(EncodeError);
    expect(() => encodeMptcpOptionInto(new Uint8Array(10), 0, known[1]![1])).toThrow(EncodeError);
  });

  it('rejects lengths no format has, wrong kinds, inconsistent length bytes and unknown subtypes', () => {
    const cases: [string, string][] = [
      ['1e05018100', 'bad-length'], // MP_CAPABLE length 5
      ['1e0d1105deadbeef0102030400', 'bad-length'], // MP_JOIN length 13
      ['1e05200000', 'bad-length'], // DSS without flags is 4 bytes
      ['1e0c200f0102030405060708', 'bad-length'], // DSS A a M m needs 26 or 28 bytes
      ['1e0b20010000000000000000', 'bad-length'], // DSS A needs 8 bytes
      ['1e09310a0a00000100', 'bad-length'], // ADD_ADDR echo, 9 bytes
      ['1e0f300a0a000001000000000000000000', 'bad-length'], // ADD_ADDR 15 bytes
      ['1e0340', 'bad-length'], // REMOVE_ADDR without an id
      ['1e0551010203', 'bad-length'], // MP_PRIO 5 bytes
      ['1e0b600000000000000000', 'bad-length'], // MP_FAIL 11 bytes
      ['1e0d70000000000000000000', 'bad-length'], // MP_FASTCLOSE 13 bytes
      ['1e05810000', 'bad-length'], // MP_TCPRST 5 bytes
      ['1e04f000', 'unknown-subtype'], // MP_EXPERIMENTAL (0xf) is not decoded
      ['1e049000', 'unknown-subtype'],
      ['02040000', 'bad-kind'],
      ['1e060000', 'bad-length'], // length byte 6 on a 4-byte option
      ['1e', 'truncated'],
      ['', 'truncated'],
    ];
    for (const [h, code] of cases) {
      const r = decodeMptcpOption(new Uint8Array(Buffer.from(h, 'hex')));
      expect(r, h).toBeInstanceOf(ParseError);
      expect((r as ParseError).code, h).toBe(code);
    }
    // A range outside the input is an error, not a read past the end.
    expect((decodeMptcpOption(new Uint8Array(4), 2, 4) as ParseError).code).toBe('range');
    expect((decodeMptcpOption(new Uint8Array(4), -1, 2) as ParseError).code).toBe('range');
  });
});

describe('wire/mptcp: properties', () => {
  it('decode(encode(x)) == x for every suboption shape', () => {
    fc.assert(
      fc.property(mptcpOption, (opt) => {
        const enc = encodeMptcpOption(opt);
        assertSame([enc.length, enc[0], enc[1]], [mptcpOptionLength(opt), 30, enc.length], 'kind and length');
        assertSame(decodeMptcpOption(enc), opt, 'round trip');
      }),
      { numRuns: 20_000 },
    );
  });

  /** A decoder is total and reads only its window: decoding inside a larger buffer of noise gives the same. */
  function checkTotal(bytes: Uint8Array, noise: number): void {
    let r: ReturnType<typeof decodeMptcpOption>;
    try {
      r = decodeMptcpOption(bytes);
    } catch (e) {
      throw new Error(`decoder threw on ${hex(bytes)}: ${e}`);
    }
    const big = new Uint8Array(bytes.length + 16).fill(noise);
    big.set(bytes, 8);
    const w = decodeMptcpOption(big, 8, bytes.length);
    if (r instanceof ParseError) {
      if (!(w instanceof ParseError)) throw new Error(`windowed decode of ${hex(bytes)} succeeded`);
      assertSame([w.code, w.offset], [r.code, r.offset < 0 ? r.offset : r.offset + 8], 'windowed error');
    } else assertSame(w, r, 'windowed decode');
    if (!(r instanceof ParseError)) {
      // A value the decoder returns re-encodes to the same bytes (option bytes are canonical except
      // reserved bits), and decodes to itself again.
      const again = encodeMptcpOption(r);
      assertSame(again.length, bytes.length, 're-encoded length');
      assertSame(decodeMptcpOption(again), r, 're-decode');
    }
  }

  it('is total on 100,000 random inputs', () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 48 }),
      // Kind 30 with a consistent length byte, so the subtype parsers are reached often.
      fc.uint8Array({ minLength: 1, maxLength: 38 }).map((b) => new Uint8Array([30, b.length + 2, ...b])),
    );
    fc.assert(
      fc.property(input, u8noise, (b, n) => checkTotal(b, n)),
      { numRuns: 100_000 },
    );
  });

  it('is total on 100,000 mutated valid encodings', () => {
    // A pool of 2,000 valid encodings (every suboption shape), mutated afresh in each run.
    const pool = fc.sample(
      mptcpOption.map((o) => encodeMptcpOption(o)),
      { numRuns: 2000, seed: 42 },
    );
    const input = mutated(fc.constantFrom(...pool)).map((b) => {
      // Keep the length byte consistent half of the time so mutations reach the body parsers.
      if (b.length >= 2 && b[0]! & 1) b[1] = b.length;
      return b;
    });
    fc.assert(
      fc.property(input, u8noise, (b, n) => checkTotal(b, n)),
      { numRuns: 100_000 },
    );
  });
});

const u8noise = fc.integer({ min: 0, max: 255 });
