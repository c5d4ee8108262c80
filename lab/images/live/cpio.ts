/**
 * A writer for the cpio "newc" format (the one the Linux kernel unpacks as an initramfs, see
 * Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header per entry,
 * the NUL-terminated name and the data, each padded to 4 bytes, closed by "TRAILER!!!". Owners are
 * root and mtimes zero, so the same tree always gives the same bytes (the image's hash relies on it).
 * Pure: entries in, buffers out; the caller streams them to a file or a compressor.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; mode?: number; data: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  /** A character device node (the initramfs needs /dev/console before devtmpfs is mounted). */
  | { kind: 'chardev'; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The bytes of one entry; `ino` must be unique within the archive (hard links are not used). */
export function cpioEntry(e: CpioEntry, ino: number): Buffer {
  const name = e.path.replace(/^\/+/, '');
  if (!name) throw new Error('cpio: empty path');
  let mode: number;
  let data: Buffer;
  if (e.kind === 'dir') {
    mode = S_IFDIR | (e.mode ?? 0o755);
    data = Buffer.alloc(0);
  } else if (e.kind === 'file') {
    mode = S_IFREG | (e.mode ?? 0o644);
    data = e.data;
  } else if (e.kind === 'chardev') {
    return frame(name, S_IFCHR | (e.mode ?? 0o600), ino, 1, Buffer.alloc(0), e.major, e.minor);
  } else {
    mode = S_IFLNK | 0o777;
    data = Buffer.from(e.target);
  }
  return frame(name, mode, ino, e.kind === 'dir' ? 2 : 1, data);
}

function frame(
  name: string,
  mode: number,
  ino: number,
  nlink: number,
  data: Buffer,
  rmaj = 0,
  rmin = 0,
): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const header =
    '070701' +
    hex8(ino) +
    hex8(mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(nlink) +
    hex8(0) + // mtime
    hex8(data.length) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(rmaj) + // rdevmajor
    hex8(rmin) + // rdevminor
    hex8(nameBytes.length) +
    hex8(0); // check
  const headLen = 110 + nameBytes.length;
  return Buffer.concat([
    Buffer.from(header, 'ascii'),
    nameBytes,
    Buffer.alloc(pad4(headLen)),
    data,
    Buffer.alloc(pad4(data.length)),
  ]);
}

/** The closing entry. */
export function cpioTrailer(): Buffer {
  return frame('TRAILER!!!', 0, 0, 1, Buffer.alloc(0));
}

/** A whole archive in memory (small archives: the per-node config). */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  return Buffer.concat([...entries.map((e, i) => cpioEntry(e, i + 1)), cpioTrailer()]);
}

/** Parses a newc archive back into entries (for tests and `image status` checks); throws on junk. */
export function readCpio(buf: Buffer): CpioEntry[] {
  const out: CpioEntry[] = [];
  let off = 0;
  while (off + 110 <= buf.length) {
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== '070701') throw new Error(`cpio: bad magic at byte ${off}`);
    const field = (i: number) =>
      Number.parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const rdev = [field(9), field(10)] as const;
    const size = field(6);
    const nameSize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    const dataStart = off + 110 + nameSize + pad4(110 + nameSize);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + size + pad4(size);
    if (name === 'TRAILER!!!') return out;
    const type = mode & 0o170000;
    if (type === S_IFDIR) out.push({ kind: 'dir', path: name, mode: mode & 0o7777 });
    else if (type === S_IFCHR)
      out.push({ kind: 'chardev', path: name, mode: mode & 0o7777, major: rdev[0], minor: rdev[1] });
    else if (type === S_IFLNK) out.push({ kind: 'symlink', path: name, target: data.toString() });
    else out.push({ kind: 'file', path: name, mode: mode & 0o7777, data: Buffer.from(data) });
  }
  throw new Error('cpio: no trailer');
}
