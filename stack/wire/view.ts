/**
 * A DataView over a Uint8Array (same offset and length), memoized for the last array seen: codecs
 * encode into one reused buffer and read 64-bit fields and checksum words through it, and creating
 * a view per call or reading `.buffer` per field costs more than the field itself. Also the codecs'
 * big-endian u16/u32 byte helpers.
 */
let lastArr: Uint8Array | undefined;
let lastLen = -1;
let lastView: DataView = new DataView(new ArrayBuffer(0));

export function viewOf(b: Uint8Array): DataView {
  // The length check covers arrays over resizable buffers, whose length can change.
  if (b !== lastArr || b.length !== lastLen) {
    lastView = new DataView(b.buffer, b.byteOffset, b.byteLength);
    lastArr = b;
    lastLen = b.length;
  }
  return lastView;
}

let lastBuf: ArrayBufferLike | undefined;
let lastBufLen = -1;
let lastBufView: DataView = new DataView(new ArrayBuffer(0));

/**
 * A DataView over the whole ArrayBuffer under `b` (index it at `b.byteOffset + i`), memoized for the
 * last buffer seen: arrays cut from one larger buffer (say, packets from a slab) share it.
 */
export function bufferViewOf(b: Uint8Array): DataView {
  const buf = b.buffer;
  if (buf !== lastBuf || buf.byteLength !== lastBufLen) {
    lastBufView = new DataView(buf);
    lastBuf = buf;
    lastBufLen = buf.byteLength;
  }
  return lastBufView;
}

/** Writes a u16 big-endian. */
export function w16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** Writes a u32 big-endian. */
export function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Reads a u32 big-endian. */
export function r32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
