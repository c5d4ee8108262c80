/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a timer ticking every 4 µs (taken from `now`, in ms) and F a keyed hash.
 * F is HMAC-SHA-256 over the 4-tuple with a per-host secret, truncated to 32 bits.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** A fresh per-host secret (16 bytes from the CSPRNG, as RFC 6528 asks). */
export function newIsnSecret(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

export function isnFor(
  secret: Uint8Array,
  localAddress: string,
  localPort: number,
  remoteAddress: string,
  remotePort: number,
  now: number,
): number {
  const h = createHmac('sha256', secret);
  h.update(`${localAddress}|${localPort}|${remoteAddress}|${remotePort}`);
  const d = h.digest();
  const f = d.readUInt32BE(0);
  // M: a 4 µs clock; now is in ms.
  const m = Math.floor(now * 250) >>> 0;
  return (f + m) >>> 0;
}
