/**
 * The live image (issue 15): one initramfs + kernel that boots the IETF live-CD demo, a shell, or a
 * lab's VM node, and the hybrid ISO around it. `ensureLiveImage` is what VM labs call (contract B);
 * `writeNodeConfigCpio` writes the per-VM archive appended after the image's initramfs.
 */
import { projectRoot } from '../build';
import { buildLiveImage, type LiveImage, type LiveStep } from './build';

export {
  buildLiveImage,
  defaultCacheDir,
  latestCachedImage,
  type LiveImage,
  type LiveManifest,
  type LiveStep,
} from './build';
export {
  type NodeBootConfig,
  parseNodeBootConfig,
  writeNodeConfigCpio,
  writeNodeInitrd,
} from './node-config';

/** Builds into the XDG cache if an input changed, else returns the cached image's paths. */
export async function ensureLiveImage(
  opts: { kernel?: string; modules?: string; iso?: boolean; onProgress?: (step: LiveStep) => void } = {},
): Promise<LiveImage> {
  return buildLiveImage({ root: projectRoot(), ...opts });
}
