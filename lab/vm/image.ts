/**
 * Where a VM node's kernel and base initramfs come from: the node's own `kernel:` / `initrd:` (the
 * user brings a kernel; an initramfs of their own must implement the live image's node mode), else
 * the live image (lab/images/live, built offline into the cache on first use, then reused).
 */
import { ensureLiveImage, type LiveStep, writeNodeInitrd } from '../images/live/index';
import type { VmModel } from '../topology/model';
import type { NodeBootConfig } from './bootconfig';

export interface BootImage {
  kernel: string;
  initrd: string;
  /** Where it came from, for status and errors: "live image 0.1.0-ab12…" or "user". */
  source: string;
}

/** The kernel and initramfs a VM node boots (building the live image when needed). */
export async function bootImageOf(vm: VmModel, onProgress?: (step: LiveStep) => void): Promise<BootImage> {
  if (vm.kernel && vm.initrd) return { kernel: vm.kernel, initrd: vm.initrd, source: 'user' };
  // A user's kernel alone goes into the live image's build (which fits the initramfs around it).
  const img = await ensureLiveImage({
    ...(vm.kernel ? { kernel: vm.kernel } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  return {
    kernel: vm.kernel ?? img.kernel,
    initrd: vm.initrd ?? img.initrd,
    source: `live image ${img.version}`,
  };
}

/**
 * Writes a VM's initramfs: its configuration archive (/etc/mplab/node.json and what /init applies)
 * FIRST, then the image's base initramfs. The order matters: Linux 6.1 cannot unpack an archive
 * that follows a zstd-compressed one. The live image's writer validates the configuration (a bad
 * value is a UsageError naming its path) before anything is written.
 */
export async function writeVmInitrd(baseInitrd: string, cfg: NodeBootConfig, outPath: string): Promise<void> {
  writeNodeInitrd(baseInitrd, cfg, outPath);
}
