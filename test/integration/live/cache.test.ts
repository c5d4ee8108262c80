/**
 * The live image's cache: a rebuild with unchanged inputs is a no-op (same hash, files untouched),
 * a changed dist/agent.js makes a new image, and bad input or a missing piece fails in one line
 * with exit 1, leaving no ISO and no cache entry behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLiveImage, defaultCacheDir } from '../../../lab/images/live/build';
import { caps } from '../../helpers/caps';
import { root, scratchDist } from './image';

const cli = join(root, 'dist/cli.js');

describe.skipIf(!caps.liveBuild)('live image cache', () => {
  let dist: { dir: string; remove: () => void };
  const made: string[] = [];

  beforeAll(async () => {
    dist = await scratchDist();
  }, 120_000);

  afterAll(() => {
    dist?.remove();
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('rebuilds nothing when no input changed, and rebuilds when dist/agent.js changes', async () => {
    const first = await buildLiveImage({ root, dist: dist.dir });
    const mtime = statSync(first.initrd).mtimeMs;
    const again = await buildLiveImage({ root, dist: dist.dir });
    expect(again.built).toBe(false);
    expect(again.hash).toBe(first.hash);
    expect(again.initrd).toBe(first.initrd);
    expect(statSync(again.initrd).mtimeMs).toBe(mtime);

    const changed = mkdtempSync(join(tmpdir(), 'mplab-live-dist-'));
    try {
      cpSync(dist.dir, changed, { recursive: true });
      appendFileSync(join(changed, 'agent.js'), '\n// a change to the agent\n');
      const next = await buildLiveImage({ root, dist: changed });
      if (next.built) made.push(next.dir);
      expect(next.built).toBe(true);
      expect(next.hash).not.toBe(first.hash);
      const agentInput = next.manifest.inputs.find((i) => i.what === 'dist/agent.js');
      expect(agentInput?.bytes).toBe(statSync(join(changed, 'agent.js')).size);
      // the image's own agent is the changed one
      const listing = execFileSync(
        'sh',
        ['-c', `zstd -dc '${next.initrd}' | cpio -it --quiet 2>/dev/null | grep -c agent.js`],
        {
          encoding: 'utf8',
        },
      );
      expect(Number(listing.trim())).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(changed, { recursive: true, force: true });
    }
  }, 300_000);

  // both build an ISO, so both need the ISO tools present (all but the one the first hides)
  it.skipIf(!caps.liveIso)(
    'fails in one line naming the Debian package of a missing tool, leaving no ISO',
    () => {
      if (!existsSync(cli)) throw new Error('dist/cli.js is missing: npm run build');
      const bin = mkdtempSync(join(tmpdir(), 'mplab-live-path-'));
      const out = join(bin, 'out.iso');
      try {
        // every tool but xorriso (and grub-mkrescue, which needs it)
        for (const t of [
          'apt-get',
          'apt-cache',
          'dpkg-deb',
          'readelf',
          'strip',
          'zstd',
          'mformat',
          'sh',
          'node',
          'ldconfig',
        ]) {
          const p = execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim();
          symlinkSync(p, join(bin, t));
        }
        const r = spawnSync(process.execPath, [cli, 'image', 'build', '--live', '-o', out], {
          env: { ...process.env, PATH: bin },
          encoding: 'utf8',
        });
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines.at(-1)).toMatch(
          /needs grub-mkrescue \(makes the ISO\), xorriso \(writes the ISO\): apt-get install grub-common xorriso$/,
        );
        expect(existsSync(out)).toBe(false);
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
    },
  );

  // both build an ISO, so both need the ISO tools present (all but the one the first hides)
  it.skipIf(!caps.liveIso)(
    'fails in one line when the package source is unreachable, leaving no cache entry',
    () => {
      const cache = mkdtempSync(join(tmpdir(), 'mplab-live-cache-'));
      const out = join(cache, 'out.iso');
      try {
        const r = spawnSync(process.execPath, [cli, 'image', 'build', '--live', '-o', out], {
          // a fresh cache and a proxy nobody listens on: apt-get download cannot reach the source
          env: {
            ...process.env,
            XDG_CACHE_HOME: cache,
            MPLAB_CACHE_DIR: join(cache, 'mplab'),
            http_proxy: 'http://127.0.0.1:9',
            https_proxy: 'http://127.0.0.1:9',
          },
          encoding: 'utf8',
          timeout: 120_000,
        });
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1)).toMatch(
          /cannot download the Debian packages? .*is the package source reachable\?$/,
        );
        expect(existsSync(out)).toBe(false);
        const images = join(cache, 'mplab', 'live', 'images');
        expect(existsSync(images) ? readdirSync(images) : []).toEqual([]);
        const debs = join(cache, 'mplab', 'live', 'debs');
        expect(existsSync(debs) ? readdirSync(debs).filter((f) => f.endsWith('.deb')) : []).toEqual([]);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    },
    180_000,
  );

  it("keeps its cache under mplab's cache directory ($MPLAB_CACHE_DIR, else XDG)", () => {
    const base =
      process.env.MPLAB_CACHE_DIR ||
      join(process.env.XDG_CACHE_HOME || join(process.env.HOME ?? '', '.cache'), 'mplab');
    expect(defaultCacheDir()).toBe(join(base, 'live'));
  });
});
