import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grubConfig } from '../../../lab/images/live/iso';
import { kernelRelease, kernelVersionOf } from '../../../lab/images/live/kernel';
import { isLibraryPackage, parseAptShow } from '../../../lab/images/live/packages';

const show = `Package: iperf3
Version: 3.12-1+deb12u2
Architecture: amd64
Depends: libc6 (>= 2.34), libiperf0 (= 3.12-1+deb12u2), adduser | passwd
Pre-Depends: init-system-helpers (>= 1.54~)
Size: 33964
SHA256: 1111111111111111111111111111111111111111111111111111111111111111
Description: Internet Protocol bandwidth measuring tool
 iperf3 is a tool for performing network throughput measurements.

Package: linux-image-cloud-amd64
Version: 6.1.192-3
Architecture: amd64
Depends: linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)
SHA256: 2222222222222222222222222222222222222222222222222222222222222222
Size: 1496
`;

describe('apt metadata', () => {
  it('parses stanzas: version, SHA-256, size and the first alternative of each dependency', () => {
    const [a, b] = parseAptShow(show);
    expect(a).toEqual({
      name: 'iperf3',
      version: '3.12-1+deb12u2',
      arch: 'amd64',
      sha256: '1'.repeat(64),
      size: 33964,
      depends: ['init-system-helpers', 'libc6', 'libiperf0', 'adduser'],
    });
    expect(b?.depends).toEqual(['linux-image-6.1.0-57-cloud-amd64']);
  });

  it('follows library packages only', () => {
    expect(['libc6', 'zlib1g', 'adduser', 'init-system-helpers'].filter(isLibraryPackage)).toEqual([
      'libc6',
      'zlib1g',
    ]);
  });
});

describe('bzImage header', () => {
  it('reads the version string the kernel_version field points to', () => {
    const bz = Buffer.alloc(0x1000);
    bz.write('HdrS', 0x202, 'latin1');
    bz.writeUInt16LE(0x400, 0x20e);
    bz.write('6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x600, 'latin1');
    const v = kernelVersionOf(bz);
    expect(v).toMatch(/^6\.1\.0-57-cloud-amd64 \(/);
    expect(kernelRelease(v as string)).toBe('6.1.0-57-cloud-amd64');
  });

  it('says undefined for a file that is not a bzImage', () => {
    expect(kernelVersionOf(Buffer.from('#!/bin/sh\necho not a kernel\n'.repeat(40)))).toBeUndefined();
  });
});

describe('ISO menu', () => {
  it('boots the demo by default, and has shell and node entries, on serial and screen', () => {
    const cfg = grubConfig(readFileSync(join(__dirname, '../../../images/live/grub.cfg'), 'utf8'), '1.2.3');
    expect(cfg).toMatch(/set default=0/);
    const entries = [...cfg.matchAll(/menuentry "([^"]+)" \{\n\s*linux (\S+) ([^\n]+)/g)];
    expect(entries.map((e) => /mplab\.mode=(\w+)/.exec(e[3] as string)?.[1])).toEqual([
      'demo',
      'shell',
      'node',
    ]);
    expect(entries[0]?.[1]).toContain('1.2.3');
    for (const e of entries) expect(e[3]).toMatch(/console=tty0 console=ttyS0,115200/);
    expect(cfg).not.toContain('@VERSION@');
  });
});
