/**
 * The host tools the live image build needs, each with the Debian package that provides it, so a
 * missing one fails in one line that says what to install (and before anything is written).
 */
import { existsSync } from 'node:fs';
import { RuntimeFailure } from '../../errors';
import { findOnPath } from '../../exec';

export interface Tool {
  /** A command on PATH, or an absolute path (a directory, for GRUB's platform files). */
  what: string;
  pkg: string;
  why: string;
}

export const BUILD_TOOLS: Tool[] = [
  { what: 'apt-get', pkg: 'apt', why: 'downloads the packages' },
  { what: 'apt-cache', pkg: 'apt', why: 'resolves package versions' },
  { what: 'dpkg-deb', pkg: 'dpkg', why: 'unpacks the packages' },
  { what: 'readelf', pkg: 'binutils', why: 'finds shared libraries' },
  { what: 'strip', pkg: 'binutils', why: 'strips the node binary' },
  { what: 'ldconfig', pkg: 'libc-bin', why: "finds the host's libraries" },
  { what: 'zstd', pkg: 'zstd', why: 'compresses the initramfs' },
];

export const ISO_TOOLS: Tool[] = [
  { what: 'grub-mkrescue', pkg: 'grub-common', why: 'makes the ISO' },
  { what: 'xorriso', pkg: 'xorriso', why: 'writes the ISO' },
  { what: 'mformat', pkg: 'mtools', why: "makes the ISO's EFI partition" },
  { what: '/usr/lib/grub/i386-pc', pkg: 'grub-pc-bin', why: 'BIOS boot' },
  { what: '/usr/lib/grub/x86_64-efi', pkg: 'grub-efi-amd64-bin', why: 'UEFI boot' },
];

export const BOOT_TOOLS: Tool[] = [
  { what: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'boots the image' },
];

export function missingTools(tools: Tool[]): Tool[] {
  return tools.filter((t) => (t.what.startsWith('/') ? !existsSync(t.what) : !findOnPath(t.what)));
}

/** Throws one line naming every missing tool and the Debian packages that provide them. */
export function requireTools(tools: Tool[]): void {
  const missing = missingTools(tools);
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  throw new RuntimeFailure(
    `the live image build needs ${missing.map((t) => `${t.what} (${t.why})`).join(', ')}: apt-get install ${pkgs.join(' ')}`,
  );
}

/** What a build needs: the initramfs always, the ISO's tools with `iso`, QEMU with `check`. */
export function liveTools(opts: { iso?: boolean; check?: boolean }): Tool[] {
  return [...BUILD_TOOLS, ...(opts.iso ? ISO_TOOLS : []), ...(opts.check ? BOOT_TOOLS : [])];
}
