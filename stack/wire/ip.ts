/**
 * IPv4 (RFC 791) and IPv6 (RFC 8200) headers, and textual addresses.
 *
 * Addresses are handled as bytes on the hot path (4 or 16 bytes); text forms are parsed and
 * formatted here (IPv6 text output follows RFC 5952: lowercase, longest zero run compressed,
 * IPv4-mapped addresses in dotted form).
 */
import { fold, sum16 } from './checksum';
import { EncodeError, ParseError } from './types';

// ---------------------------------------------------------------------------------------------
// Addresses

/** Parses a dotted-quad IPv4 address; null when not one. */
export function parseIPv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  return parseIPv4Into(text, out, 0) ? out : null;
}

function parseIPv4Into(text: string, out: Uint8Array, off: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return false;
    if (p.length > 1 && p[0] === '0') return false; // no octal-looking forms
    const v = Number(p);
    if (v > 255) return false;
    out[off + i] = v;
  }
  return true;
}

/** Parses an IPv6 address (with optional embedded IPv4 tail and no zone id); null when not one. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const out = new Uint8Array(16);
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) return null;
  const head = dbl === -1 ? text : text.slice(0, dbl);
  const tail = dbl === -1 ? '' : text.slice(dbl + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const tailWords: number[] = [];
  const parseGroups = (groups: string[], into: number[], last: boolean): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (last && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIPv4Into(g, v4, 0)) return false;
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return false;
      into.push(Number.parseInt(g, 16));
    }
    return true;
  };
  if (dbl === -1) {
    if (!parseGroups(headGroups, words, true) || words.length !== 8) return null;
  } else {
    if (!parseGroups(headGroups, words, false)) return null;
    if (!parseGroups(tailGroups, tailWords, true)) return null;
    if (words.length + tailWords.length > 7) return null;
    while (words.length + tailWords.length < 8) words.push(0);
    words.push(...tailWords);
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Parses IPv4 or IPv6 text; null when neither. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** 4 for IPv4 text, 6 for IPv6 text, 0 otherwise. */
export function ipVersionOf(text: string): 0 | 4 | 6 {
  if (text.includes(':')) return parseIPv6(text) ? 6 : 0;
  return parseIPv4(text) ? 4 : 0;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + i * 2]! << 8) | b[off + i * 2 + 1]!);
  // IPv4-mapped (::ffff:a.b.c.d), RFC 5952 §5.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, off + 12)}`;
  }
  // Longest run of ≥ 2 zero words, the first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number) => x.toString(16);
  if (bestStart === -1) return w.map(hex).join(':');
  const left = w.slice(0, bestStart).map(hex).join(':');
  const right = w
    .slice(bestStart + bestLen)
    .map(hex)
    .join(':');
  return `${left}::${right}`;
}

/** Formats 4 or 16 address bytes as text. */
export function formatIp(b: Uint8Array, off = 0, len = b.length - off): string {
  return len === 4 ? formatIPv4(b, off) : formatIPv6(b, off);
}

const addrCache = new Map<string, Uint8Array>();

/**
 * Address bytes for text, memoized (the cache is bounded). Throws EncodeError on invalid text: it
 * serves encoders. The returned array is shared: do not modify it.
 */
export function ipBytes(addr: string | Uint8Array): Uint8Array {
  if (typeof addr !== 'string') {
    if (addr.length !== 4 && addr.length !== 16) throw new EncodeError(`address of ${addr.length} bytes`);
    return addr;
  }
  let b = addrCache.get(addr);
  if (b === undefined) {
    const parsed = parseIp(addr);
    if (!parsed) throw new EncodeError(`invalid IP address: ${JSON.stringify(addr)}`);
    b = parsed;
    if (addrCache.size >= 4096) addrCache.clear();
    addrCache.set(addr, b);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// IPv4 header

export const IPV4_DF = 0x2;
export const IPV4_MF = 0x1;

export interface Ipv4Header {
  version: 4;
  /** Header length in 32-bit words (≥ 5). Ignored on encode (computed from options). */
  ihl?: number;
  /** DSCP + ECN byte. */
  tos: number;
  totalLength: number;
  id: number;
  /** 3 bits: reserved, DF (0x2), MF (0x1). */
  flags: number;
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  /** Raw option bytes (multiple of 4 on encode). */
  options: Uint8Array;
}

export interface Ipv6Header {
  version: 6;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export type IpHeader = Ipv4Header | Ipv6Header;

/** A decoded IP packet: the header, the upper-layer protocol and its bytes (a view, no copy). */
export interface IpPacket {
  header: IpHeader;
  /** Upper-layer protocol after any IPv6 extension headers (6 = TCP). */
  protocol: number;
  payload: Uint8Array;
}

/** Options for building an IP packet around an upper-layer payload. */
export interface IpBuildOptions {
  ttl?: number;
  tos?: number;
  id?: number;
  /** IPv4 flags; default DF. */
  flags?: number;
  flowLabel?: number;
}

/** Writes an IPv4 header (20 bytes + options) at `off` with its checksum; returns its length. */
export function encodeIPv4HeaderInto(buf: Uint8Array, off: number, h: Ipv4Header): number {
  const optLen = h.options.length;
  if (optLen % 4 !== 0 || optLen > 40)
    throw new EncodeError('IPv4 options must be a multiple of 4, ≤ 40 bytes');
  const src = ipBytes(h.src);
  const dst = ipBytes(h.dst);
  if (src.length !== 4 || dst.length !== 4) throw new EncodeError('IPv4 header needs IPv4 addresses');
  const hl = 20 + optLen;
  if (buf.length < off + hl) throw new EncodeError('buffer too small for IPv4 header');
  buf[off] = 0x40 | (hl >> 2);
  buf[off + 1] = h.tos & 0xff;
  buf[off + 2] = (h.totalLength >> 8) & 0xff;
  buf[off + 3] = h.totalLength & 0xff;
  buf[off + 4] = (h.id >> 8) & 0xff;
  buf[off + 5] = h.id & 0xff;
  buf[off + 6] = ((h.flags & 7) << 5) | ((h.fragmentOffset >> 8) & 0x1f);
  buf[off + 7] = h.fragmentOffset & 0xff;
  buf[off + 8] = h.ttl & 0xff;
  buf[off + 9] = h.protocol & 0xff;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  buf.set(src, off + 12);
  buf.set(dst, off + 16);
  buf.set(h.options, off + 20);
  const ck = ~fold(sum16(buf, off, hl)) & 0xffff;
  buf[off + 10] = ck >> 8;
  buf[off + 11] = ck & 0xff;
  return hl;
}

/** Writes a 40-byte IPv6 header at `off`; returns 40. */
export function encodeIPv6HeaderInto(buf: Uint8Array, off: number, h: Ipv6Header): number {
  const src = ipBytes(h.src);
  const dst = ipBytes(h.dst);
  if (src.length !== 16 || dst.length !== 16) throw new EncodeError('IPv6 header needs IPv6 addresses');
  if (buf.length < off + 40) throw new EncodeError('buffer too small for IPv6 header');
  const tc = h.trafficClass & 0xff;
  const fl = h.flowLabel & 0xfffff;
  buf[off] = 0x60 | (tc >> 4);
  buf[off + 1] = ((tc & 0xf) << 4) | (fl >> 16);
  buf[off + 2] = (fl >> 8) & 0xff;
  buf[off + 3] = fl & 0xff;
  buf[off + 4] = (h.payloadLength >> 8) & 0xff;
  buf[off + 5] = h.payloadLength & 0xff;
  buf[off + 6] = h.nextHeader & 0xff;
  buf[off + 7] = h.hopLimit & 0xff;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
  return 40;
}

/**
 * Builds a whole IP packet (IPv4 or IPv6 after the address family) around `payload`. The payload is
 * copied as is: compute upper-layer checksums before (see tcp.ts encodeSegment with addresses).
 */
export function buildIpPacket(
  src: string,
  dst: string,
  protocol: number,
  payload: Uint8Array,
  opts: IpBuildOptions = {},
): Uint8Array {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length !== d.length) throw new EncodeError('source and destination address families differ');
  if (s.length === 4) {
    const total = 20 + payload.length;
    if (total > 0xffff) throw new EncodeError('IPv4 packet longer than 65535 bytes');
    const out = new Uint8Array(total);
    encodeIPv4HeaderInto(out, 0, {
      version: 4,
      tos: opts.tos ?? 0,
      totalLength: total,
      id: opts.id ?? 0,
      flags: opts.flags ?? IPV4_DF,
      fragmentOffset: 0,
      ttl: opts.ttl ?? 64,
      protocol,
      checksum: 0,
      src,
      dst,
      options: new Uint8Array(0),
    });
    out.set(payload, 20);
    return out;
  }
  if (payload.length > 0xffff) throw new EncodeError('IPv6 payload longer than 65535 bytes (no jumbograms)');
  const out = new Uint8Array(40 + payload.length);
  encodeIPv6HeaderInto(out, 0, {
    version: 6,
    trafficClass: opts.tos ?? 0,
    flowLabel: opts.flowLabel ?? 0,
    payloadLength: payload.length,
    nextHeader: protocol,
    hopLimit: opts.ttl ?? 64,
    src,
    dst,
  });
  out.set(payload, 40);
  return out;
}

/** True when an IPv4 header's checksum is right. */
export function verifyIPv4Checksum(bytes: Uint8Array, off = 0): boolean {
  if (bytes.length < off + 20) return false;
  const hl = (bytes[off]! & 0xf) * 4;
  if (hl < 20 || bytes.length < off + hl) return false;
  return (~fold(sum16(bytes, off, hl)) & 0xffff) === 0;
}

const EXT_HOP_BY_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DEST_OPTS = 60;

/**
 * Decodes an IPv4 or IPv6 packet. IPv6 extension headers (hop-by-hop, routing, fragment,
 * destination options) are skipped to find the upper-layer protocol. The payload is bounded by
 * the header's length field (trailing bytes, e.g. Ethernet padding, are dropped).
 */
export function decodeIpPacket(bytes: Uint8Array, off = 0, len = bytes.length - off): IpPacket | ParseError {
  if (off < 0 || len < 0 || off + len > bytes.length) return new ParseError('range', 'range outside input');
  if (len < 1) return new ParseError('truncated', 'empty packet', off);
  const v = bytes[off]! >> 4;
  if (v === 4) {
    if (len < 20) return new ParseError('truncated', 'IPv4 header shorter than 20 bytes', off);
    const ihl = bytes[off]! & 0xf;
    const hl = ihl * 4;
    if (ihl < 5) return new ParseError('bad-ihl', `IPv4 IHL ${ihl} < 5`, off);
    if (hl > len) return new ParseError('truncated', 'IPv4 header longer than packet', off);
    const total = (bytes[off + 2]! << 8) | bytes[off + 3]!;
    if (total < hl) return new ParseError('bad-length', `IPv4 total length ${total} < header ${hl}`, off + 2);
    if (total > len) return new ParseError('truncated', `IPv4 total length ${total} > ${len} bytes`, off + 2);
    const header: Ipv4Header = {
      version: 4,
      ihl,
      tos: bytes[off + 1]!,
      totalLength: total,
      id: (bytes[off + 4]! << 8) | bytes[off + 5]!,
      flags: bytes[off + 6]! >> 5,
      fragmentOffset: ((bytes[off + 6]! & 0x1f) << 8) | bytes[off + 7]!,
      ttl: bytes[off + 8]!,
      protocol: bytes[off + 9]!,
      checksum: (bytes[off + 10]! << 8) | bytes[off + 11]!,
      src: formatIPv4(bytes, off + 12),
      dst: formatIPv4(bytes, off + 16),
      options: bytes.slice(off + 20, off + hl),
    };
    return { header, protocol: header.protocol, payload: bytes.subarray(off + hl, off + total) };
  }
  if (v === 6) {
    if (len < 40) return new ParseError('truncated', 'IPv6 header shorter than 40 bytes', off);
    const payloadLength = (bytes[off + 4]! << 8) | bytes[off + 5]!;
    if (40 + payloadLength > len)
      return new ParseError('truncated', 'IPv6 payload length beyond packet', off + 4);
    const header: Ipv6Header = {
      version: 6,
      trafficClass: ((bytes[off]! & 0xf) << 4) | (bytes[off + 1]! >> 4),
      flowLabel: ((bytes[off + 1]! & 0xf) << 16) | (bytes[off + 2]! << 8) | bytes[off + 3]!,
      payloadLength,
      nextHeader: bytes[off + 6]!,
      hopLimit: bytes[off + 7]!,
      src: formatIPv6(bytes, off + 8),
      dst: formatIPv6(bytes, off + 24),
    };
    let next = header.nextHeader;
    let p = off + 40;
    const end = off + 40 + payloadLength;
    // Each extension header advances p by ≥ 8 bytes, so this loop ends.
    while (
      next === EXT_HOP_BY_HOP ||
      next === EXT_ROUTING ||
      next === EXT_FRAGMENT ||
      next === EXT_DEST_OPTS
    ) {
      if (p + 8 > end) return new ParseError('truncated', 'IPv6 extension header truncated', p);
      const nh = bytes[p]!;
      const extLen = next === EXT_FRAGMENT ? 8 : (bytes[p + 1]! + 1) * 8;
      if (p + extLen > end) return new ParseError('truncated', 'IPv6 extension header truncated', p);
      next = nh;
      p += extLen;
    }
    return { header, protocol: next, payload: bytes.subarray(p, end) };
  }
  return new ParseError('bad-version', `IP version ${v}`, off);
}
