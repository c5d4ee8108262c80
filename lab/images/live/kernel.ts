/**
 * Reading an x86 bzImage's boot header (Documentation/arch/x86/boot.rst): the "HdrS" signature at
 * 0x202 says it is one, and the kernel_version field (0x20E) points, 0x200 bytes in, to the
 * version string `uname -r` will print. Used to check `--kernel` and to match a kernel to modules.
 */

/** The kernel's version string ("6.1.0-57-cloud-amd64 (debian-kernel@…) #1 SMP …"), or undefined. */
export function kernelVersionOf(bz: Buffer): string | undefined {
  if (bz.length < 0x210 || bz.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const ptr = bz.readUInt16LE(0x20e);
  if (ptr === 0) return 'unknown';
  const at = ptr + 0x200;
  if (at >= bz.length) return 'unknown';
  const end = bz.indexOf(0, at);
  return bz.toString('latin1', at, end < 0 ? Math.min(bz.length, at + 256) : end).trim() || 'unknown';
}

/** The release part of the version string (what /lib/modules/<release> is named after). */
export function kernelRelease(version: string): string {
  return version.split(' ')[0] ?? version;
}
