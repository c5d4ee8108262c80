/**
 * Internet checksum (RFC 1071), the TCP pseudo-header checksum (IPv4 RFC 9293 §3.1, IPv6 RFC 8200
 * §8.1) and the MPTCP DSS checksum (RFC 8684 §3.3.1).
 *
 * `sum16` returns an unfolded one's-complement sum (a plain number, well below 2^53 for any
 * realistic input), so partial sums compose by addition; `fold` reduces it to 16 bits.
 */
import { bufferViewOf } from './view';

/** Inputs at least this long are summed with 32-bit little-endian reads; shorter ones byte by byte. */
const WIDE_MIN = 32;
/** Bytes summed between folds of the 32-bit accumulators (each round adds < 2^17 to each). */
const CHUNK = 65536;

/** Sums `len` bytes of `buf` from `off` as big-endian 16-bit words (odd tail padded with zero). */
export function sum16(buf: Uint8Array, off = 0, len = buf.length - off, initial = 0): number {
  let sum = initial;
  let i = off;
  const end = off + len;
  if (len >= WIDE_MIN) {
    // Native-order (little-endian) 32-bit reads, two int32 accumulators. One's-complement sums do not
    // depend on byte order (RFC 1071 §2(B)): the folded sum of byte-swapped words is the byte-swapped
    // folded sum, so swap once at the end.
    // Indexed within the whole underlying buffer, so arrays cut from one buffer share one view.
    const v = bufferViewOf(buf);
    const base = buf.byteOffset;
    let le = 0;
    const end8 = end - 7;
    while (i < end8) {
      const stop = Math.min(end8, i + CHUNK);
      let a = 0;
      let c = 0;
      while (i < stop) {
        const x = v.getUint32(base + i, true);
        const y = v.getUint32(base + i + 4, true);
        a = (a + (x >>> 16) + (y >>> 16)) | 0;
        c = (c + (x & 0xffff) + (y & 0xffff)) | 0;
        i += 8;
      }
      le = fold(le + a + c);
    }
    sum += ((le & 0xff) << 8) | (le >>> 8);
  }
  while (i < end - 1) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
    i += 2;
  }
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** Folds an unfolded sum to 16 bits (end-around carry). */
export function fold(sum: number): number {
  // Reduce a sum that may exceed 32 bits without losing precision.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of a byte range: one's complement of the folded sum. */
export function internetChecksum(buf: Uint8Array, off = 0, len = buf.length - off, initial = 0): number {
  return ~fold(sum16(buf, off, len, initial)) & 0xffff;
}

/**
 * Unfolded sum of the TCP/UDP pseudo-header. `src`/`dst` are 4 bytes (IPv4: src, dst, zero,
 * protocol, 16-bit length) or 16 bytes (IPv6: src, dst, 32-bit length, 3 zero bytes, next header).
 * Both forms sum to the same words except the length's width, which the sum does not see unless the
 * length exceeds 16 bits.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = sum16(src, 0, src.length) + sum16(dst, 0, dst.length) + protocol;
  // 32-bit length for IPv6 as two 16-bit words; for IPv4 the upper word is zero for valid lengths.
  sum += (length >>> 16) + (length & 0xffff);
  return sum;
}

export const IPPROTO_TCP = 6;

/**
 * TCP checksum of an encoded segment `seg[off, off+len)` between `src` and `dst` (4- or 16-byte
 * addresses). The checksum field inside the segment must be zero when computing for transmission;
 * when verifying a received segment, the result is 0 iff the checksum is correct.
 */
export function tcpChecksum(
  src: Uint8Array,
  dst: Uint8Array,
  seg: Uint8Array,
  off = 0,
  len = seg.length - off,
): number {
  return internetChecksum(seg, off, len, pseudoHeaderSum(src, dst, IPPROTO_TCP, len));
}

/** True when the segment's checksum field is correct for `src`/`dst`. */
export function verifyTcpChecksum(
  src: Uint8Array,
  dst: Uint8Array,
  seg: Uint8Array,
  off = 0,
  len = seg.length - off,
): boolean {
  return tcpChecksum(src, dst, seg, off, len) === 0;
}

/**
 * The DSS checksum (RFC 8684 §3.3.1): the Internet checksum over a pseudo-header of the 64-bit data
 * sequence number, the 32-bit relative subflow sequence number, the 16-bit data-level length and a
 * 16-bit checksum field (zero when computing), followed by the mapped payload.
 *
 * To compute: pass checksumField = 0 (the default) and send the result. To verify: pass the received
 * checksum; the result is 0 iff it is correct.
 */
export function dssChecksum(
  dsn: bigint,
  ssn: number,
  dataLength: number,
  payload: Uint8Array,
  off = 0,
  len = payload.length - off,
  checksumField = 0,
): number {
  const hi = Number((dsn >> 32n) & 0xffffffffn);
  const lo = Number(dsn & 0xffffffffn);
  let sum = (hi >>> 16) + (hi & 0xffff) + (lo >>> 16) + (lo & 0xffff);
  sum += (ssn >>> 16) + (ssn & 0xffff) + (dataLength & 0xffff) + (checksumField & 0xffff);
  return internetChecksum(payload, off, len, sum);
}

/** True when `checksum` is the correct DSS checksum of the mapping and payload. */
export function verifyDssChecksum(
  dsn: bigint,
  ssn: number,
  dataLength: number,
  payload: Uint8Array,
  checksum: number,
  off = 0,
  len = payload.length - off,
): boolean {
  return dssChecksum(dsn, ssn, dataLength, payload, off, len, checksum) === 0;
}
