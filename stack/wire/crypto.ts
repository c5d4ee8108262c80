/**
 * MPTCP v1 crypto (RFC 8684 §3.1, §3.2, §3.4.1) with node:crypto.
 *
 * - Keys are 64-bit values from a CSPRNG.
 * - token = most significant 32 bits of SHA-256(key); IDSN = least significant 64 bits of it
 *   (the key hashed as 8 big-endian bytes).
 * - HMAC-SHA256 with the 16-byte key Key-X ‖ Key-Y (each 8 bytes big-endian), where X is the sender:
 *   MP_JOIN SYN/ACK (from B): HMAC(Key-B‖Key-A, R-B‖R-A), leftmost 64 bits;
 *   MP_JOIN third ACK (from A): HMAC(Key-A‖Key-B, R-A‖R-B), leftmost 160 bits;
 *   ADD_ADDR (from X): HMAC(Key-X‖Key-Y, Address ID ‖ Address ‖ Port), rightmost 64 bits; the port is
 *   two zero bytes when the option carries none.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ipBytes } from './ip';

const U64_MAX = 0xffffffffffffffffn;

/** A random 64-bit key from the CSPRNG. RFC 8684 leaves a zero key unusable in practice; avoid it. */
export function generateKey(): bigint {
  for (;;) {
    const k = randomBytes(8).readBigUInt64BE(0);
    if (k !== 0n) return k;
  }
}

/** A random 32-bit nonce (MP_JOIN random number) from the CSPRNG. */
export function generateNonce(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** The 8 big-endian bytes of a 64-bit key. */
export function keyBytes(key: bigint): Buffer {
  if (typeof key !== 'bigint' || key < 0n || key > U64_MAX) throw new RangeError('key must be a u64 bigint');
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(key, 0);
  return b;
}

function keyHash(key: bigint): Buffer {
  return createHash('sha256').update(keyBytes(key)).digest();
}

/** Token: the most significant 32 bits of SHA-256(key). */
export function tokenOf(key: bigint): number {
  return keyHash(key).readUInt32BE(0);
}

/** Initial data sequence number: the least significant 64 bits of SHA-256(key). */
export function idsnOf(key: bigint): bigint {
  return keyHash(key).readBigUInt64BE(24);
}

/** Token and IDSN from one hash. */
export function tokenAndIdsn(key: bigint): { token: number; idsn: bigint } {
  const h = keyHash(key);
  return { token: h.readUInt32BE(0), idsn: h.readBigUInt64BE(24) };
}

/** HMAC-SHA256 keyed with key1 ‖ key2 (8 bytes each, big-endian) over msg: the full 32 bytes. */
export function hmacSha256(key1: bigint, key2: bigint, msg: Uint8Array): Buffer {
  const k = Buffer.concat([keyBytes(key1), keyBytes(key2)]);
  return createHmac('sha256', k).update(msg).digest();
}

function nonces(first: number, second: number): Buffer {
  const m = Buffer.allocUnsafe(8);
  m.writeUInt32BE(first >>> 0, 0);
  m.writeUInt32BE(second >>> 0, 4);
  return m;
}

/**
 * The MP_JOIN HMAC computed by the sender of an option: key = senderKey ‖ receiverKey,
 * message = senderNonce ‖ receiverNonce. Full 32 bytes.
 */
export function joinHmac(
  senderKey: bigint,
  receiverKey: bigint,
  senderNonce: number,
  receiverNonce: number,
): Buffer {
  return hmacSha256(senderKey, receiverKey, nonces(senderNonce, receiverNonce));
}

/**
 * The truncated HMAC host B puts in its MP_JOIN SYN/ACK: leftmost 64 bits of
 * HMAC(Key-B ‖ Key-A, R-B ‖ R-A). Host A verifies by calling it with the same arguments
 * (keyB = the peer's key, keyA = its own).
 */
export function joinSynAckHmac(keyB: bigint, keyA: bigint, nonceB: number, nonceA: number): bigint {
  return joinHmac(keyB, keyA, nonceB, nonceA).readBigUInt64BE(0);
}

/**
 * The HMAC host A puts in its MP_JOIN third ACK: leftmost 160 bits (20 bytes) of
 * HMAC(Key-A ‖ Key-B, R-A ‖ R-B).
 */
export function joinAckHmac(keyA: bigint, keyB: bigint, nonceA: number, nonceB: number): Uint8Array {
  return new Uint8Array(joinHmac(keyA, keyB, nonceA, nonceB).subarray(0, 20));
}

/**
 * The ADD_ADDR truncated HMAC (RFC 8684 §3.4.1): rightmost 64 bits of
 * HMAC(senderKey ‖ receiverKey, addressId ‖ address ‖ port), the port two zero bytes when absent.
 * `address` is IPv4 or IPv6 text, or its 4/16 bytes.
 */
export function addAddrHmac(
  senderKey: bigint,
  receiverKey: bigint,
  addressId: number,
  address: string | Uint8Array,
  port?: number,
): bigint {
  const a = ipBytes(address);
  const msg = Buffer.alloc(1 + a.length + 2);
  msg[0] = addressId & 0xff;
  msg.set(a, 1);
  msg.writeUInt16BE((port ?? 0) & 0xffff, 1 + a.length);
  return hmacSha256(senderKey, receiverKey, msg).readBigUInt64BE(24);
}

/** Constant-time comparison of two byte strings (for received HMACs). */
export function hmacEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
