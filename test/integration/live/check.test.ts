/**
 * `mplab image build --live --check`: after the build, the image's kernel + initramfs boot under
 * QEMU (TCG) in shell mode to /init's ready line and node answers inside; only then is the ISO
 * placed at -o. An image that cannot boot (an initramfs that is not one) fails the check.
 * TCG on a loaded machine: generous limits, no speed assertion.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLiveBoot } from '../../../lab/images/live/check';
import { caps } from '../../helpers/caps';
import { runCli } from '../../helpers/cli';
import { root } from './image';

describe.skipIf(!caps.qemu || !caps.liveBuild || !caps.liveIso)('image build --live --check', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'mplab-live-check-'));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('boots the built image to its ready line, node runs inside, then places the ISO', async () => {
    if (!existsSync(join(root, 'dist/cli.js'))) throw new Error('dist/ is missing: npm run build');
    const out = join(work, 'live.iso');
    const r = await runCli(['image', 'build', '--live', '--check', '-o', out, '--json']);
    expect(r.err).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      kernel: string;
      check: { readySeconds: number; nodeSeconds: number; nodeVersion: string; warnings: string[] };
    };
    expect(j.check.nodeVersion).toBe(process.version);
    expect(j.check.readySeconds).toBeGreaterThan(0);
    expect(j.check.nodeSeconds).toBeGreaterThanOrEqual(j.check.readySeconds);
    expect(j.check.warnings).toEqual([]);
    expect(statSync(out).size).toBeGreaterThan(1e6);

    // the same check fails on an image whose initramfs is not one (the kernel panics: QEMU ends)
    const junk = join(work, 'junk.img');
    writeFileSync(junk, Buffer.alloc(4096, 0x5a));
    await expect(checkLiveBoot({ kernel: j.kernel, initrd: junk })).rejects.toThrow(
      /boot check: the image did not reach its ready line/,
    );
  }, 1_500_000);
});
