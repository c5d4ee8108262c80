import { describe, expect, it } from 'vitest';
import {
  addAddrHmac,
  generateKey,
  generateNonce,
  hmacEqual,
  hmacSha256,
  idsnOf,
  joinAckHmac,
  joinHmac,
  joinSynAckHmac,
  keyBytes,
  tokenAndIdsn,
  tokenOf,
} from '../../../stack/wire/crypto';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const kA = 0x1122334455667788n;
const kB = 0x99aabbccddeeff00n;

describe('wire/crypto: token and IDSN (RFC 8684 §3.1)', () => {
  it('match known answers (Python hashlib; Wireshark derives the same for kB)', () => {
    expect(tokenOf(0x0102030405060708n)).toBe(0x66840dda);
    expect(idsnOf(0x0102030405060708n)).toBe(0xf5a101d3d29d6f72n);
    // Wireshark 4.0 MPTCP analysis printed these for kB: token 2073567067, IDSN 18013038146944295122.
    expect(tokenOf(kB)).toBe(2073567067);
    expect(idsnOf(kB)).toBe(18013038146944295122n);
    expect(tokenOf(0n)).toBe(0xaf5570f5);
    expect(idsnOf(0n)).toBe(0xe5b2328de0e83dfcn);
    expect(tokenOf(0xffffffffffffffffn)).toBe(0x12a3ae44);
    expect(idsnOf(0xffffffffffffffffn)).toBe(0x57fb595bbbacf0can);
    expect(tokenAndIdsn(kB)).toEqual({ token: tokenOf(kB), idsn: idsnOf(kB) });
  });

  it('keys are 8 bytes big-endian; out-of-range keys are refused', () => {
    expect(hex(keyBytes(0x0102030405060708n))).toBe('0102030405060708');
    expect(() => keyBytes(-1n)).toThrow(RangeError);
    expect(() => keyBytes(1n << 64n)).toThrow(RangeError);
  });

  it('generateKey gives distinct non-zero 64-bit keys; nonces are u32', () => {
    const keys = new Set<bigint>();
    let highBits = 0;
    for (let i = 0; i < 2000; i++) {
      const k = generateKey();
      expect(k > 0n && k <= 0xffffffffffffffffn).toBe(true);
      if (k >> 63n) highBits++;
      keys.add(k);
    }
    expect(keys.size).toBe(2000);
    // The top bit is set about half the time (a 64-bit source, not 53 bits of a double).
    expect(highBits).toBeGreaterThan(800);
    expect(highBits).toBeLessThan(1200);
    for (let i = 0; i < 100; i++) {
      const n = generateNonce();
      expect(Number.isInteger(n) && n >= 0 && n <= 0xffffffff).toBe(true);
    }
  });
});

describe('wire/crypto: HMACs', () => {
  it('HMAC-SHA256 with key1‖key2 matches the Linux kernel KUnit vectors (net/mptcp/crypto_test.c)', () => {
    // There the 16-character key and 8-character message strings are used as raw bytes.
    const cases = [
      ['0b0b0b0b0b0b0b0b', '48692054', '8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa'],
      ['aaaaaaaaaaaaaaaa', 'dddddddd', '2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9'],
      ['0102030405060708', 'cdcdcdcd', 'e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d'],
    ] as const;
    for (const [key, msg, want] of cases) {
      const k = Buffer.from(key, 'latin1');
      const key1 = k.readBigUInt64BE(0);
      const key2 = k.readBigUInt64BE(8);
      expect(hex(hmacSha256(key1, key2, Buffer.from(msg, 'latin1')))).toBe(want);
      // The same vector through the MP_JOIN helper: message = nonce1 ‖ nonce2.
      const m = Buffer.from(msg, 'latin1');
      expect(hex(joinHmac(key1, key2, m.readUInt32BE(0), m.readUInt32BE(4)))).toBe(want);
    }
  });

  it('MP_JOIN: SYN/ACK uses Key-B‖Key-A over R-B‖R-A (leftmost 64 bits); ACK uses Key-A‖Key-B over R-A‖R-B (160 bits)', () => {
    const rA = 0x0a0b0c0d;
    const rB = 0x01020304;
    // Known answers computed with Python's hmac/hashlib.
    expect(joinSynAckHmac(kB, kA, rB, rA)).toBe(0x13adec7ee4a5ef96n);
    expect(hex(joinAckHmac(kA, kB, rA, rB))).toBe('29bcbd0bf6ce07d1e8f164381348732f32a8dac4');
    expect(joinAckHmac(kA, kB, rA, rB)).toHaveLength(20);
    // Order matters: swapping keys or nonces changes the result.
    expect(joinSynAckHmac(kA, kB, rB, rA)).not.toBe(0x13adec7ee4a5ef96n);
    expect(joinSynAckHmac(kB, kA, rA, rB)).not.toBe(0x13adec7ee4a5ef96n);
  });

  it('ADD_ADDR: rightmost 64 bits of HMAC(Key-sender‖Key-receiver, id‖addr‖port), zero port when absent', () => {
    expect(addAddrHmac(kB, kA, 7, '10.1.2.3', 8443)).toBe(0x5cb51a2488f0f486n);
    expect(addAddrHmac(kB, kA, 8, '10.1.2.3')).toBe(0x6cfcea77d085dc43n);
    expect(addAddrHmac(kB, kA, 8, '10.1.2.3', 0)).toBe(0x6cfcea77d085dc43n);
    expect(addAddrHmac(kA, kB, 3, '2001:db8::1', 443)).toBe(0x24b010d88c08569cn);
    expect(
      addAddrHmac(kA, kB, 3, new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]), 443),
    ).toBe(0x24b010d88c08569cn);
  });

  it('hmacEqual compares contents and lengths', () => {
    expect(hmacEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(hmacEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(hmacEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
});
