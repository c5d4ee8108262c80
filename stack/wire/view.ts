/**
 * A DataView over a Uint8Array (same offset and length), memoized for the last array seen: codecs
 * encode into one reused buffer and read 64-bit fields and checksum words through it, and creating
 * a view per call or reading `.buffer` per field costs more than the field itself.
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
