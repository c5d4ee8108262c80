/**
 * fast-check arbitraries for every decoded wire shape, in canonical form (what the decoder returns
 * for the encoder's output), so decode(encode(x)) must equal x exactly.
 */
import { inspect, isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { formatIPv4, formatIPv6 } from '../../../stack/wire/ip';
import type { MptcpOption, TcpOption, TcpSegment } from '../../../stack/wire/types';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
export const u64or32 = (wide: boolean) => (wide ? u64 : fc.bigInt({ min: 0n, max: 0xffffffffn }));

export const ipv4Text = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
/** IPv6 text from random bytes, biased towards zero runs so '::' forms appear. */
export const ipv6Text = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), u16), { minLength: 8, maxLength: 8 })
  .map((words) => {
    const b = new Uint8Array(16);
    words.forEach((w, i) => {
      b[i * 2] = w >> 8;
      b[i * 2 + 1] = w & 0xff;
    });
    return formatIPv6(b);
  });

const mpCapable: fc.Arbitrary<MptcpOption> = fc
  .record({
    version: fc.integer({ min: 0, max: 15 }),
    a: fc.boolean(),
    b: fc.boolean(),
    c: fc.boolean(),
    h: fc.boolean(),
    dg: fc.integer({ min: 0, max: 15 }),
    form: fc.integer({ min: 0, max: 4 }),
    senderKey: u64,
    receiverKey: u64,
    dataLength: u16,
    checksum: u16,
  })
  .map((r) => {
    const flags = (r.a ? 0x80 : 0) | (r.b ? 0x40 : 0) | (r.c ? 0x20 : 0) | (r.dg << 1) | (r.h ? 1 : 0);
    const m: MptcpOption = {
      subtype: 'MP_CAPABLE',
      version: r.version,
      a: r.a,
      b: r.b,
      c: r.c,
      h: r.h,
      flags,
    };
    if (r.form >= 1) m.senderKey = r.senderKey;
    if (r.form >= 2) m.receiverKey = r.receiverKey;
    if (r.form >= 3) m.dataLength = r.dataLength;
    if (r.form >= 4) m.checksum = r.checksum;
    return m;
  });

const mpJoin: fc.Arbitrary<MptcpOption> = fc.oneof(
  fc.record({
    subtype: fc.constant('MP_JOIN' as const),
    form: fc.constant('syn' as const),
    backup: fc.boolean(),
    addressId: u8,
    token: u32,
    nonce: u32,
  }),
  fc.record({
    subtype: fc.constant('MP_JOIN' as const),
    form: fc.constant('synack' as const),
    backup: fc.boolean(),
    addressId: u8,
    truncatedHmac: u64,
    nonce: u32,
  }),
  fc.record({
    subtype: fc.constant('MP_JOIN' as const),
    form: fc.constant('ack' as const),
    hmac: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  }),
);

const dss: fc.Arbitrary<MptcpOption> = fc
  .record({
    hasAck: fc.boolean(),
    ack8: fc.boolean(),
    hasMap: fc.boolean(),
    dsn8: fc.boolean(),
    csum: fc.boolean(),
    fin: fc.boolean(),
    ack64: u64,
    dsn64: u64,
    ssn: u32,
    length: u16,
    checksum: u16,
  })
  .map((r) => {
    const m: MptcpOption = { subtype: 'DSS', dataAck8: r.hasAck && r.ack8, dataFin: r.fin };
    if (r.hasAck) m.dataAck = r.ack8 ? r.ack64 : r.ack64 & 0xffffffffn;
    if (r.hasMap) {
      const dsn = r.dsn8 ? r.dsn64 : r.dsn64 & 0xffffffffn;
      m.mapping = r.csum
        ? { dsn, dsn8: r.dsn8, ssn: r.ssn, length: r.length, checksum: r.checksum }
        : { dsn, dsn8: r.dsn8, ssn: r.ssn, length: r.length };
    }
    return m;
  });

const addAddr: fc.Arbitrary<MptcpOption> = fc
  .record({
    echo: fc.boolean(),
    addressId: u8,
    address: fc.oneof(ipv4Text, ipv6Text),
    hasPort: fc.boolean(),
    port: u16,
    hmac: u64,
  })
  .map((r) => {
    const m: MptcpOption = { subtype: 'ADD_ADDR', echo: r.echo, addressId: r.addressId, address: r.address };
    if (r.hasPort) m.port = r.port;
    if (!r.echo) m.hmac = r.hmac;
    return m;
  });

export const mptcpOption: fc.Arbitrary<MptcpOption> = fc.oneof(
  mpCapable,
  mpJoin,
  dss,
  addAddr,
  fc.record({
    subtype: fc.constant('REMOVE_ADDR' as const),
    addressIds: fc.array(u8, { minLength: 1, maxLength: 37 }),
  }),
  fc.oneof(
    fc.record({ subtype: fc.constant('MP_PRIO' as const), backup: fc.boolean() }),
    fc.record({ subtype: fc.constant('MP_PRIO' as const), backup: fc.boolean(), addressId: u8 }),
  ),
  fc.record({ subtype: fc.constant('MP_FAIL' as const), dsn: u64 }),
  fc.record({ subtype: fc.constant('MP_FASTCLOSE' as const), receiverKey: u64 }),
  fc.record({
    subtype: fc.constant('MP_TCPRST' as const),
    u: fc.boolean(),
    v: fc.boolean(),
    w: fc.boolean(),
    t: fc.boolean(),
    reason: u8,
  }),
);

const KNOWN_KINDS = new Set([0, 1, 2, 3, 4, 5, 8, 30]);

export const tcpOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.record({ kind: fc.constant('mss' as const), mss: u16 }),
  fc.record({ kind: fc.constant('wscale' as const), shift: u8 }),
  fc.record({ kind: fc.constant('sackPermitted' as const) }),
  fc.record({
    kind: fc.constant('sack' as const),
    blocks: fc.array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('timestamps' as const), tsval: u32, tsecr: u32 }),
  mptcpOption.map((mp) => ({ kind: 'mptcp' as const, mp })),
  fc.record({
    kind: fc.constant('unknown' as const),
    type: fc.integer({ min: 2, max: 255 }).filter((t) => !KNOWN_KINDS.has(t)),
    data: fc.uint8Array({ maxLength: 20 }),
  }),
);

/** Option lists that fit in 40 bytes (checked by the caller with optionsLength). */
export const tcpOptions = fc.array(tcpOption, { maxLength: 5 });

export const tcpSegmentFields = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  checksum: u16,
  urgent: u16,
  payload: fc.uint8Array({ maxLength: 64 }),
});

export type SegmentFields = typeof tcpSegmentFields extends fc.Arbitrary<infer T> ? T : never;

export function segmentOf(f: SegmentFields, options: TcpOption[]): TcpSegment {
  return { ...f, options };
}

/** Mutations of a valid encoding: bit flips, byte overwrites, truncation, extension. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      valid,
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
          fc.record({ op: fc.constant('set' as const), at: fc.nat(), v: u8 }),
          fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
          fc.record({
            op: fc.constant('grow' as const),
            extra: fc.uint8Array({ minLength: 1, maxLength: 8 }),
          }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([bytes, muts]) => {
      let b = new Uint8Array(bytes);
      for (const m of muts) {
        if (m.op === 'grow') {
          const n = new Uint8Array(b.length + m.extra.length);
          n.set(b);
          n.set(m.extra, b.length);
          b = n;
          continue;
        }
        if (b.length === 0) continue;
        const at = m.at % b.length;
        if (m.op === 'flip') b[at] = b[at]! ^ (1 << m.bit);
        else if (m.op === 'set') b[at] = m.v;
        else b = b.slice(0, at);
      }
      return b;
    });
}

/**
 * Deep equality that is cheap enough for 100,000-run properties (vitest's toEqual is not). The
 * expected value is cloned first: fast-check builds records without a prototype.
 */
export function assertSame(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, structuredClone(expected))) {
    throw new Error(`${what}: ${inspect(actual, { depth: 6 })} !== ${inspect(expected, { depth: 6 })}`);
  }
}
