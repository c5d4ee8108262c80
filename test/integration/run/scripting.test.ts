/**
 * The scripting API as users get it: lab/index.ts bundled like dist/lib.js, and the zx example
 * (examples/campaign.zx.mjs) run against it with --sim, writing its CSV.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../lab/bundle';

const dir = mkdtempSync(join(root, 'node_modules/.cache/mplab-lib-'));
const work = mkdtempSync(join(tmpdir(), 'mplab-zx-'));
beforeAll(async () => {
  await build({
    entryPoints: { lib: join(root, 'lab/index.ts') },
    outdir: dir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    define: { __MPLAB_VERSION__: '"0.0.0-test"' },
    banner: {
      js: "import { createRequire as __mplabCreateRequire } from 'node:module'; const require = __mplabCreateRequire(import.meta.url);",
    },
    external: ['koffi', '@resvg/resvg-js', 'cpu-features', 'ssh2', 'dockerode'],
    logLevel: 'error',
  });
}, 120_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('scripting API', () => {
  it('the bundled library exports the Lab with run, and the simulator', async () => {
    const m = (await import(join(dir, 'lib.js'))) as typeof import('../../../lab/index');
    for (const k of ['up', 'open', 'down'] as const) expect(typeof m.Lab[k]).toBe('function');
    for (const k of ['run', 'sysctl', 'link', 'report', 'capture', 'down'] as const)
      expect(typeof m.Lab.prototype[k]).toBe('function');
    const model = await m.loadTopology(join(root, 'topologies/two-host.yaml'));
    const { result } = m.simulateRun(model, { from: 'a', to: 'b', bytes: 1_000_000, stack: 'ts' });
    expect(result.integrity).toBe('ok');
  });

  it('examples/campaign.zx.mjs --sim runs its small campaign and writes the CSV', () => {
    const src = readFileSync(join(root, 'examples/campaign.zx.mjs'), 'utf8')
      .replace("from 'mplab'", `from '${join(dir, 'lib.js')}'`)
      .replace(
        "new URL('../topologies/two-host.yaml', import.meta.url).pathname",
        JSON.stringify(join(root, 'topologies/two-host.yaml')),
      );
    expect(src).toContain(join(dir, 'lib.js'));
    // inside the repository, so the script's own 'zx' import resolves from node_modules
    const script = join(dir, 'campaign.zx.mjs');
    writeFileSync(script, src);
    const out = execFileSync(join(root, 'node_modules/.bin/zx'), [script, '--sim'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    expect(out).toContain('wrote campaign-zx.csv');
    const rows = readFileSync(join(work, 'campaign-zx.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('scheduler,repetition,goodput_mbps,integrity,subflows');
    expect(rows).toHaveLength(5);
    for (const r of rows.slice(1)) expect(r.split(',')[3]).toBe('ok');
  }, 90_000);
});
