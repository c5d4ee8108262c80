/** `mplab image status` tells "not built" from "dockerd not reachable" (it cannot know then). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli';

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
  vi.restoreAllMocks();
});

describe('image status without dockerd', () => {
  it('says dockerd is not reachable instead of "not built"', async () => {
    process.env.DOCKER_HOST = `unix:///tmp/mplab-no-dockerd-${process.pid}.sock`;
    const r = await runCli(['image', 'status', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      docker: { present: boolean | null; current: boolean; reason?: string; version: string };
      live: { current: boolean; version: string | null };
    };
    expect(j.docker.present).toBeNull();
    expect(j.docker.current).toBe(false);
    expect(j.docker.reason).toMatch(/dockerd is not reachable/);
    expect(j.docker.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof j.live.current).toBe('boolean');
  });
});
