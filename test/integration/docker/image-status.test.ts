/**
 * `mplab image status` for the Docker node image, against a real dockerd: not built, current after
 * a build, out of date once an input (dist/agent.js) changes, current again after the rebuild.
 * A scratch copy of the definition under a repository name of its own, removed afterwards by the
 * ids this test made.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage, nodeImageStatus } from '../../../lab/images/build';
import { caps } from '../../helpers/caps';
import { ensureDistAgent, root } from '../lab/bundle';

describe.skipIf(!caps.docker)('docker node image status', () => {
  const docker = new Docker();
  const made = new Set<string>();
  const dir = mkdtempSync(join(tmpdir(), 'mplab-image-status-'));

  afterAll(async () => {
    for (const id of made)
      await docker
        .getImage(id)
        .remove({ force: true })
        .catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not built, then current, then out of date when dist/agent.js changes, then current', async () => {
    await ensureDistAgent();
    cpSync(join(root, 'images'), join(dir, 'images'), { recursive: true });
    const defPath = join(dir, 'images/node/image.json');
    const def = JSON.parse(readFileSync(defPath, 'utf8')) as { repository: string };
    def.repository = `mplab-node-status-${process.pid}`;
    writeFileSync(defPath, JSON.stringify(def));
    cpSync(join(root, 'dist/agent.js'), join(dir, 'dist/agent.js'));

    const none = await nodeImageStatus({ root: dir, docker });
    expect(none).toMatchObject({ present: false, current: false, reason: 'not built' });
    expect(none.tag).toBe(`${def.repository}:${none.version}`);

    const first = await buildImage({ root: dir, docker });
    made.add(first.id);
    const now = await nodeImageStatus({ root: dir, docker });
    expect(now).toMatchObject({ present: true, current: true, id: first.id, inputsHash: first.inputsHash });

    writeFileSync(
      join(dir, 'dist/agent.js'),
      `${readFileSync(join(dir, 'dist/agent.js'), 'utf8')}\n// changed\n`,
    );
    const stale = await nodeImageStatus({ root: dir, docker });
    expect(stale).toMatchObject({ present: true, current: false, id: first.id });
    expect(stale.reason).toMatch(/an input changed/);
    expect(stale.inputsHash).not.toBe(first.inputsHash);

    const second = await buildImage({ root: dir, docker });
    made.add(second.id);
    expect(await nodeImageStatus({ root: dir, docker })).toMatchObject({
      present: true,
      current: true,
      id: second.id,
    });
  });
});
