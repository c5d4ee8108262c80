/**
 * `mplab image status` for the live image: current right after a build from these inputs, out of
 * date (naming dist/agent.js) once the agent changes, and the CLI lists both images with their
 * versions. Reuses the cache the other live tests fill (an unchanged bundle is a cache hit).
 */
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLiveImage, type LiveImage, liveImageStatus } from '../../../lab/images/live/build';
import { caps } from '../../helpers/caps';
import { runCli } from '../../helpers/cli';
import { root, scratchDist } from './image';

describe.skipIf(!caps.liveBuild)('live image status', () => {
  let dist: { dir: string; remove: () => void };
  let image: LiveImage;

  beforeAll(async () => {
    dist = await scratchDist();
    image = await buildLiveImage({ root, dist: dist.dir });
  }, 600_000);

  afterAll(() => dist?.remove());

  it('is current for the inputs it was built from, out of date when dist/agent.js changes', async () => {
    const now = await liveImageStatus({ root, dist: dist.dir });
    expect(now.current).toBe(true);
    expect(now.image?.version).toBe(image.version);
    expect(now.image?.dir).toBe(image.dir);

    const changed = mkdtempSync(join(tmpdir(), 'mplab-live-dist-'));
    try {
      cpSync(dist.dir, changed, { recursive: true });
      appendFileSync(join(changed, 'agent.js'), '\n// a change to the agent\n');
      const stale = await liveImageStatus({ root, dist: changed });
      expect(stale.current).toBe(false);
      expect(stale.reason).toMatch(/changed: .*dist\/agent\.js/);
    } finally {
      rmSync(changed, { recursive: true, force: true });
    }
  });

  it('lists both images with their versions (text and --json)', async () => {
    const j = await runCli(['image', 'status', '--json']);
    expect(j.code).toBe(0);
    const s = JSON.parse(j.out) as {
      docker: { tag: string; version: string; current: boolean; present: boolean | null };
      live: { version: string | null; current: boolean };
    };
    expect(s.docker.tag).toMatch(/^mplab-node:\d+\.\d+\.\d+/);
    expect(typeof s.docker.current).toBe('boolean');
    // the cache holds an image (built above), so the live part has a version
    expect(s.live.version).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
    const t = await runCli(['image', 'status']);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/docker node image: mplab-node:\S+ .*(current|out of date|not built|unknown)/);
    expect(t.out).toMatch(/live image: \S+\+[0-9a-f]{12} \(\S+\) (current|out of date)/);
  });
});
