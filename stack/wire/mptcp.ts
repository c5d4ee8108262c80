/**
 * MPTCP v1 suboptions (RFC 8684 §3), TCP option kind 30: exact lengths and flag bits, both
 * directions. The encoder writes the option itself (kind, length, body) without alignment padding;
 * tcp.ts lays options out in the header.
 */
import { formatIPv4, formatIPv6, ipBytes } from './ip';
import { r32, viewOf, w32 } from './view';
import {
  type AddAddr,
  type Dss,
  EncodeError,
  type MpCapable,
  MPC_FLAG_A,
  MPC_FLAG_B,
  MPC_FLAG_C,
  MPC_FLAG_H,
  MPTCP_SUB_ADD_ADDR,
  MPTCP_SUB_CAPABLE,
  MPTCP_SUB_DSS,
  MPTCP_SUB_FAIL,
  MPTCP_SUB_FASTCLOSE,
  MPTCP_SUB_JOIN,
  MPTCP_SUB_PRIO,
  MPTCP_SUB_REMOVE_ADDR,
  MPTCP_SUB_TCPRST,
  type MptcpOption,
  ParseError,
  TCPOPT_MPTCP,
} from './types';

const U64_MAX = 0xffffffffffffffffn;
const U32 = 0xffffffffn;

/** MP_CAPABLE lengths (RFC 8684 §3.1). */
export const MPC_LEN_SYN = 4;
export const MPC_LEN_SYNACK = 12;
export const MPC_LEN_ACK = 20;
export const MPC_LEN_DATA = 22;
export const MPC_LEN_DATA_CSUM = 24;
/** MP_JOIN lengths (RFC 8684 §3.2). */
export const MPJ_LEN_SYN = 12;
export const MPJ_LEN_SYNACK = 16;
export const MPJ_LEN_ACK = 24;
/** MP_PRIO, MP_FAIL, MP_FASTCLOSE, MP_TCPRST lengths. */
export const MP_PRIO_LEN = 3;
export const MP_FAIL_LEN = 12;
export const MP_FASTCLOSE_LEN = 12;
export const MP_TCPRST_LEN = 4;

function u8(v: number, what: string): number {
  if ((v & 0xff) !== v) throw new EncodeError(`${what} must be an integer 0..255, got ${v}`);
  return v;
}
function u16(v: number, what: string): number {
  if ((v & 0xffff) !== v) throw new EncodeError(`${what} must be 0..65535, got ${v}`);
  return v;
}
function u32(v: number, what: string): number {
  if (v >>> 0 !== v) throw new EncodeError(`${what} must be a u32, got ${v}`);
  return v;
}
function u64(v: bigint, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new EncodeError(`${what} must be a u64 bigint`);
  return v;
}

// 64-bit fields go through a DataView (the fastest path in V8: no intermediate BigInt arithmetic).
function w64(b: Uint8Array, o: number, v: bigint): void {
  viewOf(b).setBigUint64(o, v);
}
function r64(b: Uint8Array, o: number): bigint {
  return viewOf(b).getBigUint64(o);
}

function addrLen(a: AddAddr): number {
  const b = ipBytes(a.address);
  return b.length;
}

/** Length in bytes of the encoded suboption (kind and length bytes included). Throws EncodeError on an impossible shape. */
export function mptcpOptionLength(mp: MptcpOption): number {
  switch (mp.subtype) {
    case 'MP_CAPABLE':
      if (mp.senderKey === undefined) {
        if (mp.receiverKey !== undefined || mp.dataLength !== undefined || mp.checksum !== undefined)
          throw new EncodeError('MP_CAPABLE: receiverKey/dataLength/checksum need senderKey');
        return MPC_LEN_SYN;
      }
      if (mp.receiverKey === undefined) {
        if (mp.dataLength !== undefined || mp.checksum !== undefined)
          throw new EncodeError('MP_CAPABLE: dataLength/checksum need both keys');
        return MPC_LEN_SYNACK;
      }
      if (mp.dataLength === undefined) {
        if (mp.checksum !== undefined) throw new EncodeError('MP_CAPABLE: checksum needs dataLength');
        return MPC_LEN_ACK;
      }
      return mp.checksum === undefined ? MPC_LEN_DATA : MPC_LEN_DATA_CSUM;
    case 'MP_JOIN':
      return mp.form === 'syn' ? MPJ_LEN_SYN : mp.form === 'synack' ? MPJ_LEN_SYNACK : MPJ_LEN_ACK;
    case 'DSS': {
      let n = 4;
      if (mp.dataAck !== undefined) n += mp.dataAck8 ? 8 : 4;
      const m = mp.mapping;
      if (m !== undefined) n += (m.dsn8 ? 8 : 4) + 6 + (m.checksum === undefined ? 0 : 2);
      return n;
    }
    case 'ADD_ADDR':
      return 4 + addrLen(mp) + (mp.port === undefined ? 0 : 2) + (mp.echo ? 0 : 8);
    case 'REMOVE_ADDR':
      if (mp.addressIds.length === 0) throw new EncodeError('REMOVE_ADDR needs at least one address id');
      return 3 + mp.addressIds.length;
    case 'MP_PRIO':
      return mp.addressId === undefined ? MP_PRIO_LEN : MP_PRIO_LEN + 1;
    case 'MP_FAIL':
      return MP_FAIL_LEN;
    case 'MP_FASTCLOSE':
      return MP_FASTCLOSE_LEN;
    case 'MP_TCPRST':
      return MP_TCPRST_LEN;
    default:
      throw new EncodeError(`unknown MPTCP subtype ${(mp as { subtype: unknown }).subtype}`);
  }
}

/**
 * Writes the suboption at `buf[off]` (kind 30, length, body) and returns its length. No padding.
 * Throws EncodeError on out-of-range fields or when the buffer is too small.
 */
export function encodeMptcpOptionInto(buf: Uint8Array, off: number, mp: MptcpOption): number {
  const len = mptcpOptionLength(mp);
  if (off < 0 || off + len > buf.length) throw new EncodeError('buffer too small for MPTCP option');
  if (len > 40) throw new EncodeError(`MPTCP option of ${len} bytes exceeds the 40-byte option space`);
  buf[off] = TCPOPT_MPTCP;
  buf[off + 1] = len;
  const o = off + 2;
  switch (mp.subtype) {
    case 'MP_CAPABLE': {
      const version = mp.version;
      if (!Number.isInteger(version) || version < 0 || version > 15)
        throw new EncodeError('MP_CAPABLE version must be 0..15');
      buf[o] = (MPTCP_SUB_CAPABLE << 4) | version;
      buf[o + 1] =
        (mp.flags & 0x1e) |
        (mp.a ? MPC_FLAG_A : 0) |
        (mp.b ? MPC_FLAG_B : 0) |
        (mp.c ? MPC_FLAG_C : 0) |
        (mp.h ? MPC_FLAG_H : 0);
      if (mp.senderKey !== undefined) w64(buf, o + 2, u64(mp.senderKey, 'MP_CAPABLE senderKey'));
      if (mp.receiverKey !== undefined) w64(buf, o + 10, u64(mp.receiverKey, 'MP_CAPABLE receiverKey'));
      if (mp.dataLength !== undefined) {
        const dl = u16(mp.dataLength, 'MP_CAPABLE dataLength');
        buf[o + 18] = dl >> 8;
        buf[o + 19] = dl & 0xff;
      }
      if (mp.checksum !== undefined) {
        const ck = u16(mp.checksum, 'MP_CAPABLE checksum');
        buf[o + 20] = ck >> 8;
        buf[o + 21] = ck & 0xff;
      }
      return len;
    }
    case 'MP_JOIN': {
      if (mp.form === 'ack') {
        if (!(mp.hmac instanceof Uint8Array) || mp.hmac.length !== 20)
          throw new EncodeError('MP_JOIN ACK hmac must be 20 bytes');
        buf[o] = MPTCP_SUB_JOIN << 4;
        buf[o + 1] = 0;
        buf.set(mp.hmac, o + 2);
        return len;
      }
      buf[o] = (MPTCP_SUB_JOIN << 4) | (mp.backup ? 1 : 0);
      buf[o + 1] = u8(mp.addressId, 'MP_JOIN addressId');
      if (mp.form === 'syn') {
        w32(buf, o + 2, u32(mp.token, 'MP_JOIN token'));
        w32(buf, o + 6, u32(mp.nonce, 'MP_JOIN nonce'));
      } else {
        w64(buf, o + 2, u64(mp.truncatedHmac, 'MP_JOIN truncatedHmac'));
        w32(buf, o + 10, u32(mp.nonce, 'MP_JOIN nonce'));
      }
      return len;
    }
    case 'DSS':
      encodeDss(buf, o, mp);
      return len;
    case 'ADD_ADDR': {
      const a = ipBytes(mp.address);
      buf[o] = (MPTCP_SUB_ADD_ADDR << 4) | (mp.echo ? 1 : 0);
      buf[o + 1] = u8(mp.addressId, 'ADD_ADDR addressId');
      buf.set(a, o + 2);
      let p = o + 2 + a.length;
      if (mp.port !== undefined) {
        const port = u16(mp.port, 'ADD_ADDR port');
        buf[p] = port >> 8;
        buf[p + 1] = port & 0xff;
        p += 2;
      }
      if (!mp.echo) {
        if (mp.hmac === undefined) throw new EncodeError('ADD_ADDR without echo needs an hmac');
        w64(buf, p, u64(mp.hmac, 'ADD_ADDR hmac'));
      } else if (mp.hmac !== undefined) {
        throw new EncodeError('ADD_ADDR echo carries no hmac');
      }
      return len;
    }
    case 'REMOVE_ADDR': {
      buf[o] = MPTCP_SUB_REMOVE_ADDR << 4;
      const ids = mp.addressIds;
      for (let i = 0; i < ids.length; i++) buf[o + 1 + i] = u8(ids[i]!, 'REMOVE_ADDR id');
      return len;
    }
    case 'MP_PRIO':
      buf[o] = (MPTCP_SUB_PRIO << 4) | (mp.backup ? 1 : 0);
      if (mp.addressId !== undefined) buf[o + 1] = u8(mp.addressId, 'MP_PRIO addressId');
      return len;
    case 'MP_FAIL':
      buf[o] = MPTCP_SUB_FAIL << 4;
      buf[o + 1] = 0;
      w64(buf, o + 2, u64(mp.dsn, 'MP_FAIL dsn'));
      return len;
    case 'MP_FASTCLOSE':
      buf[o] = MPTCP_SUB_FASTCLOSE << 4;
      buf[o + 1] = 0;
      w64(buf, o + 2, u64(mp.receiverKey, 'MP_FASTCLOSE receiverKey'));
      return len;
    case 'MP_TCPRST':
      buf[o] = (MPTCP_SUB_TCPRST << 4) | (mp.u ? 8 : 0) | (mp.v ? 4 : 0) | (mp.w ? 2 : 0) | (mp.t ? 1 : 0);
      buf[o + 1] = u8(mp.reason, 'MP_TCPRST reason');
      return len;
  }
}

function encodeDss(buf: Uint8Array, o: number, mp: Dss): void {
  const m = mp.mapping;
  let flags = 0;
  if (mp.dataAck !== undefined) flags |= mp.dataAck8 ? 0x03 : 0x01;
  if (m !== undefined) flags |= m.dsn8 ? 0x0c : 0x04;
  if (mp.dataFin) flags |= 0x10;
  buf[o] = MPTCP_SUB_DSS << 4;
  buf[o + 1] = flags;
  let p = o + 2;
  if (mp.dataAck !== undefined) {
    const v = mp.dataAck;
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX)
      throw new EncodeError('DSS dataAck must be a u64 bigint');
    if (mp.dataAck8) {
      w64(buf, p, v);
      p += 8;
    } else {
      w32(buf, p, Number(v & U32));
      p += 4;
    }
  }
  if (m !== undefined) {
    const v = m.dsn;
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new EncodeError('DSS dsn must be a u64 bigint');
    if (m.dsn8) {
      w64(buf, p, v);
      p += 8;
    } else {
      w32(buf, p, Number(v & U32));
      p += 4;
    }
    w32(buf, p, u32(m.ssn, 'DSS ssn'));
    const dl = u16(m.length, 'DSS data-level length');
    buf[p + 4] = dl >> 8;
    buf[p + 5] = dl & 0xff;
    if (m.checksum !== undefined) {
      const ck = u16(m.checksum, 'DSS checksum');
      buf[p + 6] = ck >> 8;
      buf[p + 7] = ck & 0xff;
    }
  }
}

/** Encodes one suboption into a fresh array. */
export function encodeMptcpOption(mp: MptcpOption): Uint8Array {
  const out = new Uint8Array(mptcpOptionLength(mp));
  encodeMptcpOptionInto(out, 0, mp);
  return out;
}

function bad(sub: string, len: number, off: number): ParseError {
  return new ParseError('bad-length', `${sub} with length ${len}`, off);
}

/**
 * Decodes one MPTCP option occupying `bytes[off, off+len)` (kind byte 30 and length byte included;
 * the length byte must equal `len`). Returns a ParseError for a wrong kind, a length that no
 * format of the subtype has, or an unknown subtype.
 */
export function decodeMptcpOption(
  bytes: Uint8Array,
  off = 0,
  len = bytes.length - off,
): MptcpOption | ParseError {
  if (off < 0 || len < 0 || off + len > bytes.length)
    return new ParseError('range', 'range outside input', off);
  if (len < 3) return new ParseError('truncated', `MPTCP option of ${len} bytes`, off);
  if (bytes[off] !== TCPOPT_MPTCP)
    return new ParseError('bad-kind', `option kind ${bytes[off]} is not 30`, off);
  if (bytes[off + 1] !== len)
    return new ParseError('bad-length', `length byte ${bytes[off + 1]} != option size ${len}`, off + 1);
  const o = off + 2;
  const b2 = bytes[o]!;
  const sub = b2 >> 4;
  switch (sub) {
    case MPTCP_SUB_CAPABLE: {
      if (len !== 4 && len !== 12 && len !== 20 && len !== 22 && len !== 24)
        return bad('MP_CAPABLE', len, off);
      const flags = bytes[o + 1]!;
      const r: MpCapable = {
        subtype: 'MP_CAPABLE',
        version: b2 & 0xf,
        a: (flags & MPC_FLAG_A) !== 0,
        b: (flags & MPC_FLAG_B) !== 0,
        c: (flags & MPC_FLAG_C) !== 0,
        h: (flags & MPC_FLAG_H) !== 0,
        flags,
      };
      if (len >= 12) r.senderKey = r64(bytes, o + 2);
      if (len >= 20) r.receiverKey = r64(bytes, o + 10);
      if (len >= 22) r.dataLength = (bytes[o + 18]! << 8) | bytes[o + 19]!;
      if (len === 24) r.checksum = (bytes[o + 20]! << 8) | bytes[o + 21]!;
      return r;
    }
    case MPTCP_SUB_JOIN:
      if (len === 12)
        return {
          subtype: 'MP_JOIN',
          form: 'syn',
          backup: (b2 & 1) !== 0,
          addressId: bytes[o + 1]!,
          token: r32(bytes, o + 2),
          nonce: r32(bytes, o + 6),
        };
      if (len === 16)
        return {
          subtype: 'MP_JOIN',
          form: 'synack',
          backup: (b2 & 1) !== 0,
          addressId: bytes[o + 1]!,
          truncatedHmac: r64(bytes, o + 2),
          nonce: r32(bytes, o + 10),
        };
      if (len === 24) return { subtype: 'MP_JOIN', form: 'ack', hmac: bytes.slice(o + 2, o + 22) };
      return bad('MP_JOIN', len, off);
    case MPTCP_SUB_DSS:
      return decodeDss(bytes, off, len);
    case MPTCP_SUB_ADD_ADDR: {
      const echo = (b2 & 1) !== 0;
      const body = len - 4 - (echo ? 0 : 8); // address + optional port
      let alen: number;
      let port: boolean;
      if (body === 4 || body === 6) {
        alen = 4;
        port = body === 6;
      } else if (body === 16 || body === 18) {
        alen = 16;
        port = body === 18;
      } else return bad('ADD_ADDR', len, off);
      const r: AddAddr = {
        subtype: 'ADD_ADDR',
        echo,
        addressId: bytes[o + 1]!,
        address: alen === 4 ? formatIPv4(bytes, o + 2) : formatIPv6(bytes, o + 2),
      };
      let p = o + 2 + alen;
      if (port) {
        r.port = (bytes[p]! << 8) | bytes[p + 1]!;
        p += 2;
      }
      if (!echo) r.hmac = r64(bytes, p);
      return r;
    }
    case MPTCP_SUB_REMOVE_ADDR: {
      if (len < 4) return bad('REMOVE_ADDR', len, off);
      const addressIds: number[] = [];
      for (let i = o + 1; i < off + len; i++) addressIds.push(bytes[i]!);
      return { subtype: 'REMOVE_ADDR', addressIds };
    }
    case MPTCP_SUB_PRIO:
      if (len === 3) return { subtype: 'MP_PRIO', backup: (b2 & 1) !== 0 };
      if (len === 4) return { subtype: 'MP_PRIO', backup: (b2 & 1) !== 0, addressId: bytes[o + 1]! };
      return bad('MP_PRIO', len, off);
    case MPTCP_SUB_FAIL:
      if (len !== MP_FAIL_LEN) return bad('MP_FAIL', len, off);
      return { subtype: 'MP_FAIL', dsn: r64(bytes, o + 2) };
    case MPTCP_SUB_FASTCLOSE:
      if (len !== MP_FASTCLOSE_LEN) return bad('MP_FASTCLOSE', len, off);
      return { subtype: 'MP_FASTCLOSE', receiverKey: r64(bytes, o + 2) };
    case MPTCP_SUB_TCPRST:
      if (len !== MP_TCPRST_LEN) return bad('MP_TCPRST', len, off);
      return {
        subtype: 'MP_TCPRST',
        u: (b2 & 8) !== 0,
        v: (b2 & 4) !== 0,
        w: (b2 & 2) !== 0,
        t: (b2 & 1) !== 0,
        reason: bytes[o + 1]!,
      };
    default:
      return new ParseError('unknown-subtype', `MPTCP subtype ${sub}`, o);
  }
}

function decodeDss(bytes: Uint8Array, off: number, len: number): Dss | ParseError {
  if (len < 4) return bad('DSS', len, off);
  const flags = bytes[off + 3]!;
  const hasAck = (flags & 0x01) !== 0;
  const ack8 = (flags & 0x02) !== 0;
  const hasMap = (flags & 0x04) !== 0;
  const dsn8 = (flags & 0x08) !== 0;
  const base = 4 + (hasAck ? (ack8 ? 8 : 4) : 0) + (hasMap ? (dsn8 ? 8 : 4) + 6 : 0);
  const withCsum = hasMap && len === base + 2;
  if (len !== base && !withCsum) return bad('DSS', len, off);
  const r: Dss = { subtype: 'DSS', dataAck8: hasAck && ack8, dataFin: (flags & 0x10) !== 0 };
  let p = off + 4;
  if (hasAck) {
    if (ack8) {
      r.dataAck = r64(bytes, p);
      p += 8;
    } else {
      r.dataAck = BigInt(r32(bytes, p));
      p += 4;
    }
  }
  if (hasMap) {
    let dsn: bigint;
    if (dsn8) {
      dsn = r64(bytes, p);
      p += 8;
    } else {
      dsn = BigInt(r32(bytes, p));
      p += 4;
    }
    const ssn = r32(bytes, p);
    const length = (bytes[p + 4]! << 8) | bytes[p + 5]!;
    r.mapping = withCsum
      ? { dsn, dsn8, ssn, length, checksum: (bytes[p + 6]! << 8) | bytes[p + 7]! }
      : { dsn, dsn8, ssn, length };
  }
  return r;
}
