/**
 * Data sequence numbers. On the wire they are 64-bit (or their low 32 bits); inside the connection
 * they are kept as offsets from the first data byte (IDSN + 1), plain numbers, so the per-segment
 * path does no bigint arithmetic except at the codec boundary.
 */

const U64 = 1n << 64n;
const U64_MASK = U64 - 1n;
const U32 = 2 ** 32;

/** The 64-bit DSN of a data offset. */
export function dsnOf(idsn: bigint, offset: number): bigint {
  return (idsn + 1n + BigInt(offset)) & U64_MASK;
}

/**
 * The data offset of a received DSN / data ACK. `wide` = it was carried as 8 octets; otherwise
 * only its low 32 bits are known and the offset nearest `near` (an offset we expect, e.g. the next
 * one to receive) is chosen (RFC 8684 §3.3: the receiver infers the upper bits).
 */
export function offsetOf(idsn: bigint, dsn: bigint, wide: boolean, near: number): number {
  if (wide) {
    const rel = (dsn - idsn - 1n) & U64_MASK;
    // Offsets below 2^53 are all a connection can reach; a "negative" one is a stale value.
    return rel >= 1n << 63n ? -Number(U64 - rel) : Number(rel);
  }
  const base = Number((idsn + 1n) & 0xffffffffn);
  const low = (Number(dsn & 0xffffffffn) - base + U32) % U32;
  // Candidates: low + k * 2^32 around `near`.
  const k = Math.round((near - low) / U32);
  return low + k * U32;
}
