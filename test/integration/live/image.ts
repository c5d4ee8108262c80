/**
 * The live image the boot tests share: built once per test file from a fresh bundle of this
 * checkout (so the image holds the code under test), into the user's cache, which the tests of
 * one run (and the next run) reuse — an unchanged bundle is a cache hit.
 */
import { join } from 'node:path';
import { type LiveImage, buildLiveImage } from '../../../lab/images/live/build';
import { root } from '../lab/bundle';
import { bundleAll } from '../../../scripts/bundle';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';

export { root };

/** dist/ for the image: cli, agent and emulator bundled into a scratch directory. */
export async function scratchDist(): Promise<{ dir: string; remove: () => void }> {
  const cache = join(root, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'mplab-live-dist-'));
  await bundleAll({ outdir: dir, only: ['cli', 'agent', 'emulator'] });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function liveImage(opts: { iso?: boolean } = {}): Promise<LiveImage> {
  const dist = await scratchDist();
  try {
    return await buildLiveImage({ root, dist: dist.dir, ...(opts.iso ? { iso: true } : {}) });
  } finally {
    dist.remove();
  }
}
