/**
 * TCP header and options (RFC 9293 §3.1; MSS, window scale and timestamps RFC 7323; SACK RFC 2018;
 * MPTCP kind 30 RFC 8684).
 *
 * Encoding lays options out the way Linux does: each option starts where its fields are naturally
 * aligned, with NOPs before 2-byte-aligned options (NOP WS, NOP NOP TS, NOP NOP SACK) and after odd
 * lengths (MPTCP options), and SACK-permitted directly followed by timestamps packed into 12 bytes.
 * Options keep the order given. More than 40 bytes of options is an EncodeError.
 *
 * Decoding returns a TcpSegment or a ParseError. The payload (and `unknown` option data) are views
 * onto the input bytes, not copies: copy them if the input buffer is reused.
 */
import { IPPROTO_TCP, fold, pseudoHeaderSum, sum16, tcpChecksum, verifyTcpChecksum } from './checksum';
import { ipBytes } from './ip';
import { r32, w16, w32 } from './view';
import { decodeMptcpOption, encodeMptcpOptionInto, mptcpOptionLength } from './mptcp';
import {
  EncodeError,
  MAX_OPTION_SPACE,
  ParseError,
  TCP_HEADER_MIN,
  TCPOPT_EOL,
  TCPOPT_MPTCP,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_TIMESTAMPS,
  TCPOPT_WSCALE,
  type TcpOption,
  type TcpSegment,
} from './types';

type Addr = string | Uint8Array;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Bytes one option takes in the header, padding included; `next` is the option after it. */
function optionSpace(opt: TcpOption, next: TcpOption | undefined): number {
  switch (opt.kind) {
    case 'mss':
      return 4;
    case 'wscale':
      return 4;
    case 'sackPermitted':
      // Packed with a following timestamps option: SACKOK(2) TS(10) = 12, counted there.
      return next !== undefined && next.kind === 'timestamps' ? 2 : 4;
    case 'timestamps':
      return 12; // NOP NOP TS, or the 10 bytes after a packed SACKOK
    case 'sack':
      return 4 + 8 * opt.blocks.length;
    case 'mptcp':
      return pad4(mptcpOptionLength(opt.mp));
    case 'unknown':
      return pad4(2 + opt.data.length);
  }
}

/**
 * Length in bytes of the encoded options (a multiple of 4). Throws EncodeError when they exceed
 * the 40-byte option space, so callers can check before building a segment.
 */
export function optionsLength(options: readonly TcpOption[]): number {
  let n = 0;
  for (let i = 0; i < options.length; i++) {
    const opt = options[i]!;
    const next = options[i + 1];
    n += optionSpace(opt, next);
    // A packed SACKOK counts 2, and the timestamps after it 10 instead of 12.
    if (opt.kind === 'sackPermitted' && next !== undefined && next.kind === 'timestamps') {
      n += 10;
      i++;
    }
  }
  if (n > MAX_OPTION_SPACE) throw new EncodeError(`TCP options need ${n} bytes, more than the 40 available`);
  return n;
}

/** Header length (20 + options) of a segment with these options. */
export function headerLength(options: readonly TcpOption[]): number {
  return TCP_HEADER_MIN + optionsLength(options);
}

/** Total encoded length of a segment. */
export function encodedLength(seg: TcpSegment): number {
  return TCP_HEADER_MIN + optionsLength(seg.options) + seg.payload.length;
}

// `(v & 0xffff) === v` is false for negatives, fractions, NaN and values over 16 bits; likewise
// `v >>> 0 === v` for 32 bits. Cheaper than range and integer checks on the per-segment path.
function checkU16(v: number, what: string): void {
  if ((v & 0xffff) !== v) throw new EncodeError(`${what} must be 0..65535, got ${v}`);
}
function checkU32(v: number, what: string): void {
  if (v >>> 0 !== v) throw new EncodeError(`${what} must be a u32, got ${v}`);
}

/** Writes the options at `o`; returns the offset after them. */
function writeOptions(b: Uint8Array, o: number, options: readonly TcpOption[]): number {
  for (let i = 0; i < options.length; i++) {
    const opt = options[i]!;
    switch (opt.kind) {
      case 'mss':
        checkU16(opt.mss, 'MSS');
        b[o] = TCPOPT_MSS;
        b[o + 1] = 4;
        w16(b, o + 2, opt.mss);
        o += 4;
        break;
      case 'wscale':
        if (!(opt.shift >= 0 && opt.shift <= 255 && Math.floor(opt.shift) === opt.shift))
          throw new EncodeError(`window scale shift must be 0..255, got ${opt.shift}`);
        b[o] = TCPOPT_NOP;
        b[o + 1] = TCPOPT_WSCALE;
        b[o + 2] = 3;
        b[o + 3] = opt.shift;
        o += 4;
        break;
      case 'sackPermitted': {
        const next = options[i + 1];
        if (next !== undefined && next.kind === 'timestamps') {
          b[o] = TCPOPT_SACK_PERMITTED;
          b[o + 1] = 2;
          o = writeTimestamps(b, o + 2, next.tsval, next.tsecr);
          i++;
        } else {
          b[o] = TCPOPT_NOP;
          b[o + 1] = TCPOPT_NOP;
          b[o + 2] = TCPOPT_SACK_PERMITTED;
          b[o + 3] = 2;
          o += 4;
        }
        break;
      }
      case 'timestamps':
        b[o] = TCPOPT_NOP;
        b[o + 1] = TCPOPT_NOP;
        o = writeTimestamps(b, o + 2, opt.tsval, opt.tsecr);
        break;
      case 'sack': {
        const blocks = opt.blocks;
        if (blocks.length === 0 || blocks.length > 4) throw new EncodeError('SACK needs 1..4 blocks');
        b[o] = TCPOPT_NOP;
        b[o + 1] = TCPOPT_NOP;
        b[o + 2] = TCPOPT_SACK;
        b[o + 3] = 2 + 8 * blocks.length;
        o += 4;
        for (let k = 0; k < blocks.length; k++) {
          const blk = blocks[k]!;
          checkU32(blk.left, 'SACK left edge');
          checkU32(blk.right, 'SACK right edge');
          w32(b, o, blk.left);
          w32(b, o + 4, blk.right);
          o += 8;
        }
        break;
      }
      case 'mptcp': {
        const n = encodeMptcpOptionInto(b, o, opt.mp);
        o += n;
        for (let k = n; (k & 3) !== 0; k++) b[o++] = TCPOPT_NOP;
        break;
      }
      case 'unknown': {
        const t = opt.type;
        if (!(t >= 2 && t <= 255 && Math.floor(t) === t))
          throw new EncodeError(`option kind ${t} cannot be encoded`);
        const n = 2 + opt.data.length;
        if (n > MAX_OPTION_SPACE) throw new EncodeError(`option kind ${t} of ${n} bytes`);
        b[o] = t;
        b[o + 1] = n;
        b.set(opt.data, o + 2);
        o += n;
        for (let k = n; (k & 3) !== 0; k++) b[o++] = TCPOPT_NOP;
        break;
      }
    }
  }
  return o;
}

function writeTimestamps(b: Uint8Array, o: number, tsval: number, tsecr: number): number {
  checkU32(tsval, 'TSval');
  checkU32(tsecr, 'TSecr');
  b[o] = TCPOPT_TIMESTAMPS;
  b[o + 1] = 10;
  w32(b, o + 2, tsval);
  w32(b, o + 6, tsecr);
  return o + 10;
}

/**
 * Writes the segment at `buf[off]` and returns its length. With `src` and `dst` (text or 4/16
 * address bytes) the TCP checksum is computed over the pseudo-header; without, `seg.checksum` is
 * written as is (the UDP phy needs none). Throws EncodeError for out-of-range fields, options over
 * 40 bytes, or a buffer too small.
 */
export function encodeInto(buf: Uint8Array, off: number, seg: TcpSegment, src?: Addr, dst?: Addr): number {
  return encodeWithHeaderLength(buf, off, seg, TCP_HEADER_MIN + optionsLength(seg.options), src, dst);
}

/** encodeInto with the header length already known (from optionsLength). */
function encodeWithHeaderLength(
  buf: Uint8Array,
  off: number,
  seg: TcpSegment,
  hl: number,
  src: Addr | undefined,
  dst: Addr | undefined,
): number {
  const total = hl + seg.payload.length;
  if (off < 0 || off + total > buf.length)
    throw new EncodeError(`buffer too small: segment needs ${total} bytes`);
  writeHeader(buf, off, seg, hl);
  buf.set(seg.payload, off + hl);
  if (src !== undefined && dst !== undefined) {
    w16(buf, off + 16, checksumOf(buf, off, total, src, dst, undefined));
  }
  return total;
}

/**
 * Writes only the header and options at `buf[off]` and returns the header length, for senders that
 * pass the payload separately (e.g. `socket.send([header, payload])`) instead of copying it. With
 * addresses, the checksum covers the header and `seg.payload`, as if they were contiguous.
 */
export function encodeHeaderInto(
  buf: Uint8Array,
  off: number,
  seg: TcpSegment,
  src?: Addr,
  dst?: Addr,
): number {
  const hl = TCP_HEADER_MIN + optionsLength(seg.options);
  if (off < 0 || off + hl > buf.length) throw new EncodeError(`buffer too small: header needs ${hl} bytes`);
  writeHeader(buf, off, seg, hl);
  if (src !== undefined && dst !== undefined) {
    w16(buf, off + 16, checksumOf(buf, off, hl, src, dst, seg.payload));
  }
  return hl;
}

function checksumOf(
  b: Uint8Array,
  off: number,
  hl: number,
  src: Addr,
  dst: Addr,
  payload: Uint8Array | undefined,
): number {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length !== d.length) throw new EncodeError('source and destination address families differ');
  const plen = payload === undefined ? 0 : payload.length;
  b[off + 16] = 0;
  b[off + 17] = 0;
  let sum = sum16(b, off, hl, pseudoHeaderSum(s, d, IPPROTO_TCP, hl + plen));
  // The header length is a multiple of 4, so the payload's words line up as if contiguous.
  if (payload !== undefined) sum += sum16(payload, 0, plen);
  return ~fold(sum) & 0xffff;
}

/** Fixed header and options; the checksum field gets `seg.checksum` (callers overwrite it when computing). */
function writeHeader(b: Uint8Array, off: number, seg: TcpSegment, hl: number): void {
  checkU16(seg.srcPort, 'source port');
  checkU16(seg.dstPort, 'destination port');
  checkU32(seg.seq, 'seq');
  checkU32(seg.ack, 'ack');
  checkU16(seg.window, 'window');
  checkU16(seg.urgent, 'urgent pointer');
  checkU16(seg.checksum, 'checksum');
  w16(b, off, seg.srcPort);
  w16(b, off + 2, seg.dstPort);
  w32(b, off + 4, seg.seq);
  w32(b, off + 8, seg.ack);
  b[off + 12] = ((hl >> 2) << 4) | ((seg.flags >> 8) & 0x0f);
  b[off + 13] = seg.flags & 0xff;
  w16(b, off + 14, seg.window);
  w16(b, off + 16, seg.checksum);
  w16(b, off + 18, seg.urgent);
  const end = writeOptions(b, off + TCP_HEADER_MIN, seg.options);
  if (end !== off + hl)
    throw new EncodeError(`internal: options wrote ${end - off - 20} of ${hl - 20} bytes`);
}

/** Encodes a segment into a fresh array (see encodeInto). */
export function encodeSegment(seg: TcpSegment, src?: Addr, dst?: Addr): Uint8Array {
  const hl = TCP_HEADER_MIN + optionsLength(seg.options);
  const out = new Uint8Array(hl + seg.payload.length);
  encodeWithHeaderLength(out, 0, seg, hl, src, dst);
  return out;
}

/**
 * Encodes a segment into `alloc(length)`'s array (see encodeInto), for callers that hand out
 * arrays cut from a larger buffer instead of a fresh buffer per segment.
 */
export function encodeSegmentWith(
  seg: TcpSegment,
  alloc: (length: number) => Uint8Array,
  src?: Addr,
  dst?: Addr,
): Uint8Array {
  const hl = TCP_HEADER_MIN + optionsLength(seg.options);
  const out = alloc(hl + seg.payload.length);
  encodeWithHeaderLength(out, 0, seg, hl, src, dst);
  return out;
}

/** Computes and stores the TCP checksum of an encoded segment in place. */
export function setTcpChecksum(
  seg: Uint8Array,
  src: Addr,
  dst: Addr,
  off = 0,
  len = seg.length - off,
): number {
  seg[off + 16] = 0;
  seg[off + 17] = 0;
  const ck = tcpChecksum(ipBytes(src), ipBytes(dst), seg, off, len);
  w16(seg, off + 16, ck);
  return ck;
}

/** True when an encoded segment's checksum is right for the addresses. */
export function verifySegmentChecksum(
  seg: Uint8Array,
  src: Addr,
  dst: Addr,
  off = 0,
  len = seg.length - off,
): boolean {
  return verifyTcpChecksum(ipBytes(src), ipBytes(dst), seg, off, len);
}

/**
 * Decodes the options area `b[o, end)`. Known kinds with a wrong length are kept as `unknown`
 * (ignored, as Linux does); an option running past the header or with a length byte < 2 is an error.
 */
function decodeOptions(b: Uint8Array, o: number, end: number): TcpOption[] | ParseError {
  const out: TcpOption[] = [];
  while (o < end) {
    const kind = b[o]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= end) return new ParseError('bad-option', `option kind ${kind} without length byte`, o);
    const len = b[o + 1]!;
    if (len < 2) return new ParseError('bad-option', `option kind ${kind} with length ${len}`, o + 1);
    if (o + len > end) return new ParseError('bad-option', `option kind ${kind} runs past the header`, o);
    let opt: TcpOption | undefined;
    switch (kind) {
      case TCPOPT_MSS:
        if (len === 4) opt = { kind: 'mss', mss: (b[o + 2]! << 8) | b[o + 3]! };
        break;
      case TCPOPT_WSCALE:
        if (len === 3) opt = { kind: 'wscale', shift: b[o + 2]! };
        break;
      case TCPOPT_SACK_PERMITTED:
        if (len === 2) opt = { kind: 'sackPermitted' };
        break;
      case TCPOPT_SACK:
        if (len >= 10 && (len - 2) % 8 === 0) {
          const blocks = [];
          for (let p = o + 2; p < o + len; p += 8) blocks.push({ left: r32(b, p), right: r32(b, p + 4) });
          opt = { kind: 'sack', blocks };
        }
        break;
      case TCPOPT_TIMESTAMPS:
        if (len === 10) opt = { kind: 'timestamps', tsval: r32(b, o + 2), tsecr: r32(b, o + 6) };
        break;
      case TCPOPT_MPTCP: {
        const mp = decodeMptcpOption(b, o, len);
        if (!(mp instanceof ParseError)) opt = { kind: 'mptcp', mp };
        break;
      }
    }
    out.push(opt ?? { kind: 'unknown', type: kind, data: b.subarray(o + 2, o + len) });
    o += len;
  }
  return out;
}

/**
 * Decodes a TCP segment occupying `bytes[off, off+len)`. Does not verify the checksum (see
 * verifySegmentChecksum). Never throws.
 */
export function decodeSegment(bytes: Uint8Array, off = 0, len = bytes.length - off): TcpSegment | ParseError {
  if (!(off >= 0 && len >= 0 && off + len <= bytes.length))
    return new ParseError('range', 'range outside input', off);
  if (len < TCP_HEADER_MIN) return new ParseError('truncated', `TCP segment of ${len} bytes`, off);
  const b = bytes;
  const dataOffset = b[off + 12]! >> 4;
  const hl = dataOffset * 4;
  if (dataOffset < 5) return new ParseError('bad-offset', `data offset ${dataOffset} < 5`, off + 12);
  if (hl > len)
    return new ParseError('truncated', `header of ${hl} bytes in a ${len}-byte segment`, off + 12);
  const options = hl > TCP_HEADER_MIN ? decodeOptions(b, off + TCP_HEADER_MIN, off + hl) : [];
  if (options instanceof ParseError) return options;
  return {
    srcPort: (b[off]! << 8) | b[off + 1]!,
    dstPort: (b[off + 2]! << 8) | b[off + 3]!,
    seq: r32(b, off + 4),
    ack: r32(b, off + 8),
    dataOffset,
    flags: ((b[off + 12]! & 0x0f) << 8) | b[off + 13]!,
    window: (b[off + 14]! << 8) | b[off + 15]!,
    checksum: (b[off + 16]! << 8) | b[off + 17]!,
    urgent: (b[off + 18]! << 8) | b[off + 19]!,
    options,
    payload: b.subarray(off + hl, off + len),
  };
}
