/**
 * A small, fast, seeded PRNG for the simulator: sfc32 (Chris Doty-Humphrey's Small Fast Counter),
 * seeded through FNV-1a + splitmix32. Never Math.random: the same seed gives the same stream on
 * every platform, which is what makes simulator runs byte-for-byte repeatable.
 */

/** FNV-1a over the UTF-16 code units of a string, 32-bit. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class Rng {
  /** The seed as text; forks derive their seeds from it. */
  readonly seed: string;
  /** sfc32 state a, b, c, d, in an Int32Array: V8 keeps typed-array int32s unboxed. */
  private readonly s = new Int32Array(4);
  private spare = Number.NaN;

  constructor(seed: number | string) {
    this.seed = String(seed);
    let s = hash32(this.seed);
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z ^= z >>> 16;
      z = Math.imul(z, 0x21f0aaad);
      z ^= z >>> 15;
      z = Math.imul(z, 0x735a2d97);
      z ^= z >>> 15;
      return z >>> 0;
    };
    this.s[0] = mix();
    this.s[1] = mix();
    this.s[2] = mix();
    this.s[3] = mix();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** An independent stream named by `label`: same seed and label, same stream. */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const st = this.s;
    const a = st[0]!;
    const b = st[1]!;
    let c = st[2]!;
    const d = (st[3]! + 1) | 0;
    const t = (((a + b) | 0) + d) | 0;
    st[0] = b ^ (b >>> 9);
    st[1] = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    st[2] = (c + t) | 0;
    st[3] = d;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, the second value cached). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = Number.NaN;
      return v;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with pseudo-random bytes (the same bytes on every platform). */
  fill(out: Uint8Array): Uint8Array {
    const n = out.length;
    let i = 0;
    if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
      // four bytes per store; on little-endian this is the byte order of the loop below
      // Int32Array: storing int32 values needs no conversion (a Uint32Array store of a negative
      // int is five times slower)
      const words = new Int32Array(out.buffer, out.byteOffset, n >>> 2);
      // nextU32 inlined on locals: several times faster than a method call per word
      const st = this.s;
      let a = st[0]!;
      let b = st[1]!;
      let c = st[2]!;
      let d = st[3]!;
      for (let w = 0; w < words.length; w++) {
        const t0 = (a + b) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        d = (d + 1) | 0;
        const t = (t0 + d) | 0;
        c = (c + t) | 0;
        words[w] = t;
      }
      st[0] = a;
      st[1] = b;
      st[2] = c;
      st[3] = d;
      i = words.length * 4;
    }
    for (; i + 4 <= n; i += 4) {
      const x = this.nextU32();
      out[i] = x & 0xff;
      out[i + 1] = (x >>> 8) & 0xff;
      out[i + 2] = (x >>> 16) & 0xff;
      out[i + 3] = x >>> 24;
    }
    if (i < n) {
      let x = this.nextU32();
      for (; i < n; i++) {
        out[i] = x & 0xff;
        x >>>= 8;
      }
    }
    return out;
  }

  /** `n` fresh pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }
}
