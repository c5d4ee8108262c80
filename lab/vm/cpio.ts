/**
 * A minimal cpio "newc" writer (the format the kernel unpacks as an initramfs) for the per-VM
 * configuration archive: a few small files, root-owned, mtime 0, so equal input gives equal bytes.
 */
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

export type CpioItem = { path: string; mode: number } & ({ dir: true } | { data: Buffer });

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function padded(b: Buffer): Buffer {
  const pad = (4 - (b.length % 4)) % 4;
  return pad ? Buffer.concat([b, Buffer.alloc(pad)]) : b;
}

function entry(name: string, mode: number, data: Buffer, ino: number): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([padded(Buffer.concat([header, nameBuf])), padded(data)]);
}

/** The archive bytes of `items` (parents must be listed before their children). */
export function cpioArchive(items: CpioItem[]): Buffer {
  const parts = items.map((it, i) =>
    'dir' in it
      ? entry(it.path.replace(/^\/+/, ''), S_IFDIR | it.mode, Buffer.alloc(0), i + 1)
      : entry(it.path.replace(/^\/+/, ''), S_IFREG | it.mode, it.data, i + 1),
  );
  parts.push(entry('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}
