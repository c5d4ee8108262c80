import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cpioArchive, cpioEntry, readCpio } from '../../../lab/images/live/cpio';

describe('newc cpio writer', () => {
  it('writes the 110-byte ASCII header, name and data padded to 4 bytes', () => {
    const b = cpioEntry({ kind: 'file', path: '/etc/x', mode: 0o600, data: Buffer.from('hello') }, 7);
    expect(b.toString('ascii', 0, 6)).toBe('070701');
    expect(b.toString('ascii', 6, 14)).toBe('00000007'); // ino
    expect(Number.parseInt(b.toString('ascii', 14, 22), 16)).toBe(0o100600); // regular file, 0600
    expect(Number.parseInt(b.toString('ascii', 54, 62), 16)).toBe(5); // size
    expect(Number.parseInt(b.toString('ascii', 94, 102), 16)).toBe('etc/x'.length + 1); // name size
    expect(b.length % 4).toBe(0);
    // name starts at 110, data after the name padded to a multiple of 4
    expect(b.toString('ascii', 110, 115)).toBe('etc/x');
    expect(b.toString('ascii', 116, 121)).toBe('hello');
  });

  it('round-trips files, directories, symlinks and device nodes, and ends with the trailer', () => {
    const entries = [
      { kind: 'dir', path: 'etc', mode: 0o755 },
      { kind: 'file', path: 'etc/a', mode: 0o644, data: Buffer.from('abc') },
      { kind: 'symlink', path: 'bin/sh', target: 'dash' },
      { kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    ] as const;
    const a = cpioArchive([...entries]);
    expect(a.includes(Buffer.from('TRAILER!!!'))).toBe(true);
    expect(readCpio(a)).toEqual(
      entries.map((e) => (e.kind === 'file' ? { ...e, data: Buffer.from('abc') } : e)),
    );
  });

  it('is read by GNU cpio as the same listing', () => {
    const a = cpioArchive([
      { kind: 'dir', path: 'etc' },
      { kind: 'file', path: 'etc/node.json', data: Buffer.from('{}\n') },
      { kind: 'symlink', path: 'etc/link', target: 'node.json' },
    ]);
    let listing: string;
    try {
      listing = execFileSync('cpio', ['-it', '--quiet'], { input: a, encoding: 'utf8' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // cpio not installed: the round trip above still holds
      throw e;
    }
    expect(listing.trim().split('\n')).toEqual(['etc', 'etc/node.json', 'etc/link']);
  });

  it('refuses junk', () => {
    expect(() => readCpio(Buffer.alloc(200, 'x'))).toThrow(/bad magic at byte 0/);
    expect(() => readCpio(Buffer.alloc(0))).toThrow(/no trailer/);
  });
});
